// A model version's dependency lock, opened on demand: its packages, and what changed since the version before.
import { useState } from "react";
import { api } from "../lib/api";
import type { Model, ModelLock } from "../lib/types";

export function LockDetails({ model, previous }: { model: Model; previous?: Model }) {
  const [lock, setLock] = useState<ModelLock | null>(null);
  const [error, setError] = useState<string | null>(null);
  if (!model.lock_sha256) return <span className="muted">base</span>;
  const load = () => {
    if (!lock) api.lock(model.id, previous?.id).then(setLock, (e: Error) => setError(e.message));
  };
  const changes = Object.entries(lock?.changes ?? {});
  return (
    <details onToggle={(e) => (e.currentTarget.open ? load() : undefined)}>
      <summary title={`dependency lock sha256 ${model.lock_sha256}`}>
        own packages · lock <span className="mono">{model.lock_sha256.slice(0, 12)}</span>
      </summary>
      {error && <p role="alert" className="error">{error}</p>}
      {lock && (
        <div className="small" data-testid="lock-details">
          <p>{Object.entries(lock.packages).map(([name, version]) => `${name} ${version}`).join(", ")}</p>
          {previous && (
            <p>
              Since v{previous.version}:{" "}
              {changes.length === 0 ? "no change" : changes.map(([name, c]) => `${name} ${c.from ?? "—"} → ${c.to ?? "—"}`).join(", ")}
            </p>
          )}
        </div>
      )}
    </details>
  );
}
