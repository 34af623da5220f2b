// Trends per model type: objective value of successful runs over time, run durations, and what runs used.
import { useEffect, useState } from "react";
import { CartesianGrid, Legend, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import { api } from "../lib/api";
import { MODEL_TYPES, type Job } from "../lib/types";

const COLOURS: Record<string, string> = { DMO: "#2563eb", RMO: "#16a34a", SO: "#d97706" };

export interface Point {
  t: number;
  value: number;
}

/** Points per type, oldest first, from runs that have the measure. */
export function series(jobs: Job[], measure: (job: Job) => number | null): Record<string, Point[]> {
  const out: Record<string, Point[]> = Object.fromEntries(MODEL_TYPES.map((t) => [t, []]));
  for (const job of jobs) {
    const value = measure(job);
    const when = job.completed_at ?? job.started_at ?? job.created_at;
    if (value === null || value === undefined || !when) continue;
    out[job.model_type]?.push({ t: Date.parse(when), value });
  }
  for (const points of Object.values(out)) points.sort((a, b) => a.t - b.t);
  return out;
}

const tick = (t: number) => new Date(t).toLocaleTimeString();

function Trend({ title, data, unit, types = MODEL_TYPES }: { title: string; data: Record<string, Point[]>; unit: string; types?: readonly string[] }) {
  const empty = types.every((type) => (data[type] ?? []).length === 0);
  return (
    <figure className="card chart" aria-label={title}>
      <figcaption>{title}</figcaption>
      {empty ? <p className="muted">No runs to chart yet.</p> : (
        <ResponsiveContainer width="100%" height={200}>
          <LineChart margin={{ left: 10, right: 10 }}>
            <CartesianGrid strokeDasharray="3 3" />
            <XAxis dataKey="t" type="number" domain={["dataMin", "dataMax"]} tickFormatter={tick} scale="time" />
            <YAxis dataKey="value" unit={unit} width={80} />
            <Tooltip labelFormatter={(t) => new Date(Number(t)).toLocaleString()} />
            <Legend />
            {types.map((type) => (
              <Line key={type} data={data[type]} dataKey="value" name={type} stroke={COLOURS[type]} dot isAnimationActive={false} />
            ))}
          </LineChart>
        </ResponsiveContainer>
      )}
    </figure>
  );
}

export function Charts({ jobsTick }: { jobsTick: number }) {
  const [jobs, setJobs] = useState<Job[]>([]);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    api.jobs({ limit: 500 }).then((r) => setJobs(r.jobs), (e: Error) => setError(e.message));
  }, [jobsTick]);
  const objectives = series(jobs.filter((j) => j.status === "success"), (j) => j.objective_value);
  return (
    <div className="charts">
      {error && <p role="alert" className="error">{error}</p>}
      {/* one chart per type: their objectives differ by orders of magnitude */}
      {MODEL_TYPES.map((type) => (
        <Trend key={type} title={`${type} objective value over time`} data={objectives} unit="" types={[type]} />
      ))}
      <Trend title="Run duration per type" data={series(jobs, (j) => (j.duration_ms === null ? null : j.duration_ms / 1000))} unit=" s" />
      <Trend title="Peak memory per type" data={series(jobs, (j) => j.peak_memory_mb ?? null)} unit=" MB" />
      <Trend title="CPU time per type" data={series(jobs, (j) => j.cpu_seconds ?? null)} unit=" s" />
      <Trend title="Time in line per type" data={series(jobs, (j) => j.queued_s ?? null)} unit=" s" />
    </div>
  );
}
