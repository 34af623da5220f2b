// One row per model type: its active model, Run, the latest run's status and progress, Cancel.
import { useEffect, useState } from "react";
import { api } from "../lib/api";
import { formatDuration, formatTime } from "../lib/format";
import type { JobEvent } from "../lib/realtime";
import { applyJobEvent, displayStatus, EMPTY_LIMITS, type LimitsForm, parseLimits, queuePlace } from "../lib/sandbox";
import { isActive, mayOperate, MODEL_TYPES, type Job, type Model, type ModelType } from "../lib/types";

interface Props {
  role: string;
  models: Model[];
  jobsTick: number;
  lastEvent: JobEvent | null;
  onStarted: (jobId: string, modelType: string) => void;
  onOpen: (jobId: string) => void;
}

/** The config box's JSON object, undefined when empty; anything else is refused before it is sent. */
export function parseConfig(text: string): Record<string, unknown> | undefined {
  if (!text.trim()) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new Error("config is not valid JSON");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new Error("config must be a JSON object");
  return value as Record<string, unknown>;
}

/** Why Run is disabled for a type, or null when it is not. */
export function runBlockedBecause(type: string, role: string, active: Model | undefined): string | null {
  if (!mayOperate(role)) return `Run is disabled: your key's role (${role}) may not start runs; operators and admins may.`;
  if (!active) return `Run is disabled: no active ${type} model. Upload one or activate a version.`;
  return null;
}

export function ControlPanel({ role, models, jobsTick, lastEvent, onStarted, onOpen }: Props) {
  const [latest, setLatest] = useState<Partial<Record<ModelType, Job>>>({});
  const [errors, setErrors] = useState<Partial<Record<ModelType, string>>>({});
  const [configText, setConfigText] = useState("");
  const [limits, setLimits] = useState<LimitsForm>(EMPTY_LIMITS);
  const limitField = (key: keyof LimitsForm) => (e: { target: { value: string } }) => setLimits((l) => ({ ...l, [key]: e.target.value }));

  useEffect(() => {
    let stale = false;
    Promise.all(MODEL_TYPES.map((type) => api.jobs({ type, limit: 1 }).then((r) => [type, r.jobs[0]] as const)))
      .then((pairs) => !stale && setLatest(Object.fromEntries(pairs.filter(([, job]) => job))))
      .catch(() => undefined);
    return () => {
      stale = true;
    };
  }, [jobsTick]);

  // Progress moves between refetches: apply the event to the run it is about.
  useEffect(() => {
    if (!lastEvent) return;
    setLatest((current) => {
      const job = current[lastEvent.modelType as ModelType];
      if (!job || job.job_id !== lastEvent.jobId) return current;
      return { ...current, [lastEvent.modelType]: applyJobEvent(job, lastEvent) };
    });
  }, [lastEvent]);

  const run = async (type: ModelType) => {
    setErrors((e) => ({ ...e, [type]: undefined }));
    try {
      const started = await api.execute(type, parseConfig(configText), parseLimits(limits));
      onStarted(started.jobId, type);
    } catch (e) {
      setErrors((all) => ({ ...all, [type]: e instanceof Error ? e.message : String(e) }));
    }
  };

  const cancel = async (type: ModelType, jobId: string) => {
    try {
      await api.cancel(jobId);
    } catch (e) {
      setErrors((all) => ({ ...all, [type]: e instanceof Error ? e.message : String(e) }));
    }
  };

  return (
    <section className="card control" aria-labelledby="control-title">
      <h2 id="control-title">Run models</h2>
      {MODEL_TYPES.map((type) => {
        const active = models.find((m) => m.model_type === type && m.status === "active");
        const job = latest[type];
        const status = displayStatus(job);
        const place = queuePlace(job);
        const reasonId = `run-${type}-reason`;
        const blocked = runBlockedBecause(type, role, active);
        return (
          <div className="control-row" key={type} data-type={type} aria-label={`${type} controls`} role="group">
            <div className="control-head">
              <strong>{type}</strong>
              <span className="model-name">{active ? `${active.model_name} v${active.version}` : "no active model"}</span>
              <button onClick={() => run(type)} disabled={blocked !== null} aria-describedby={blocked ? reasonId : undefined}>
                Run {type}
              </button>
              {job && isActive(job.status) && mayOperate(role) && (
                <button className="danger" onClick={() => cancel(type, job.job_id)} aria-label={`Cancel ${type} run`}>
                  Cancel
                </button>
              )}
            </div>
            {blocked && (
              <p id={reasonId} className="muted small">
                {blocked}
              </p>
            )}
            <div className="control-status">
              <span className={`status status-${status}`} data-testid={`status-${type}`}>{status}</span>
              {place && <span className="queue-place small" data-testid={`queue-${type}`}>{place}</span>}
              <progress aria-label={`${type} progress`} max={100} value={job?.progress ?? 0} />
              {job && (
                <button className="link" onClick={() => onOpen(job.job_id)} title="Open this run">
                  {formatTime(job.started_at ?? job.created_at)} · {formatDuration(job.duration_ms)}
                </button>
              )}
            </div>
            {errors[type] && <p role="alert" className="error small">{errors[type]}</p>}
          </div>
        );
      })}
      <details className="run-options">
        <summary>Run options</summary>
        <label htmlFor="run-config">Config (JSON)</label>
        <textarea
          id="run-config" rows={2} value={configText} placeholder='{"capacity_mwh": 120}'
          onChange={(e) => setConfigText(e.target.value)}
        />
        <p className="muted small">Passed to the next run as CONFIG; the server checks it against the model's schema.</p>
        <fieldset className="limits">
          <legend>Limits (empty = the server's; only lower)</legend>
          <label htmlFor="limit-timeout">Timeout (s)</label>
          <input id="limit-timeout" inputMode="decimal" value={limits.timeoutS} onChange={limitField("timeoutS")} />
          <label htmlFor="limit-memory">Memory (MB)</label>
          <input id="limit-memory" inputMode="numeric" value={limits.memoryMb} onChange={limitField("memoryMb")} />
          <label htmlFor="limit-procs">Processes</label>
          <input id="limit-procs" inputMode="numeric" value={limits.maxProcs} onChange={limitField("maxProcs")} />
          <label htmlFor="limit-log">Log cap (MB)</label>
          <input id="limit-log" inputMode="decimal" value={limits.maxLogMb} onChange={limitField("maxLogMb")} />
          <label htmlFor="limit-network">Network</label>
          <select id="limit-network" value={limits.network} onChange={limitField("network")}>
            <option value="">server default</option>
            <option value="off">off</option>
            <option value="on">on</option>
          </select>
        </fieldset>
      </details>
    </section>
  );
}
