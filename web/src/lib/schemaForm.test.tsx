// @vitest-environment jsdom
import { cleanup, fireEvent, render, screen } from "@testing-library/react";
import { useState } from "react";
import { afterEach, describe, expect, it } from "vitest";
import { SchemaForm } from "../components/SchemaForm";
import { describeNextRunUses } from "../components/Schedules";
import { describeProblems } from "../components/Settings";
import { configProblems, errorSchemaOf, formConfig, modelSchema, runSchema } from "./schemaForm";
import type { RJSFSchema } from "@rjsf/utils";

afterEach(cleanup);

// the DMO sample's CONFIG_SCHEMA (samples/dmo_day_ahead.py), with an enum and a description added
const UNITS: RJSFSchema = {
  type: "object",
  additionalProperties: false,
  properties: {
    market: { type: "string", enum: ["DAM", "RTM"], description: "where the bids go" },
    units: {
      type: "array", minItems: 1, maxItems: 20,
      items: {
        type: "object", required: ["name", "p_min", "p_max", "cost", "ramp"], additionalProperties: false,
        properties: {
          name: { type: "string", pattern: "^[A-Za-z0-9_]{1,40}$" },
          p_min: { type: "number", minimum: 0 },
          p_max: { type: "number", exclusiveMinimum: 0 },
          cost: { type: "number", minimum: 0 },
          ramp: { type: "number", exclusiveMinimum: 0 },
        },
      },
    },
  },
};
const UNIT = { name: "u1", p_min: 0, p_max: 10, cost: 1, ramp: 2 };

describe("what a schema form sends", () => {
  it("nothing when every field is empty", () => {
    expect(formConfig({ units: [], market: "" })).toBeUndefined();
    expect(formConfig({ units: [{}] })).toBeUndefined();
  });

  it("the filled fields only", () => {
    expect(formConfig({ units: [UNIT], market: undefined })).toEqual({ units: [UNIT] });
  });
});

describe("config problems under a schema", () => {
  it("none for fitting data or none at all", () => {
    expect(configProblems(UNITS, { units: [UNIT] })).toEqual([]);
    expect(configProblems(UNITS, undefined)).toEqual([]);
  });

  it("a value below its minimum names the field and the bound", () => {
    expect(configProblems(UNITS, { units: [{ ...UNIT, p_min: -5 }] })).toEqual(["units.0.p_min must be >= 0"]);
  });

  it("a missing required field, a bad enum and an unknown key", () => {
    const { name: _, ...nameless } = UNIT;
    const problems = configProblems(UNITS, { units: [nameless], market: "X", extra: 1 });
    expect(problems).toContain("must have required property 'name'");
    expect(problems).toContain('market must be one of "DAM", "RTM"');
    expect(problems).toContain("must NOT have additional properties");
  });
});

describe("a model's schema", () => {
  it("comes from its metadata, or is null", () => {
    expect(modelSchema({ metadata: { config_schema: UNITS } } as never)).toBe(UNITS);
    expect(modelSchema({ metadata: null } as never)).toBeNull();
    expect(modelSchema(undefined)).toBeNull();
  });
});

describe("the server's problems", () => {
  it("land at their fields in rjsf's error tree", () => {
    expect(errorSchemaOf([{ path: "units/0/p_max", message: "a" }, { path: "units/0/p_max", message: "b" }, { path: "", message: "c" }]))
      .toEqual({ units: { 0: { p_max: { __errors: ["a", "b"] } } }, __errors: ["c"] });
  });

  it("read as the mismatch warning names them", () => {
    expect(describeProblems([{ path: "units/0/p_min", message: "-1 is less than the minimum of 0" }, { path: "", message: "x" }]))
      .toBe("units/0/p_min -1 is less than the minimum of 0; (the config itself) x");
  });
});

describe("a run's own config", () => {
  it("may leave out what the schema requires at the top (the saved settings fill it), not inside", () => {
    const strict: RJSFSchema = { ...UNITS, required: ["units"] };
    expect(configProblems(strict, { market: "DAM" })).toEqual(["must have required property 'units'"]);
    expect(configProblems(runSchema(strict), { market: "DAM" })).toEqual([]);
    expect(runSchema(strict)).toBe(runSchema(strict));
    expect(configProblems(runSchema(strict), { units: [{ name: "x" }] })).toHaveLength(4);
  });
});

describe("what the next scheduled run uses", () => {
  it("names the version, the dataset and the settings, or says none", () => {
    const uses = { modelId: 1, modelName: "dmo_day_ahead", modelVersion: 3, dataSourceId: 2, dataSourceName: "dmo_prices.csv", settingsVersion: 2, settingsValid: true };
    expect(describeNextRunUses(uses)).toBe("dmo_day_ahead v3 · dataset dmo_prices.csv · settings v2");
    expect(describeNextRunUses({ ...uses, modelName: null, dataSourceName: null, settingsVersion: null }))
      .toBe("no active model · dataset none · no saved settings");
  });
});

function Harness() {
  const [value, setValue] = useState<unknown>({ units: [{ ...UNIT }] });
  return <SchemaForm id="t" schema={UNITS} value={value} onChange={setValue} />;
}

describe("the rjsf form", () => {
  it("draws enums as selects, descriptions as help, and shows a value below its minimum as the field's error", () => {
    render(<Harness />);
    expect(screen.getByText("where the bids go")).toBeTruthy();
    expect((document.getElementById("t_market") as HTMLElement).tagName).toBe("SELECT");
    const pMin = document.getElementById("t_units_0_p_min") as HTMLInputElement;
    expect(pMin.type).toBe("number");
    fireEvent.change(pMin, { target: { value: "-1" } });
    expect(screen.getByText("must be >= 0")).toBeTruthy();
  });
});
