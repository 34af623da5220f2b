// One run: its facts, its whole log page by page, its result files (tables previewed and charted), an Excel
// report, its config, and the same run in Prefect's UI.
import { useEffect, useRef, useState } from "react";
import { api } from "../lib/api";
import { formatBytes, formatDuration, formatMemory, formatNumber, formatSeconds, formatTime, levelClass } from "../lib/format";
import { isPreviewable, reportUrl, type ResultFile } from "../lib/results";
import { describeLimits, displayStatus, queuePlace } from "../lib/sandbox";
import { isActive, type Dataset, type JobDetail, type StoredLog } from "../lib/types";
import { ResultViewer } from "./ResultViewer";

const LOG_PAGE = 200;

interface Props {
  jobId: string;
  jobsTick: number;
  onClose: () => void;
  onStarted: (jobId: string, modelType: string) => void;
}

export function RunDetail({ jobId, jobsTick, onClose, onStarted }: Props) {
  const [job, setJob] = useState<JobDetail | null>(null);
  const [error, setError] = useState<string | null>(null);
  // after_seq of each page visited, so Previous goes back exactly
  const [cursors, setCursors] = useState<number[]>([0]);
  const [page, setPage] = useState<{ logs: StoredLog[]; nextAfterSeq: number; hasMore: boolean } | null>(null);
  const dialog = useRef<HTMLDivElement>(null);
  const after = cursors[cursors.length - 1];
  const [dataset, setDataset] = useState<Dataset | null>(null);

  useEffect(() => {
    api.job(jobId).then((r) => setJob(r.job), (e: Error) => setError(e.message));
  }, [jobId, jobsTick]);
  // The job records the dataset's id and sha256; its name comes from the type's dataset list.
  const datasetId = job?.data_source_id;
  const modelType = job?.model_type;
  useEffect(() => {
    if (datasetId == null || !modelType) return;
    api.datasets(modelType).then((r) => setDataset(r.dataSources.find((d) => d.id === datasetId) ?? null), () => setDataset(null));
  }, [datasetId, modelType]);
  useEffect(() => {
    api.logs(jobId, after, LOG_PAGE).then(setPage, (e: Error) => setError(e.message));
  }, [jobId, after, jobsTick]);
  // Keyboard users land back where they opened the run.
  useEffect(() => {
    const opener = document.activeElement as HTMLElement | null;
    return () => opener?.focus();
  }, []);
  useEffect(() => {
    setCursors([0]);
    dialog.current?.focus();
  }, [jobId]);

  const act = async (action: () => Promise<unknown>) => {
    try {
      await action();
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    }
  };

  const base = `/api/optimization/jobs/${encodeURIComponent(jobId)}`;
  // tables get a viewer below (with their download link); other files stay plain downloads here
  const results: ResultFile[] = job?.results ?? [];
  const previewed = results.filter(isPreviewable);
  const plainResults = results.filter((r) => !isPreviewable(r));
  return (
    <div className="overlay" onClick={(e) => e.target === e.currentTarget && onClose()}>
      <div
        className="dialog" role="dialog" aria-modal="true" aria-labelledby="run-title" tabIndex={-1} ref={dialog}
        onKeyDown={(e) => e.key === "Escape" && onClose()}
      >
        <div className="toolbar">
          <h2 id="run-title">Run <span className="mono">{jobId}</span></h2>
          <span className="spacer" />
          {job && isActive(job.status) && <button className="danger" onClick={() => act(() => api.cancel(jobId))}>Cancel run</button>}
          {job && !isActive(job.status) && (
            <button onClick={() => act(async () => {
              const started = await api.retry(jobId);
              onStarted(started.jobId, job.model_type);
            })}>Run again</button>
          )}
          <button onClick={onClose}>Close</button>
        </div>
        {error && <p role="alert" className="error">{error}</p>}
        {job && (
          <div className="detail-grid">
            <dl className="facts">
              <dt>Type</dt><dd>{job.model_type}</dd>
              <dt>Model</dt><dd>{job.model_name} v{job.model_version}</dd>
              <dt>Status</dt><dd>
                <span className={`status status-${displayStatus(job)}`} data-testid="detail-status">{displayStatus(job)}</span>
                {queuePlace(job) && ` ${queuePlace(job)}`} (attempt {job.attempt})
              </dd>
              <dt>Trigger</dt><dd>{job.triggered_by}</dd>
              <dt>Started</dt><dd>{formatTime(job.started_at)}</dd>
              <dt>Duration</dt><dd>{formatDuration(job.duration_ms)}</dd>
              <dt>Objective</dt><dd>{formatNumber(job.objective_value)}</dd>
              {job.error_message && <><dt>Error</dt><dd className="error">{job.error_message}</dd></>}
              <dt>Prefect</dt>
              <dd>{job.prefect_url ? <a href={job.prefect_url} target="_blank" rel="noopener">Open in Prefect UI</a> : "—"}</dd>
            </dl>
            <div>
              <h3>Results</h3>
              {job.results.length === 0 ? <p className="muted">No result files.</p> : (
                <ul className="results">
                  {plainResults.map((r) => (
                    <li key={r.name}><a href={r.url} download>{r.name}</a> <span className="muted small">{formatBytes(r.size)}</span></li>
                  ))}
                  {previewed.length > 0 && <li className="muted">{previewed.map((r) => r.name).join(", ")} — previewed below</li>}
                </ul>
              )}
              <p><a href={`${base}/logfile`} download>Download the whole log</a></p>
              <p><a href={reportUrl(jobId)} download>Download Excel report</a></p>
              <h3>Limits</h3>
              {describeLimits(job.limits).length === 0 ? <p className="muted">Not recorded.</p> : (
                <dl className="facts" aria-label="Run limits">
                  {describeLimits(job.limits).map(([label, value]) => (
                    <div key={label} className="fact"><dt>{label}</dt><dd>{value}</dd></div>
                  ))}
                </dl>
              )}
              <h3>Resources</h3>
              <dl className="facts" aria-label="Run resources">
                <div className="fact"><dt>Peak memory</dt><dd data-testid="run-peak-memory">{formatMemory(job.peak_memory_mb)}</dd></div>
                <div className="fact"><dt>CPU time</dt><dd data-testid="run-cpu">{formatSeconds(job.cpu_seconds)}</dd></div>
                <div className="fact"><dt>Waited in line</dt><dd data-testid="run-queued">{formatSeconds(job.queued_s)}</dd></div>
              </dl>
              <h3>Provenance</h3>
              <dl className="facts" aria-label="Run provenance">
                <div className="fact"><dt>Model</dt><dd>{job.model_name ? `${job.model_name} v${job.model_version}` : "—"}</dd></div>
                <div className="fact"><dt>Model sha256</dt><dd className="mono hash">{job.model_sha256 ?? "—"}</dd></div>
                <div className="fact"><dt>Dataset</dt><dd>{job.data_source_id == null ? "none" : dataset?.name ?? `#${job.data_source_id}`}</dd></div>
                <div className="fact"><dt>Dataset sha256</dt><dd className="mono hash">{job.data_source_sha256 ?? "—"}</dd></div>
                <div className="fact"><dt>Dependency lock</dt>
                  <dd className="mono hash" data-testid="run-lock">{job.lock_sha256 ?? "base environment"}</dd></div>
              </dl>
              <h3>Config</h3>
              <pre className="config" aria-label="Run config">{JSON.stringify(job.model_config ?? {}, null, 2)}</pre>
            </div>
          </div>
        )}
        {previewed.length > 0 && (
          <>
            <h3>Result previews</h3>
            {previewed.map((r) => <ResultViewer key={r.name} jobId={jobId} file={r} />)}
          </>
        )}
        <h3>Log</h3>
        <div className="pager">
          <button disabled={cursors.length === 1} onClick={() => setCursors((c) => c.slice(0, -1))}>Previous lines</button>
          <span className="small">
            Page {cursors.length}
            {page && page.logs.length > 0 && ` · lines ${page.logs[0].seq}–${page.logs[page.logs.length - 1].seq}`}
            {job && ` of ${job.last_seq}`}
          </span>
          <button disabled={!page?.hasMore} onClick={() => page && setCursors((c) => [...c, page.nextAfterSeq])}>Next lines</button>
        </div>
        <div className="run-log" role="log" aria-label="Run log" aria-live="off" tabIndex={0}>
          {page?.logs.map((l) => (
            <div key={l.seq} className={`log-row static ${levelClass(l.level)}`} data-seq={l.seq}>
              <span className="seq">{l.seq}</span>
              <span className="lvl">{l.level}</span>
              <span className="msg">{l.message}</span>
            </div>
          ))}
          {page && page.logs.length === 0 && <p className="muted">No lines.</p>}
        </div>
      </div>
    </div>
  );
}
