"""Uploading through the page: a broken model shows the server's message (with its line), a good
one dropped on the card becomes the active model at once."""

from __future__ import annotations

import uuid
import zipfile
from pathlib import Path

import pytest
from playwright.async_api import expect

from harness.stack import PROJECT_DIR, wait_until
from tests.conftest import SAMPLES, upload, wait_for_job

PRINTER = (PROJECT_DIR / "tests" / "models" / "printer.py").read_text()


async def drop_file(page, name: str, text: str) -> None:
    """Drop a file on the upload card, as dragging it from the desktop does."""
    transfer = await page.evaluate_handle(
        "([name, text]) => { const t = new DataTransfer(); t.items.add(new File([text], name, {type: 'text/x-python'})); return t; }",
        [name, text])
    await page.locator(".dropzone").dispatch_event("drop", {"dataTransfer": transfer})


async def test_broken_model_shows_the_servers_message_with_its_line(signed_in, api):
    page = signed_in.page
    said = upload(api, "broken_syntax.py", (SAMPLES / "broken_syntax.py").read_bytes(), "SO").json()["error"]
    assert "line 4" in said  # `def main(:`
    await page.get_by_label("Model file (.py, or .zip / .tar.gz of its files)").set_input_files(SAMPLES / "broken_syntax.py")
    await page.get_by_label("Model type").select_option("SO")
    await page.get_by_label("Description").fill("does not compile")
    await page.get_by_role("button", name="Upload").click()
    await expect(page.get_by_test_id("upload-message")).to_have_text(said)
    await expect(page.get_by_test_id("upload-message")).to_have_attribute("role", "alert")
    assert signed_in.errors_besides(422) == []


async def test_good_model_dropped_on_the_card_becomes_active_with_its_version(signed_in, api, keep_active_models):
    page = signed_in.page
    name = f"page_upload_{uuid.uuid4().hex[:8]}"
    await drop_file(page, f"{name}.py", PRINTER)
    await page.get_by_label("Model type").select_option("RMO")
    await page.get_by_label("Description").fill("dropped on the card")
    await page.get_by_role("button", name="Upload").click()
    await expect(page.get_by_test_id("upload-message")).to_have_text(f"{name} v1 uploaded and active")
    await expect(page.get_by_role("progressbar", name="Upload progress")).to_have_attribute("value", "1")
    await expect(signed_in.control("RMO")).to_contain_text(f"{name} v1")
    await page.get_by_role("tab", name="Models").click()
    row = page.get_by_role("table", name="Models").get_by_role("row").filter(has_text="dropped on the card")
    await expect(row).to_contain_text("active")
    assert signed_in.console_errors == []


DEPENDENCY_SAMPLES = [("so_battery_pulp.py", "SO", "262142.12", "pulp"), ("so_battery_pyomo.py", "SO", "262142.12", "pyomo"),
                      ("so_battery_linopy.py", "SO", "262142.12", "linopy"), ("dmo_multifile.zip", "DMO", "12307531.50", "pulp")]


def sample_file(name: str, folder: Path) -> Path:
    """A sample as a user picks it: the file itself, or the multi-file sample's folder zipped."""
    if not name.endswith(".zip"):
        return SAMPLES / name
    archive = folder / name
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
        for path in sorted((SAMPLES / name.removesuffix(".zip")).iterdir()):
            zipped.write(path, f"{name.removesuffix('.zip')}/{path.name}")
    return archive


@pytest.mark.parametrize(("filename", "model_type", "objective", "package"), DEPENDENCY_SAMPLES, ids=[sample[0] for sample in DEPENDENCY_SAMPLES])
async def test_a_model_with_dependencies_uploads_runs_and_shows_its_lock(signed_in, api, keep_active_models, tmp_path, filename, model_type,
                                                                         objective, package):
    page = signed_in.page
    await page.get_by_label("Model file (.py, or .zip / .tar.gz of its files)").set_input_files(sample_file(filename, tmp_path))
    await page.get_by_label("Model type").select_option(model_type)
    description = f"{filename} {uuid.uuid4().hex[:6]}, its own packages"
    await page.get_by_label("Description").fill(description)
    await page.get_by_role("button", name="Upload").click()
    await expect(page.get_by_test_id("upload-message")).to_contain_text("uploaded and active")
    model = api.get("/api/optimization/models", params={"type": model_type, "status": "active"}).json()["models"][0]
    assert model["original_filename"] == filename and model["lock_sha256"]
    await page.get_by_role("button", name=f"Run {model_type}").click()
    job_id = wait_until(lambda: next((j["job_id"] for j in api.get("/api/optimization/jobs", params={"limit": 5}).json()["jobs"]
                                      if j["model_id"] == model["id"]), None), 30, "the page's run")
    # the log panel shows the environment being prepared (or reused), then the model's own lines
    await expect(signed_in.log_rows(job_id).filter(has_text=f"environment {model['lock_sha256'][:12]}").first).to_be_visible(timeout=120_000)
    await expect(signed_in.log_rows(job_id).filter(has_text=f"Objective value: {objective}")).to_have_count(1, timeout=120_000)
    await page.get_by_role("tab", name="Models").click()
    row = page.get_by_role("table", name="Models").get_by_role("row").filter(has_text=description)
    await expect(row.get_by_test_id("model-environment")).to_contain_text(f"lock {model['lock_sha256'][:12]}")
    await row.get_by_test_id("model-environment").get_by_text("own packages").click()  # opens the lock's packages
    await expect(row.get_by_test_id("lock-details")).to_contain_text(f"{package} ")
    assert wait_for_job(api, job_id)["lock_sha256"] == model["lock_sha256"]
    await page.reload()
    await page.get_by_role("table", name="Run history").get_by_role("button", name=job_id).click()
    await expect(page.get_by_role("dialog").get_by_test_id("run-lock")).to_have_text(model["lock_sha256"])
    assert signed_in.console_errors == []
