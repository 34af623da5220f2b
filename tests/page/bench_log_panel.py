"""Measure the live log panel under 100,000 lines (not part of the suite: timings are not assertions).

    .venv/bin/python -m tests.page.bench_log_panel [LINES]

Starts a stack, runs tests/models/printer.py with CONFIG {"lines": LINES} from the page, and prints
how long the page took to show every line, its JS heap, the rows in the DOM, and the longest frame
gap while the lines streamed in.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

import httpx
from playwright.async_api import async_playwright, expect

from harness.stack import ADMIN_TOKEN, PROJECT_DIR, Stack
from tests.conftest import upload, wait_for_job
from tests.page.conftest import CHROMIUM, CHROMIUM_ARGS, VIEWPORT

FRAME_PROBE = """() => { window.__gaps = []; let last = performance.now();
  const tick = (now) => { window.__gaps.push(now - last); last = now; requestAnimationFrame(tick); };
  requestAnimationFrame(tick); }"""


async def measure(lines: int) -> None:
    stack = Stack(Path(tempfile.mkdtemp(prefix="optbox-bench-"))).start()
    try:
        with httpx.Client(base_url=stack.api_url, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=30) as api:
            upload(api, "bench_printer.py", (PROJECT_DIR / "tests" / "models" / "printer.py").read_bytes(), "RMO")
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
            page = await browser.new_page(viewport=VIEWPORT, base_url=stack.api_url)
            await page.goto(f"/sandbox?token={ADMIN_TOKEN}")
            await expect(page.get_by_role("status", name="Connection: Live")).to_be_visible()
            await page.get_by_text("Run options").click()
            await page.get_by_label("Options for").select_option("RMO")
            await page.get_by_label("Config (JSON)").fill(json.dumps({"lines": lines}))
            await page.evaluate(FRAME_PROBE)
            started = time.monotonic()
            async with page.expect_response("**/api/optimization/execute") as executed:
                await page.get_by_role("button", name="Run RMO").click()
            job_id = (await (await executed.value).json())["jobId"]
            with httpx.Client(base_url=stack.api_url, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=30) as api:
                job = await asyncio.to_thread(wait_for_job, api, job_id, timeout=900)
            stored = time.monotonic() - started
            await expect(page.get_by_test_id("line-count")).to_have_text(f"{job['last_seq']} lines", timeout=600_000)
            elapsed = time.monotonic() - started
            gaps = await page.evaluate("window.__gaps")
            client = await page.context.new_cdp_session(page)
            await client.send("HeapProfiler.collectGarbage")
            heap = (await client.send("Runtime.getHeapUsage"))["usedSize"]
            rows = await page.locator(".log-scroll [data-seq]").count()
            print(f"{lines} printed, {job['last_seq']} lines: all stored {stored:.1f} s and all shown {elapsed:.1f} s after Run; JS heap {heap / 2**20:.0f} MiB; "
                  f"{rows} rows in the DOM; longest frame gap {max(gaps):.0f} ms, "
                  f"frames over 50 ms: {sum(g > 50 for g in gaps)} of {len(gaps)}")
            await browser.close()
    finally:
        stack.stop()


if __name__ == "__main__":
    asyncio.run(measure(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000))
