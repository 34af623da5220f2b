// Two or more runs side by side: every fact that can differ (model, outcome, resources, metrics, dataset,
// config), differing rows marked; objective and duration as bars; and one column of a result file the runs
// share, one line per run, on one chart named `Chart of <column> across <n> runs`.
import { useEffect, useState } from "react";
import { Bar, BarChart, CartesianGrid, Legend, Tooltip, XAxis, YAxis } from "recharts";
import { api } from "../lib/api";
import {
  comparisonRows, fetchPreview, isPreviewable, numericX, overlayPoints, sharedNumericColumns, sharedPreviewNames,
  VALUE_AXIS, type ComparedRun, type Preview, type ResultFile,
} from "../lib/results";
import type { Job } from "../lib/types";
import { PALETTE, SeriesChart } from "./SeriesChart";

type Detailed = ComparedRun & { results: ResultFile[] };

export function Comparison({ jobs, onClose }: { jobs: Job[]; onClose: () => void }) {
  const [details, setDetails] = useState<Detailed[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const ids = jobs.map((j) => j.job_id).join(",");
  useEffect(() => {
    let stale = false;
    Promise.all(jobs.map((j) => api.job(j.job_id))).then(
      (answers) => !stale && setDetails(answers.map((a) => a.job as Detailed)),
      (e: Error) => !stale && setError(e.message),
    );
    return () => {
      stale = true;
    };
  }, [ids]); // the selection, not the array's identity, decides what to fetch

  const runs: ComparedRun[] = details ?? jobs;
  const data = runs.map((j) => ({ run: j.job_id, objective: j.objective_value ?? 0, seconds: (j.duration_ms ?? 0) / 1000 }));
  return (
    <section className="card comparison" aria-labelledby="compare-title">
      <div className="toolbar">
        <h3 id="compare-title">Comparison of {jobs.length} runs</h3>
        <span className="spacer" />
        <button onClick={onClose}>Close comparison</button>
      </div>
      {error && <p role="alert" className="error">{error}</p>}
      <div className="compare-grid">
        <table className="table" aria-label="Run comparison">
          <thead>
            <tr>
              <th scope="col">Run</th>
              {runs.map((j) => <th scope="col" key={j.job_id} className="mono">{j.job_id}</th>)}
            </tr>
          </thead>
          <tbody>
            {comparisonRows(runs).map((row) => (
              <tr key={row.label} className={row.differs ? "differs" : undefined} data-differs={row.differs}>
                <th scope="row">{row.label}{row.differs && <span className="sr-only"> (differs)</span>}</th>
                {row.values.map((value, i) => (
                  <td key={runs[i].job_id}>{row.label === "Config" ? <pre className="config">{value}</pre> : value}</td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
        <BarChart width={420} height={220} data={data} aria-label="Objective and duration of the compared runs">
          <CartesianGrid strokeDasharray="3 3" />
          <XAxis dataKey="run" hide />
          <YAxis yAxisId="left" />
          <YAxis yAxisId="right" orientation="right" />
          <Tooltip />
          <Legend />
          <Bar yAxisId="left" dataKey="objective" fill="#2563eb" name="objective" />
          <Bar yAxisId="right" dataKey="seconds" fill="#f59e0b" name="duration (s)" />
        </BarChart>
      </div>
      {details && <Overlay runs={details} />}
    </section>
  );
}

/** Pick a result file every run has and one of its numeric columns; one line per run. */
function Overlay({ runs }: { runs: Detailed[] }) {
  const names = sharedPreviewNames(runs.map((r) => r.results));
  const [file, setFile] = useState(names[0] ?? "");
  const [previews, setPreviews] = useState<{ file: string; list: Preview[] } | null>(null);
  const [column, setColumn] = useState("");
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    if (!file) return;
    let stale = false;
    setError(null);
    const urls = runs.map((r) => r.results.filter(isPreviewable).find((f) => f.name === file)!.preview_url);
    Promise.all(urls.map(fetchPreview)).then(
      (list) => {
        if (stale) return;
        setPreviews({ file, list });
        setColumn((current) => (sharedNumericColumns(list).includes(current) ? current : sharedNumericColumns(list)[0] ?? ""));
      },
      (e: Error) => !stale && setError(e.message),
    );
    return () => {
      stale = true;
    };
  }, [file, runs]);

  if (names.length === 0) return <p className="muted">The runs share no tabular result file to overlay.</p>;
  const current = previews?.file === file ? previews.list : null;
  const tables = current?.every((p) => p.kind === "table") ?? false;
  const columns = current && tables ? sharedNumericColumns(current) : [];
  const keyed = runs.map((_, i) => ({ runId: `run${i}`, preview: current?.[i] })).filter((k) => k.preview) as { runId: string; preview: Preview }[];
  return (
    <div className="overlay-chart">
      <div className="toolbar">
        <label htmlFor="overlay-file">Result file</label>
        <select id="overlay-file" value={file} onChange={(e) => setFile(e.target.value)}>
          {names.map((n) => <option key={n}>{n}</option>)}
        </select>
        <label htmlFor="overlay-column">Column</label>
        <select id="overlay-column" value={column} onChange={(e) => setColumn(e.target.value)} disabled={columns.length === 0}>
          {columns.map((c) => <option key={c}>{c}</option>)}
        </select>
      </div>
      {error && <p className="error">Preview unavailable: {error}</p>}
      {current && !tables && <p className="muted">{current.find((p) => p.kind !== "table")?.message ?? "Not every run's file could be read as a table."}</p>}
      {current && tables && column && (
        <SeriesChart
          label={`Chart of ${column} across ${runs.length} runs`}
          points={overlayPoints(keyed, column)}
          lines={runs.map((r, i) => ({ key: `run${i}`, name: r.job_id, axis: VALUE_AXIS, colour: PALETTE[i % PALETTE.length] }))}
          numericX={numericX(current[0])}
          xLabel={current[0].index ?? "row"}
        />
      )}
      {current && tables && !column && <p className="muted">The runs' files share no numeric column.</p>}
    </div>
  );
}
