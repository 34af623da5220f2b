import { describe, expect, it } from "vitest";
import { LogStore, type LogPage } from "./logStore";
import type { LogLine, StoredLog } from "./types";

const line = (seq: number, jobId = "job-a"): LogLine => ({
  jobId, modelType: "SO", seq, level: "INFO", stream: "stdout", message: `line ${seq}`, timestamp: "2026-11-28T10:00:00Z",
});
const stored = (seq: number): StoredLog => ({ seq, level: "INFO", stream: "stdout", message: `line ${seq}`, timestamp: "t" });

/** A fake server log: every seq up to `upTo` is stored; pages of `pageSize`. */
function server(upTo: () => number, pageSize = 3) {
  const calls: number[] = [];
  const fetchAfter = async (_: string, after: number): Promise<LogPage> => {
    calls.push(after);
    const end = Math.min(upTo(), after + pageSize);
    const logs = [];
    for (let seq = after + 1; seq <= end; seq++) logs.push(stored(seq));
    return { logs, hasMore: end < upTo() };
  };
  return { fetchAfter, calls };
}

const seqs = (store: LogStore, jobId = "job-a") => store.lines.filter((l) => l.jobId === jobId).map((l) => l.seq);

describe("LogStore", () => {
  it("shows live lines of a tracked job in order without fetching", () => {
    const { fetchAfter, calls } = server(() => 3);
    const store = new LogStore(fetchAfter);
    store.track("job-a", "SO");
    [1, 2, 3].forEach((seq) => store.receive(line(seq)));
    expect(seqs(store)).toEqual([1, 2, 3]);
    expect(calls).toEqual([]);
  });

  it("takes a batch as its lines in seq order and tells its listeners once", () => {
    const { fetchAfter, calls } = server(() => 4);
    const store = new LogStore(fetchAfter);
    store.track("job-a", "SO");
    let heard = 0;
    store.subscribe(() => heard++);
    const batch = (seqsOf: number[]) => ({
      jobId: "job-a", modelType: "SO", lines: seqsOf.map((seq) => { const { jobId: _j, modelType: _m, ...rest } = line(seq); return rest; }),
    });
    store.receiveBatch(batch([1, 2, 3]));
    store.receiveBatch(batch([3, 4]));
    expect(seqs(store)).toEqual([1, 2, 3, 4]);
    expect(heard).toBe(2);
    expect(calls).toEqual([]);
  });

  it("backfills when a batch skips ahead (the client was held back)", async () => {
    const { fetchAfter } = server(() => 8, 1000);
    const store = new LogStore(fetchAfter);
    store.track("job-a", "SO");
    const only = (seq: number) => { const { jobId: _j, modelType: _m, ...rest } = line(seq); return rest; };
    store.receiveBatch({ jobId: "job-a", modelType: "SO", lines: [only(1), only(2)] });
    store.receiveBatch({ jobId: "job-a", modelType: "SO", lines: [only(7), only(8)] });
    await store.backfill("job-a");
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(seqs(store)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it("drops a line it already holds", () => {
    const store = new LogStore(server(() => 2).fetchAfter);
    store.track("job-a");
    [1, 2, 2, 1].forEach((seq) => store.receive(line(seq)));
    expect(seqs(store)).toEqual([1, 2]);
  });

  it("fills a hole from the server, then lets the parked live lines through, each once", async () => {
    let stored = 10;
    const { fetchAfter } = server(() => stored);
    const store = new LogStore(fetchAfter);
    store.track("job-a");
    store.receive(line(1));
    store.receive(line(2));
    // lines 3..9 were missed (socket down); 10 arrives live, 11 while fetching
    store.receive(line(10));
    stored = 11;
    store.receive(line(11));
    await store.backfill("job-a");
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(seqs(store)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
  });

  it("resync after a reconnect fetches what every job printed meanwhile", async () => {
    const { fetchAfter, calls } = server(() => 5, 1000);
    const store = new LogStore(fetchAfter);
    store.track("job-a");
    store.receive(line(1));
    store.receive(line(2));
    await store.resync();
    expect(seqs(store)).toEqual([1, 2, 3, 4, 5]);
    expect(calls).toEqual([2]);
  });

  it("a job first seen mid-run is read from its first line", async () => {
    const { fetchAfter } = server(() => 4, 2);
    const store = new LogStore(fetchAfter);
    store.receive(line(4, "job-b"));
    await store.backfill("job-b");
    expect(seqs(store, "job-b")).toEqual([1, 2, 3, 4]);
  });

  it("stays bounded and never refetches what it trimmed or cleared", async () => {
    const { fetchAfter, calls } = server(() => 0);
    const store = new LogStore(fetchAfter, 100);
    store.track("job-a");
    for (let seq = 1; seq <= 1000; seq++) store.receive(line(seq));
    expect(store.lines.length).toBeGreaterThanOrEqual(100);
    expect(store.lines.length).toBeLessThanOrEqual(110);
    expect(store.lines.map((l) => l.seq)).toEqual(Array.from({ length: store.lines.length }, (_, i) => 1001 - store.lines.length + i));
    expect(store.lines.at(-1)?.seq).toBe(1000);
    store.clear();
    store.receive(line(1001));
    expect(seqs(store)).toEqual([1001]);
    expect(calls).toEqual([]);
  });

  it("keeps parked lines when the server is unreachable and delivers them on resync", async () => {
    let up = false;
    const store = new LogStore(async (_, after) => {
      if (!up) throw new Error("offline");
      return { logs: [stored(after + 1)].filter((l) => l.seq <= 2), hasMore: false };
    });
    store.track("job-a");
    store.receive(line(3));
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(seqs(store)).toEqual([]);
    up = true;
    await store.resync();
    expect(seqs(store)).toEqual([1, 2, 3]);
  });
});
