"""Budget rows for tests (add, commit, return)."""

import uuid
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from tests.factories.cloud_accounts import make_account
from xplorr.budgets.models import Budget
from xplorr.cloud_accounts.models import CloudAccount
from xplorr.costs.forecast import Period
from xplorr.orgs.models import Org
from xplorr.users.models import User


async def make_budget(
    db: AsyncSession,
    org: Org,
    *,
    name: str | None = None,
    amount: str = "1000",
    currency: str = "USD",
    account: CloudAccount | None = None,
    period: Period = Period.MONTHLY,
    alert_at_80: bool = True,
    alert_at_100: bool = True,
    provider: str | None = None,
    service: str | None = None,
    tag: tuple[str, str] | None = None,
) -> Budget:
    b = Budget(
        id=uuid.uuid4(),
        org_id=org.id,
        name=name or f"budget {uuid.uuid4().hex[:8]}",
        amount=Decimal(amount),
        currency=currency,
        cloud_account_id=account.id if account else None,
        period=period,
        alert_at_80=alert_at_80,
        alert_at_100=alert_at_100,
        provider=provider,
        service_name=service,
        tag_key=tag[0] if tag else None,
        tag_value=tag[1] if tag else None,
    )
    db.add(b)
    await db.commit()
    return b


async def _tenant_budget(db: AsyncSession, org: Org, _user: User) -> uuid.UUID:
    return (await make_budget(db, org, account=await make_account(db, org))).id


TENANT_FACTORIES = {Budget: _tenant_budget}
