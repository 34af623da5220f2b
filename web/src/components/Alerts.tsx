// Admins: where alerts go (secrets masked by the server), what is wrong with that, the last alerts with
// each destination's result, and a button that sends a test alert.
import { useCallback, useEffect, useState } from "react";
import { api } from "../lib/api";
import type { AlertsView } from "../lib/types";

export function Alerts({ onOpen }: { onOpen: (jobId: string) => void }) {
  const [view, setView] = useState<AlertsView | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [result, setResult] = useState<string | null>(null);
  const [sending, setSending] = useState(false);
  const load = useCallback(async () => {
    try {
      setView(await api.alerts());
      setError(null);
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    }
  }, []);
  useEffect(() => void load(), [load]);

  const sendTest = async () => {
    setSending(true);
    try {
      const { success, alert } = await api.testAlert();
      const parts = Object.entries(alert.deliveries).map(([name, d]) => `${name}: ${d.status}${d.error ? ` (${d.error})` : ""}`);
      setResult(`${success ? "Test alert sent" : "Test alert not delivered everywhere"}: ${parts.join(", ")}`);
    } catch (e) {
      setResult(e instanceof Error ? e.message : String(e));
    } finally {
      setSending(false);
      void load();
    }
  };

  if (error) return <p role="alert">Alerts: {error}</p>;
  if (!view) return <p className="loading">Loading…</p>;
  const { destinations: d } = view;
  return (
    <section aria-label="Alerts" className="alerts">
      <dl className="facts">
        <div className="fact"><dt>Webhook</dt><dd>{d.webhook ?? "not configured"}</dd></div>
        <div className="fact"><dt>Email</dt><dd>{d.email ? `${d.email.to.join(", ")} via ${d.email.server}` : "not configured"}</dd></div>
        <div className="fact"><dt>Types</dt><dd>{d.types.join(", ")}; late after {d.lateAfterS} s</dd></div>
      </dl>
      {d.problems.map((problem) => <p key={problem} className="sev-warning" role="note">{problem}</p>)}
      <button onClick={sendTest} disabled={sending}>{sending ? "Sending…" : "Send test alert"}</button>
      {result && <p role="status">{result}</p>}
      <table>
        <caption>Last alerts</caption>
        <thead><tr><th>When</th><th>Event</th><th>Alert</th><th>Delivery</th></tr></thead>
        <tbody>
          {view.alerts.map((a) => (
            <tr key={a.id}>
              <td>{new Date(a.createdAt).toLocaleString()}</td>
              <td>{a.event}</td>
              <td>{a.jobId ? <button className="link" onClick={() => onOpen(a.jobId!)}>{a.headline}</button> : a.headline}</td>
              <td>{Object.entries(a.deliveries).map(([name, s]) => `${name}: ${s.status}${s.error ? ` (${s.error})` : ""}`).join("; ")}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
