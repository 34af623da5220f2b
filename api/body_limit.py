"""Bounds a request body while it streams: past its route's limit the request is answered 413
before any handler has read it whole (a 10 GB upload costs the facade 10 MB, not 10 GB)."""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from optbox.protocol import FLOW_BODY_LIMIT_BYTES

JSON_BODY_LIMIT = 1024 * 1024
MULTIPART_OVERHEAD = 64 * 1024


class BodyLimit:
    def __init__(self, app: ASGIApp, upload_bytes: int) -> None:
        self.app = app
        self.upload_bytes = upload_bytes

    def limit_for(self, path: str) -> int:
        if path in ("/api/optimization/upload", "/api/optimization/datasources"):
            return self.upload_bytes + MULTIPART_OVERHEAD
        if path.startswith("/api/internal/"):
            return FLOW_BODY_LIMIT_BYTES
        return JSON_BODY_LIMIT

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _refuse(send, limit)
            return
        received = 0
        started = refused = False

        async def counting_receive() -> Message:
            # Past the limit: answer 413 now and tell the app the client left (an exception
            # would be turned into a 400 by FastAPI's body parsing); whatever it sends after is dropped.
            nonlocal received, refused
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit and not refused:
                    refused = True
                    if not started:
                        await _refuse(send, limit)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if refused:
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        await self.app(scope, counting_receive, guarded_send)


async def _refuse(send: Send, limit: int) -> None:
    body = json.dumps({"success": False, "error": f"request body is larger than {limit // 1024} KB", "details": {"limit": limit}}).encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})
