// The live log panel's memory: every job's lines in seq order, each exactly once, without holes.
//
// Lines reach the page two ways: live over Socket.IO, and from GET …/logs?after_seq=N. The facade
// stores a line before it broadcasts it, so whenever a live line skips ahead of the last seq we hold
// for its job (first sight of a job, a dropped socket, a reconnect), the missing ones are already
// stored: we park the live line, fetch after our last seq, and then let the parked lines through.
// The display keeps the last `maxLines` lines, up to 10% more before it drops the oldest; the
// per-job cursor survives that trimming and Clear, so dropped lines never come back or count as holes.
import type { LogLine, StoredLog } from "./types";

export interface PanelLine extends LogLine {
  key: number;
}

export interface LogPage {
  logs: StoredLog[];
  hasMore: boolean;
}

export interface LogBatch {
  jobId: string;
  modelType: string;
  lines: Omit<LogLine, "jobId" | "modelType">[];
}

export type FetchAfter = (jobId: string, afterSeq: number) => Promise<LogPage>;

interface JobCursor {
  modelType?: string;
  last: number;
  pending: Map<number, LogLine>;
  fetching: Promise<void> | null;
  again: boolean;
}

const MAX_ROUNDS = 200;

export class LogStore {
  lines: PanelLine[] = [];
  version = 0;
  private cursors = new Map<string, JobCursor>();
  private nextKey = 1;
  private quiet = false; // inside a batch: listeners hear once, at its end
  private listeners = new Set<() => void>();

  constructor(private fetchAfter: FetchAfter, readonly maxLines = 100_000) {}

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The last seq held for a job (0 when none). */
  lastSeq(jobId: string): number {
    return this.cursors.get(jobId)?.last ?? 0;
  }

  jobIds(): string[] {
    return [...this.cursors.keys()];
  }

  /** A job the page knows started after it loaded: its lines begin at seq 1. */
  track(jobId: string, modelType?: string): void {
    if (!this.cursors.has(jobId)) this.cursors.set(jobId, this.cursor(modelType));
  }

  /** A live batch from the socket (`optimization:logs`): its lines in seq order, one change for all. */
  receiveBatch(batch: LogBatch): void {
    this.quiet = true;
    try {
      for (const line of batch.lines) this.receive({ ...line, jobId: batch.jobId, modelType: batch.modelType });
    } finally {
      this.quiet = false;
    }
    this.changed();
  }

  /** A live line from the socket. */
  receive(line: LogLine): void {
    let cursor = this.cursors.get(line.jobId);
    if (!cursor) {
      cursor = this.cursor(line.modelType);
      this.cursors.set(line.jobId, cursor);
    }
    cursor.modelType ??= line.modelType;
    if (line.seq <= cursor.last) return;
    if (line.seq === cursor.last + 1 && !cursor.fetching) {
      this.append(cursor, line);
      this.drain(cursor);
    } else {
      cursor.pending.set(line.seq, line);
      void this.backfill(line.jobId);
    }
    this.changed();
  }

  /** After a reconnect: fetch whatever every known job printed meanwhile. */
  async resync(jobIds: string[] = this.jobIds()): Promise<void> {
    await Promise.all(jobIds.map((jobId) => this.backfill(jobId)));
  }

  /** Fetch the lines after our last seq until the job has no more and nothing parked is ahead of a hole. */
  async backfill(jobId: string): Promise<void> {
    const cursor = this.cursors.get(jobId) ?? this.cursor();
    this.cursors.set(jobId, cursor);
    if (cursor.fetching) {
      cursor.again = true;
      return cursor.fetching;
    }
    cursor.fetching = this.fetchMissing(cursor, jobId);
    return cursor.fetching;
  }

  private async fetchMissing(cursor: JobCursor, jobId: string): Promise<void> {
    try {
      for (let round = 0; round < MAX_ROUNDS; round++) {
        cursor.again = false;
        const page = await this.fetchAfter(jobId, cursor.last);
        for (const log of page.logs) {
          if (log.seq > cursor.last) this.append(cursor, { ...log, jobId, modelType: cursor.modelType });
        }
        this.drain(cursor);
        this.changed();
        if (!page.hasMore && !cursor.again && cursor.pending.size === 0) return;
      }
      this.flushPending(cursor); // a hole the server cannot fill: show what we have rather than hold it back
    } catch {
      // The server is unreachable (e.g. restarting); the next reconnect resyncs.
    } finally {
      cursor.fetching = null;
      this.drain(cursor);
      this.changed();
    }
  }

  /** Empty the panel; lines already shown stay consumed. */
  clear(): void {
    this.lines = [];
    this.changed();
  }

  private cursor(modelType?: string): JobCursor {
    return { modelType, last: 0, pending: new Map(), fetching: null, again: false };
  }

  private append(cursor: JobCursor, line: LogLine): void {
    this.lines.push({ ...line, key: this.nextKey++ });
    cursor.last = line.seq;
    if (this.lines.length > this.maxLines + Math.ceil(this.maxLines / 10)) {
      // Let it run 10% over, then drop back to maxLines at once, so trimming is rare, not once per line.
      this.lines.splice(0, this.lines.length - this.maxLines);
    }
  }

  private drain(cursor: JobCursor): void {
    for (const seq of cursor.pending.keys()) if (seq <= cursor.last) cursor.pending.delete(seq);
    if (cursor.fetching) return;
    let next: LogLine | undefined;
    while ((next = cursor.pending.get(cursor.last + 1))) {
      cursor.pending.delete(next.seq);
      this.append(cursor, next);
    }
  }

  private flushPending(cursor: JobCursor): void {
    for (const seq of [...cursor.pending.keys()].sort((a, b) => a - b)) {
      const line = cursor.pending.get(seq)!;
      cursor.pending.delete(seq);
      if (seq > cursor.last) this.append(cursor, line);
    }
  }

  private changed(): void {
    if (this.quiet) return;
    this.version++;
    for (const listener of this.listeners) listener();
  }
}
