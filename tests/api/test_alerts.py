"""Alerts reach real receivers: a webhook (HTTP server) and email (aiosmtpd, with login), from two API
replicas on the session stack, for failed, crashed and late runs, recoveries, a facade that was down,
and the admin's test alert; secrets stay out of answers and logs."""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from api.alerts import AlertConfig, AlertSender
from harness.receivers import SmtpReceiver, WebhookReceiver
from harness.stack import free_port, processes_of, wait_until
from optbox.settings import Settings
from tests.api.test_lifecycle import deployment_id, prefect
from tests.conftest import SAMPLES, execute, upload, wait_for_job

pytestmark = pytest.mark.restarts_shared  # restarts the session's API with alerts on, kills its worker

MODELS = Path(__file__).parent.parent / "models"
LATE_AFTER_S = 5
SETTLE_S = 3  # a few mirror passes (0.5 s) and sender polls (1 s) of both replicas: time for a duplicate to show


@pytest.fixture(scope="module")
def receivers():
    webhook, smtp = WebhookReceiver().start(), SmtpReceiver().start()
    yield webhook, smtp
    webhook.stop()
    smtp.stop()


@pytest.fixture(scope="module")
def replicas(stack, receivers):
    """The session stack's API restarted with alerts on, and a second replica on the same database."""
    webhook, smtp = receivers
    env = {"OPTBOX_ALERT_WEBHOOK_URL": webhook.url, "OPTBOX_SMTP_URL": smtp.url, "OPTBOX_ALERT_EMAIL_TO": "ops@example.test,desk@example.test",
           "OPTBOX_ALERT_LATE_AFTER_S": str(LATE_AFTER_S), "OPTBOX_PUBLIC_URL": "http://optbox.example.test"}
    port_b = free_port()

    def start() -> None:
        stack.start_role("api", "api", env=env)
        stack.start_role("api-b", "api", env={**env, "OPTBOX_API_PORT": str(port_b)})
        for url in (stack.api_url, f"http://127.0.0.1:{port_b}"):
            wait_until(lambda url=url: healthy(url), 120, f"the API at {url}", 0.3)

    def stop() -> None:  # both at once: a replica still shutting down would take what the test means to miss
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(stack.stop_role, ("api-b", "api")))

    stop()
    start()
    yield start, stop
    stop()
    stack.start_api()  # as the rest of the session expects it: alerts off


def healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/api/health", timeout=2).json().get("status") == "ok"
    except (httpx.HTTPError, ValueError):
        return False


def upload_model(api, name: str, content: bytes, model_type: str) -> dict:
    response = upload(api, name, content, model_type)
    assert response.status_code == 201, response.text
    return response.json()["model"]


def alert_row(api, job_id: str, event: str) -> dict | None:
    for row in api.get("/api/optimization/alerts").json()["alerts"]:
        if row["jobId"] == job_id and row["event"] == event:
            return row
    return None


def delivered(api, job_id: str, event: str, timeout: float = 60) -> dict:
    """The alert's row once every destination has its result; then a few passes more for any duplicate."""
    row = wait_until(lambda: (r := alert_row(api, job_id, event)) and r["done"] and r, timeout, f"the {event} alert of {job_id}", 0.5)
    time.sleep(SETTLE_S)
    return row


def test_a_failing_run_alerts_once_on_each_destination_though_two_replicas_watch(api, replicas, receivers, keep_active_models):
    webhook, smtp = receivers
    model = upload_model(api, "raises.py", (SAMPLES / "raises.py").read_bytes(), "RMO")
    job_id = execute(api, "RMO", modelId=model["id"])["jobId"]
    assert wait_for_job(api, job_id)["status"] == "failed"
    row = delivered(api, job_id, "failed")
    assert {name: d["status"] for name, d in row["deliveries"].items()} == {"webhook": "sent", "email": "sent"}

    [body] = webhook.of(job_id, "failed")
    assert body["modelType"] == "RMO"
    assert (body["modelName"], body["modelVersion"]) == (model["model_name"], model["version"])
    assert body["error"] == "model exited with code 1"
    assert body["errorLastLine"] == "RuntimeError: infeasible: demand exceeds capacity in block 57"
    assert body["scheduledAt"] and body["startedAt"] and body["completedAt"]
    assert body["links"]["page"] == f"http://optbox.example.test/sandbox?job={job_id}"
    assert body["links"]["prefect"].endswith(f"/runs/flow-run/{body['flowRunId']}")
    assert job_id in body["text"] and "infeasible" in body["text"]

    [mail] = smtp.of(job_id, "failed")
    assert mail["To"] == "ops@example.test, desk@example.test"
    assert job_id in mail.get_content() and body["links"]["page"] in mail.get_content()


