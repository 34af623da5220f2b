// The facade's payloads (see api/schemas.py and api/realtime.py): records snake_case, envelopes camelCase.

export const MODEL_TYPES = ["DMO", "RMO", "SO"] as const;
export type ModelType = (typeof MODEL_TYPES)[number];
export const LEVELS = ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] as const;

export interface Model {
  id: number;
  model_name: string;
  original_filename: string;
  model_type: ModelType;
  status: "active" | "inactive" | "archived" | string;
  description: string | null;
  version: number;
  uploaded_by: string;
  uploaded_at: string;
  file_size: number;
  // a model archive's entry file, and the sha256 of its dependency lock (none: the base environment)
  entry?: string | null;
  lock_sha256?: string | null;
  last_run?: Job | null;
}

/** A version's dependency lock, and with `against` each package whose pin differs from that version's. */
export interface ModelLock {
  lock_sha256: string | null;
  lock: string;
  packages: Record<string, string>;
  changes?: Record<string, { from: string | null; to: string | null }> | null;
}

export interface Job {
  job_id: string;
  model_id: number | null;
  model_name: string | null;
  model_version: number | null;
  model_type: ModelType;
  flow_run_id: string | null;
  status: string;
  progress: number;
  attempt: number;
  triggered_by: string;
  model_config: Record<string, unknown> | null;
  created_at: string;
  started_at: string | null;
  completed_at: string | null;
  error_message: string | null;
  results_count: number | null;
  objective_value: number | null;
  duration_ms: number | null;
  last_seq: number;
  // set while the run waits for a slot of its type (1 = starts next); the server keeps such runs "pending"
  queue_position?: number | null;
  model_sha256?: string | null;
  data_source_id?: number | null;
  data_source_sha256?: string | null;
  lock_sha256?: string | null;
  limits?: RunLimits | null;
  // resources: the last attempt's peak memory and CPU time, and seconds from creation until it first ran
  peak_memory_mb?: number | null;
  cpu_seconds?: number | null;
  queued_s?: number | null;
}

/** The limits a run ran under, as the server recorded them (optbox/protocol.py RunLimits). */
export interface RunLimits {
  timeout_s?: number;
  memory_mb?: number;
  max_procs?: number;
  max_log_mb?: number;
  network?: boolean;
}

/** `/api/health` → `sandbox` (optbox/sandbox.py Protections). */
export interface Protections {
  bubblewrap: boolean;
  filesystem_isolation: boolean;
  network_isolation: boolean;
  pid_namespace: boolean;
  unprivileged_user: boolean;
  memory_limit: string | null;
  process_limit: string | null;
  tree_kill: string;
  missing: string[];
}

export interface Dataset {
  id: number;
  name: string;
  model_type: string;
  sha256: string;
}

export interface Artifact {
  name: string;
  size: number;
  url: string;
}

export interface JobDetail extends Job {
  results: Artifact[];
  prefect_url: string | null;
}

export interface LogLine {
  jobId: string;
  modelType?: string;
  seq: number;
  level: string;
  stream: string;
  message: string;
  timestamp: string;
}

export interface StoredLog {
  seq: number;
  level: string;
  stream: string;
  message: string;
  timestamp: string;
}

export interface Notification {
  id: number;
  title: string;
  message: string;
  severity: string;
  is_read: boolean;
  created_at: string;
}

export const ACTIVE_STATUSES = new Set(["pending", "queued", "running"]);
export const isActive = (status: string | undefined) => !!status && ACTIVE_STATUSES.has(status);

/** What a role may do (the server decides; the page only explains before you click). */
const RANK: Record<string, number> = { viewer: 0, operator: 1, admin: 2 };
export const mayOperate = (role: string) => (RANK[role] ?? -1) >= 1;
export const mayAdminister = (role: string) => (RANK[role] ?? -1) >= 2;

export interface AlertDelivery {
  status: "pending" | "retrying" | "sent" | "failed" | "skipped";
  attempts: number;
  error: string | null;
  at: string | null;
}

export interface AlertRow {
  id: number;
  event: string;
  jobId: string | null;
  modelType: string | null;
  headline: string;
  createdAt: string;
  done: boolean;
  deliveries: Record<string, AlertDelivery>;
}

export interface AlertsView {
  destinations: {
    webhook: string | null;
    email: { to: string[]; from: string; server: string } | null;
    types: string[];
    lateAfterS: number;
    problems: string[];
  };
  alerts: AlertRow[];
}

export interface Schedule {
  modelType: string;
  cron: string;
  timezone: string;
  active: boolean;
  nextRuns: { utc: string; local: string }[];
}

// Per-type settings and what a type's next scheduled run uses (api/schemas.py SettingsOut, NextRunUses).
// The interfaces below re-open Dataset, Schedule and Job (TypeScript merges them) with the fields those gained.

export interface SettingsProblem {
  path: string;  // "units/0/p_max": a JSON pointer without its leading slash ("" for the config itself)
  message: string;
}

export interface TypeSettings {
  modelType: ModelType;
  config: Record<string, unknown>;
  version: number;  // 0: never saved
  updatedBy: string | null;
  updatedAt: string | null;
  activeModel: { id: number; name: string; version: number } | null;
  valid: boolean;
  problems: SettingsProblem[];
}

export interface NextRunUses {
  modelId: number | null;
  modelName: string | null;
  modelVersion: number | null;
  dataSourceId: number | null;
  dataSourceName: string | null;
  settingsVersion: number | null;  // null: none saved
  settingsValid: boolean | null;  // null: no active model
}

export interface Schedule {
  nextRunUses?: NextRunUses | null;
}

export interface Dataset {
  // the type's active dataset: what its runs read when they name none (scheduled ones included)
  is_active?: boolean;
  uploaded_at?: string;
}

export interface Job {
  settings_version?: number | null;
}
