import { describe, expect, it } from "vitest";
import {
  axesNeeded, axisOf, chartColumns, chartPoints, comparisonRows, numericX, overlayPoints, rowCaption,
  sharedNumericColumns, sharedPreviewNames, sortRows, type ComparedRun, type Preview,
} from "./results";

const schedule = (over: Partial<Preview> = {}): Preview => ({
  name: "so_schedule.csv",
  kind: "table",
  message: null,
  rowCount: 3,
  columns: [
    { name: "block", type: "number", role: "index" },
    { name: "price_inr_mwh", type: "number", role: "price" },
    { name: "charge_mw", type: "number", role: "value" },
    { name: "note", type: "text", role: "other" },
  ],
  rows: [
    { block: 1, price_inr_mwh: 3000, charge_mw: 5, note: "b" },
    { block: 2, price_inr_mwh: 9000, charge_mw: null, note: "a" },
    { block: 3, price_inr_mwh: 4000, charge_mw: 0, note: "c10" },
  ],
  index: "block",
  series: null,
  ...over,
});

const run = (over: Partial<ComparedRun>): ComparedRun => ({
  job_id: "j", model_id: 1, model_name: "so_battery", model_version: 1, model_type: "SO", flow_run_id: null,
  status: "success", progress: 100, attempt: 1, triggered_by: "manual", model_config: null,
  created_at: "2026-11-28T10:00:00Z", started_at: null, completed_at: null, error_message: null, results_count: 1,
  objective_value: 10, duration_ms: 1200, last_seq: 3, ...over,
});

describe("preview table", () => {
  it("sorts numbers by value both ways with empty cells last", () => {
    const rows = schedule().rows;
    expect(sortRows(rows, "charge_mw", "asc").map((r) => r.block)).toEqual([3, 1, 2]);
    expect(sortRows(rows, "charge_mw", "desc").map((r) => r.block)).toEqual([1, 3, 2]);
    expect(sortRows(rows, "price_inr_mwh", "desc").map((r) => r.block)).toEqual([2, 3, 1]);
  });

  it("sorts text naturally and leaves the given rows as they were", () => {
    const rows = schedule().rows;
    expect(sortRows(rows, "note", "asc").map((r) => r.note)).toEqual(["a", "b", "c10"]);
    expect(rows.map((r) => r.block)).toEqual([1, 2, 3]);
  });

  it("captions the total and says when only the first rows came", () => {
    expect(rowCaption(schedule())).toBe("3 rows");
    expect(rowCaption({ rowCount: 10_000, rows: new Array(500).fill({}) })).toBe("10000 rows · showing first 500");
    expect(rowCaption({ rowCount: 1, rows: [{}] })).toBe("1 row");
  });
});

describe("preview chart", () => {
  it("charts numeric columns other than the index", () => {
    expect(chartColumns(schedule()).map((c) => c.name)).toEqual(["price_inr_mwh", "charge_mw"]);
  });

  it("builds points from the rows on the index, numbers only", () => {
    expect(chartPoints(schedule())).toEqual([
      { x: 1, price_inr_mwh: 3000, charge_mw: 5 },
      { x: 2, price_inr_mwh: 9000, charge_mw: null },
      { x: 3, price_inr_mwh: 4000, charge_mw: 0 },
    ]);
  });

  it("uses the row number when there is no index", () => {
    const points = chartPoints(schedule({ index: null, columns: [{ name: "charge_mw", type: "number", role: "value" }] }));
    expect(points.map((p) => p.x)).toEqual([1, 2, 3]);
    expect(numericX({ index: null, columns: [] })).toBe(true);
  });

  it("prefers the server's summarized series when it sent one", () => {
    const preview = schedule({
      rowCount: 1_000_000,
      series: { x: [1, 500_001], columns: { price_inr_mwh: [1, 2], charge_mw: [3, null] }, downsampled: true },
    });
    expect(chartPoints(preview)).toEqual([
      { x: 1, price_inr_mwh: 1, charge_mw: 3 },
      { x: 500_001, price_inr_mwh: 2, charge_mw: null },
    ]);
  });

  it("puts price columns on the right axis and draws only the axes in use", () => {
    const [price, charge] = chartColumns(schedule());
    expect(axisOf(price)).toBe("price");
    expect(axisOf(charge)).toBe("value");
    expect(axesNeeded([price, charge].map(axisOf))).toEqual({ value: true, price: true });
    expect(axesNeeded([axisOf(price)])).toEqual({ value: false, price: true });
    expect(axesNeeded([])).toEqual({ value: true, price: false });
  });

  it("treats a time index as labels", () => {
    const timed = schedule({ index: "at", columns: [{ name: "at", type: "time", role: "index" }] });
    expect(numericX(timed)).toBe(false);
  });
});

describe("comparison", () => {
  it("overlays one column of each run on a shared x", () => {
    const a = schedule();
    const b = schedule({ rows: [{ block: 1, charge_mw: 7 }, { block: 4, charge_mw: 8 }] });
    expect(overlayPoints([{ runId: "run0", preview: a }, { runId: "run1", preview: b }], "charge_mw")).toEqual([
      { x: 1, run0: 5, run1: 7 },
      { x: 2, run0: null },
      { x: 3, run0: 0 },
      { x: 4, run1: 8 },
    ]);
  });

  it("offers the files and numeric columns every run has", () => {
    const file = (name: string, preview = true) => ({ name, size: 1, url: "u", preview_url: preview ? `p/${name}` : null });
    expect(sharedPreviewNames([[file("a.csv"), file("b.csv"), file("log.txt", false)], [file("b.csv"), file("a.csv", false)]])).toEqual(["b.csv"]);
    const fewer = schedule({ columns: schedule().columns.filter((c) => c.name !== "price_inr_mwh") });
    expect(sharedNumericColumns([schedule(), fewer])).toEqual(["charge_mw"]);
  });

  it("marks the facts that differ, config compared whatever its key order", () => {
    const rows = comparisonRows([
      run({ job_id: "a", model_config: { power_mw: 25, capacity_mwh: 100 }, metrics: { cycles: 1.5 }, peak_memory_mb: 80 }),
      run({ job_id: "b", model_config: { capacity_mwh: 100, power_mw: 25 }, metrics: { cycles: 2 }, peak_memory_mb: 80 }),
    ]);
    const byLabel = Object.fromEntries(rows.map((r) => [r.label, r]));
    expect(byLabel.Config.differs).toBe(false);
    expect(byLabel["Metric: cycles"]).toMatchObject({ values: ["1.5", "2"], differs: true });
    expect(byLabel["Peak memory"]).toMatchObject({ values: ["80 MB", "80 MB"], differs: false });
    expect(byLabel.Model.differs).toBe(false);
    expect(byLabel["Dataset"].values).toEqual(["none", "none"]);
  });

  it("shows a config change as a difference", () => {
    const rows = comparisonRows([run({ model_config: { capacity_mwh: 100 } }), run({ model_config: { capacity_mwh: 40 } })]);
    expect(rows.find((r) => r.label === "Config")?.differs).toBe(true);
  });
});
