"""The line's announcements are coalesced (api/queue.py): a burst of executes and cancels still
leaves every waiting run with its right place on Socket.IO, and a run's places only move forward."""

from __future__ import annotations

import asyncio

import httpx

from harness.stack import ADMIN_TOKEN
from tests.conftest import EventRecorder, job


def last_place(events: EventRecorder, job_id: str) -> int | None:
    places = [e["queuePosition"] for e in events.of("optimization:status", job_id) if e.get("queued")]
    return places[-1] if places else None


def places_of(events: EventRecorder, job_id: str) -> list[int]:
    return [e["queuePosition"] for e in events.of("optimization:status", job_id) if e.get("queued")]


async def announced_as_listed(api: httpx.Client, events: EventRecorder, job_ids: list[str]) -> dict[str, int]:
    """Wait until the last place announced for each run is the place the API lists for it."""
    async def settled() -> dict[str, int] | None:
        listed = {job_id: (await asyncio.to_thread(job, api, job_id))["queue_position"] for job_id in job_ids}
        return listed if all(last_place(events, job_id) == place for job_id, place in listed.items()) else None

    deadline = asyncio.get_running_loop().time() + 30
    while (listed := await settled()) is None:
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"announced {[(j, places_of(events, j)) for j in job_ids]} but listed {listed}")
        await asyncio.sleep(0.2)
    return listed


async def test_a_burst_of_executes_and_cancels_leaves_every_run_its_right_place(api, stack, events, so_queue_paused):
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=30, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}) as client:
        async def execute() -> str:
            response = await client.post("/api/optimization/execute", json={"modelType": "SO", "config": {}})
            assert response.status_code == 202, response.text
            return response.json()["jobId"]

        ids = [await execute()]  # one first, so the order of the rest is known to follow it
        ids += await asyncio.gather(*(execute() for _ in range(7)))
        try:
            listed = await announced_as_listed(api, events, ids)
            first = listed[ids[0]]
            assert sorted(listed.values()) == list(range(first, first + 8)) and first == min(listed.values())  # one place each, none shared, no gap

            in_line = sorted(ids, key=listed.get)
            for job_id in in_line[:3]:  # the head of our line leaves, one at a time
                assert (await client.post(f"/api/optimization/jobs/{job_id}/cancel")).status_code == 200
            moved = await announced_as_listed(api, events, in_line[3:])
            assert moved == {job_id: listed[job_id] - 3 for job_id in in_line[3:]}  # each moved up three places
            for job_id in ids:
                places = places_of(events, job_id)
                assert places == sorted(places, reverse=True), (job_id, places)  # a run's place only moves forward
        finally:
            for job_id in ids:
                await client.post(f"/api/optimization/jobs/{job_id}/cancel")
