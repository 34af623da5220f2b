// A form drawn from a model's CONFIG_SCHEMA with rjsf: numbers with their bounds, enums as selects, arrays of
// objects as rows to add and remove, descriptions as help; each field's error shows beside it as it is typed.
// It owns no button: the panel around it decides what sending means (Run, Save).
import Form, { type IChangeEvent } from "@rjsf/core";
import type { ErrorSchema, RJSFSchema, UiSchema } from "@rjsf/utils";
import { schemaValidator } from "../lib/schemaForm";

const UI: UiSchema = { "ui:submitButtonOptions": { norender: true } };
// untouched arrays and objects stay empty: an empty form sends nothing (the saved settings apply)
const DEFAULTS = { arrayMinItems: { populate: "never" as const }, emptyObjectFields: "skipDefaults" as const };

interface Props {
  id: string;
  schema: RJSFSchema;
  value: unknown;
  onChange: (value: unknown) => void;
  extraErrors?: ErrorSchema;
  disabled?: boolean;
}

export function SchemaForm({ id, schema, value, onChange, extraErrors, disabled }: Props) {
  return (
    <div className="schema-form">
      <Form
        idPrefix={id} schema={schema} uiSchema={UI} formData={value} validator={schemaValidator}
        liveValidate="onChange" showErrorList={false} noHtml5Validate extraErrors={extraErrors} disabled={disabled}
        experimental_defaultFormStateBehavior={DEFAULTS} tagName="div"
        onChange={(event: IChangeEvent) => onChange(event.formData)}
      />
    </div>
  );
}
