"""Alerts (admins): where they go (secrets masked), the last ones with their delivery, and a test alert."""

from __future__ import annotations

from fastapi import APIRouter

from api.alerts import headline
from api.auth import Admin
from api.deps import FacadeDep, SessionDep
from api.errors import ApiError
from api.schemas import AlertDestinations, AlertOut, AlertsResponse, AlertTestResponse
from storage import alerts
from storage.models import Alert

router = APIRouter(prefix="/api/optimization/alerts", tags=["alerts"])


def _alert_out(alert: Alert) -> AlertOut:
    return AlertOut(id=alert.id, event=alert.event, jobId=alert.job_id, modelType=alert.model_type, headline=headline(alert.facts),
                    createdAt=alert.created_at, done=alert.done, deliveries=alert.deliveries)


@router.get("", response_model=AlertsResponse)
async def list_alerts(facade: FacadeDep, session: SessionDep, _: Admin) -> AlertsResponse:
    return AlertsResponse(destinations=AlertDestinations(**facade.alerts.masked()),
                          alerts=[_alert_out(alert) for alert in await alerts.latest(session)])


@router.post("/test", response_model=AlertTestResponse)
async def send_test_alert(facade: FacadeDep, who: Admin) -> AlertTestResponse:
    if not facade.alerts.destinations:
        raise ApiError(409, "no alert destination is configured: set OPTBOX_ALERT_WEBHOOK_URL, or OPTBOX_ALERT_EMAIL_TO "
                            "and OPTBOX_SMTP_URL" + (f" ({'; '.join(facade.alerts.problems)})" if facade.alerts.problems else ""))
    alert = await facade.alert_sender.send_test(who.name)
    return AlertTestResponse(success=all(d["status"] == "sent" for d in alert.deliveries.values()), alert=_alert_out(alert))
