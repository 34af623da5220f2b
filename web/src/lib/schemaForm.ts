// The forms the page draws from a model's CONFIG_SCHEMA (run options, per-type settings): which schema a
// model declares, what a form's data sends, and the validator the rjsf forms check it with.
//
// The validator interprets the schema (@cfworker/json-schema) instead of compiling it as ajv does: the page's
// Content-Security-Policy (script-src 'self', api/page.py) refuses the eval that compiling needs. Its findings
// are turned into ajv-shaped errors so rjsf's own error processing (field placement, titles) applies unchanged.
import { Validator, type OutputUnit, type Schema } from "@cfworker/json-schema";
import type { CustomValidator, ErrorSchema, ErrorTransformer, RJSFSchema, UiSchema, ValidationData, ValidatorType } from "@rjsf/utils";
import processRawValidationErrors from "@rjsf/validator-ajv8/lib/processRawValidationErrors.js";
import type { Model } from "./types";

export type Config = Record<string, unknown>;

/** The JSON Schema a model version declared (kept at upload in its metadata), or null when it declared none. */
export function modelSchema(model: Model | undefined): RJSFSchema | null {
  // the model list carries each version's metadata; `config_schema` is what the upload read
  const schema = (model as { metadata?: { config_schema?: unknown } | null } | undefined)?.metadata?.config_schema;
  return schema && typeof schema === "object" && !Array.isArray(schema) ? (schema as RJSFSchema) : null;
}

/** What a form sends: its data without the empty strings, arrays and objects left by untouched fields,
 * undefined when nothing is left (the server then applies the type's saved settings). */
export function formConfig(data: unknown): Config | undefined {
  const pruned = prune(data);
  return pruned && typeof pruned === "object" && !Array.isArray(pruned) ? (pruned as Config) : undefined;
}

function prune(value: unknown): unknown {
  if (value === undefined || value === null || value === "") return undefined;
  if (Array.isArray(value)) {
    const items = value.map(prune).filter((v) => v !== undefined);
    return items.length ? items : undefined;
  }
  if (typeof value === "object") {
    const entries = Object.entries(value as Config).map(([k, v]) => [k, prune(v)] as const).filter(([, v]) => v !== undefined);
    return entries.length ? Object.fromEntries(entries) : undefined;
  }
  return value;
}

// Findings that only say "something inside did not match"; the finding inside says what.
const WRAPPERS = new Set(["properties", "items", "prefixItems", "additionalItems", "allOf", "$ref", "$dynamicRef", "false",
  "dependentSchemas", "if", "then", "else", "contains", "unevaluatedItems", "propertyNames"]);

function pointerValue(root: unknown, location: string): unknown {
  const parts = location.replace(/^#\/?/, "").split("/").filter(Boolean).map((p) => decodeURIComponent(p).replace(/~1/g, "/").replace(/~0/g, "~"));
  return parts.reduce<unknown>((node, key) => (node && typeof node === "object" ? (node as Record<string, unknown>)[key] : undefined), root);
}

const list = (value: unknown) => (Array.isArray(value) ? value.map((v) => JSON.stringify(v)).join(", ") : JSON.stringify(value));

/** A finding in words a user acts on ("must be >= 0"), from the keyword and the schema's own value. */
function messageFor(keyword: string, limit: unknown, fallback: string): string {
  switch (keyword) {
    case "minimum": return `must be >= ${limit}`;
    case "exclusiveMinimum": return `must be > ${limit}`;
    case "maximum": return `must be <= ${limit}`;
    case "exclusiveMaximum": return `must be < ${limit}`;
    case "multipleOf": return `must be a multiple of ${limit}`;
    case "type": return `must be ${Array.isArray(limit) ? limit.join(" or ") : limit}`;
    case "enum": return `must be one of ${list(limit)}`;
    case "const": return `must be ${JSON.stringify(limit)}`;
    case "pattern": return `must match pattern "${limit}"`;
    case "format": return `must match format "${limit}"`;
    case "minLength": return `must have at least ${limit} characters`;
    case "maxLength": return `must have at most ${limit} characters`;
    case "minItems": return `must have at least ${limit} items`;
    case "maxItems": return `must have at most ${limit} items`;
    case "uniqueItems": return "must not have duplicate items";
    case "additionalProperties": return "must NOT have additional properties";
    default: return fallback.replace(/\.$/, "");
  }
}

interface AjvShapedError {
  instancePath: string;
  keyword: string;
  schemaPath: string;
  params: Record<string, string>;
  message: string;
}

const quoted = (text: string) => /"([^"]+)"/.exec(text)?.[1] ?? "";

