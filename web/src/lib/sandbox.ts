// What the execution sandbox adds to the page: a run's place in line, per-run limits, and the
// host's protections (api/runs.py, api/realtime.py, optbox/sandbox.py). Pure functions, tested in sandbox.test.ts.
import type { JobEvent } from "./realtime";
import type { Job, Protections, RunLimits } from "./types";

/** "1st", "2nd", "3rd", "11th", "22nd". */
export function ordinal(n: number): string {
  const tens = n % 100;
  if (tens >= 11 && tens <= 13) return `${n}th`;
  return `${n}${({ 1: "st", 2: "nd", 3: "rd" } as Record<number, string>)[n % 10] ?? "th"}`;
}

/** The status a person reads: a pending run with a place in line is "queued" (the server stores it as pending). */
export function displayStatus(job: Pick<Job, "status" | "queue_position"> | undefined): string {
  if (!job) return "idle";
  return job.status === "pending" && job.queue_position != null ? "queued" : job.status;
}

/** "2nd in line", or null when the run is not waiting. */
export function queuePlace(job: Pick<Job, "status" | "queue_position"> | undefined): string | null {
  return job && displayStatus(job) === "queued" ? `${ordinal(job.queue_position as number)} in line` : null;
}

/** A Socket.IO status event applied to the run it is about: a queue event sets the place in line,
 *  any other event with a status means the run left the line (it started or ended). */
export function applyJobEvent<T extends Job>(job: T, event: JobEvent): T {
  if (job.job_id !== event.jobId) return job;
  const next: T = {
    ...job,
    status: event.status ?? job.status,
    progress: event.progress ?? job.progress,
    duration_ms: event.durationMs ?? job.duration_ms,
  };
  if (event.queued) next.queue_position = event.queuePosition ?? job.queue_position ?? null;
  else if (event.status && event.status !== "pending") next.queue_position = null;
  return next;
}

/** The "Run options" limit fields as typed (empty = the server's default). */
export interface LimitsForm {
  timeoutS: string;
  memoryMb: string;
  maxProcs: string;
  maxLogMb: string;
  network: "" | "off" | "on";
}

export const EMPTY_LIMITS: LimitsForm = { timeoutS: "", memoryMb: "", maxProcs: "", maxLogMb: "", network: "" };

const LIMIT_LABELS: Record<Exclude<keyof LimitsForm, "network">, { label: string; integer: boolean }> = {
  timeoutS: { label: "Timeout (s)", integer: false },
  memoryMb: { label: "Memory (MB)", integer: true },
  maxProcs: { label: "Processes", integer: true },
  maxLogMb: { label: "Log cap (MB)", integer: false },
};

/** The execute body's `limits`, undefined when every field is left to the server. Malformed numbers are refused
 *  here; values above the server's maxima are for the server to judge (its 422 names the field and the maximum). */
export function parseLimits(form: LimitsForm): Partial<RunLimitsRequest> | undefined {
  const out: Partial<RunLimitsRequest> = {};
  for (const [key, { label, integer }] of Object.entries(LIMIT_LABELS) as [keyof typeof LIMIT_LABELS, { label: string; integer: boolean }][]) {
    const text = form[key].trim();
    if (!text) continue;
    const value = Number(text);
    if (!Number.isFinite(value) || value <= 0) throw new Error(`${label} must be a number above 0`);
    if (integer && !Number.isInteger(value)) throw new Error(`${label} must be a whole number`);
    out[key] = value;
  }
  if (form.network) out.network = form.network === "on";
  return Object.keys(out).length ? out : undefined;
}

export interface RunLimitsRequest {
  timeoutS: number;
  memoryMb: number;
  maxProcs: number;
  maxLogMb: number;
  network: boolean;
}

/** A run's recorded limits as label/value rows for the run detail. */
export function describeLimits(limits: RunLimits | null | undefined): [string, string][] {
  if (!limits) return [];
  const rows: [string, string][] = [];
  if (limits.timeout_s != null) rows.push(["Timeout", `${limits.timeout_s} s`]);
  if (limits.memory_mb != null) rows.push(["Memory", `${limits.memory_mb} MB`]);
  if (limits.max_procs != null) rows.push(["Processes", String(limits.max_procs)]);
  if (limits.max_log_mb != null) rows.push(["Log cap", `${limits.max_log_mb} MB`]);
  if (limits.network != null) rows.push(["Network", limits.network ? "on" : "off"]);
  return rows;
}

export interface ProtectionsSummary {
  level: "ok" | "warning" | "unknown";
  label: string;
  rows: [string, string][];
  missing: string[];
}

const yes = (on: boolean) => (on ? "active" : "missing");

/** The header indicator's reading of `/api/health` → `sandbox`: warning when anything is missing. */
export function summarizeProtections(sandbox: Protections | null | undefined): ProtectionsSummary {
  if (!sandbox) return { level: "unknown", label: "Sandbox: unknown", rows: [], missing: [] };
  const missing = sandbox.missing ?? [];
  return {
    level: missing.length ? "warning" : "ok",
    label: missing.length ? `Sandbox: ${missing.length} missing` : "Sandbox: protected",
    rows: [
      ["Bubblewrap", yes(sandbox.bubblewrap)],
      ["Filesystem isolation", yes(sandbox.filesystem_isolation)],
      ["Network isolation", yes(sandbox.network_isolation)],
      ["PID namespace", yes(sandbox.pid_namespace)],
      ["Unprivileged user", yes(sandbox.unprivileged_user)],
      ["Memory limit", sandbox.memory_limit ?? "missing"],
      ["Process limit", sandbox.process_limit ?? "missing"],
      ["Process tree ended by", sandbox.tree_kill],
    ],
    missing,
  };
}
