"""The line stream (api/line_stream.py) driven by the flows' own shipper (flows/shipper.py), against the
running stack: lines stored once each and in order, live in order; refusals close the stream with their
status and leave the facade serving. A facade killed mid-stream: tests/api/test_lifecycle.py."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from flows.facade import FacadeClient, FacadeRefused
from flows.shipper import LineShipper
from optbox.protocol import LogLevel, LogLine, ModelType, Report, RunClaim, Stream
from tests.conftest import all_lines, execute


@pytest.fixture
def waiting_job(api, so_queue_paused) -> str:
    """A job that never starts (its queue is paused): the test is the only one shipping its lines."""
    job_id = execute(api, "SO")["jobId"]
    yield job_id
    api.post(f"/api/optimization/jobs/{job_id}/cancel")


def worker_token(stack) -> str:
    return (stack.data_dir / "worker_token").read_text().strip()


def line(seq: int) -> LogLine:
    return LogLine(seq=seq, timestamp=datetime.now(UTC), level=LogLevel.INFO, stream=Stream.stdout, message=f"streamed {seq}")


async def ship(facade: FacadeClient, job_id: str, count: int) -> LineShipper:
    """Put `count` lines, fifty at a time with a pause between (as a model prints), then drain."""
    shipper = LineShipper(facade, job_id, attempt=1)
    shipper.start()
    for seq in range(1, count + 1):
        shipper.put(line(seq))
        if seq % 50 == 0:
            await asyncio.sleep(0.001)
    await shipper.drain()
    return shipper


async def test_streamed_lines_are_stored_once_each_in_order_and_broadcast_in_order(stack, api, events, waiting_job):
    facade = FacadeClient(stack.api_url, token=worker_token(stack))
    try:
        shipper = await ship(facade, waiting_job, 3000)
    finally:
        await facade.aclose()
    assert shipper.backlog == 0 and shipper.shipped_through == 3000
    stored = await asyncio.to_thread(all_lines, api, waiting_job)
    assert [(row["seq"], row["message"]) for row in stored] == [(seq, f"streamed {seq}") for seq in range(1, 3001)]
    await events.wait_for(lambda: len(events.of("optimization:log", waiting_job)) >= 3000, 30, "every line live")
    assert [event["seq"] for event in events.of("optimization:log", waiting_job)] == list(range(1, 3001))


async def test_a_stream_opened_while_the_run_is_claimed_carries_the_claimed_job_into_its_events(stack, api, events, waiting_job):
    """A flow opens its stream during its claim (flows/market.py): the lines' progress events say the run
    as the claim left it (running, its attempt), not as it was when the stream opened."""
    facade = FacadeClient(stack.api_url, token=worker_token(stack), give_up_after_s=30)
    shipper = LineShipper(facade, waiting_job, attempt=1)
    try:
        shipper.start()
        await asyncio.sleep(0.5)  # the stream is open before the claim
        claim = RunClaim(flow_run_id=str(uuid.uuid4()), model_type=ModelType.SO, job_id=waiting_job)
        claimed = await facade.claim(claim)
        shipper.put(line(claimed.next_seq).model_copy(update={"report": Report(progress=40)}))
        await shipper.drain()
    finally:
        await facade.aclose()
    progress = await events.wait_for(lambda: [e for e in events.of("optimization:status", waiting_job) if e.get("progress") == 40], 30, "the progress event")
    assert (progress[0]["status"], progress[0]["attempt"]) == ("running", 1)


@pytest.mark.parametrize(("who", "job", "status"), [
    ("nobody", "waiting", 401), ("viewer", "waiting", 403), ("worker", "no-such-job", 404),
])
async def test_a_refused_stream_raises_the_refusal_in_the_flow(stack, api, waiting_job, who, job, status):
    token = {"nobody": "", "worker": worker_token(stack)}.get(who)
    if who == "viewer":
        response = api.post("/api/auth/keys", json={"name": f"stream-{status}", "role": "viewer"})
        token = response.json()["key"]
    facade = FacadeClient(stack.api_url, token=token, give_up_after_s=30)
    try:
        with pytest.raises(FacadeRefused) as refused:
            await ship(facade, waiting_job if job == "waiting" else job, 10)
    finally:
        await facade.aclose()
    assert refused.value.status_code == status
    assert await asyncio.to_thread(all_lines, api, waiting_job) == []


async def test_a_frame_that_is_no_log_batch_is_refused_with_422_and_the_facade_keeps_serving(stack, api, waiting_job):
    url = stack.api_url.replace("http", "ws", 1) + f"/api/internal/jobs/{waiting_job}/logs/stream"
    async with connect(url, additional_headers={"Authorization": f"Bearer {worker_token(stack)}"}) as socket:
        await socket.send(b'{"lines": [{"seq": "one"}]}')
        with pytest.raises(ConnectionClosed) as closed:
            await socket.recv()
    assert closed.value.rcvd.code == 4422 and "invalid log batch" in closed.value.rcvd.reason
    assert httpx.get(f"{stack.api_url}/api/health").status_code == 200
    assert await asyncio.to_thread(all_lines, api, waiting_job) == []
