// HTTP to the facade. The page signs in through the HttpOnly session cookie, which the browser
// sends with every same-origin request; no key ever reaches JavaScript.
import type { RunLimitsRequest } from "./sandbox";
import type { AlertsView, AlertRow, Dataset, Job, JobDetail, Model, ModelLock, Notification, Protections, Schedule, StoredLog, TypeSettings } from "./types";

export class ApiError extends Error {
  constructor(public status: number, message: string, public details?: unknown) {
    super(message);
  }
}

async function errorOf(response: Response): Promise<ApiError> {
  let message = `${response.status} ${response.statusText}`;
  let details: unknown;
  try {
    const body = await response.json();
    if (body && typeof body.error === "string") message = body.error;
    details = body?.details;
  } catch {
    // not JSON: keep the status line
  }
  return new ApiError(response.status, message, details);
}

export async function request<T>(path: string, init: RequestInit = {}): Promise<T> {
  const headers = new Headers(init.headers);
  if (init.body && typeof init.body === "string") headers.set("Content-Type", "application/json");
  const response = await fetch(path, { credentials: "same-origin", ...init, headers });
  if (!response.ok) throw await errorOf(response);
  return (await response.json()) as T;
}

const base = "/api/optimization";
const json = (body: unknown): RequestInit => ({ method: "POST", body: JSON.stringify(body) });

export const api = {
  session: () => request<{ signedIn: boolean; name: string | null; role: string | null }>("/api/auth/session"),
  models: (status?: string) =>
    request<{ models: Model[]; counts: Record<string, number> }>(`${base}/models${status ? `?status=${status}` : ""}`),
  activate: (id: number) => request<{ message: string }>(`${base}/models/${id}/activate`, { method: "POST" }),
  lock: (id: number, against?: number) =>
    request<ModelLock>(`${base}/models/${id}/lock${against ? `?against=${against}` : ""}`),
  removeModel: (id: number, hard: boolean) =>
    request<{ status: string }>(`${base}/models?id=${id}${hard ? "&hard=true" : ""}`, { method: "DELETE" }),
  execute: (modelType: string, config?: Record<string, unknown>, limits?: Partial<RunLimitsRequest>) =>
    request<{ jobId: string; status: string }>(`${base}/execute`, json({ modelType, ...(config && { config }), ...(limits && { limits }) })),
  cancel: (jobId: string) => request<{ status: string }>(`${base}/jobs/${encodeURIComponent(jobId)}/cancel`, { method: "POST" }),
  retry: (jobId: string) => request<{ jobId: string }>(`${base}/jobs/${encodeURIComponent(jobId)}/retry`, { method: "POST" }),
  jobs: (params: Record<string, string | number | undefined>) => {
    const query = new URLSearchParams();
    for (const [key, value] of Object.entries(params)) if (value !== undefined && value !== "") query.set(key, String(value));
    return request<{ jobs: Job[]; total: number }>(`${base}/jobs?${query}`);
  },
  job: (jobId: string) => request<{ job: JobDetail }>(`${base}/jobs/${encodeURIComponent(jobId)}`),
  logs: (jobId: string, afterSeq: number, limit = 1000) =>
    request<{ logs: StoredLog[]; nextAfterSeq: number; hasMore: boolean }>(
      `${base}/jobs/${encodeURIComponent(jobId)}/logs?after_seq=${afterSeq}&limit=${limit}`,
    ),
  datasets: (type: string) => request<{ dataSources: Dataset[] }>(`${base}/datasources?type=${encodeURIComponent(type)}`),
  health: () => request<{ status: string; sandbox: Protections | null }>("/api/health"),
  notifications: () => request<{ notifications: Notification[]; unread: number }>(`${base}/notifications?limit=30`),
  alerts: () => request<AlertsView>(`${base}/alerts`),
  testAlert: () => request<{ success: boolean; alert: AlertRow }>(`${base}/alerts/test`, { method: "POST" }),
  schedules: () => request<{ schedules: Schedule[] }>(`${base}/schedules`),
  setSchedule: (modelType: string, change: { active?: boolean; cron?: string }) =>
    request<Schedule>(`${base}/schedules/${encodeURIComponent(modelType)}`, { method: "PATCH", body: JSON.stringify(change) }),
  settings: (modelType: string) => request<TypeSettings>(`${base}/settings/${encodeURIComponent(modelType)}`),
  saveSettings: (modelType: string, config: Record<string, unknown>) =>
    request<TypeSettings>(`${base}/settings/${encodeURIComponent(modelType)}`, { method: "PUT", body: JSON.stringify({ config }) }),
  activateDataset: (id: number) => request<{ dataSource: Dataset }>(`${base}/datasources/${id}/activate`, { method: "POST" }),
  markRead: (ids?: number[]) => request<{ marked: number }>(`${base}/notifications/read`, json(ids ? { ids } : {})),
};

export interface UploadResult {
  ok: boolean;
  status: number;
  message: string;
}

/** Upload through XMLHttpRequest, the one browser API that reports upload progress. */
export function uploadModel(form: FormData, onProgress: (fraction: number) => void): Promise<UploadResult> {
  return new Promise((resolve) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", `${base}/upload`);
    xhr.withCredentials = true;
    xhr.upload.onprogress = (event) => event.lengthComputable && onProgress(event.loaded / event.total);
    xhr.onload = () => {
      let message = xhr.statusText;
      try {
        const body = JSON.parse(xhr.responseText);
        message = body.message ?? body.error ?? message;
      } catch {
        // keep the status text
      }
      resolve({ ok: xhr.status >= 200 && xhr.status < 300, status: xhr.status, message });
    };
    xhr.onerror = () => resolve({ ok: false, status: 0, message: "network error: the upload did not reach the server" });
    xhr.send(form);
  });
}

/** Upload a dataset (CSV/XLSX) for a type; the answer's message, or the server's error as is. */
export async function uploadDataset(form: FormData): Promise<UploadResult> {
  const response = await fetch(`${base}/datasources`, { method: "POST", body: form, credentials: "same-origin" });
  if (response.ok) {
    const body = (await response.json()) as { dataSource: Dataset };
    const state = body.dataSource.is_active ? "active" : "not active: runs keep reading the active one";
    return { ok: true, status: response.status, message: `${body.dataSource.name} uploaded (${state})` };
  }
  const error = await errorOf(response);
  return { ok: false, status: response.status, message: error.message };
}
