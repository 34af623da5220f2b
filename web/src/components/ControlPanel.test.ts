import { describe, expect, it } from "vitest";
import { parseConfig, runBlockedBecause } from "./ControlPanel";

describe("run config box", () => {
  it("empty means no config", () => {
    expect(parseConfig("  ")).toBeUndefined();
  });

  it("a JSON object is sent as is", () => {
    expect(parseConfig('{"lines": 3}')).toEqual({ lines: 3 });
  });

  it("refuses what is not a JSON object", () => {
    expect(() => parseConfig("{lines: 3")).toThrow("not valid JSON");
    expect(() => parseConfig("[1]")).toThrow("must be a JSON object");
  });
});

describe("why Run is disabled", () => {
  const model = { id: 1, model_name: "m", model_type: "SO", status: "active", version: 1 } as never;

  it("not for an operator with an active model", () => {
    expect(runBlockedBecause("SO", "operator", model)).toBeNull();
  });

  it("says when the type has no active model", () => {
    expect(runBlockedBecause("SO", "admin", undefined)).toBe("Run is disabled: no active SO model. Upload one or activate a version.");
  });

  it("says when the role may not run", () => {
    expect(runBlockedBecause("SO", "viewer", model)).toContain("role (viewer) may not start runs");
  });
});
