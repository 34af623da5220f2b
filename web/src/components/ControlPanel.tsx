// One row per model type: its active model, Run, the latest run's status and progress, Cancel; below them
// the run options: per type a form drawn from the active model's CONFIG_SCHEMA (or raw JSON), and limits.
import { useEffect, useState } from "react";
import { api } from "../lib/api";
import { configProblems, formConfig, modelSchema, runSchema, type Config } from "../lib/schemaForm";
import { SchemaForm } from "./SchemaForm";
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

/** One type's run options: the form's data, or raw JSON for what the form cannot express. */
export interface RunOptions {
  raw: boolean;
  text: string;
  data: unknown;
}

const NO_OPTIONS: RunOptions = { raw: false, text: "", data: {} };

/** The config a Run sends with these options (undefined: none, the type's saved settings apply), and what
 * stops it: a form whose data does not fit the schema, or raw text that is not a JSON object. */
export function runConfig(options: RunOptions, schema: ReturnType<typeof modelSchema>): { config?: Config; problems: string[] } {
  if (schema && !options.raw) {
    const config = formConfig(options.data);
    return { config, problems: configProblems(runSchema(schema), config) };
  }
  try {
    return { config: parseConfig(options.text), problems: [] };
  } catch (e) {
    return { problems: [e instanceof Error ? e.message : String(e)] };
  }
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
  const [options, setOptions] = useState<Partial<Record<ModelType, RunOptions>>>({});
  const [optionsType, setOptionsType] = useState<ModelType>("DMO");
  const optionsOf = (type: ModelType) => options[type] ?? NO_OPTIONS;
  const changeOptions = (type: ModelType, change: Partial<RunOptions>) => setOptions((all) => ({ ...all, [type]: { ...(all[type] ?? NO_OPTIONS), ...change } }));
  const activeOf = (type: ModelType) => models.find((m) => m.model_type === type && m.status === "active");
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
    const { config, problems } = runConfig(optionsOf(type), modelSchema(activeOf(type)));
    if (problems.length) {
      setErrors((all) => ({ ...all, [type]: `Run options: ${problems.join("; ")}` }));
      return;
    }
    try {
      const started = await api.execute(type, config, parseLimits(limits));
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
        const active = activeOf(type);
        const job = latest[type];
        const status = displayStatus(job);
        const place = queuePlace(job);
        const reasonId = `run-${type}-reason`;
        const formProblems = runConfig(optionsOf(type), modelSchema(active)).problems;
        const blocked = runBlockedBecause(type, role, active)
          ?? (formProblems.length ? `Run is disabled: the ${type} run options do not fit its model's schema (${formProblems.join("; ")}).` : null);
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
        <RunOptionsForm
          type={optionsType} onType={setOptionsType} active={activeOf(optionsType)}
          options={optionsOf(optionsType)} onChange={(change) => changeOptions(optionsType, change)}
        />
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

interface RunOptionsFormProps {
  type: ModelType;
  onType: (type: ModelType) => void;
  active: Model | undefined;
  options: RunOptions;
  onChange: (change: Partial<RunOptions>) => void;
}

/** The chosen type's config: its schema's form, or the raw JSON box (always for a model without a schema). */
function RunOptionsForm({ type, onType, active, options, onChange }: RunOptionsFormProps) {
  const schema = modelSchema(active);
  const raw = !schema || options.raw;
  const toggleRaw = (wantRaw: boolean) => {
    if (wantRaw) return onChange({ raw: true, text: options.text || JSON.stringify(formConfig(options.data) ?? {}, null, 1).replace(/^\{\}$/, "") });
    try {
      return onChange({ raw: false, data: parseConfig(options.text) ?? {} });
    } catch {
      return onChange({ raw: false });  // the form keeps its own data when the text is not an object
    }
  };
  return (
    <fieldset className="config">
      <legend>Config</legend>
      <div className="row">
        <label htmlFor="run-options-type">Options for</label>
        <select id="run-options-type" value={type} onChange={(e) => onType(e.target.value as ModelType)}>
          {MODEL_TYPES.map((t) => <option key={t} value={t}>{t}</option>)}
        </select>
        {schema && (
          <label className="inline">
            <input type="checkbox" checked={options.raw} onChange={(e) => toggleRaw(e.target.checked)} /> Raw JSON
          </label>
        )}
      </div>
      {raw ? (
        <>
          <label htmlFor="run-config">Config (JSON)</label>
          <textarea
            id="run-config" rows={2} value={options.text} placeholder='{"capacity_mwh": 120}'
            onChange={(e) => onChange({ text: e.target.value })}
          />
          <p className="muted small">
            Passed to the next {type} run as CONFIG; the server checks it against the model's schema
            {schema ? "" : ` (${active ? `${active.model_name} declares none` : "no active model"})`}. Empty: the saved {type} settings apply.
          </p>
        </>
      ) : (
        <>
          <p className="muted small">
            {active?.model_name} v{active?.version}'s CONFIG_SCHEMA. Fields left empty take the saved {type} settings; what you fill in replaces theirs, field by field.
          </p>
          <SchemaForm id={`run-${type}`} schema={runSchema(schema)} value={options.data} onChange={(data) => onChange({ data })} />
        </>
      )}
    </fieldset>
  );
}
