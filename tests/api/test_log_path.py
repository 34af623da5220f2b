"""The live-log path under volume: a burst and several runs at once lose no line and keep
seq order, live (Socket.IO) and stored (JobLog). Timings live in `make bench`, not here."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.conftest import EventRecorder, all_lines, execute, upload

MODELS = Path(__file__).parent.parent / "models"


def _printer(api) -> int:
    response = upload(api, "printer.py", (MODELS / "printer.py").read_bytes(), "SO")
    assert response.status_code == 201, response.text
    return response.json()["model"]["id"]


def _assert_every_line_once_in_order(live: list[dict], stored: list[dict], count: int) -> None:
    printed = [f"line {i} of {count}" for i in range(1, count + 1)]
    assert [line["seq"] for line in live] == list(range(1, len(live) + 1))
    assert [line["message"] for line in live if line["message"].startswith("line ")] == printed
    assert [(line["seq"], line["message"]) for line in stored] == [(line["seq"], line["message"]) for line in live]


async def test_a_burst_arrives_live_and_stored_once_each_in_order(stack, api, events, keep_active_models):
    model_id = await asyncio.to_thread(_printer, api)
    count = 30_000
    started = await asyncio.to_thread(execute, api, "SO", modelId=model_id, config={"lines": count})
    job_id = started["jobId"]
    await events.wait_for(lambda: events.of("optimization:completed", job_id) or events.of("optimization:failed", job_id), 240, "the burst run to end")
    assert events.of("optimization:completed", job_id)
    stored = await asyncio.to_thread(all_lines, api, job_id)
    _assert_every_line_once_in_order(events.of("optimization:log", job_id), stored, count)


async def test_runs_streaming_at_once_each_keep_every_line_in_order(stack, api, keep_active_models):
    model_id = await asyncio.to_thread(_printer, api)
    count, runs = 2_000, 4
    # a client in the lobby and in each job's room: fan-out must neither duplicate nor drop a line
    async with EventRecorder(stack.api_url) as watcher:
        job_ids = [(await asyncio.to_thread(execute, api, "SO", modelId=model_id, config={"lines": count, "delay": 0.001}))["jobId"]
                   for _ in range(runs)]
        for job_id in job_ids:
            assert (await watcher.client.call("optimization:subscribe", {"jobId": job_id}))["ok"]
        await watcher.wait_for(lambda: all(watcher.of("optimization:completed", j) or watcher.of("optimization:failed", j) for j in job_ids),
                               240, "every run to end")
    for job_id in job_ids:
        assert watcher.of("optimization:completed", job_id)
        stored = await asyncio.to_thread(all_lines, api, job_id)
        _assert_every_line_once_in_order(watcher.of("optimization:log", job_id), stored, count)