def test_the_next_success_of_the_type_sends_a_recovery_naming_both_runs(api, replicas, receivers, keep_active_models):
    webhook, smtp = receivers
    failing = upload_model(api, "raises.py", (SAMPLES / "raises.py").read_bytes(), "DMO")
    failed_id = execute(api, "DMO", modelId=failing["id"])["jobId"]
    assert wait_for_job(api, failed_id)["status"] == "failed"
    delivered(api, failed_id, "failed")
    good = upload_model(api, "printer.py", (MODELS / "printer.py").read_bytes(), "DMO")
    first, second = (execute(api, "DMO", modelId=good["id"])["jobId"] for _ in range(2))
    for job_id in (first, second):
        assert wait_for_job(api, job_id)["status"] == "success"
    wait_until(lambda: [b for b in webhook.bodies if b["event"] == "recovered" and b.get("recoversJobId") == failed_id], 60, "the recovery")
    time.sleep(SETTLE_S)
    [recovered] = [b for b in webhook.bodies if b["event"] == "recovered" and b.get("recoversJobId") == failed_id]
    assert recovered["jobId"] in (first, second) and failed_id in recovered["text"] and recovered["jobId"] in recovered["text"]
    assert len(smtp.of(recovered["jobId"], "recovered")) == 1


def test_runs_not_started_in_time_alert_as_late(api, stack, replicas, receivers, so_queue_paused):
    webhook, smtp = receivers
    job_id = execute(api, "SO")["jobId"]  # no worker takes SO runs meanwhile
    # and one Prefect created itself, as its scheduler does: no job, no model until it starts
    flow_run_id = prefect(stack, "POST", f"/deployments/{deployment_id(stack, 'so')}/create_flow_run", json={}).json()["id"]
    active = api.get("/api/optimization/models", params={"status": "active"}).json()["models"]
    [active_so] = [m for m in active if m["model_type"] == "SO"]
    try:
        wait_until(lambda: webhook.of(job_id, "late") and smtp.of(job_id, "late"), 60, "the late alert", 0.5)
        scheduled = wait_until(lambda: [b for b in webhook.bodies if b["event"] == "late" and b["flowRunId"] == flow_run_id], 60,
                               "the scheduled run's late alert", 0.5)
    finally:
        api.post(f"/api/optimization/jobs/{job_id}/cancel")
        prefect(stack, "POST", f"/flow_runs/{flow_run_id}/set_state", json={"state": {"type": "CANCELLED"}, "force": True})
    [body] = webhook.of(job_id, "late")
    assert body["lateAfterS"] == LATE_AFTER_S and body["startedAt"] is None and "is late" in body["text"]
    assert (scheduled[0]["modelName"], scheduled[0]["modelVersion"]) == (active_so["model_name"], active_so["version"])


def test_a_run_whose_worker_is_killed_alerts_as_crashed(api, stack, replicas, receivers, keep_active_models):
    webhook, smtp = receivers
    model = upload_model(api, "endless.py", (MODELS / "endless.py").read_bytes(), "SO")
    job_id = execute(api, "SO", modelId=model["id"])["jobId"]
    wait_until(lambda: api.get(f"/api/optimization/jobs/{job_id}").json()["job"]["last_seq"] > 3, 120, "the model to tick")
    stack.kill_role_tree("worker")  # the machine is gone: worker, flow run and model
    try:
        wait_until(lambda: webhook.of(job_id, "crashed") and smtp.of(job_id, "crashed"), 150, "the crashed alert", 1)
    finally:
        stack.start_role("worker", "worker", "--deploy")
    [body] = webhook.of(job_id, "crashed")
    assert body["prefectState"] == "Crashed" and body["error"]


def test_a_run_that_fails_while_the_facade_is_down_alerts_when_it_returns(api, stack, replicas, receivers, keep_active_models):
    webhook, smtp = receivers
    start, stop = replicas
    model = upload_model(api, "slow_raise.py", b"import time\nprint('working', flush=True)\ntime.sleep(10)\nraise SystemExit('gave up: no prices')\n", "RMO")
    job_id = execute(api, "RMO", modelId=model["id"])["jobId"]
    wait_until(lambda: processes_of(job_id), 120, "the model to start", 0.1)
    stop()
    try:
        wait_until(lambda: not processes_of(job_id), 60, "the model to fail while no facade runs")
        assert not webhook.of(job_id, "failed")
    finally:
        start()
    wait_until(lambda: webhook.of(job_id, "failed") and smtp.of(job_id, "failed"), 90, "the alert after the facade's return", 0.5)
    time.sleep(SETTLE_S)
    assert len(webhook.of(job_id, "failed")) == 1 and len(smtp.of(job_id, "failed")) == 1
    assert "gave up: no prices" in webhook.of(job_id, "failed")[0]["text"]


