// Every model version, grouped by name: activate one (roll back), archive, delete.
import { useEffect, useState } from "react";
import { api } from "../lib/api";
import { formatBytes, formatTime } from "../lib/format";
import { LockDetails } from "./LockDetails";
import { mayAdminister, type Model } from "../lib/types";

export function ModelsTable({ models, reload, role = "admin" }: { models: Model[]; reload: () => Promise<void>; role?: string }) {
  const admin = mayAdminister(role);
  const [message, setMessage] = useState<{ ok: boolean; text: string } | null>(null);
  const [showArchived, setShowArchived] = useState(false);
  const [archived, setArchived] = useState<Model[]>([]);
  const [archivedTick, setArchivedTick] = useState(0);
  useEffect(() => {
    if (showArchived) api.models("archived").then((r) => setArchived(r.models), () => setArchived([]));
  }, [showArchived, models, archivedTick]);

  const groups = new Map<string, Model[]>();
  for (const model of showArchived ? [...models, ...archived] : models) {
    const key = `${model.model_type} · ${model.model_name}`;
    groups.set(key, [...(groups.get(key) ?? []), model]);
  }

  const act = async (action: () => Promise<unknown>, done: string) => {
    try {
      await action();
      setMessage({ ok: true, text: done });
    } catch (e) {
      setMessage({ ok: false, text: e instanceof Error ? e.message : String(e) });
    }
    await reload();
    setArchivedTick((t) => t + 1);
  };

  return (
    <div className="models">
      <div className="toolbar">
        <label>
          <input type="checkbox" checked={showArchived} onChange={(e) => setShowArchived(e.target.checked)} /> Show archived
        </label>
      </div>
      {message && <p role={message.ok ? "status" : "alert"} className={message.ok ? "ok" : "error"}>{message.text}</p>}
      <table className="table" aria-label="Models">
        <thead>
          <tr>
            <th scope="col">Model</th>
            <th scope="col">Version</th>
            <th scope="col">Status</th>
            <th scope="col">Description</th>
            <th scope="col">Uploaded</th>
            <th scope="col">Size</th>
            <th scope="col">Environment</th>
            <th scope="col">Actions</th>
          </tr>
        </thead>
        {[...groups.entries()].map(([name, versions]) => (
          <tbody key={name}>
            {[...versions].sort((a, b) => b.version - a.version).map((m, i, sorted) => (
              <tr key={m.id} data-model={m.id}>
                <td>{i === 0 ? <strong>{name}</strong> : ""}</td>
                <td>v{m.version}</td>
                <td><span className={`status model-${m.status}`}>{m.status}</span></td>
                <td>{m.description ?? ""}</td>
                <td>{formatTime(m.uploaded_at)} by {m.uploaded_by}</td>
                <td>{formatBytes(m.file_size)}</td>
                <td data-testid="model-environment">
                  <LockDetails model={m} previous={sorted[i + 1]} />
                  {m.entry && <span className="muted small"> · runs {m.entry}</span>}
                </td>
                <td className="actions">
                  {!admin && <span className="muted small">admins only</span>}
                  {admin && m.status !== "active" && m.status !== "archived" && (
                    <button onClick={() => act(() => api.activate(m.id), `${m.model_name} v${m.version} is now the active ${m.model_type} model`)}
                      aria-label={`Activate ${m.model_name} v${m.version}`}>Activate</button>
                  )}
                  {admin && m.status !== "archived" && (
                    <button onClick={() => act(() => api.removeModel(m.id, false), `${m.model_name} v${m.version} archived`)}
                      aria-label={`Archive ${m.model_name} v${m.version}`}>Archive</button>
                  )}
                  {admin && <button className="danger" aria-label={`Delete ${m.model_name} v${m.version}`} onClick={() => {
                    if (window.confirm(`Delete ${m.model_name} v${m.version} and its file? Runs keep their history.`)) {
                      void act(() => api.removeModel(m.id, true), `${m.model_name} v${m.version} deleted`);
                    }
                  }}>Delete</button>}
                </td>
              </tr>
            ))}
          </tbody>
        ))}
      </table>
    </div>
  );
}
