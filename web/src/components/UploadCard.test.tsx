// @vitest-environment jsdom
import { cleanup, fireEvent, render, screen } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";
import { UploadCard } from "./UploadCard";

afterEach(cleanup);

describe("UploadCard", () => {
  it("has the labelled controls the page promises", () => {
    render(<UploadCard onUploaded={() => undefined} />);
    expect(screen.getByLabelText("Model type")).toBeTruthy();
    expect(screen.getByLabelText("Description")).toBeTruthy();
    expect(screen.getByRole("button", { name: "Upload" })).toBeTruthy();
    expect(screen.getByRole("progressbar", { name: "Upload progress" })).toBeTruthy();
  });

  it("makes the upload active unless asked not to", () => {
    render(<UploadCard onUploaded={() => undefined} />);
    const activate = screen.getByRole("checkbox", { name: "Make active" }) as HTMLInputElement;
    expect(activate.checked).toBe(true);
    fireEvent.click(activate);
    expect(activate.checked).toBe(false);
  });

  it("asks for a file before sending anything", () => {
    render(<UploadCard onUploaded={() => undefined} />);
    fireEvent.click(screen.getByRole("button", { name: "Upload" }));
    expect(screen.getByRole("alert").textContent).toBe("choose a .py file or a model archive first");
  });
});
