"""Ships a job's lines to the facade in order, over one WebSocket, until each is acknowledged.

Lines go out as they are put, without waiting for the facade's answer to the lines before: the socket
keeps them in order, and the facade stores whatever has arrived during its last commit as one batch
(api/line_stream.py). Sending a batch and waiting for its answer before the next, as over HTTP, made a
line wait for the batch in flight and then its own round trip. At most MAX_FRAMES_IN_FLIGHT frames are
unanswered; past that, lines gather here into the next frame.

A line stays here until the facade says it is stored. When the socket drops (a facade restart, an
error while storing), the shipper connects again and sends every unacknowledged line again; the
facade stores each (job, seq) once, so a resend is harmless. Connecting is retried by the facade
client's policy; a refusal (4xx) is raised as FacadeRefused.
"""

from __future__ import annotations

import asyncio

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from flows.facade import FacadeClient, refusal_of
from optbox.protocol import LogBatch, LogBatchAck, LogLine

MAX_BATCH_LINES = 2000
MAX_BATCH_BYTES = 8 * 1024 * 1024  # a frame's JSON, under uvicorn's 16 MB WebSocket message limit
MAX_FRAMES_IN_FLIGHT = 8


class StreamLost(ConnectionError):
    """The socket dropped before the facade acknowledged anything on it (transient: retried)."""


class LineShipper:
    def __init__(self, facade: FacadeClient, job_id: str, attempt: int) -> None:
        self._facade = facade
        self._job_id = job_id
        self._attempt = attempt
        self._pending: list[LogLine] = []  # unacknowledged, in seq order; the first `_sent` are on the wire
        self._sent = 0
        self._frame_ends: list[int] = []  # the last seq of each frame on the wire
        self._acked_on_socket = False
        self._wake = asyncio.Event()
        self._closed = False
        self._task: asyncio.Task[None] | None = None
        self.shipped_through = 0

    def start(self) -> None:
        """Open the stream (once): lines put before it is open wait for it."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"ship-lines-{self._job_id}")

    async def abandon(self) -> None:
        """Close a stream nothing was put on (a run whose claim was refused)."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    @property
    def backlog(self) -> int:
        """Lines put but not yet acknowledged."""
        return len(self._pending)

    def put(self, line: LogLine) -> None:
        self._pending.append(line)
        self._wake.set()

    async def drain(self) -> None:
        """Wait until every line put so far is acknowledged (or the facade client gives up)."""
        self._closed = True
        self._wake.set()
        if self._task is not None:
            await self._task

    async def _run(self) -> None:
        finished = False
        while not finished:  # each pass: a fresh give-up clock, from the moment the socket was lost
            async for attempt in self._facade.retrying():
                with attempt:
                    finished = await self._stream_once()

    async def _stream_once(self) -> bool:
        """Ship over one socket: True once drain() was called and everything is acknowledged; False when
        the socket was lost after the facade acknowledged lines on it (or while nothing was waiting)."""
        self._sent, self._frame_ends, self._acked_on_socket = 0, [], False
        try:
            async with self._facade.line_stream(self._job_id) as socket:
                acks = asyncio.create_task(self._read_acks(socket), name=f"line-acks-{self._job_id}")
                try:
                    while not (self._closed and not self._pending):
                        while self._sent < len(self._pending) and len(self._frame_ends) < MAX_FRAMES_IN_FLIGHT:
                            await socket.send(self._next_frame())
                        if acks.done():
                            acks.result()  # the socket's error, if it ended with one
                            raise StreamLost("the facade closed the line stream")
                        await self._wake.wait()
                        self._wake.clear()
                    return True
                finally:
                    acks.cancel()
                    await asyncio.gather(acks, return_exceptions=True)
        except (ConnectionClosed, StreamLost, OSError, TimeoutError) as exc:
            if (refused := refusal_of(exc)) is not None:
                raise refused from exc
            if self._acked_on_socket or not self._pending:
                return False
            raise StreamLost(f"the line stream was lost before any line was acknowledged: {exc!r}") from exc

    def _next_frame(self) -> bytes:
        unsent = self._pending[self._sent:self._sent + MAX_BATCH_LINES]
        count, size = 0, 0
        for line in unsent:
            size += len(line.message) + 200
            if count and size > MAX_BATCH_BYTES:
                break
            count += 1
        frame = LogBatch(attempt=self._attempt, lines=unsent[:count]).model_dump_json().encode()
        while len(frame) > MAX_BATCH_BYTES and count > 1:  # escapes can make JSON far longer than the text
            count //= 2
            frame = LogBatch(attempt=self._attempt, lines=unsent[:count]).model_dump_json().encode()
        self._sent += count
        self._frame_ends.append(unsent[count - 1].seq)
        return frame

    async def _read_acks(self, socket: ClientConnection) -> None:
        """Drop lines as the facade acknowledges them."""
        try:
            async for message in socket:
                through = LogBatchAck.model_validate_json(message).max_seq
                done = 0
                while done < self._sent and self._pending[done].seq <= through:
                    done += 1
                del self._pending[:done]
                self._sent -= done
                self._frame_ends = [end for end in self._frame_ends if end > through]
                self.shipped_through = max(self.shipped_through, through)
                self._acked_on_socket = self._acked_on_socket or done > 0
                self._wake.set()
        finally:
            self._wake.set()
