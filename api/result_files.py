"""Reading result files with pandas and openpyxl: a result's preview (its head as a table, its numeric
columns as chart series) and the report's workbook. The blocking half of api/results.py, run in its worker
threads and imported by it on first use.

Contracts
- A result is never parsed whole past CHART_ROWS_MAX rows or CHART_BYTES_MAX bytes: its lines are counted
  by streaming and only its head is read (kind "too_large").
- A file the reader refuses is a preview of kind "error" with the reader's reason; never an exception.
- A preview's JSON stays under about PREVIEW_BYTES_MAX: text cells are cut, then chart columns, then rows.
- A report holds at most REPORT_ROWS_MAX rows of a result and REPORT_CELLS_MAX cells of results, and its
  Summary says what was left out; text cells stay text (never formulas).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from io import BytesIO
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import openpyxl
import orjson
import pandas as pd
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.workbook.child import INVALID_TITLE_REGEX

from api.schemas import ResultPreview

TABLE_ROWS = 500  # rows a preview shows
POINTS_MAX = 2_000  # chart points per column; more are bucketed (min and max of each bucket kept)
CHART_ROWS_MAX = 1_000_000  # past this a result is not charted: counted, and its head shown
CHART_BYTES_MAX = 64 * 1024 * 1024
JSON_BYTES_MAX = 16 * 1024 * 1024  # JSON is parsed whole (no streaming reader): past this it is not read at all
PREVIEW_BYTES_MAX = 1024 * 1024
SERIES_BYTES_MAX = 600 * 1024  # of PREVIEW_BYTES_MAX: the chart's share; the table gets ROWS_BYTES_MAX
ROWS_BYTES_MAX = 300 * 1024
COLUMNS_MAX = 200
TEXT_CELL_MAX = 200  # characters of a text cell in a preview
MESSAGE_MAX = 300
REPORT_ROWS_MAX = 50_000  # rows of one result in the report; the Summary says when a result had more
REPORT_CELLS_MAX = 500_000  # cells of all results in one report (openpyxl writes each cell in Python: this bounds the wait)

INDEX_WORDS = {"block", "blocks", "period", "interval", "hour", "timestamp", "time", "datetime", "date", "slot", "step", "ts", "mtu", "minute"}
PRICE_NAME = re.compile(r"price|€|\$|/mwh|cost[\s_-]*per|(?:^|[^a-z])(?:eur|lmp|spread)(?:[^a-z]|$)", re.IGNORECASE)
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")
READ_CHUNK = 1024 * 1024


# ---------------------------------------------------------------- reading a result


class NotTabular(Exception):
    """The file reads, but holds no table (JSON that is not records; Parquet without a Parquet engine)."""


@dataclass
class Loaded:
    frame: pd.DataFrame
    row_count: int | None  # data rows in the whole file, when known
    whole: bool  # frame holds every row (else: its head)
    notes: list[str]


def load_result(path: Path, name: str, rows_max: int, head_rows: int) -> Loaded:
    """The result as a frame: whole when it has at most `rows_max` rows, else its first `head_rows`.
    Raises NotTabular, or whatever the reader raises for a file it refuses."""
    suffix = PurePosixPath(name).suffix.lower()
    size = path.stat().st_size
    if suffix == ".csv":
        return _load_csv(path, size, rows_max, head_rows)
    if suffix == ".xlsx":
        return _load_xlsx(path, rows_max, head_rows)
    if suffix == ".json":
        return _load_json(path, size, rows_max, head_rows)
    if suffix == ".parquet":
        return _load_parquet(path, rows_max, head_rows)
    raise NotTabular(f"{suffix or 'a name without an extension'} is not a table format read here (CSV, XLSX, JSON, Parquet)")


def count_csv_rows(path: Path) -> int:
    """Data rows, counted as line ends a chunk at a time (a quoted cell with a line break counts twice)."""
    lines, last = 0, b"\n"
    with path.open("rb") as handle:
        while chunk := handle.read(READ_CHUNK):
            lines += chunk.count(b"\n")
            last = chunk[-1:]
    lines += last != b"\n"
    return max(lines - 1, 0)


def _load_csv(path: Path, size: int, rows_max: int, head_rows: int) -> Loaded:
    counted = count_csv_rows(path)
    if counted > rows_max or size > CHART_BYTES_MAX:
        return Loaded(pd.read_csv(path, nrows=head_rows), counted, False, [])
    frame = pd.read_csv(path)
    return Loaded(frame, len(frame), True, [])


def _load_xlsx(path: Path, rows_max: int, head_rows: int) -> Loaded:
    book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        sheets = book.sheetnames
        if not sheets:
            raise NotTabular("the workbook has no sheets")
        first = book[sheets[0]]
        # read-only sheets know their size from the file's dimension record; without one, count (up to the limit)
        last_row = first.max_row if first.max_row else sum(1 for _ in first.iter_rows(max_row=rows_max + 2, values_only=True))
    finally:
        book.close()
    counted = max(last_row - 1, 0)
    notes = [f"the first of {len(sheets)} sheets ({sheets[0]!r}); not shown: {', '.join(repr(s) for s in sheets[1:])}"] if len(sheets) > 1 else []
    whole = counted <= rows_max
    frame = pd.read_excel(path, sheet_name=0, engine="openpyxl", nrows=None if whole else head_rows)
    return Loaded(frame, len(frame) if whole else counted, whole, notes)


def _load_json(path: Path, size: int, rows_max: int, head_rows: int) -> Loaded:
    if size > JSON_BYTES_MAX:
        return Loaded(pd.DataFrame(), None, False, [f"JSON over {JSON_BYTES_MAX >> 20} MB is not read; download the file"])
    data = json.loads(path.read_bytes())
    records = data.get("records", data.get("data")) if isinstance(data, dict) else data
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise NotTabular('JSON that is not records: a list of objects, or {"records": [...]} / {"data": [...]}')
    whole = len(records) <= rows_max
    return Loaded(pd.DataFrame.from_records(records if whole else records[:head_rows]), len(records), whole, [])


def _load_parquet(path: Path, rows_max: int, head_rows: int) -> Loaded:
    try:
        frame = pd.read_parquet(path)
    except ImportError as exc:  # pandas reads Parquet only through pyarrow or fastparquet, which we do not ship
        raise NotTabular("Parquet is not read on this server (no pyarrow or fastparquet); download the file") from exc
    whole = len(frame) <= rows_max
    return Loaded(frame if whole else frame.head(head_rows), len(frame), whole, [])


def short_reason(exc: BaseException) -> str:
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return first if len(first) <= MESSAGE_MAX else first[:MESSAGE_MAX - 1] + "…"


# ---------------------------------------------------------------- the preview


def build_preview(path: Path, name: str) -> bytes:
    """The ResultPreview of the file at `path` (named `name`), as JSON bytes. Runs in a worker thread."""
    kind_of_file = PurePosixPath(name).suffix.lower().lstrip(".").upper()
    try:
        loaded = load_result(path, name, CHART_ROWS_MAX, TABLE_ROWS)
    except NotTabular as exc:
        return encode_preview({"name": name, "kind": "none", "message": str(exc)})
    except Exception as exc:  # noqa: BLE001 - any file a model wrote may be refused in any way; the preview says how
        return encode_preview({"name": name, "kind": "error", "message": f"could not read it as {kind_of_file}: {short_reason(exc)}"})
    return encode_preview(preview_of(name, loaded))


def encode_preview(fields: dict[str, Any]) -> bytes:
    return ResultPreview.model_validate(fields).model_dump_json().encode()


def preview_of(name: str, loaded: Loaded) -> dict[str, Any]:
    frame, notes = loaded.frame, list(loaded.notes)
    frame.columns = unique_names(frame.columns)
    if len(frame.columns) > COLUMNS_MAX:
        notes.append(f"{len(frame.columns)} columns; the first {COLUMNS_MAX} are shown")
        frame = frame.iloc[:, :COLUMNS_MAX]
    frame = with_times_parsed(frame)
    types = {column: column_type(frame[column]) for column in frame.columns}
    index = index_column(types)
    columns = [{"name": column, "type": kind, "role": column_role(column, kind, index)} for column, kind in types.items()]
    rows = table_rows(frame.head(TABLE_ROWS), notes)
    preview: dict[str, Any] = {"name": name, "rowCount": loaded.row_count, "columns": columns, "rows": rows, "index": index}
    if not loaded.whole:
        rows_said = f"{loaded.row_count:,} rows" if loaded.row_count is not None else "too large"
        notes.insert(0, f"{rows_said}: too many to chart (the limit is {CHART_ROWS_MAX:,} rows); the first {len(rows)} rows are shown")
        return {**preview, "kind": "too_large", "message": "; ".join(notes)}
    numeric = [c["name"] for c in columns if c["type"] == "number" and c["role"] != "index"]
    preview["series"] = chart_series(frame, index, numeric, notes) if len(frame) else None
    return {**preview, "kind": "table", "message": "; ".join(notes) or None}


def unique_names(names: Iterable[Any]) -> list[str]:
    seen: set[str] = set()
    out = []
    for raw in names:
        name = str(raw)
        candidate, n = name, 1
        while candidate in seen:
            n += 1
            candidate = f"{name}.{n}"
        seen.add(candidate)
        out.append(candidate)
    return out


def with_times_parsed(frame: pd.DataFrame) -> pd.DataFrame:
    """Text columns whose values read as ISO dates become datetimes (CSV and JSON hold times as text)."""
    for column in frame.columns:
        values = frame[column]
        if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_datetime64_any_dtype(values):
            continue
        present = values.dropna()
        if present.empty or not isinstance(present.iloc[0], str) or not ISO_DATE.match(present.iloc[0]):
            continue
        try:
            parsed = pd.to_datetime(values, errors="coerce", utc=True)
        except (ValueError, TypeError, OverflowError):
            continue
        if parsed.notna().sum() >= 0.9 * len(present):
            frame = frame.assign(**{column: parsed})
    return frame


def column_type(values: pd.Series) -> str:
    if pd.api.types.is_bool_dtype(values):
        return "text"
    if pd.api.types.is_numeric_dtype(values):
        return "number"
    if pd.api.types.is_datetime64_any_dtype(values):
        return "time"
    return "text"


def name_words(name: str) -> set[str]:
    return set(re.split(r"[^a-z0-9]+", name.lower()))


def index_column(types: dict[str, str]) -> str | None:
    """The x axis: the first time column, else the first number column named like a block or a time, else none."""
    for column, kind in types.items():
        if kind == "time":
            return column
    for column, kind in types.items():
        if kind == "number" and name_words(column) & INDEX_WORDS:
            return column
    return None


def column_role(column: str, kind: str, index: str | None) -> str:
    if column == index:
        return "index"
    if kind != "number":
        return "other"
    return "price" if PRICE_NAME.search(column) else "value"


def json_cell(value: Any) -> Any:
    """A value as JSON can carry it: NaN, infinities and missing values are null, times ISO text, text cut."""
    if value is None or value is pd.NaT or value is pd.NA:
        return None
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, datetime | date | time | pd.Timestamp):
        return value.isoformat()
    text = value if isinstance(value, str) else json.dumps(value, default=str) if isinstance(value, dict | list) else str(value)
    return text if len(text) <= TEXT_CELL_MAX else text[:TEXT_CELL_MAX - 1] + "…"


def table_rows(head: pd.DataFrame, notes: list[str]) -> list[dict[str, Any]]:
    columns = list(head.columns)
    rows = [dict(zip(columns, map(json_cell, values))) for values in head.itertuples(index=False, name=None)]
    size = len(orjson.dumps(rows))
    if size <= ROWS_BYTES_MAX:
        return rows
    keep = max(1, int(len(rows) * ROWS_BYTES_MAX / size))
    notes.append(f"the table shows {keep} rows (wide rows)")
    return rows[:keep]


def chart_series(frame: pd.DataFrame, index: str | None, numeric: list[str], notes: list[str]) -> dict[str, Any]:
    """x and each numeric column; past POINTS_MAX rows, bucketed with each bucket's min and max kept (in
    their order), drawn at the bucket's first and last x, so peaks survive."""
    n = len(frame)
    downsampled = n > POINTS_MAX
    if downsampled:
        width = math.ceil(n / (POINTS_MAX // 2))
        starts = np.arange(0, n, width)
        picks = np.column_stack([starts, np.minimum(starts + width, n) - 1]).ravel()
    else:
        width, picks = 1, np.arange(n)
    x_source = frame[index] if index is not None else pd.Series(np.arange(1, n + 1))
    x = [json_cell(v) for v in x_source.iloc[picks].tolist()]
    columns: dict[str, list[float | None]] = {}
    used = len(orjson.dumps(x))
    for column in numeric:
        values = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
        points = bucket_extremes(values, width) if downsampled else values
        encoded = [float(v) if math.isfinite(v) else None for v in points.tolist()]
        used += len(orjson.dumps(encoded))
        if used > SERIES_BYTES_MAX:
            notes.append(f"{len(numeric)} numeric columns; the first {len(columns)} are charted")
            break
        columns[column] = encoded
    return {"x": x, "columns": columns, "downsampled": downsampled}


def bucket_extremes(values: np.ndarray, width: int) -> np.ndarray:
    """Per bucket of `width` values: its min and max, in the order they occur (NaN for an all-NaN bucket)."""
    buckets = math.ceil(len(values) / width)
    padded = np.full(buckets * width, np.nan)
    padded[:len(values)] = values
    grid = padded.reshape(buckets, width)
    empty = np.isnan(grid).all(axis=1)
    low_at = np.where(np.isnan(grid), np.inf, grid).argmin(axis=1)
    high_at = np.where(np.isnan(grid), -np.inf, grid).argmax(axis=1)
    rows = np.arange(buckets)
    low, high = grid[rows, low_at], grid[rows, high_at]
    first = np.where(low_at <= high_at, low, high)
    second = np.where(low_at <= high_at, high, low)
    first[empty] = second[empty] = np.nan
    return np.column_stack([first, second]).ravel()


# ---------------------------------------------------------------- the report


def sheet_title(stem: str, taken: set[str]) -> str:
    """An Excel sheet title for `stem`: no []:*?/\\ characters, at most 31, unique (case-blind) among `taken`."""
    base = INVALID_TITLE_REGEX.sub("_", stem).strip("'") or "result"
    title, n = base[:31], 1
    while title.lower() in taken:
        n += 1
        suffix = f" ({n})"
        title = base[:31 - len(suffix)] + suffix
    taken.add(title.lower())
    return title


def excel_value(value: Any) -> Any:
    """A value openpyxl writes as data: times without a timezone (Excel has none; ours are UTC), nested values as JSON."""
    value = json_cell_full(value)
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


def json_cell_full(value: Any) -> Any:
    if value is None or value is pd.NaT or value is pd.NA:
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict | list):
        return json.dumps(value, default=str)
    return value


def excel_column(sheet, values: pd.Series) -> list[Any]:
    """A column's cells; numbers converted at once (a cell at a time costs a 100,000-row sheet seconds)."""
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        numbers = values.astype("float64").to_numpy()
        if pd.api.types.is_integer_dtype(values):
            return [int(v) if math.isfinite(v) else None for v in numbers.tolist()]
        return [v if math.isfinite(v) else None for v in numbers.tolist()]
    return [text_cell(sheet, v) for v in values.tolist()]


def text_cell(sheet, value: Any) -> Any:
    """Text stays text: a cell a model wrote as `=HYPERLINK(...)` is shown, never evaluated; characters XML cannot hold go."""
    value = excel_value(value)
    if not isinstance(value, str):
        return value
    cell = WriteOnlyCell(sheet, value=ILLEGAL_CHARACTERS_RE.sub("", value)[:32_767])
    cell.data_type = "s"
    return cell


@dataclass
class Report:
    """A workbook under construction (write-only: rows go straight to the file's XML)."""

    book: openpyxl.Workbook
    summary: list[tuple[str, Any]]
    titles: set[str]
    cells_left: int = REPORT_CELLS_MAX

    @classmethod
    def start(cls) -> Report:
        book = openpyxl.Workbook(write_only=True)
        return cls(book, [], {"summary", "log"})

    def add_result(self, path: Path, name: str) -> None:
        if self.cells_left <= 0:
            self.summary.append((f"Result {name}", f"not included: the report holds at most {REPORT_CELLS_MAX:,} cells of results"))
            return
        try:
            loaded = load_result(path, name, REPORT_ROWS_MAX, REPORT_ROWS_MAX)
        except Exception as exc:  # noqa: BLE001 - an unreadable result is named in the Summary, not a failed report
            self.summary.append((f"Result {name}", f"not included: {short_reason(exc)}"))
            return
        if loaded.frame.columns.empty:
            self.summary.append((f"Result {name}", "; ".join(["not included: no columns", *loaded.notes])))
            return
        title = sheet_title(PurePosixPath(name).stem, self.titles)
        sheet = self.book.create_sheet(title)
        frame = loaded.frame.head(max(1, self.cells_left // max(1, len(loaded.frame.columns))))
        self.cells_left -= frame.size
        sheet.append([text_cell(sheet, str(c)) for c in frame.columns])
        for values in zip(*(excel_column(sheet, frame[column]) for column in frame.columns)):
            sheet.append(values)
        written = len(frame)
        total = loaded.row_count
        said = f"sheet {title!r}: {written:,} rows" if total is None or total == written else f"sheet {title!r}: the first {written:,} of {total:,} rows"
        self.summary.append((f"Result {name}", "; ".join([said, *loaded.notes])))

    def finish(self, summary: list[tuple[str, Any]], lines: list[dict[str, Any]]) -> bytes:
        sheet = self.book.create_sheet("Summary", 0)
        sheet.append(["Field", "Value"])
        for key, value in [*summary, *self.summary]:
            sheet.append([key, text_cell(sheet, value)])
        log = self.book.create_sheet("Log")
        log.append(["seq", "time (UTC)", "level", "stream", "message"])
        for line in lines:
            log.append([line["seq"], excel_value(line["timestamp"]), line["level"], line["stream"], text_cell(log, line["message"])])
        out = BytesIO()
        self.book.save(out)
        return out.getvalue()
