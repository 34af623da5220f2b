"""Batched live lines: a client that connects with `batch: true` gets `optimization:logs` (a job's lines in
seq order, grouped) instead of one `optimization:log` per line; per-line clients are unchanged; a batched
client too far behind is held back and told where to replay from, never silently skipped."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import struct
from pathlib import Path
from urllib.parse import urlparse

from harness.stack import ADMIN_TOKEN
from tests.conftest import EventRecorder, all_lines, execute, upload

MODELS = Path(__file__).parent.parent / "models"


def _printer(api) -> int:
    response = upload(api, "printer.py", (MODELS / "printer.py").read_bytes(), "SO")
    assert response.status_code == 201, response.text
    return response.json()["model"]["id"]


async def _run_to_the_end(api, events: EventRecorder, model_id: int, config: dict) -> str:
    job_id = (await asyncio.to_thread(execute, api, "SO", modelId=model_id, config=config))["jobId"]
    await events.wait_for(lambda: events.of("optimization:completed", job_id) or events.of("optimization:failed", job_id), 240, "the run to end")
    assert events.of("optimization:completed", job_id), events.of("optimization:failed", job_id)
    return job_id


async def test_batched_clients_get_every_line_in_batches_and_per_line_clients_are_unchanged(stack, api, keep_active_models):
    model_id = await asyncio.to_thread(_printer, api)
    count = 5_000
    async with EventRecorder(stack.api_url, batch=True) as batched, EventRecorder(stack.api_url) as per_line:
        job_id = await _run_to_the_end(api, batched, model_id, {"lines": count})
        await per_line.wait_for(lambda: per_line.of("optimization:completed", job_id), 60, "the per-line client's completed event")
        stored = await asyncio.to_thread(all_lines, api, job_id)
        batches = batched.of("optimization:logs", job_id)
        assert batched.of("optimization:log") == [] and per_line.of("optimization:logs") == []
        # fewer events than lines, each batch in seq order and the batches one after another: no gap, no repeat
        assert 1 <= len(batches) < count
        assert all(batch["modelType"] == "SO" and batch["lines"] for batch in batches)
        live = batched.lines_of(job_id)
        assert [line["seq"] for line in live] == list(range(1, len(stored) + 1))
        assert [(line["seq"], line["message"]) for line in live] == [(line["seq"], line["message"]) for line in stored]
        assert [f"line {i} of {count}" for i in range(1, count + 1)] == [m for line in live if (m := line["message"]).startswith("line ")]
        assert [(line["seq"], line["message"]) for line in per_line.of("optimization:log", job_id)] == [(line["seq"], line["message"]) for line in stored]
        # job events reach batched clients too
        assert batched.of("optimization:started", job_id) and batched.of("optimization:completed", job_id)


class StalledSocketIoClient:
    """A Socket.IO client over one websocket that reads nothing until told to: the server's writes to it stall
    (its kernel buffers fill), as with a frozen tab or a slow link. Raw on purpose: client libraries read into
    buffers of their own behind the test's back."""

    def __init__(self, api_url: str) -> None:
        self.url = urlparse(api_url)

    async def connect(self, auth: dict) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.url.hostname, self.url.port)
        # a small receive buffer, so the stall reaches the server soon (asyncio stops reading at twice its 64 KiB limit)
        self.writer.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        key = base64.b64encode(os.urandom(16)).decode()
        self.writer.write((f"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: {self.url.netloc}\r\nUpgrade: websocket\r\n"
                           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
        head = await self.reader.readuntil(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101"), head
        assert (await self.frame()).startswith("0")  # engine.io open
        self.send("40" + json.dumps(auth))  # joined (or refused) is read with the rest

    def send(self, text: str | bytes, opcode: int = 0x1) -> None:
        data, mask = text.encode() if isinstance(text, str) else text, os.urandom(4)
        header = bytes([0x80 | opcode]) + (bytes([0x80 | len(data)]) if len(data) < 126 else bytes([0x80 | 126]) + struct.pack("!H", len(data)))
        self.writer.write(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))

    async def frame(self) -> str:
        """The next text message; websocket pings are answered on the way."""
        while (message := await self._frame()) is None:
            pass
        return message

    async def _frame(self) -> str | None:
        first, second = await self.reader.readexactly(2)
        length = second & 0x7F
        if length == 126:
            length = struct.unpack("!H", await self.reader.readexactly(2))[0]
        elif length == 127:
            length = struct.unpack("!Q", await self.reader.readexactly(8))[0]
        payload = await self.reader.readexactly(length)
        if first & 0x0F == 0x9:  # ping
            self.send(payload, opcode=0xA)
            return None
        assert first & 0x0F == 0x1, f"opcode {first & 0x0F}: {payload[:80]!r}"
        return payload.decode()

    async def read_all(self, quiet_s: float = 5) -> list[tuple[str, dict]]:
        """Every event it was sent, answering pings, until nothing comes for `quiet_s`."""
        events = []
        while True:
            try:
                text = await asyncio.wait_for(self.frame(), quiet_s)
            except TimeoutError:
                return events
            if text == "2":
                self.send("3")
            elif text.startswith("42"):
                events.append(tuple(json.loads(text[2:])[:2]))

    def close(self) -> None:
        self.writer.close()


async def test_a_batched_client_that_falls_behind_is_told_to_replay_and_loses_no_line(stack, api, keep_active_models):
    """While a run floods, a stalled batched client is held back and told `afterSeq` once; what it got live plus a
    replay after that seq is every line once. A client that keeps up meanwhile gets every batch."""
    model_id = await asyncio.to_thread(_printer, api)
    count = 8_000  # 16 MB: past the kernel's socket buffers (a few MB), then past MAX_BACKLOG batches of 64 KB
    slow = StalledSocketIoClient(stack.api_url)
    await slow.connect({"token": ADMIN_TOKEN, "batch": True})
    try:
        async with EventRecorder(stack.api_url, batch=True) as fast:
            job_id = (await asyncio.to_thread(execute, api, "SO", modelId=model_id, config={"lines": count, "width": 2_000}))["jobId"]
            await fast.wait_for(lambda: fast.of("optimization:completed", job_id), 240, "the flood to end")
            events = await slow.read_all()
    finally:
        slow.close()
    assert ("connected", events[0][1]) in events and events[0][1]["batch"] is True
    replay = [data for name, data in events if name == "optimization:replay" and data["jobId"] == job_id]
    batches = [data for name, data in events if name == "optimization:logs" and data["jobId"] == job_id]
    assert len(replay) == 1, f"{len(batches)} batches and no replay notice: the client never fell behind"
    after_seq = replay[0]["afterSeq"]
    live = [line["seq"] for batch in batches for line in batch["lines"]]
    assert live == sorted(live) and len(set(live)) == len(live)
    assert after_seq == 0 or after_seq in live  # it stopped right after a line it was sent
    stored = await asyncio.to_thread(all_lines, api, job_id)
    replayed = [line["seq"] for line in stored if line["seq"] > after_seq]
    assert sorted(set(live) | set(replayed)) == [line["seq"] for line in stored] == list(range(1, len(stored) + 1))
    assert not fast.of("optimization:replay", job_id)
    assert [line["seq"] for line in fast.lines_of(job_id)] == list(range(1, len(stored) + 1))
