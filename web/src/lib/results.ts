// Result files as the page shows them: the facade's preview of a tabular file (`…/previews/{name}`), and
// the pure steps from a preview to a table and a chart — sorting, series, which axis a column goes on —
// and from several runs to one overlay and a side-by-side of what differs.
import { request } from "./api";
import { formatDuration, formatMemory, formatNumber, formatSeconds } from "./format";
import type { Artifact, Job } from "./types";

/** A result file in a run's detail; `preview_url` is null for files that are not tables. */
export interface ResultFile extends Artifact {
  preview_url?: string | null;
}

export type CellValue = string | number | boolean | null;

export interface PreviewColumn {
  name: string;
  type: "number" | "time" | "text";
  role: "index" | "value" | "price" | "other";
}

/** `GET …/jobs/{jobId}/previews/{name}` (api/schemas.py). */
export interface Preview {
  name: string;
  kind: "table" | "none" | "error" | "too_large";
  message: string | null;
  rowCount: number | null;
  columns: PreviewColumn[];
  rows: Record<string, CellValue>[];
  index: string | null;
  series: { x: (number | string)[]; columns: Record<string, (number | null)[]>; downsampled: boolean } | null;
}

export const PREVIEW_ROWS = 500;

export const fetchPreview = (url: string) => request<Preview>(url);

/** The Excel report of a run; a plain link, so the session cookie goes with it as with every download. */
export const reportUrl = (jobId: string) => `/api/optimization/jobs/${encodeURIComponent(jobId)}/report.xlsx`;

export const isPreviewable = (file: ResultFile): file is ResultFile & { preview_url: string } => !!file.preview_url;

// ---- table ----

export type Direction = "asc" | "desc";

/** Rows ordered by one column: numbers by value, anything else as text; empty cells last either way. */
export function sortRows(rows: Record<string, CellValue>[], column: string, direction: Direction): Record<string, CellValue>[] {
  const sign = direction === "asc" ? 1 : -1;
  return [...rows].sort((a, b) => {
    const x = a[column];
    const y = b[column];
    const xEmpty = x === null || x === undefined || x === "";
    const yEmpty = y === null || y === undefined || y === "";
    if (xEmpty || yEmpty) return xEmpty === yEmpty ? 0 : xEmpty ? 1 : -1;
    if (typeof x === "number" && typeof y === "number") return sign * (x - y);
    return sign * String(x).localeCompare(String(y), undefined, { numeric: true });
  });
}

/** The caption under a preview table: the file's row count, and that only the first rows are shown. */
export function rowCaption(preview: Pick<Preview, "rowCount" | "rows">): string {
  const total = preview.rowCount ?? preview.rows.length;
  const noun = total === 1 ? "row" : "rows";
  return preview.rows.length < total ? `${total} ${noun} · showing first ${preview.rows.length}` : `${total} ${noun}`;
}

// ---- chart ----

/** The columns a chart draws: numeric ones that are not the x axis. */
export function chartColumns(preview: Pick<Preview, "columns" | "index">): PreviewColumn[] {
  return preview.columns.filter((c) => c.type === "number" && c.role !== "index" && c.name !== preview.index);
}

export type ChartPoint = Record<string, number | string | null>;

/** One point per x: `x` plus each charted column's value. The server's `series` when it sent one
 * (large files come summarized), otherwise the preview rows, x being the index column or the row number. */
export function chartPoints(preview: Preview): ChartPoint[] {
  const names = chartColumns(preview).map((c) => c.name);
  if (preview.series) {
    const { x, columns } = preview.series;
    return x.map((xValue, i) => {
      const point: ChartPoint = { x: xValue };
      for (const name of names) point[name] = columns[name]?.[i] ?? null;
      return point;
    });
  }
  return preview.rows.map((row, i) => {
    const point: ChartPoint = { x: preview.index ? (row[preview.index] as number | string | null) ?? i + 1 : i + 1 };
    for (const name of names) point[name] = typeof row[name] === "number" ? (row[name] as number) : null;
    return point;
  });
}

export const VALUE_AXIS = "value";
export const PRICE_AXIS = "price";

/** Price-like columns go on the second (right) axis, so a price in INR/MWh does not flatten MW lines. */
export function axisOf(column: PreviewColumn): typeof VALUE_AXIS | typeof PRICE_AXIS {
  return column.role === "price" ? PRICE_AXIS : VALUE_AXIS;
}

