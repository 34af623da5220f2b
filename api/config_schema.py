"""A run's `config`: bounded in size and depth, and checked against the JSON Schema its model
declares. A model declares one as a module-level literal:

    CONFIG_SCHEMA = {"type": "object", "properties": {"max_cycles": {"type": "number", "minimum": 0}}}

It is read at upload (with `ast.literal_eval`, never by running the model) and kept with that version.
"""

from __future__ import annotations

import ast
import json
import re
import tokenize
from collections.abc import Iterable, Iterator
from types import CodeType
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError, ValidationError

from api.errors import ApiError

MAX_CONFIG_BYTES = 64 * 1024
MAX_CONFIG_DEPTH = 16


def depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((depth(v) for v in value), default=0)
    return 0


def check_bounds(config: dict[str, Any]) -> dict[str, Any]:
    """For pydantic validators: raise ValueError past the size or depth bound."""
    if len(json.dumps(config)) > MAX_CONFIG_BYTES:
        raise ValueError(f"config is larger than {MAX_CONFIG_BYTES // 1024} KB")
    if depth(config) > MAX_CONFIG_DEPTH:
        raise ValueError(f"config nests deeper than {MAX_CONFIG_DEPTH} levels")
    return config


# A module-level statement assigning CONFIG_SCHEMA starts a line (module-level code is not indented).
_DECLARATION = re.compile(r"CONFIG_SCHEMA\s*(?::[^=\n]*)?=(?!=)")


def _declarations_at_line_starts(source: str) -> Iterator[tuple[int, int]]:
    """(offset, line) of each line that starts like a CONFIG_SCHEMA assignment. str.find, not a
    MULTILINE regex: the regex tries every offset of a 10 MB model (130 ms), find skips through it."""
    start = source.find("CONFIG_SCHEMA")
    while start != -1:
        if (start == 0 or source[start - 1] == "\n") and _DECLARATION.match(source, start):
            yield start, source.count("\n", 0, start) + 1
        start = source.find("CONFIG_SCHEMA", start + 1)


def _declaration_statements(source: str, code: CodeType | None) -> list[ast.stmt]:
    """The module-level statements that may declare CONFIG_SCHEMA, each parsed alone.

    A 10 MB model with its data inline parses in seconds; its one declaration in microseconds.
    `code` (the compiled module) tells real statements from look-alikes inside strings: only a
    real one has code on its line, and only a module that stores the name lists it in co_names.
    Without it (ruff answered for a big model) a look-alike at the start of a line inside a string
    counts too, until CPython's compile confirms the model and reads the schema again with its code."""
    if code is not None and "CONFIG_SCHEMA" not in code.co_names:
        return []
    lines_with_code = None
    statements = []
    for start, lineno in _declarations_at_line_starts(source):
        if code is not None:
            lines_with_code = lines_with_code or {line for _, _, line in code.co_lines()}
            if lineno not in lines_with_code:
                continue
        try:
            module = ast.parse(_statement_at(source, start))
        except (SyntaxError, tokenize.TokenError):
            continue  # a keyword argument at the start of a line, not a statement
        ast.increment_lineno(module, lineno - 1)
        statements += module.body
    return statements


def _statement_at(source: str, start: int) -> str:
    """The lines of the logical line that starts at `start`, read no further than its end
    (not io.StringIO(source): that copies all 10 MB, four bytes a character)."""
    position, lines = start, []

    def readline() -> str:
        nonlocal position
        end = source.find("\n", position) + 1 or len(source)
        lines.append(source[position:end])
        position = end
        return lines[-1]

    for token in tokenize.generate_tokens(readline):
        if token.type in (tokenize.NEWLINE, tokenize.ENDMARKER):
            break
    return "".join(lines)


def declared_schema(source: str, code: CodeType | None = None) -> dict[str, Any] | None:
    """The model's CONFIG_SCHEMA literal, checked to be a valid JSON Schema; None when it declares none.
    `code`: the module compiled from `source`, without which look-alikes in strings may count (see above)."""
    for node in _declaration_statements(source, code):
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "CONFIG_SCHEMA" for t in node.targets):
            try:
                schema = ast.literal_eval(node.value)
            except ValueError as exc:
                raise ApiError(422, f"CONFIG_SCHEMA on line {node.lineno} must be a literal dict", {"line": node.lineno}) from exc
            if not isinstance(schema, dict):
                raise ApiError(422, f"CONFIG_SCHEMA on line {node.lineno} must be a dict", {"line": node.lineno})
            try:
                Draft202012Validator.check_schema(schema)
            except SchemaError as exc:
                raise ApiError(422, f"CONFIG_SCHEMA on line {node.lineno} is not a valid JSON Schema: {exc.message}", {"line": node.lineno}) from exc
            return schema
    return None


def schema_errors(config: dict[str, Any], schema: dict[str, Any] | None) -> list[ValidationError]:
    """Every way `config` fails `schema`, ordered by path (none without a schema)."""
    if not schema:
        return []
    return sorted(Draft202012Validator(schema).iter_errors(config), key=lambda e: list(e.absolute_path))


def bracket_path(path: Iterable[str | int]) -> str:
    """config['units'][0]['p_max']: how a run's refused config names the field."""
    return "config" + "".join(f"[{p!r}]" if isinstance(p, str) else f"[{p}]" for p in path)


def dotted_path(path: Iterable[str | int]) -> str:
    """config.units[0].p_max: how refused settings name the field."""
    return "config" + "".join(f".{p}" if isinstance(p, str) else f"[{p}]" for p in path)


def slash_path(path: Iterable[str | int]) -> str:
    """units/0/p_max (a JSON pointer without its leading slash): where a problem is, for a form to mark the field."""
    return "/".join(str(p) for p in path)


def config_refusal(errors: list[ValidationError], model_label: str) -> ApiError:
    """The 422 for a run's config that fails its model's schema (`errors` from `schema_errors`, not empty): it
    names the path of the first bad field."""
    first = errors[0]
    return ApiError(422, f"{bracket_path(first.absolute_path)}: {first.message} (schema of {model_label})",
                    [{"path": ["config", *e.absolute_path], "msg": e.message} for e in errors[:20]])


def validate_config(config: dict[str, Any], schema: dict[str, Any] | None, model_label: str) -> None:
    """422 naming the path of the first bad field."""
    if errors := schema_errors(config, schema):
        raise config_refusal(errors, model_label)
