import { describe, expect, it } from "vitest";
import type { Job } from "../lib/types";
import { series } from "./Charts";
import { filterLines } from "./LogPanel";
import type { PanelLine } from "../lib/logStore";

const job = (over: Partial<Job>): Job => ({
  job_id: "j", model_id: 1, model_name: "m", model_version: 1, model_type: "SO", flow_run_id: null, status: "success",
  progress: 100, attempt: 1, triggered_by: "manual", model_config: null, created_at: "2026-11-28T10:00:00Z",
  started_at: null, completed_at: null, error_message: null, results_count: null, objective_value: null, duration_ms: null,
  last_seq: 0, ...over,
});

describe("chart series", () => {
  it("groups by type, oldest first, skipping runs without the measure", () => {
    const data = series(
      [
        job({ model_type: "SO", objective_value: 2, completed_at: "2026-11-28T12:00:00Z" }),
        job({ model_type: "SO", objective_value: 1, completed_at: "2026-11-28T11:00:00Z" }),
        job({ model_type: "DMO", objective_value: null }),
      ],
      (j) => j.objective_value,
    );
    expect(data.SO.map((p) => p.value)).toEqual([1, 2]);
    expect(data.DMO).toEqual([]);
    expect(data.RMO).toEqual([]);
  });
});

describe("log filters", () => {
  const line = (jobId: string, modelType: string, level: string, key: number): PanelLine => ({
    jobId, modelType, level, key, seq: key, stream: "stdout", message: "m", timestamp: "t",
  });
  const lines = [line("a", "SO", "INFO", 1), line("a", "SO", "ERROR", 2), line("b", "DMO", "WARNING", 3)];

  it("no filter is the same list", () => {
    expect(filterLines(lines, "", "", "")).toBe(lines);
  });

  it("by type, job and minimum level", () => {
    expect(filterLines(lines, "SO", "", "").map((l) => l.key)).toEqual([1, 2]);
    expect(filterLines(lines, "", "b", "").map((l) => l.key)).toEqual([3]);
    expect(filterLines(lines, "", "", "WARNING").map((l) => l.key)).toEqual([2, 3]);
  });
});
