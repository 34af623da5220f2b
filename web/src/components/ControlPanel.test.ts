import { describe, expect, it } from "vitest";
import { parseConfig } from "./ControlPanel";

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