/** Which of the two axes the drawn lines need (an axis no line uses is not drawn; with no lines, the value axis). */
export function axesNeeded(axes: string[]): { value: boolean; price: boolean } {
  const price = axes.includes(PRICE_AXIS);
  return { value: axes.includes(VALUE_AXIS) || !price, price };
}

/** Whether x is numeric (block numbers, row numbers) rather than labels (timestamps as text). */
export function numericX(preview: Pick<Preview, "columns" | "index">): boolean {
  if (!preview.index) return true;
  return preview.columns.find((c) => c.name === preview.index)?.type === "number";
}

// ---- comparison ----

/** One line per run on one x: the chosen column of each run's preview, joined on x in first-seen order. */
export function overlayPoints(previews: { runId: string; preview: Preview }[], column: string): ChartPoint[] {
  const byX = new Map<string, ChartPoint>();
  for (const { runId, preview } of previews) {
    for (const point of chartPoints(preview)) {
      const key = String(point.x);
      const row = byX.get(key) ?? { x: point.x };
      row[runId] = (point[column] as number | null | undefined) ?? null;
      byX.set(key, row);
    }
  }
  return [...byX.values()];
}

/** Numeric columns every one of the previews has, in the first preview's order. */
export function sharedNumericColumns(previews: Preview[]): string[] {
  if (previews.length === 0) return [];
  const [first, ...rest] = previews;
  return chartColumns(first)
    .map((c) => c.name)
    .filter((name) => rest.every((p) => chartColumns(p).some((c) => c.name === name)));
}

/** Result file names that every run has a preview of. */
export function sharedPreviewNames(results: ResultFile[][]): string[] {
  if (results.length === 0) return [];
  const [first, ...rest] = results;
  return first
    .filter(isPreviewable)
    .map((f) => f.name)
    .filter((name) => rest.every((files) => files.some((f) => f.name === name && isPreviewable(f))));
}

export interface ComparedRun extends Job {
  metrics?: Record<string, unknown> | null;
}

export interface DiffRow {
  label: string;
  values: string[];
  differs: boolean;
}

const shown = (value: unknown): string => {
  if (value === null || value === undefined) return "—";
  if (typeof value === "number") return formatNumber(value);
  if (typeof value === "object") return JSON.stringify(canonical(value), null, 2);
  return String(value);
};

/** Sorted keys, so two configs with the same entries in another order read (and compare) the same. */
function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.keys(value).sort().map((k) => [k, canonical((value as Record<string, unknown>)[k])]));
  }
  return value;
}

function row(label: string, texts: string[]): DiffRow {
  return { label, values: texts, differs: texts.some((t) => t !== texts[0]) };
}

/** The facts of each run side by side, one row per fact, marking rows whose values are not all the same:
 * model version and sha, outcome, resources, every metric any of the runs reported, dataset and config. */
export function comparisonRows(runs: ComparedRun[]): DiffRow[] {
  const metricNames = [...new Set(runs.flatMap((r) => Object.keys(r.metrics ?? {})))].sort();
  const each = (label: string, text: (run: ComparedRun) => string) => row(label, runs.map(text));
  return [
    each("Model", (r) => (r.model_name ? `${r.model_name} v${r.model_version}` : "—")),
    each("Model sha256", (r) => r.model_sha256 ?? "—"),
    each("Status", (r) => r.status),
    each("Objective", (r) => formatNumber(r.objective_value)),
    each("Duration", (r) => formatDuration(r.duration_ms)),
    each("Results", (r) => (r.results_count == null ? "—" : String(r.results_count))),
    each("Peak memory", (r) => formatMemory(r.peak_memory_mb)),
    each("CPU time", (r) => formatSeconds(r.cpu_seconds)),
    each("Waited in line", (r) => formatSeconds(r.queued_s)),
    ...metricNames.map((name) => each(`Metric: ${name}`, (r) => shown(r.metrics?.[name]))),
    each("Dataset", (r) => (r.data_source_id == null ? "none" : `#${r.data_source_id}`)),
    each("Dataset sha256", (r) => r.data_source_sha256 ?? "—"),
    each("Config", (r) => shown(r.model_config ?? {})),
  ];
}
