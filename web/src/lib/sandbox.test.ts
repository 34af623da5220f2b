import { describe, expect, it } from "vitest";
import {
  applyJobEvent, describeLimits, displayStatus, EMPTY_LIMITS, ordinal, parseLimits, queuePlace, summarizeProtections,
} from "./sandbox";
import type { Job, Protections } from "./types";

const job = (over: Partial<Job> = {}) => ({ job_id: "DMO-1", model_type: "DMO", status: "pending", progress: 0, duration_ms: null, ...over }) as Job;

describe("a run's place in line", () => {
  it("a pending run with a place reads as queued, with its place", () => {
    expect(displayStatus(job({ queue_position: 2 }))).toBe("queued");
    expect(queuePlace(job({ queue_position: 2 }))).toBe("2nd in line");
  });

  it("a pending run without a place, or a running one, shows no place", () => {
    expect(displayStatus(job())).toBe("pending");
    expect(queuePlace(job({ status: "running", queue_position: null }))).toBeNull();
    expect(displayStatus(undefined)).toBe("idle");
  });

  it("ordinals", () => {
    expect([1, 2, 3, 4, 11, 12, 13, 21, 22, 111].map(ordinal)).toEqual(["1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "111th"]);
  });

  it("a queue event moves the place; the start clears it", () => {
    const waiting = applyJobEvent(job({ queue_position: 3 }), { jobId: "DMO-1", modelType: "DMO", status: "pending", queued: true, queuePosition: 1 });
    expect(queuePlace(waiting)).toBe("1st in line");
    const started = applyJobEvent(waiting, { jobId: "DMO-1", modelType: "DMO", status: "running" });
    expect(displayStatus(started)).toBe("running");
    expect(started.queue_position).toBeNull();
  });

  it("a plain pending status event keeps the place; another run's event changes nothing", () => {
    const waiting = job({ queue_position: 2 });
    expect(applyJobEvent(waiting, { jobId: "DMO-1", modelType: "DMO", status: "pending", progress: 0 }).queue_position).toBe(2);
    expect(applyJobEvent(waiting, { jobId: "DMO-9", modelType: "DMO", status: "running" })).toBe(waiting);
  });
});

describe("run option limits", () => {
  it("empty fields leave every limit to the server", () => {
    expect(parseLimits(EMPTY_LIMITS)).toBeUndefined();
  });

  it("filled fields become the execute body's limits, numbers as numbers", () => {
    expect(parseLimits({ timeoutS: " 30 ", memoryMb: "512", maxProcs: "", maxLogMb: "1.5", network: "off" }))
      .toEqual({ timeoutS: 30, memoryMb: 512, maxLogMb: 1.5, network: false });
  });

  it("refuses what is not a positive number before sending; leaves maxima to the server", () => {
    expect(() => parseLimits({ ...EMPTY_LIMITS, timeoutS: "soon" })).toThrow("Timeout (s) must be a number above 0");
    expect(() => parseLimits({ ...EMPTY_LIMITS, maxProcs: "0" })).toThrow("Processes must be a number above 0");
    expect(() => parseLimits({ ...EMPTY_LIMITS, memoryMb: "1.5" })).toThrow("Memory (MB) must be a whole number");
    expect(parseLimits({ ...EMPTY_LIMITS, timeoutS: "99999999" })).toEqual({ timeoutS: 99999999 });
  });

  it("describes recorded limits", () => {
    expect(describeLimits({ timeout_s: 120, memory_mb: 512, max_procs: 64, max_log_mb: 200, network: false })).toEqual([
      ["Timeout", "120 s"], ["Memory", "512 MB"], ["Processes", "64"], ["Log cap", "200 MB"], ["Network", "off"],
    ]);
    expect(describeLimits(null)).toEqual([]);
  });
});

describe("protections indicator", () => {
  const full: Protections = {
    bubblewrap: true, filesystem_isolation: true, network_isolation: true, pid_namespace: true, unprivileged_user: true,
    memory_limit: "cgroup v2", process_limit: "cgroup v2", tree_kill: "cgroup.kill", missing: [],
  };

  it("all present reads protected", () => {
    const summary = summarizeProtections(full);
    expect(summary.level).toBe("ok");
    expect(summary.label).toBe("Sandbox: protected");
    expect(summary.rows).toContainEqual(["Memory limit", "cgroup v2"]);
  });

  it("anything missing is a warning that counts and names it", () => {
    const summary = summarizeProtections({ ...full, bubblewrap: false, process_limit: null, missing: ["bubblewrap", "process limit"] });
    expect(summary.level).toBe("warning");
    expect(summary.label).toBe("Sandbox: 2 missing");
    expect(summary.rows).toContainEqual(["Bubblewrap", "missing"]);
    expect(summary.rows).toContainEqual(["Process limit", "missing"]);
    expect(summary.missing).toEqual(["bubblewrap", "process limit"]);
  });

  it("no report is unknown, not protected", () => {
    expect(summarizeProtections(null).level).toBe("unknown");
  });
});
