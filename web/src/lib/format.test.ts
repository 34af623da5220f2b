import { describe, expect, it } from "vitest";
import { formatBytes, formatDuration, formatMemory, formatSeconds, levelClass } from "./format";

describe("format", () => {
  it("durations read in the unit that fits", () => {
    expect(formatDuration(null)).toBe("—");
    expect(formatDuration(250)).toBe("250 ms");
    expect(formatDuration(4200)).toBe("4.2 s");
    expect(formatDuration(125_000)).toBe("2 min 5 s");
  });

  it("levels map to the panel's colours", () => {
    expect(levelClass("ERROR")).toBe("level-error");
    expect(levelClass("CRITICAL")).toBe("level-error");
    expect(levelClass("WARNING")).toBe("level-warning");
    expect(levelClass("INFO")).toBe("level-info");
    expect(levelClass("something")).toBe("level-info");
  });

  it("resources: memory in MB (GB past 1024), seconds as durations", () => {
    expect(formatMemory(undefined)).toBe("—");
    expect(formatMemory(151.6)).toBe("152 MB");
    expect(formatMemory(2048)).toBe("2.00 GB");
    expect(formatSeconds(null)).toBe("—");
    expect(formatSeconds(0.04)).toBe("40 ms");
    expect(formatSeconds(1.25)).toBe("1.3 s");
  });

  it("sizes", () => {
    expect(formatBytes(10)).toBe("10 B");
    expect(formatBytes(2048)).toBe("2.0 KB");
  });
});
