"""Alert rules for tests (add, commit, return), and cost data whose last complete day is known
(``costs_through``), which rule evaluation reads."""

import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from tests.factories.costs import add_costs
from xplorr.alerts.models import AlertMetric, AlertRule, ConditionOp
from xplorr.cloud_accounts.models import CloudAccount
from xplorr.costs.models import CostImport
from xplorr.orgs.models import Org
from xplorr.users.models import User


async def make_alert_rule(
    db: AsyncSession,
    org: Org,
    *,
    name: str | None = None,
    metric: AlertMetric = AlertMetric.DAILY_SPEND,
    op: ConditionOp = ConditionOp.GT,
    threshold: Decimal = Decimal("500"),
    currency: str = "USD",
    emails: list[str] | None = None,
    account: CloudAccount | None = None,
) -> AlertRule:
    rule = AlertRule(
        org_id=org.id,
        name=name or f"rule-{uuid.uuid4().hex[:8]}",
        metric=metric,
        condition_op=op,
        threshold=threshold,
        currency=currency,
        notify_emails=emails if emails is not None else ["finops@example.com"],
        cloud_account_id=account.id if account else None,
    )
    db.add(rule)
    await db.commit()
    return rule


async def costs_through(
    db: AsyncSession, account: CloudAccount, rows: Iterable[Mapping[str, Any]]
) -> date:
    """``add_costs``, then the account's imports marked complete through their last day (a
    snapshot taken the day after). -> that last day."""
    rows = list(rows)
    await add_costs(db, account, rows)
    last = max(date.fromisoformat(str(r["usage_date"])) for r in rows)
    first = min(date.fromisoformat(str(r["usage_date"])) for r in rows)
    snapshot = datetime.combine(last + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
    await db.execute(
        update(CostImport)
        .where(CostImport.cloud_account_id == account.id)
        .values(first_date=first, last_date=last, snapshot_at=snapshot)
    )
    await db.commit()
    return last


async def _tenant_rule(db: AsyncSession, org: Org, _user: User) -> uuid.UUID:
    return (await make_alert_rule(db, org)).id


TENANT_FACTORIES = {AlertRule: _tenant_rule}