/** cfworker's findings as ajv's errors (instance path without "#", `required` naming its missing property). */
export function toAjvErrors(schema: unknown, units: OutputUnit[]): AjvShapedError[] {
  return units.filter((u) => !WRAPPERS.has(u.keyword)).map((u) => {
    const instancePath = u.instanceLocation.replace(/^#/, "");
    const params: Record<string, string> = {};
    let message = messageFor(u.keyword, pointerValue(schema, u.keywordLocation), u.error);
    if (u.keyword === "required") {
      params.missingProperty = quoted(u.error);
      message = `must have required property '${params.missingProperty}'`;
    } else if (u.keyword === "additionalProperties") {
      params.additionalProperty = quoted(u.error);
    }
    return { instancePath, keyword: u.keyword, schemaPath: u.keywordLocation, params, message };
  });
}

/** rjsf's validator interface over an interpreting JSON-Schema validator (one compiled tree per schema). */
export class InterpretingValidator implements ValidatorType {
  private cache = new WeakMap<object, Validator>();

  private validatorFor(schema: RJSFSchema, rootSchema?: RJSFSchema): Validator {
    const cached = this.cache.get(schema);
    if (cached && !rootSchema) return cached;
    // subschemas ($ref into the root's $defs) resolve against the root's definitions
    const withDefs = rootSchema && rootSchema !== schema ? { ...schema, $defs: rootSchema.$defs, definitions: rootSchema.definitions } : schema;
    const validator = new Validator(withDefs as Schema, "2020-12", false);
    if (!rootSchema || rootSchema === schema) this.cache.set(schema, validator);
    return validator;
  }

  rawValidation<Result = unknown>(schema: RJSFSchema, formData?: unknown): { errors?: Result[]; validationError?: Error } {
    try {
      const result = this.validatorFor(schema).validate(formData ?? {});
      return { errors: result.valid ? undefined : (toAjvErrors(schema, result.errors) as Result[]) };
    } catch (e) {
      return { validationError: e instanceof Error ? e : new Error(String(e)) };
    }
  }

  validateFormData(formData: unknown, schema: RJSFSchema, customValidate?: CustomValidator, transformErrors?: ErrorTransformer, uiSchema?: UiSchema): ValidationData<unknown> {
    // the processing is rjsf's (validator-ajv8's), fed with ajv-shaped errors
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    return processRawValidationErrors(this, this.rawValidation(schema, formData) as any, formData, schema, customValidate, transformErrors, uiSchema);
  }

  isValid(schema: RJSFSchema, formData: unknown, rootSchema: RJSFSchema): boolean {
    try {
      return this.validatorFor(schema, rootSchema).validate(formData).valid;
    } catch {
      return false;
    }
  }
}

export const schemaValidator = new InterpretingValidator();

/** The messages that block sending `config` (the pruned form data) under `schema`, as "path message". */
export function configProblems(schema: RJSFSchema, config: Config | undefined): string[] {
  const { errors } = schemaValidator.validateFormData(config ?? {}, schema);
  return errors.map((e) => e.stack.replace(/^\./, ""));
}

/** The server's problems ({path: "units/0/p_max", message}) as rjsf's error tree, so each shows at its field. */
export function errorSchemaOf(problems: { path: string; message: string }[]): ErrorSchema {
  const tree: Record<string, unknown> = {};
  for (const { path, message } of problems) {
    let node = tree;
    for (const part of path.split("/").filter(Boolean)) node = (node[part] ??= {}) as Record<string, unknown>;
    node.__errors = [...((node.__errors as string[] | undefined) ?? []), message];
  }
  return tree as ErrorSchema;
}

const relaxed = new WeakMap<RJSFSchema, RJSFSchema>();

/** The schema for a run's own config: its top-level fields all optional, since the saved settings fill what a
 * run leaves out (the server checks the merged config). One object per schema, so the validator's cache holds. */
export function runSchema(schema: RJSFSchema): RJSFSchema {
  if (!schema.required) return schema;
  let copy = relaxed.get(schema);
  if (!copy) {
    const { required: _, ...rest } = schema;
    copy = rest;
    relaxed.set(schema, copy);
  }
  return copy;
}
