"""Signing in to the page: the link `make run` prints, the key form, and what a viewer may not do."""

from __future__ import annotations

import re

from playwright.async_api import expect

from harness.stack import ADMIN_TOKEN


async def test_page_without_a_session_asks_for_the_key_and_the_form_signs_in(anonymous_page):
    page = anonymous_page
    errors = []
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    await page.goto("/")
    await expect(page).to_have_url(re.compile(r"/sandbox$"))
    await page.get_by_label("API key").fill(ADMIN_TOKEN)
    await page.get_by_label("API key").press("Enter")
    await expect(page).to_have_url(re.compile(r"/sandbox$"))  # the token left the address bar
    await expect(page.get_by_role("status", name="Connection: Live")).to_be_visible()
    await expect(page.get_by_text("admin (admin)")).to_be_visible()
    cookie = next(c for c in await page.context.cookies() if c["name"] == "optbox_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert await page.evaluate("document.cookie") == ""  # scripts never see the key
    assert errors == []


async def test_sign_in_link_of_a_viewer_shows_runs_but_says_why_it_may_not_start_one(anonymous_page, api):
    key = api.post("/api/auth/keys", json={"name": "page-viewer", "role": "viewer"}).json()["key"]
    page = anonymous_page
    await page.goto(f"/sandbox?token={key}")
    await expect(page.get_by_text("page-viewer (viewer)")).to_be_visible()
    await expect(page.get_by_role("status", name="Connection: Live")).to_be_visible()
    await expect(page.get_by_role("button", name="Run SO")).to_be_disabled()
    await expect(page.get_by_role("group", name="SO controls")).to_contain_text("your key's role (viewer) may not start runs")
    await expect(page.get_by_role("button", name="Upload")).to_be_disabled()
    await expect(page.get_by_role("table", name="Run history")).to_be_visible()


async def test_stale_sign_in_link_says_so_and_leads_to_the_form(anonymous_page, anonymous_expects):
    anonymous_expects.append("the server responded with a status of 401")  # the stale link's answer, which the page explains
    page = anonymous_page
    response = await page.goto("/sandbox?token=revoked-or-mistyped")
    assert response.status == 401
    await expect(page.get_by_text("This sign-in link's token is invalid or revoked.")).to_be_visible()
    await page.get_by_role("link", name="Sign in").click()
    await expect(page.get_by_label("API key")).to_be_visible()
