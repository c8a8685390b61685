import uuid

from fastapi import APIRouter, Response

from xplorr.alerts import service
from xplorr.alerts.schemas import AlertRuleCreate, AlertRuleOut, AlertRuleUpdate
from xplorr.auth.deps import AdminUser, CurrentUser
from xplorr.core.db import DbSession
from xplorr.core.deps import AppSettings
from xplorr.core.pagination import Page, Pagination

router = APIRouter(prefix="/alerts", tags=["alerts"])
ROUTE_ORDER = 137  # mounting order under /api/v1 (core.areas.routers)


@router.get("", response_model=Page[AlertRuleOut])
async def list_alert_rules(db: DbSession, who: CurrentUser, page: Pagination) -> Page[AlertRuleOut]:
    """List the organization's alert rules with their last firings (members limited to some
    cloud accounts see those accounts' rules). Webhook URLs are masked."""
    return await service.list_rules(db, who, page)


@router.post("", status_code=201, response_model=AlertRuleOut)
async def create_alert_rule(
    body: AlertRuleCreate, db: DbSession, who: AdminUser, settings: AppSettings
) -> AlertRuleOut:
    """Create an alert rule (owner or admin). It is evaluated at once, after every sync and
    hourly, and fires at most once per day (daily_spend) or month (monthly_spend, forecast).
    Webhook URLs must be https and reach a public address (422 naming the field otherwise)."""
    return await service.create_rule(db, settings, who, body)


@router.get("/{alert_id}", response_model=AlertRuleOut)
async def get_alert_rule(alert_id: uuid.UUID, db: DbSession, who: CurrentUser) -> AlertRuleOut:
    """One alert rule with its last 10 firings."""
    return await service.get_rule(db, who, alert_id)


@router.patch("/{alert_id}", response_model=AlertRuleOut)
async def update_alert_rule(
    alert_id: uuid.UUID,
    body: AlertRuleUpdate,
    db: DbSession,
    who: AdminUser,
    settings: AppSettings,
) -> AlertRuleOut:
    """Change some fields of an alert rule (owner or admin); null clears an optional one."""
    return await service.update_rule(db, settings, who, alert_id, body)


@router.delete("/{alert_id}", status_code=204)
async def delete_alert_rule(alert_id: uuid.UUID, db: DbSession, who: AdminUser) -> Response:
    """Delete an alert rule and its trigger history (owner or admin)."""
    await service.delete_rule(db, who, alert_id)
    return Response(status_code=204)
