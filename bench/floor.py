"""The floor: a subprocess's lines forwarded by one asyncio reader over python-socketio.

`python -m bench.floor PORT` serves a bare python-socketio server. A client that emits
`start` {count, rate} gets the ticker's lines as `line` events (one per line, as
optbox sends `optimization:log`), then `done`. No storage, no batching, no HTTP hop:
what the same machine, library and client cost at the least.
"""

from __future__ import annotations

import asyncio
import json
import sys

import socketio
import uvicorn

from bench import TICKER

sio = socketio.AsyncServer(async_mode="asgi")


@sio.on("start")
async def start(sid, config):
    asyncio.create_task(forward(sid, config))


async def forward(sid: str, config: dict) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-u", str(TICKER), env={"CONFIG": json.dumps(config)}, stdout=asyncio.subprocess.PIPE,
    )
    while line := await process.stdout.readline():
        await sio.emit("line", {"message": line.decode().rstrip("\n")}, to=sid)
    await process.wait()
    await sio.emit("done", {}, to=sid)


if __name__ == "__main__":
    uvicorn.run(socketio.ASGIApp(sio), host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", ws="websockets-sansio")
