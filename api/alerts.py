"""Alerts to the operations floor: a run failed, crashed or is late, and the recovery after it.

Entry points:
- `AlertConfig.from_settings`: the destinations (webhook, email) and rules, with whatever is wrong
  with them as `problems` (logged at start, shown in /api/health); a bad value disables that one
  destination, never the role.
- `record_outcome` / `record_late`: called where a run's status moves (api/runs.py, api/mirror.py), in
  the same transaction. One row per event key (storage/alerts.py), so replicas and repeated mirror
  passes alert once, and a facade that was down catches up through the mirror when it returns.
- `AlertSender`: every replica polls the outbox; the one holding a row's lease sends it, retrying
  with backoff off the request path, so a destination that is down slows neither runs nor the API.

Secrets (the webhook URL's path and query, the SMTP password) never leave this module unmasked:
answers show `masked()`, errors pass through `scrub()` before they are stored or logged.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib
import httpx
from sqlalchemy.ext.asyncio import AsyncSession
from tenacity import AsyncRetrying, stop_after_attempt, wait_exponential

from optbox.protocol import JobStatus, ModelType
from optbox.settings import Settings
from storage import alerts as outbox
from storage.db import Database
from storage.models import Alert, JobRun, OptimizationModel, utcnow

log = logging.getLogger(__name__)

POLL_S = 1.0  # how often each replica looks for alerts to send (a read; a write only when one is due)
LEASE = timedelta(seconds=120)  # longer than one round of sends with its retries and timeouts
SEND_TIMEOUT_S = 10.0
TRIES_PER_ROUND = 3  # quick retries within a round (tenacity), then the row waits for the next round
ROUNDS = 6  # rounds before a destination is given up: 30 s, 1, 2, 4, 8 min apart
ROUND_BACKOFF_S = 30.0


@dataclass(frozen=True)
class SmtpServer:
    host: str
    port: int
    username: str | None
    password: str | None
    use_tls: bool
    start_tls: bool

    @property
    def masked(self) -> str:
        user = f"{self.username}:***@" if self.username else ""
        scheme = "smtps" if self.use_tls else "smtp"
        return f"{scheme}://{user}{self.host}:{self.port}" + ("?starttls=true" if self.start_tls else "")


def parse_smtp_url(url: str) -> SmtpServer:
    """`smtp://user:pass@host:587?starttls=true`, `smtps://host:465`, `smtp://host:25`; ValueError says what is wrong."""
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps"):
        raise ValueError("OPTBOX_SMTP_URL must start with smtp:// or smtps://")
    if not parts.hostname:
        raise ValueError("OPTBOX_SMTP_URL names no host")
    try:
        port = parts.port or (465 if parts.scheme == "smtps" else 25)
    except ValueError as exc:
        raise ValueError("OPTBOX_SMTP_URL has a port that is not a number") from exc
    starttls = parse_qs(parts.query).get("starttls", ["false"])[0].lower()
    if starttls not in ("true", "false", "1", "0", "yes", "no"):
        raise ValueError("OPTBOX_SMTP_URL: starttls must be true or false")
    return SmtpServer(host=parts.hostname, port=port, username=unquote(parts.username) if parts.username else None,
                      password=unquote(parts.password) if parts.password else None,
                      use_tls=parts.scheme == "smtps", start_tls=starttls in ("true", "1", "yes"))


def mask_url(url: str) -> str:
    """Scheme, host and port; the path and query (where webhook tokens live) hidden."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    port = f":{parts.port}" if parts.port else ""
    hidden = "/***" if (parts.path.strip("/") or parts.query) else ""
    return f"{parts.scheme}://{host}{port}{hidden}"


