// Which sandbox protections model runs get on this host (`/api/health` → `sandbox`); warning styling when one is missing.
import { useEffect, useState } from "react";
import { api } from "../lib/api";
import { summarizeProtections } from "../lib/sandbox";
import type { Protections } from "../lib/types";

export function ProtectionsIndicator() {
  const [sandbox, setSandbox] = useState<Protections | null>(null);
  const [open, setOpen] = useState(false);
  useEffect(() => {
    api.health().then((h) => setSandbox(h.sandbox), () => setSandbox(null));
  }, []);
  const summary = summarizeProtections(sandbox);
  return (
    <div className="protections" onKeyDown={(e) => e.key === "Escape" && setOpen(false)}>
      <button
        className={`protections-${summary.level}`} aria-expanded={open} aria-controls="protections-panel"
        onClick={() => setOpen((o) => !o)} data-level={summary.level}
      >
        {summary.level === "warning" && <span aria-hidden="true">⚠ </span>}
        {summary.label}
      </button>
      {open && (
        <div id="protections-panel" className="bell-panel" role="region" aria-label="Sandbox protections">
          <strong>Protections of model runs on this server</strong>
          {sandbox === null ? <p className="muted">The server did not report its sandbox.</p> : (
            <dl className="facts protections-list">
              {summary.rows.map(([label, value]) => (
                <div key={label} className="fact">
                  <dt>{label}</dt>
                  <dd className={value === "missing" ? "sev-warning" : undefined}>{value}</dd>
                </div>
              ))}
            </dl>
          )}
          {summary.missing.length > 0 && (
            <p className="sev-warning" role="note">Missing: {summary.missing.join("; ")}. See the README's Security section.</p>
          )}
        </div>
      )}
    </div>
  );
}
