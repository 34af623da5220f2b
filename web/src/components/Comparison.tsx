// Two or more runs side by side: objective, duration, config.
import { Bar, BarChart, CartesianGrid, Legend, Tooltip, XAxis, YAxis } from "recharts";
import { formatDuration, formatNumber } from "../lib/format";
import type { Job } from "../lib/types";

export function Comparison({ jobs, onClose }: { jobs: Job[]; onClose: () => void }) {
  const data = jobs.map((j) => ({ run: j.job_id, objective: j.objective_value ?? 0, seconds: (j.duration_ms ?? 0) / 1000 }));
  return (
    <section className="card comparison" aria-labelledby="compare-title">
      <div className="toolbar">
        <h3 id="compare-title">Comparison of {jobs.length} runs</h3>
        <span className="spacer" />
        <button onClick={onClose}>Close comparison</button>
      </div>
      <div className="compare-grid">
        <table className="table" aria-label="Run comparison">
          <thead>
            <tr>
              <th scope="col">Run</th>
              {jobs.map((j) => <th scope="col" key={j.job_id} className="mono">{j.job_id}</th>)}
            </tr>
          </thead>
          <tbody>
            <tr><th scope="row">Model</th>{jobs.map((j) => <td key={j.job_id}>{j.model_name} v{j.model_version}</td>)}</tr>
            <tr><th scope="row">Status</th>{jobs.map((j) => <td key={j.job_id}>{j.status}</td>)}</tr>
            <tr><th scope="row">Objective</th>{jobs.map((j) => <td key={j.job_id} className="num">{formatNumber(j.objective_value)}</td>)}</tr>
            <tr><th scope="row">Duration</th>{jobs.map((j) => <td key={j.job_id}>{formatDuration(j.duration_ms)}</td>)}</tr>
            <tr><th scope="row">Results</th>{jobs.map((j) => <td key={j.job_id}>{j.results_count ?? "—"}</td>)}</tr>
            <tr>
              <th scope="row">Config</th>
              {jobs.map((j) => <td key={j.job_id}><pre className="config">{JSON.stringify(j.model_config ?? {}, null, 2)}</pre></td>)}
            </tr>
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
    </section>
  );
}