@dataclass
class AlertConfig:
    """What to alert on and where. `destinations` lists only those configured and valid."""

    webhook_url: str | None = None
    email_to: list[str] = field(default_factory=list)
    email_from: str = "optbox@localhost"
    smtp: SmtpServer | None = None
    types: set[str] = field(default_factory=set)  # empty: every type
    late_after_s: float = 300.0
    public_url: str = ""
    prefect_ui_url: str = ""
    problems: list[str] = field(default_factory=list)
    _secrets: list[str] = field(default_factory=list)

    @classmethod
    def from_settings(cls, settings: Settings, prefect_ui_url: str) -> AlertConfig:
        config = cls(email_from=settings.alert_email_from, late_after_s=settings.alert_late_after_s,
                     public_url=(settings.public_url or settings.resolved_api_url).rstrip("/"), prefect_ui_url=prefect_ui_url.rstrip("/"))
        if url := (settings.alert_webhook_url or "").strip():
            config._secrets += [url, urlsplit(url).path, urlsplit(url).query]
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                config.problems.append(f"OPTBOX_ALERT_WEBHOOK_URL is not an http(s) URL ({mask_url(url)}): webhook alerts are off")
            else:
                config.webhook_url = url
        if smtp_url := (settings.smtp_url or "").strip():
            config._secrets += [smtp_url]
            try:
                config.smtp = parse_smtp_url(smtp_url)
                if config.smtp.password:
                    config._secrets.append(config.smtp.password)
            except ValueError as exc:
                config.problems.append(f"{exc}: email alerts are off")
        addresses = [a.strip() for a in (settings.alert_email_to or "").split(",") if a.strip()]
        if bad := [a for a in addresses if "@" not in a]:
            config.problems.append(f"OPTBOX_ALERT_EMAIL_TO: not email addresses: {', '.join(bad)}")
        config.email_to = [a for a in addresses if "@" in a]
        if config.email_to and config.smtp is None and not settings.smtp_url:
            config.problems.append("OPTBOX_ALERT_EMAIL_TO is set but OPTBOX_SMTP_URL is not: email alerts are off")
        if settings.smtp_url and not addresses:
            config.problems.append("OPTBOX_SMTP_URL is set but OPTBOX_ALERT_EMAIL_TO is not: email alerts are off")
        types = {t.strip().upper() for t in (settings.alert_types or "").split(",") if t.strip()}
        known = {t.value for t in ModelType}
        if unknown := types - known:
            config.problems.append(f"OPTBOX_ALERT_TYPES: unknown types {', '.join(sorted(unknown))} (known: {', '.join(sorted(known))})")
        config.types = types & known
        config._secrets = [s for s in config._secrets if len(s) > 3]
        return config

    @property
    def destinations(self) -> list[str]:
        return (["webhook"] if self.webhook_url else []) + (["email"] if self.smtp and self.email_to else [])

    def watches(self, model_type: str | None) -> bool:
        return bool(self.destinations) and (not self.types or model_type in self.types)

    def masked(self) -> dict[str, Any]:
        return {
            "webhook": mask_url(self.webhook_url) if self.webhook_url else None,
            "email": {"to": self.email_to, "from": self.email_from, "server": self.smtp.masked} if self.smtp and self.email_to else None,
            "types": sorted(self.types) or [t.value for t in ModelType],
            "lateAfterS": self.late_after_s,
            "problems": list(self.problems),
        }

    def scrub(self, text: str) -> str:
        """`text` with every configured secret replaced by ***."""
        for secret in sorted(self._secrets, key=len, reverse=True):
            text = text.replace(secret, "***")
        return text


# --- recording: in the caller's transaction -------------------------------------------------------

def _iso(when: datetime | None) -> str | None:
    return when.isoformat() if when else None


def _facts(config: AlertConfig, event: str, job: JobRun, scheduled_at: datetime | None) -> dict[str, Any]:
    error = [line.strip() for line in (job.error_message or "").strip().splitlines() if line.strip()]
    return {
        "event": event, "jobId": job.job_id, "modelType": job.model_type, "modelName": job.model_name, "modelVersion": job.model_version,
        "status": job.status, "prefectState": job.prefect_state, "triggeredBy": job.triggered_by,
        "error": error[0][:500] if error else None,
        "errorLastLine": error[-1][:500] if len(error) > 1 else None,  # a traceback's last line names the exception
        "scheduledAt": _iso(scheduled_at or job.created_at), "startedAt": _iso(job.started_at), "completedAt": _iso(job.completed_at),
        "flowRunId": job.flow_run_id,
        "links": {"page": f"{config.public_url}/sandbox?job={job.job_id}",
                  "prefect": f"{config.prefect_ui_url}/runs/flow-run/{job.flow_run_id}" if job.flow_run_id else None},
    }


async def record_outcome(session: AsyncSession, config: AlertConfig, job: JobRun, scheduled_at: datetime | None = None) -> None:
    """After `job` reached a terminal status: a failed or crashed run alerts; a success after an alerted
    failure of its type sends the recovery. Call it only when the status just moved. Does not commit."""
    if not config.watches(job.model_type):
        return
    if job.status == JobStatus.failed.value:
        event = "crashed" if job.prefect_state == "Crashed" else "failed"
        await outbox.record(session, key=f"outcome:{job.job_id}:{job.attempt}", event=event, job_id=job.job_id,
                            model_type=job.model_type, facts=_facts(config, event, job, scheduled_at), destinations=config.destinations)
    elif job.status == JobStatus.success.value:
        failure = await outbox.open_failure(session, job.model_type)
        if failure is not None:
            facts = {**_facts(config, "recovered", job, scheduled_at), "recoversJobId": failure.job_id, "recoversEvent": failure.event}
            await outbox.record(session, key=f"recovered:{failure.id}", event="recovered", job_id=job.job_id,
                                model_type=job.model_type, facts=facts, destinations=config.destinations)


