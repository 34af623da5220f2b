"""Browser fixtures: one headless Debian Chromium for the whole session (never a downloaded
browser), and per test a fresh 1366×768 context signed in through the sign-in link."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, async_playwright, expect

from harness.stack import ADMIN_TOKEN, PROJECT_DIR, Stack

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
ARTIFACTS = PROJECT_DIR / "test-artifacts"
VIEWPORT = {"width": 1366, "height": 768}

expect.set_options(timeout=30_000)


@dataclass
class SignedIn:
    page: Page
    console_errors: list[str] = field(default_factory=list)
    expected: list[str] = field(default_factory=list)  # parts of console errors the test means to cause

    def errors_besides(self, *statuses: int) -> list[str]:
        """Console errors, less Chromium's note on each answer of an expected 4xx status (the page shows those).
        The statuses stay expected for the check every page test ends with."""
        self.expected += [f"the server responded with a status of {status}" for status in statuses]
        return self.unexpected_errors()

    def expect_errors(self, *parts: str) -> None:
        """Console errors containing one of `parts` are what this test causes (a server it restarts, say)."""
        self.expected += parts

    def unexpected_errors(self) -> list[str]:
        return [error for error in self.console_errors if not any(part in error for part in self.expected)]

    def control(self, model_type: str):
        return self.page.get_by_role("group", name=f"{model_type} controls")

    def log_rows(self, job_id: str):
        return self.page.get_by_role("log", name="Live log").locator(f'[data-job="{job_id}"]')


@pytest.fixture(scope="session")
async def browser() -> Browser:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium (.ci/run does)")
    ARTIFACTS.mkdir(exist_ok=True)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield browser
        await browser.close()


async def new_context(browser: Browser, stack: Stack):
    return await browser.new_context(viewport=VIEWPORT, base_url=stack.api_url, accept_downloads=True)


@pytest.fixture
async def signed_in(browser: Browser, stack: Stack) -> SignedIn:
    context = await new_context(browser, stack)
    page = await context.new_page()
    session = SignedIn(page)
    page.on("console", lambda message: message.type == "error" and session.console_errors.append(message.text))
    page.on("pageerror", lambda error: session.console_errors.append(str(error)))
    await page.goto(f"/sandbox?token={ADMIN_TOKEN}")
    await expect(page).to_have_url(re.compile(r"/sandbox$"))
    await expect(page.get_by_role("status", name="Connection: Live")).to_be_visible()
    yield session
    await context.close()
    # every page test ends checking the browser's console: an error the test did not mean to cause fails it
    assert session.unexpected_errors() == [], session.unexpected_errors()


@pytest.fixture
def anonymous_expects() -> list[str]:
    """Parts of console errors an anonymous page's test means to cause."""
    return []


@pytest.fixture
async def anonymous_page(browser: Browser, stack: Stack, anonymous_expects: list[str]) -> Page:
    context = await new_context(browser, stack)
    page = await context.new_page()
    errors: list[str] = []
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    await context.close()
    unexpected = [error for error in errors if not any(part in error for part in anonymous_expects)]
    assert unexpected == [], unexpected