"""The shipper without a facade to take its lines: it gives up when the facade client does, and says so."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from websockets.exceptions import InvalidMessage

from flows.facade import FacadeClient
from flows.shipper import LineShipper
from harness.stack import free_port
from optbox.protocol import LogLevel, LogLine, Stream


async def test_lines_no_facade_took_are_kept_and_the_drain_fails_after_the_give_up_time():
    facade = FacadeClient(f"http://127.0.0.1:{free_port()}", token="worker", give_up_after_s=1)
    shipper = LineShipper(facade, "a-job", attempt=1)
    shipper.start()
    shipper.put(LogLine(seq=1, timestamp=datetime.now(UTC), level=LogLevel.INFO, stream=Stream.stdout, message="nobody hears this"))
    try:
        with pytest.raises(ConnectionError):
            await shipper.drain()
    finally:
        await facade.aclose()
    assert shipper.backlog == 1 and shipper.shipped_through == 0


async def test_a_facade_that_drops_the_handshake_is_tried_again_until_the_give_up_time():
    """A facade going down or coming up mid-handshake closes the connection without an HTTP answer; that is
    as transient as a refused connection (once, it failed a flow run whose facade restarted)."""
    handshakes = 0

    async def hang_up(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal handshakes
        handshakes += 1
        writer.close()

    server = await asyncio.start_server(hang_up, "127.0.0.1", 0)
    facade = FacadeClient(f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}", token="worker", give_up_after_s=1)
    shipper = LineShipper(facade, "a-job", attempt=1)
    shipper.start()
    shipper.put(LogLine(seq=1, timestamp=datetime.now(UTC), level=LogLevel.INFO, stream=Stream.stdout, message="once the facade is back"))
    try:
        with pytest.raises(InvalidMessage):
            await shipper.drain()
    finally:
        await facade.aclose()
        server.close()
    assert handshakes > 1 and shipper.backlog == 1
