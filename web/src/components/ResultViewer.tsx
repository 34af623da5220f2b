// One tabular result file in the run detail: its download, a sortable table of its first rows and a chart
// of its numeric columns (each toggleable, prices on a second axis), from the facade's preview. A file the
// server could not read, or would not chart, shows the server's message instead; the detail stays usable.
import { useEffect, useState } from "react";
import { formatBytes } from "../lib/format";
import {
  axisOf, chartColumns, chartPoints, fetchPreview, numericX, rowCaption, sortRows,
  type CellValue, type Direction, type Preview, type ResultFile,
} from "../lib/results";
import { PALETTE, SeriesChart } from "./SeriesChart";

export function ResultViewer({ jobId, file }: { jobId: string; file: ResultFile & { preview_url: string } }) {
  const [preview, setPreview] = useState<Preview | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let stale = false;
    setPreview(null);
    setError(null);
    fetchPreview(file.preview_url).then((p) => !stale && setPreview(p), (e: Error) => !stale && setError(e.message));
    return () => {
      stale = true;
    };
  }, [jobId, file.preview_url]);

  return (
    <section className="result-viewer" aria-label={`Result ${file.name}`} data-testid="result-viewer">
      <h4>
        <a href={file.url} download>{file.name}</a> <span className="muted small">{formatBytes(file.size)}</span>
      </h4>
      {error && <p className="error">Preview unavailable: {error}</p>}
      {!preview && !error && <p className="muted small">Loading preview…</p>}
      {preview && preview.kind === "table" && (
        <>
          <PreviewChart name={file.name} preview={preview} />
          <PreviewTable name={file.name} preview={preview} />
        </>
      )}
      {preview && preview.kind !== "table" && (
        <>
          <p className="muted" data-testid="preview-message">{preview.message ?? "No preview for this file."}</p>
          {preview.kind === "too_large" && preview.rows.length > 0 && <PreviewTable name={file.name} preview={preview} />}
        </>
      )}
    </section>
  );
}

const cell = (value: CellValue | undefined) => (value === null || value === undefined ? "" : String(value));

/** The first rows; a header sorts by its column, ascending then descending. */
export function PreviewTable({ name, preview }: { name: string; preview: Preview }) {
  const [order, setOrder] = useState<{ column: string; direction: Direction } | null>(null);
  const rows = order ? sortRows(preview.rows, order.column, order.direction) : preview.rows;
  const sortBy = (column: string) =>
    setOrder((o) => ({ column, direction: o?.column === column && o.direction === "asc" ? "desc" : "asc" }));
  return (
    <div className="preview-scroll">
      <table className="table preview" aria-label={`Preview of ${name}`}>
        <caption data-testid="preview-caption">{rowCaption(preview)}</caption>
        <thead>
          <tr>
            {preview.columns.map((c) => {
              const sorted = order?.column === c.name ? order.direction : null;
              return (
                <th key={c.name} scope="col" aria-sort={sorted === "asc" ? "ascending" : sorted === "desc" ? "descending" : "none"}
                  className={c.type === "number" ? "num" : undefined}>
                  <button className="link" onClick={() => sortBy(c.name)}>
                    {c.name}{sorted === "asc" ? " ▲" : sorted === "desc" ? " ▼" : ""}
                  </button>
                </th>
              );
            })}
          </tr>
        </thead>
        <tbody>
          {rows.map((r, i) => (
            <tr key={i}>
              {preview.columns.map((c) => <td key={c.name} className={c.type === "number" ? "num" : undefined}>{cell(r[c.name])}</td>)}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** Numeric columns over the index (or the row number), one checkbox per column. */
function PreviewChart({ name, preview }: { name: string; preview: Preview }) {
  const columns = chartColumns(preview);
  const [hidden, setHidden] = useState<Set<string>>(new Set());
  if (columns.length === 0) return <p className="muted">No numeric columns to chart.</p>;
  const toggle = (column: string) =>
    setHidden((h) => {
      const next = new Set(h);
      if (next.has(column)) next.delete(column);
      else next.add(column);
      return next;
    });
  const lines = columns
    .map((c, i) => ({ key: c.name, name: c.name, axis: axisOf(c), colour: PALETTE[i % PALETTE.length] }))
    .filter((l) => !hidden.has(l.key));
  return (
    <div className="preview-chart">
      <fieldset className="series-toggles">
        <legend className="small">Series</legend>
        {columns.map((c) => (
          <label key={c.name} className="small">
            <input type="checkbox" checked={!hidden.has(c.name)} onChange={() => toggle(c.name)} /> {c.name}
            {axisOf(c) === "price" && <span className="muted"> (right axis)</span>}
          </label>
        ))}
      </fieldset>
      <SeriesChart
        label={`Chart of ${name}`} points={chartPoints(preview)} lines={lines} numericX={numericX(preview)}
        xLabel={preview.index ?? "row"}
      />
      {preview.series?.downsampled && (
        <p className="muted small">Summarized by the server: {preview.series.x.length} points for {preview.rowCount} rows.</p>
      )}
    </div>
  );
}