def late_key(flow_run_id: str) -> str:
    return f"late:{flow_run_id}"


async def record_late(session: AsyncSession, config: AlertConfig, job: JobRun, scheduled_at: datetime,
                      active_model: OptimizationModel | None = None) -> None:
    """`job` has not started `late_after_s` after `scheduled_at`. A scheduled run is bound to a model only when
    it starts: `active_model`, the one it would run, names it meanwhile. Does not commit."""
    if config.watches(job.model_type):
        facts = {**_facts(config, "late", job, scheduled_at), "lateAfterS": config.late_after_s}
        if job.model_name is None and active_model is not None:
            facts.update(modelName=active_model.model_name, modelVersion=active_model.version)
        await outbox.record(session, key=late_key(job.flow_run_id or job.job_id), event="late", job_id=job.job_id,
                            model_type=job.model_type, facts=facts, destinations=config.destinations)


# --- what a message says ----------------------------------------------------------------------------

def headline(facts: dict[str, Any]) -> str:
    event, kind, job_id = facts["event"], facts.get("modelType"), facts.get("jobId")
    if event == "test":
        return "optbox test alert: this destination receives optbox alerts"
    if event == "late":
        return f"{kind} run {job_id} is late: scheduled {facts['scheduledAt']}, not started after {facts['lateAfterS']:g} s"
    if event == "recovered":
        return f"{kind} recovered: run {job_id} succeeded after run {facts['recoversJobId']} {facts['recoversEvent']}"
    last = f" ({facts['errorLastLine']})" if facts.get("errorLastLine") else ""
    return f"{kind} run {job_id} {event}: {facts.get('error') or 'no error message'}{last}"


def _detail_lines(facts: dict[str, Any]) -> list[str]:
    lines = []
    if facts.get("modelName"):
        lines.append(f"Model: {facts['modelName']} v{facts.get('modelVersion')}")
    for label, name in (("Scheduled", "scheduledAt"), ("Started", "startedAt"), ("Ended", "completedAt")):
        if facts.get(name):
            lines.append(f"{label}: {facts[name]}")
    links = facts.get("links") or {}
    if links.get("page"):
        lines.append(f"Run: {links['page']}")
    if links.get("prefect"):
        lines.append(f"Prefect: {links['prefect']}")
    return lines


def webhook_body(facts: dict[str, Any]) -> dict[str, Any]:
    """The facts, and a Slack-compatible `text` (Slack, Mattermost and Teams incoming webhooks show it)."""
    return {**facts, "text": "\n".join([f"[optbox] {headline(facts)}", *_detail_lines(facts)])}


def email_message(config: AlertConfig, facts: dict[str, Any]) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = f"[optbox] {headline(facts)}"[:250]
    message["From"] = config.email_from
    message["To"] = ", ".join(config.email_to)
    body = [headline(facts), ""]
    if facts.get("jobId"):
        body.append(f"Job: {facts['jobId']}")
    if facts.get("error"):
        body.append(f"Error: {facts['error']}")
    if facts.get("errorLastLine"):
        body.append(f"Last error line: {facts['errorLastLine']}")
    message.set_content("\n".join([*body, *_detail_lines(facts)]) + "\n")
    return message


# --- delivery -----------------------------------------------------------------------------------------

def _describe(exc: BaseException) -> str:
    if isinstance(exc, httpx.HTTPStatusError):
        return f"HTTP {exc.response.status_code}"  # its str() carries the URL
    return f"{type(exc).__name__}: {exc}"[:500]


class _ScrubSecrets(logging.Filter):
    """httpx logs each request's full URL at INFO: with a verbose log level the webhook's token would show."""

    def __init__(self, config: AlertConfig) -> None:
        super().__init__()
        self.config = config

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if (scrubbed := self.config.scrub(message)) != message:
            record.msg, record.args = scrubbed, None
        return True


SCRUBBED_LOGGERS = ("httpx", "aiosmtplib")