def test_an_admin_sends_a_test_alert_and_sees_destinations_masked(api, stack, replicas, receivers):
    webhook, smtp = receivers
    before_hooks, before_mails = len(webhook.bodies), len(smtp.messages)
    response = api.post("/api/optimization/alerts/test")
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["success"] and {n: d["status"] for n, d in answer["alert"]["deliveries"].items()} == {"webhook": "sent", "email": "sent"}
    assert webhook.bodies[before_hooks:][0]["event"] == "test" and "test alert" in smtp.messages[before_mails:][0]["Subject"]

    listing = api.get("/api/optimization/alerts").json()
    assert listing["destinations"]["webhook"] == f"http://127.0.0.1:{webhook.port}/***"
    assert listing["destinations"]["email"]["server"] == f"smtp://{smtp.username}:***@127.0.0.1:{smtp.port}"
    assert listing["alerts"][0]["event"] == "test"
    health = httpx.get(f"{stack.api_url}/api/health").json()["alerts"]
    assert health == {"enabled": True, "destinations": ["webhook", "email"], "problems": []}

    viewer = api.post("/api/auth/keys", json={"name": f"alert-viewer-{time.time_ns()}", "role": "viewer"}).json()["key"]
    assert httpx.post(f"{stack.api_url}/api/optimization/alerts/test", headers={"Authorization": f"Bearer {viewer}"}).status_code == 403

    webhook.answer = 500  # the destination is down: the answer says so, without the URL
    try:
        failed = api.post("/api/optimization/alerts/test").json()
    finally:
        webhook.answer = 200
    assert not failed["success"] and failed["alert"]["deliveries"]["webhook"] == {**failed["alert"]["deliveries"]["webhook"], "status": "retrying", "error": "HTTP 500"}
    for text in (response.text, api.get("/api/optimization/alerts").text, str(failed), stack.logs("api"), stack.logs("api-b"), httpx.get(f"{stack.api_url}/api/health").text):
        assert webhook.path not in text and smtp.password not in text


def test_a_replica_started_with_bad_alert_settings_serves_and_says_what_is_wrong(stack, replicas):
    port = free_port()
    stack.start_role("api-bad", "api", env={
        "OPTBOX_API_PORT": str(port), "OPTBOX_ALERT_WEBHOOK_URL": "hooks.example.test/T0/tok3n", "OPTBOX_ALERT_TYPES": "DMO,XMO",
        "OPTBOX_SMTP_URL": f"smtp://u:pw-secret@127.0.0.1:{free_port()}", "OPTBOX_ALERT_EMAIL_TO": "ops@example.test"})
    try:
        wait_until(lambda: healthy(f"http://127.0.0.1:{port}"), 120, "the replica with bad alert settings", 0.3)
        health = wait_until(lambda: (h := httpx.get(f"http://127.0.0.1:{port}/api/health").json()["alerts"])["problems"][2:] and h,
                            30, "the SMTP check at start")
    finally:
        stack.stop_role("api-bad")
    assert health["destinations"] == ["email"]  # the valid one stays on
    assert [p.split(" ")[0] for p in health["problems"]] == ["OPTBOX_ALERT_WEBHOOK_URL", "OPTBOX_ALERT_TYPES:", "SMTP"]
    log = stack.logs("api-bad")
    assert "alerts: OPTBOX_ALERT_WEBHOOK_URL is not an http(s) URL" in log and "not usable at start" in log
    assert "tok3n" not in log + str(health) and "pw-secret" not in log + str(health)


def test_bad_configuration_is_reported_and_turns_off_only_that_destination():
    config = AlertConfig.from_settings(Settings(alert_webhook_url="hooks.example.test/T0/tok3n", smtp_url="smtp://u:pw-secret@mail:notaport",
                                                alert_email_to="ops@example.test", alert_types="DMO,XMO"), "http://prefect")
    assert config.destinations == []
    assert len(config.problems) == 3 and not any("tok3n" in p or "pw-secret" in p for p in config.problems)
    assert any("OPTBOX_ALERT_TYPES" in p and "XMO" in p for p in config.problems)


async def test_an_unreachable_smtp_server_is_reported_at_start_with_its_password_masked():
    config = AlertConfig.from_settings(Settings(smtp_url=f"smtp://u:pw-secret@127.0.0.1:{free_port()}", alert_email_to="ops@example.test"), "http://prefect")
    await AlertSender(None, config).check_smtp()
    assert config.destinations == ["email"]
    [problem] = config.problems
    assert "not usable at start" in problem and "pw-secret" not in problem


async def test_a_verbose_httpx_log_shows_the_webhook_url_masked(caplog):
    config = AlertConfig.from_settings(Settings(alert_webhook_url="https://hooks.example.test/services/T0/B0/tok3n"), "http://prefect")
    sender = AlertSender(None, config)  # no database: its sending passes fail (logged), its log filter is what is tested
    sender.start()
    try:
        with caplog.at_level("INFO", logger="httpx"):
            logging.getLogger("httpx").info('HTTP Request: POST %s "HTTP/1.1 200 OK"', config.webhook_url)
    finally:
        await sender.stop()
    assert "tok3n" not in caplog.text and "HTTP Request: POST ***" in caplog.text


def test_alert_types_route_only_the_listed_types():
    config = AlertConfig.from_settings(Settings(alert_webhook_url="https://hooks.example.test/x", alert_types="dmo, RMO"), "http://prefect")
    assert [config.watches(kind) for kind in ("DMO", "RMO", "SO")] == [True, True, False]
    assert config.masked()["types"] == ["DMO", "RMO"]
    assert not AlertConfig.from_settings(Settings(), "http://prefect").watches("DMO")  # no destination: nothing alerts
