"""The Alerts panel: an admin sees where alerts go (masked) and sends a test alert that arrives."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from playwright.async_api import expect

from harness.receivers import WebhookReceiver
from harness.stack import wait_until

pytestmark = pytest.mark.restarts_shared  # restarts the session's API with a webhook


@pytest.fixture(scope="module")
def webhook(stack):
    """The session stack's API restarted with a webhook destination, and put back afterwards."""
    receiver = WebhookReceiver().start()
    stack.stop_role("api")
    stack.start_role("api", "api", env={"OPTBOX_ALERT_WEBHOOK_URL": receiver.url})
    wait_until(stack.api_healthy, 120, "the API with alerts on", 0.3)
    yield receiver
    stack.stop_role("api")
    stack.start_api()
    receiver.stop()


async def test_an_admin_sends_a_test_alert_from_the_alerts_tab(webhook, signed_in):
    page = signed_in.page
    await page.get_by_role("tab", name="Alerts").click()
    panel = page.get_by_role("region", name="Alerts")
    await expect(panel).to_contain_text(f"http://127.0.0.1:{webhook.port}/***")
    await expect(panel).not_to_contain_text(webhook.path)
    clicked_at = datetime.now(UTC)
    await page.get_by_role("button", name="Send test alert").click()
    await expect(page.get_by_role("status").filter(has_text="Test alert")).to_have_text("Test alert sent: webhook: sent")
    # (an earlier test alert still owed to a webhook may be retried here too: the outbox keeps its promises)
    assert [body for body in webhook.bodies if body["event"] == "test" and datetime.fromisoformat(body["requestedAt"]) >= clicked_at]
    await expect(panel.get_by_role("table", name="Last alerts")).to_contain_text("optbox test alert")
    assert signed_in.errors_besides() == []
