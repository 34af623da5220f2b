// The Settings tab: per type, the saved default run config (what scheduled runs and runs without a config
// use), edited in a form drawn from the active model's CONFIG_SCHEMA and saved as a new version; and the
// type's datasets, one of them active (what those runs read), changed only by an explicit step.
import { useCallback, useEffect, useRef, useState, type FormEvent } from "react";
import { api, ApiError, uploadDataset } from "../lib/api";
import { formatTime } from "../lib/format";
import { configProblems, errorSchemaOf, formConfig, modelSchema } from "../lib/schemaForm";
import { mayOperate, MODEL_TYPES, type Dataset, type Model, type ModelType, type SettingsProblem, type TypeSettings } from "../lib/types";
import { parseConfig } from "./ControlPanel";
import { SchemaForm } from "./SchemaForm";

const message = (e: unknown) => (e instanceof Error ? e.message : String(e));

/** "units/0/p_max must be >= 0; …": the saved settings' problems as the warning names them. */
export function describeProblems(problems: SettingsProblem[]): string {
  return problems.map((p) => `${p.path || "(the config itself)"} ${p.message}`).join("; ");
}

/** The 422's field problems ({path, message} with a slash path), when the answer carries them. */
function fieldProblems(error: unknown): SettingsProblem[] {
  const details = error instanceof ApiError ? error.details : undefined;
  if (!Array.isArray(details)) return [];
  return details.filter((d): d is SettingsProblem => typeof d?.path === "string" && typeof d?.message === "string");
}

export function Settings({ role, models }: { role: string; models: Model[] }) {
  return (
    <section aria-label="Settings" className="settings">
      <p className="muted small">
        Each type's saved config is what its scheduled runs, and runs started without a config, use; a run's own config replaces its fields.
      </p>
      {MODEL_TYPES.map((type) => {
        const active = models.find((m) => m.model_type === type && m.status === "active");
        return (
          <div key={type} className="card type-settings" role="group" aria-label={`${type} settings`} data-type={type}>
            <h3>{type}</h3>
            <SettingsForm type={type} role={role} active={active} />
            <Datasets type={type} role={role} />
          </div>
        );
      })}
    </section>
  );
}

function SettingsForm({ type, role, active }: { type: ModelType; role: string; active: Model | undefined }) {
  const [saved, setSaved] = useState<TypeSettings | null>(null);
  const [data, setData] = useState<unknown>({});
  const [raw, setRaw] = useState(false);
  const [text, setText] = useState("");
  const [serverProblems, setServerProblems] = useState<SettingsProblem[]>([]);
  const [outcome, setOutcome] = useState<{ ok: boolean; text: string } | null>(null);
  const [busy, setBusy] = useState(false);
  const schema = modelSchema(active);
  const useForm = !!schema && !raw;

  const show = (settings: TypeSettings) => {
    setSaved(settings);
    setData(settings.config);
    setText(Object.keys(settings.config).length ? JSON.stringify(settings.config, null, 1) : "");
  };
  useEffect(() => {
    api.settings(type).then(show, (e: unknown) => setOutcome({ ok: false, text: message(e) }));
  }, [type, active?.id]);

  let config: Record<string, unknown> | undefined;
  let problems: string[] = [];
  try {
    config = useForm ? formConfig(data) : parseConfig(text);
    if (schema) problems = configProblems(schema, config);
  } catch (e) {
    problems = [message(e)];
  }

  const save = async () => {
    setBusy(true);
    setOutcome(null);
    try {
      const now = await api.saveSettings(type, config ?? {});
      show(now);
      setServerProblems([]);
      setOutcome({ ok: true, text: `Saved: ${type} settings v${now.version}` });
    } catch (e) {
      setServerProblems(fieldProblems(e));
      setOutcome({ ok: false, text: message(e) });
    } finally {
      setBusy(false);
    }
  };

  if (!saved) return outcome ? <p role="alert" className="error small">{outcome.text}</p> : <p className="loading">Loading…</p>;
  const reasonId = `settings-${type}-reason`;
  const blocked = !mayOperate(role)
    ? `Save is disabled: your key's role (${role}) may not change settings; operators and admins may.`
    : problems.length ? `Save is disabled: ${problems.join("; ")}` : null;
  return (
    <div className="settings-form">
      <p className="small" data-testid={`settings-${type}-version`}>
        {saved.version ? `Settings v${saved.version}, saved by ${saved.updatedBy} ${saved.updatedAt ? formatTime(saved.updatedAt) : ""}` : "No settings saved yet (v0)"}
        {" · "}
        {saved.activeModel ? `checked against ${saved.activeModel.name} v${saved.activeModel.version}` : `no active ${type} model`}
      </p>
      {!saved.valid && (
        <p role="alert" className="sev-warning">Saved settings do not fit the active model: {describeProblems(saved.problems)}</p>
      )}
      {schema && (
        <label className="inline small">
          <input type="checkbox" checked={raw} onChange={(e) => setRaw(e.target.checked)} /> Raw JSON
        </label>
      )}
      {useForm ? (
        <SchemaForm
          id={`settings-${type}`} schema={schema} value={data} extraErrors={serverProblems.length ? errorSchemaOf(serverProblems) : undefined}
          onChange={(next) => {
            setData(next);
            setServerProblems([]);
          }}
        />
      ) : (
        <>
          <label htmlFor={`settings-${type}-json`}>{type} settings (JSON)</label>
          <textarea id={`settings-${type}-json`} rows={3} value={text} onChange={(e) => setText(e.target.value)} />
        </>
      )}
      <div className="row">
        <button onClick={() => void save()} disabled={busy || blocked !== null} aria-describedby={blocked ? reasonId : undefined}>
          Save {type} settings
        </button>
      </div>
      {blocked && <p id={reasonId} className="muted small">{blocked}</p>}
      {outcome && <p role={outcome.ok ? "status" : "alert"} className={outcome.ok ? "ok small" : "error small"}>{outcome.text}</p>}
    </div>
  );
}

