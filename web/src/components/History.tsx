// Run history: paged, filterable; open a run, or tick two or more to compare them.
import { useEffect, useState } from "react";
import { api } from "../lib/api";
import { formatDuration, formatMemory, formatNumber, formatSeconds, formatTime } from "../lib/format";
import { displayStatus, queuePlace } from "../lib/sandbox";
import { MODEL_TYPES, type Job } from "../lib/types";
import { Comparison } from "./Comparison";

const PAGE = 15;
// The server keeps a queued run "pending" (with a place in line), so "pending" finds both.
const STATUSES = ["pending", "running", "success", "failed", "cancelled"];

export function History({ jobsTick, onOpen }: { jobsTick: number; onOpen: (jobId: string) => void }) {
  const [jobs, setJobs] = useState<Job[]>([]);
  const [total, setTotal] = useState(0);
  const [offset, setOffset] = useState(0);
  const [type, setType] = useState("");
  const [status, setStatus] = useState("");
  const [selected, setSelected] = useState<Map<string, Job>>(new Map());
  const [comparing, setComparing] = useState(false);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    let stale = false;
    api.jobs({ type, status, limit: PAGE, offset }).then(
      (r) => {
        if (stale) return;
        setJobs(r.jobs);
        setTotal(r.total);
        setError(null);
      },
      (e: Error) => !stale && setError(e.message),
    );
    return () => {
      stale = true;
    };
  }, [type, status, offset, jobsTick]);

  const toggle = (job: Job) =>
    setSelected((current) => {
      const next = new Map(current);
      if (next.has(job.job_id)) next.delete(job.job_id);
      else next.set(job.job_id, job);
      return next;
    });

  const pages = Math.max(1, Math.ceil(total / PAGE));
  return (
    <div className="history">
      <div className="toolbar">
        <label htmlFor="history-type">Type</label>
        <select id="history-type" value={type} onChange={(e) => { setType(e.target.value); setOffset(0); }}>
          <option value="">all</option>
          {MODEL_TYPES.map((t) => <option key={t}>{t}</option>)}
        </select>
        <label htmlFor="history-status">Status</label>
        <select id="history-status" value={status} onChange={(e) => { setStatus(e.target.value); setOffset(0); }}>
          <option value="">all</option>
          {STATUSES.map((s) => <option key={s}>{s}</option>)}
        </select>
        <span className="spacer" />
        <button disabled={selected.size < 2} onClick={() => setComparing(true)}>Compare selected ({selected.size})</button>
        {selected.size > 0 && <button onClick={() => { setSelected(new Map()); setComparing(false); }}>Clear selection</button>}
      </div>
      {error && <p role="alert" className="error">{error}</p>}
      <table className="table" aria-label="Run history">
        <thead>
          <tr>
            <th scope="col"><span className="sr-only">Select</span></th>
            <th scope="col">Run</th>
            <th scope="col">Type</th>
            <th scope="col">Model</th>
            <th scope="col">Trigger</th>
            <th scope="col">Status</th>
            <th scope="col">Started</th>
            <th scope="col">Duration</th>
            <th scope="col">Waited</th>
            <th scope="col">Memory</th>
            <th scope="col">CPU</th>
            <th scope="col">Objective</th>
            <th scope="col">Results</th>
          </tr>
        </thead>
        <tbody>
          {jobs.map((job) => (
            <tr key={job.job_id} data-job={job.job_id}>
              <td>
                <input type="checkbox" aria-label={`Select ${job.job_id}`} checked={selected.has(job.job_id)} onChange={() => toggle(job)} />
              </td>
              <td><button className="link mono" onClick={() => onOpen(job.job_id)}>{job.job_id}</button></td>
              <td>{job.model_type}</td>
              <td>{job.model_name ? `${job.model_name} v${job.model_version}` : "—"}</td>
              <td>{job.triggered_by}</td>
              <td>
                <span className={`status status-${displayStatus(job)}`}>{displayStatus(job)}</span>
                {queuePlace(job) && <span className="queue-place small"> {queuePlace(job)}</span>}
              </td>
              <td>{formatTime(job.started_at)}</td>
              <td>{formatDuration(job.duration_ms)}</td>
              <td className="num">{formatSeconds(job.queued_s)}</td>
              <td className="num">{formatMemory(job.peak_memory_mb)}</td>
              <td className="num">{formatSeconds(job.cpu_seconds)}</td>
              <td className="num">{formatNumber(job.objective_value)}</td>
              <td className="num">{job.results_count ?? "—"}</td>
            </tr>
          ))}
          {jobs.length === 0 && (
            <tr><td colSpan={13} className="muted">No runs yet.</td></tr>
          )}
        </tbody>
      </table>
      <div className="pager">
        <button disabled={offset === 0} onClick={() => setOffset(Math.max(0, offset - PAGE))}>Previous</button>
        <span>Page {Math.floor(offset / PAGE) + 1} of {pages} · {total} runs</span>
        <button disabled={offset + PAGE >= total} onClick={() => setOffset(offset + PAGE)}>Next</button>
      </div>
      {comparing && selected.size >= 2 && <Comparison jobs={[...selected.values()]} onClose={() => setComparing(false)} />}
    </div>
  );
}
