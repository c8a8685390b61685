"""Anomaly rows for the API tests (detection itself is tested through the cost store)."""

import uuid
from datetime import date
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from tests.factories.cloud_accounts import make_account
from xplorr.anomalies.models import Anomaly, AnomalyStatus, Direction, Scope, Severity
from xplorr.cloud_accounts.models import CloudAccount
from xplorr.orgs.models import Org
from xplorr.users.models import User


async def make_anomaly(
    db: AsyncSession,
    org: Org,
    *,
    account: CloudAccount | None = None,
    service: str | None = "AmazonEC2",
    day: date = date(2024, 9, 10),
    actual: str = "165",
    baseline: str = "100",
    severity: Severity = Severity.LOW,
    status: AnomalyStatus = AnomalyStatus.OPEN,
    currency: str = "USD",
) -> Anomaly:
    """An anomaly of ``account``'s ``service`` (no service: the account's total; no account: the
    organization's total)."""
    if account is None:
        scope, key = Scope.ORG, "org"
    elif service is None:
        scope, key = Scope.ACCOUNT, f"account:{account.id}"
    else:
        scope, key = Scope.SERVICE, f"service:{account.id}:{service}"
    row = Anomaly(
        id=uuid.uuid4(),
        org_id=org.id,
        scope=scope,
        scope_key=key,
        cloud_account_id=account.id if account else None,
        service_name=service if account else None,
        usage_date=day,
        currency=currency,
        actual_cost=Decimal(actual),
        baseline_cost=Decimal(baseline),
        severity=severity,
        direction=Direction.SPIKE,
        status=status,
        root_cause=[],
    )
    db.add(row)
    await db.commit()
    return row


async def _tenant_anomaly(db: AsyncSession, org: Org, _user: User) -> uuid.UUID:
    return (await make_anomaly(db, org, account=await make_account(db, org))).id


TENANT_FACTORIES = {Anomaly: _tenant_anomaly}
