// @vitest-environment jsdom
import { cleanup, fireEvent, render, screen, within } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";
import type { Preview } from "../lib/results";
import { PreviewTable } from "./ResultViewer";

afterEach(cleanup);

const preview: Preview = {
  name: "dmo_schedule.csv", kind: "table", message: null, rowCount: 1000, index: "block", series: null,
  columns: [{ name: "block", type: "number", role: "index" }, { name: "bid_mw", type: "number", role: "value" }],
  rows: [{ block: 1, bid_mw: 20 }, { block: 2, bid_mw: -5 }, { block: 3, bid_mw: 7 }],
};

const firstColumn = () => within(screen.getByRole("table", { name: "Preview of dmo_schedule.csv" }))
  .getAllByRole("row").slice(1).map((row) => within(row).getAllByRole("cell")[0].textContent);

describe("PreviewTable", () => {
  it("captions the row count and sorts by a header, ascending then descending", () => {
    render(<PreviewTable name="dmo_schedule.csv" preview={preview} />);
    expect(screen.getByText("1000 rows · showing first 3")).toBeTruthy();
    expect(firstColumn()).toEqual(["1", "2", "3"]);
    fireEvent.click(screen.getByRole("button", { name: "bid_mw" }));
    expect(firstColumn()).toEqual(["2", "3", "1"]);
    expect(screen.getByRole("columnheader", { name: /bid_mw/ }).getAttribute("aria-sort")).toBe("ascending");
    fireEvent.click(screen.getByRole("button", { name: /bid_mw/ }));
    expect(firstColumn()).toEqual(["1", "3", "2"]);
    expect(screen.getByRole("columnheader", { name: /bid_mw/ }).getAttribute("aria-sort")).toBe("descending");
  });
});
