"""The Models tab and the notifications bell."""

from __future__ import annotations

import uuid

from playwright.async_api import expect

from harness.stack import PROJECT_DIR
from tests.conftest import upload

PRINTER = (PROJECT_DIR / "tests" / "models" / "printer.py").read_bytes()


async def test_models_tab_activates_an_older_version_archives_and_deletes(signed_in, api, keep_active_models):
    name = f"page_models_{uuid.uuid4().hex[:8]}"
    for version in (1, 2):
        assert upload(api, f"{name}.py", PRINTER, "SO", description=f"version {version}").status_code == 201
    page = signed_in.page
    await page.reload()
    await expect(signed_in.control("SO")).to_contain_text(f"{name} v2")
    await page.get_by_role("tab", name="Models").click()
    models = page.get_by_role("table", name="Models")

    await models.get_by_role("button", name=f"Activate {name} v1").click()
    await expect(page.get_by_text(f"{name} v1 is now the active SO model")).to_be_visible()
    await expect(signed_in.control("SO")).to_contain_text(f"{name} v1")

    await models.get_by_role("button", name=f"Archive {name} v2").click()
    await expect(models.get_by_role("row").filter(has_text="version 2")).to_have_count(0)
    await page.get_by_label("Show archived").check()
    await expect(models.get_by_role("row").filter(has_text="version 2")).to_contain_text("archived")

    page.once("dialog", lambda dialog: dialog.accept())
    await models.get_by_role("button", name=f"Delete {name} v2").click()
    await expect(models.get_by_role("row").filter(has_text="version 2")).to_have_count(0)
    names = {(m["model_name"], m["version"]) for m in api.get("/api/optimization/models").json()["models"]}
    assert (name, 1) in names and (name, 2) not in names

    # archiving the active version leaves SO without one: Run SO says why it is disabled
    await models.get_by_role("button", name=f"Archive {name} v1").click()
    await expect(page.get_by_role("button", name="Run SO")).to_be_disabled()
    await expect(signed_in.control("SO")).to_contain_text("Run is disabled: no active SO model")
    assert signed_in.console_errors == []


async def test_bell_counts_unread_notifications_and_marks_them_read(signed_in, api, keep_active_models):
    api.post("/api/optimization/notifications/read", json={})
    assert upload(api, f"page_bell_{uuid.uuid4().hex[:8]}.py", PRINTER, "SO").status_code == 201  # notifies "Model uploaded"
    page = signed_in.page
    await page.reload()
    bell = page.get_by_role("button", name="Notifications: 1 unread")
    await bell.click()
    await expect(page.get_by_role("region", name="Notifications")).to_contain_text("Model uploaded")
    await page.get_by_role("button", name="Mark all read").click()
    await expect(page.get_by_role("button", name="Notifications: 0 unread")).to_be_visible()
    assert api.get("/api/optimization/notifications").json()["unread"] == 0
