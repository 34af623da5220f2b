// Display helpers: times in the viewer's locale, durations and numbers short.

export function formatTime(iso: string | null | undefined): string {
  if (!iso) return "—";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString();
}

export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return "—";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const seconds = ms / 1000;
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const minutes = Math.floor(seconds / 60);
  return `${minutes} min ${Math.round(seconds - minutes * 60)} s`;
}

/** Seconds (CPU time, time in line) as formatDuration shows milliseconds. */
export function formatSeconds(seconds: number | null | undefined): string {
  return seconds === null || seconds === undefined ? "—" : formatDuration(seconds * 1000);
}

export function formatMemory(mb: number | null | undefined): string {
  if (mb === null || mb === undefined) return "—";
  return mb < 1024 ? `${Math.round(mb)} MB` : `${(mb / 1024).toFixed(2)} GB`;
}

export function formatNumber(value: number | null | undefined): string {
  if (value === null || value === undefined) return "—";
  return value.toLocaleString(undefined, { maximumFractionDigits: 2 });
}

export function formatBytes(size: number): string {
  if (size < 1024) return `${size} B`;
  if (size < 1024 * 1024) return `${(size / 1024).toFixed(1)} KB`;
  return `${(size / 1024 / 1024).toFixed(1)} MB`;
}

/** Lower-case level names the CSS colours by; anything unknown reads as info. */
export function levelClass(level: string): string {
  const name = level.toUpperCase();
  if (name === "WARN" || name === "WARNING") return "level-warning";
  if (name === "ERROR" || name === "CRITICAL") return "level-error";
  if (name === "DEBUG") return "level-debug";
  return "level-info";
}
