"""Real alert receivers on free local ports: an HTTP server taking webhook POSTs and an SMTP server
(aiosmtpd) taking mail, with login. Each records what it got; the alert tests and a manual try of
OPTBOX_ALERT_WEBHOOK_URL / OPTBOX_SMTP_URL use them."""

from __future__ import annotations

import email
import email.policy
import json
import threading
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from harness.stack import free_port


@dataclass
class WebhookReceiver:
    """Takes POSTs to `path`; `answer` is the status it replies (set 500 to play a destination that is down)."""

    path: str = "/hooks/T000/secret-webhook-token"
    port: int = field(default_factory=free_port)
    answer: int = 200
    bodies: list[dict] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.path}"

    def start(self) -> WebhookReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.path == receiver.path and receiver.answer < 300:
                    receiver.bodies.append(json.loads(body))
                self.send_response(receiver.answer if self.path == receiver.path else 404)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, name="webhook-receiver", daemon=True).start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def of(self, job_id: str, event: str | None = None) -> list[dict]:
        return [b for b in self.bodies if b.get("jobId") == job_id and (event is None or b.get("event") == event)]


@dataclass
class SmtpReceiver:
    """An SMTP server asking for `username`/`password` (AUTH without TLS, as on a local relay)."""

    username: str = "alerts"
    password: str = "smtp-secret-pass"
    port: int = field(default_factory=free_port)
    messages: list[EmailMessage] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"smtp://{self.username}:{self.password}@127.0.0.1:{self.port}"

    def start(self) -> SmtpReceiver:
        receiver = self

        class Handler:
            async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 - aiosmtpd's name
                receiver.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
                return "250 OK"

        def authenticate(server, session, envelope, mechanism, auth_data) -> AuthResult:
            ok = isinstance(auth_data, LoginPassword) and auth_data.login.decode() == self.username and auth_data.password.decode() == self.password
            if ok:
                receiver.logins.append(auth_data.login.decode())
            return AuthResult(success=ok)

        self._controller = Controller(Handler(), hostname="127.0.0.1", port=self.port, authenticator=authenticate,
                                      auth_required=True, auth_require_tls=False)
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    def of(self, job_id: str, event_word: str | None = None) -> list[EmailMessage]:
        return [m for m in self.messages if job_id in m["Subject"] and (event_word is None or event_word in m["Subject"])]