function Datasets({ type, role }: { type: ModelType; role: string }) {
  const [datasets, setDatasets] = useState<Dataset[] | null>(null);
  const [outcome, setOutcome] = useState<{ ok: boolean; text: string } | null>(null);
  const [file, setFile] = useState<File | null>(null);
  const [activate, setActivate] = useState(true);
  const picker = useRef<HTMLInputElement>(null);
  const allowed = mayOperate(role);

  const load = useCallback(async () => {
    try {
      setDatasets((await api.datasets(type)).dataSources);
    } catch (e) {
      setOutcome({ ok: false, text: message(e) });
    }
  }, [type]);
  useEffect(() => void load(), [load]);

  const makeActive = async (dataset: Dataset) => {
    try {
      await api.activateDataset(dataset.id);
      setOutcome({ ok: true, text: `${dataset.name} is the active ${type} dataset` });
    } catch (e) {
      setOutcome({ ok: false, text: message(e) });
    }
    await load();
  };

  const upload = async (event: FormEvent) => {
    event.preventDefault();
    if (!file) return setOutcome({ ok: false, text: "choose a .csv or .xlsx file first" });
    const form = new FormData();
    form.append("file", file);
    form.append("modelType", type);
    form.append("activate", String(activate));
    const result = await uploadDataset(form);
    setOutcome({ ok: result.ok, text: result.message });
    if (result.ok) {
      setFile(null);
      if (picker.current) picker.current.value = "";
      await load();
    }
  };

  return (
    <div className="datasets">
      <h4>{type} datasets</h4>
      {datasets && datasets.length === 0 && <p className="muted small">No {type} datasets: its runs get no DATA_PATH.</p>}
      {datasets && datasets.length > 0 && (
        <table aria-label={`${type} datasets`}>
          <tbody>
            {datasets.map((d) => (
              <tr key={d.id} data-dataset={d.id}>
                <td>{d.name}</td>
                <td className="muted small">{d.uploaded_at ? formatTime(d.uploaded_at) : ""}</td>
                <td>
                  {d.is_active ? <strong className="sev-ok">active</strong> : allowed && (
                    <button onClick={() => void makeActive(d)} aria-label={`Make ${d.name} (#${d.id}) active`}>Make active</button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {allowed && (
        <form className="row" onSubmit={upload}>
          <label htmlFor={`dataset-file-${type}`}>{type} dataset file</label>
          <input id={`dataset-file-${type}`} ref={picker} type="file" accept=".csv,.xlsx" onChange={(e) => setFile(e.target.files?.[0] ?? null)} />
          <label className="inline">
            <input type="checkbox" checked={activate} onChange={(e) => setActivate(e.target.checked)} /> Make active
          </label>
          <button type="submit">Upload dataset</button>
        </form>
      )}
      {outcome && <p role={outcome.ok ? "status" : "alert"} className={outcome.ok ? "ok small" : "error small"}>{outcome.text}</p>}
    </div>
  );
}