class AlertSender:
    """Sends the outbox's due rows; every replica runs one, the row's lease decides who sends."""

    def __init__(self, db: Database, config: AlertConfig) -> None:
        self.db = db
        self.config = config
        self._task: asyncio.Task[None] | None = None
        self._scrub = _ScrubSecrets(config)

    def start(self) -> None:
        for name in SCRUBBED_LOGGERS:
            logging.getLogger(name).addFilter(self._scrub)
        for problem in self.config.problems:
            log.warning("alerts: %s", problem)
        if not self.config.destinations:
            log.info("alerts: no destination configured; alerts are off")
            return
        log.info("alerts: sending to %s", ", ".join(self.config.destinations))
        self._task = asyncio.create_task(self._loop(), name="alert-sender")

    async def stop(self) -> None:
        for name in SCRUBBED_LOGGERS:
            logging.getLogger(name).removeFilter(self._scrub)
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def check_smtp(self) -> None:
        """Connect (and log in) once at start: an unreachable server or refused login becomes a problem in health."""
        smtp = self.config.smtp
        if smtp is None or not self.config.email_to:
            return
        try:
            client = aiosmtplib.SMTP(hostname=smtp.host, port=smtp.port, use_tls=smtp.use_tls, start_tls=smtp.start_tls,
                                     username=smtp.username, password=smtp.password, timeout=5)
            await client.connect()
            await client.quit()
        except Exception as exc:  # noqa: BLE001 - reported, never raised: alerts wait in the outbox until it answers
            problem = f"SMTP server {smtp.host}:{smtp.port} not usable at start: {self.config.scrub(_describe(exc))}"
            self.config.problems.append(problem)
            log.warning("alerts: %s", problem)

    async def _loop(self) -> None:
        await self.check_smtp()
        while True:
            try:
                async with self.db.session() as session:
                    # a fresh owner per claim: rows this replica leased elsewhere (a test alert being sent) are not taken twice
                    claimed = await outbox.claim_due(session, uuid.uuid4().hex, LEASE)
                for alert in claimed:
                    await self.deliver(alert)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - the database briefly away; the rows wait
                log.warning("alerts: sending pass failed (%s); retrying", self.config.scrub(_describe(exc)))
            await asyncio.sleep(POLL_S)

    async def deliver(self, alert: Alert, tries: int = TRIES_PER_ROUND) -> dict[str, Any]:
        """Send `alert` (leased by this sender) to each destination it still owes; store the results."""
        deliveries = {name: dict(state) for name, state in alert.deliveries.items()}
        pending = False
        for name, state in deliveries.items():
            if state["status"] in ("sent", "failed", "skipped"):
                continue
            state["attempts"] += 1
            state["at"] = utcnow().isoformat()
            if name not in self.config.destinations:
                state.update(status="skipped", error="destination no longer configured")
                continue
            try:
                async for attempt in AsyncRetrying(stop=stop_after_attempt(tries), wait=wait_exponential(multiplier=0.5, max=4), reraise=True):
                    with attempt:
                        await self._send(name, alert.facts)
                state.update(status="sent", error=None)
                log.info("alerts: %s alert %s sent by %s", alert.event, alert.job_id or alert.key, name)
            except Exception as exc:  # noqa: BLE001 - any failure of the destination is its result
                error = self.config.scrub(_describe(exc))
                final = state["attempts"] >= ROUNDS
                state.update(status="failed" if final else "retrying", error=error)
                pending = pending or not final
                log.warning("alerts: %s alert %s by %s failed (%s)%s", alert.event, alert.job_id or alert.key, name, error,
                            "; giving up" if final else "; will retry")
        retry_at = None
        if pending:
            rounds = max(state["attempts"] for state in deliveries.values())
            retry_at = utcnow() + timedelta(seconds=ROUND_BACKOFF_S * 2 ** (rounds - 1))
        async with self.db.session() as session:
            await outbox.save_delivery(session, alert, deliveries, retry_at)
        return deliveries

    async def _send(self, destination: str, facts: dict[str, Any]) -> None:
        if destination == "webhook":
            async with httpx.AsyncClient(timeout=SEND_TIMEOUT_S) as client:
                response = await client.post(self.config.webhook_url, json=webhook_body(facts))
                response.raise_for_status()
        else:
            smtp = self.config.smtp
            await aiosmtplib.send(email_message(self.config, facts), hostname=smtp.host, port=smtp.port, username=smtp.username,
                                  password=smtp.password, use_tls=smtp.use_tls, start_tls=smtp.start_tls, timeout=SEND_TIMEOUT_S)

    async def send_test(self, actor: str) -> Alert:
        """Record a test alert and send it now (one try per destination; a failed one is retried later)."""
        key = f"test:{uuid.uuid4().hex}"
        facts = {"event": "test", "requestedBy": actor, "requestedAt": utcnow().isoformat(),
                 "links": {"page": f"{self.config.public_url}/sandbox", "prefect": self.config.prefect_ui_url}}
        async with self.db.session() as session:
            await outbox.record(session, key=key, event="test", job_id=None, model_type=None, facts=facts,
                                destinations=self.config.destinations, lease_owner=uuid.uuid4().hex, lease_until=utcnow() + LEASE)
            await session.commit()
            alert = await outbox.by_key(session, key)
        alert.deliveries = await self.deliver(alert, tries=1)
        return alert
