// Each type's schedule as Prefect's scheduler has it: cron, timezone, the next three runs (in the user's time
// and the schedule's), paused or active; operators pause and resume it here.
import { useCallback, useEffect, useState } from "react";
import { api } from "../lib/api";
import type { NextRunUses, Schedule } from "../lib/types";

const inZone = (iso: string, timeZone?: string) =>
  new Date(iso).toLocaleString(undefined, { timeZone, dateStyle: "medium", timeStyle: "short" });

/** "dmo_day_ahead v3 · dataset dmo_prices.csv · settings v2": what the type's next scheduled run uses. */
export function describeNextRunUses(uses: NextRunUses): string {
  const model = uses.modelName ? `${uses.modelName} v${uses.modelVersion}` : "no active model";
  const settings = uses.settingsVersion ? `settings v${uses.settingsVersion}` : "no saved settings";
  return `${model} · dataset ${uses.dataSourceName ?? "none"} · ${settings}`;
}

export function Schedules({ role }: { role: string }) {
  const [schedules, setSchedules] = useState<Schedule[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState<string | null>(null);
  const canPause = role === "operator" || role === "admin";
  const load = useCallback(async () => {
    try {
      setSchedules((await api.schedules()).schedules);
      setError(null);
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    }
  }, []);
  useEffect(() => void load(), [load]);

  const toggle = async (schedule: Schedule) => {
    setBusy(schedule.modelType);
    try {
      const changed = await api.setSchedule(schedule.modelType, { active: !schedule.active });
      setSchedules((all) => all && all.map((s) => (s.modelType === changed.modelType ? changed : s)));
      setError(null);
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    } finally {
      setBusy(null);
    }
  };

  if (!schedules) return error ? <p role="alert">Schedules: {error}</p> : <p className="loading">Loading…</p>;
  return (
    <section aria-label="Schedules" className="schedules">
      {error && <p role="alert">Schedules: {error}</p>}
      <table>
        <caption>Scheduled runs (Prefect deployment schedules)</caption>
        <thead>
          <tr><th>Type</th><th>Cron</th><th>Timezone</th><th>Next runs (your time)</th><th>Next runs (schedule's time)</th><th>State</th>{canPause && <th />}</tr>
        </thead>
        <tbody>
          {schedules.map((s) => [
            <tr key={s.modelType} data-type={s.modelType}>
              <td>{s.modelType}</td>
              <td><code>{s.cron}</code></td>
              <td>{s.timezone}</td>
              <td><ul className="next-runs" aria-label={`${s.modelType} next runs in your time`}>
                {s.nextRuns.map((r) => <li key={r.utc}><time dateTime={r.utc}>{inZone(r.utc)}</time></li>)}
              </ul></td>
              <td><ul className="next-runs" aria-label={`${s.modelType} next runs in ${s.timezone}`}>
                {s.nextRuns.map((r) => <li key={r.utc}><time dateTime={r.local}>{inZone(r.utc, s.timezone)}</time></li>)}
              </ul></td>
              <td className={s.active ? "sev-ok" : "sev-warning"}>{s.active ? "active" : "paused"}</td>
              {canPause && (
                <td>
                  <button onClick={() => void toggle(s)} disabled={busy === s.modelType} aria-label={`${s.active ? "Pause" : "Resume"} ${s.modelType} schedule`}>
                    {s.active ? "Pause" : "Resume"}
                  </button>
                </td>
              )}
            </tr>,
            s.nextRunUses && (
              <tr key={`${s.modelType}-uses`} className="next-run-uses" data-uses={s.modelType}>
                <td />
                <td colSpan={canPause ? 6 : 5} data-testid={`next-run-uses-${s.modelType}`}>
                  Next run uses: {describeNextRunUses(s.nextRunUses)}
                  {s.nextRunUses.settingsValid === false && (
                    <span role="alert" className="sev-warning"> — the saved settings do not fit this model: the run will fail until they are changed (Settings tab)</span>
                  )}
                </td>
              </tr>
            ),
          ])}
        </tbody>
      </table>
      {!schedules.some((s) => s.active) && <p role="note">Every schedule is paused: nothing runs on its own until one is resumed.</p>}
    </section>
  );
}
