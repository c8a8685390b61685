"""Recommendation and approval rows for the API tests (the engine itself is tested through the
inventory and the cost store): ``make_recommendation``, ``make_approval``."""

import uuid
from datetime import timedelta
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from tests.factories.cloud_accounts import make_account
from xplorr.approvals.models import Approval, ApprovalStatus
from xplorr.cloud_accounts.models import CloudAccount
from xplorr.core import clock
from xplorr.orgs.models import Org
from xplorr.recommendations.models import Recommendation, RecommendationStatus, Risk
from xplorr.users.models import User


async def make_recommendation(
    db: AsyncSession,
    account: CloudAccount,
    *,
    savings: str = "70.08",
    type: str = "stop_idle_instance",
    category: str = "idle",
    provider: str = "aws",
    resource_id: str | None = None,
    status: RecommendationStatus = RecommendationStatus.OPEN,
    currency: str = "USD",
    snoozed_until: object = None,
) -> Recommendation:
    rid = resource_id or f"i-{uuid.uuid4().hex[:17]}"
    row = Recommendation(
        id=uuid.uuid4(),
        org_id=account.org_id,
        cloud_account_id=account.id,
        fingerprint=f"{type}:{rid}",
        type=type,
        category=category,
        provider=provider,
        resource_id=rid,
        resource_name=f"name of {rid}",
        region="us-east-1",
        title=f"Do something about {rid}",
        description="Because.",
        estimated_monthly_savings=Decimal(savings),
        sort_rank=int(Decimal(savings) * 1_000_000),
        currency=currency,
        evidence={"cpu_average_percent": "1.5"},
        risk=Risk.MEDIUM,
        how_to_apply={
            "console_steps": ["Stop it."],
            "cli": "aws ec2 stop-instances",
            "terraform": None,
        },
        status=status,
        snoozed_until=snoozed_until,
    )
    db.add(row)
    await db.commit()
    return row


async def make_approval(
    db: AsyncSession,
    rec: Recommendation,
    requester: User,
    *,
    status: ApprovalStatus = ApprovalStatus.PENDING,
    age: timedelta = timedelta(0),
) -> Approval:
    created = clock.now() - age
    row = Approval(
        id=uuid.uuid4(),
        org_id=rec.org_id,
        recommendation_id=rec.id,
        cloud_account_id=rec.cloud_account_id,
        action="apply_recommendation",
        title=rec.title,
        estimated_monthly_savings=rec.estimated_monthly_savings,
        currency=rec.currency,
        threshold=Decimal(500),
        status=status,
        requested_by=requester.id,
        requested_by_email=requester.email,
        expires_at=created + timedelta(days=14),
        created_at=created,
    )
    db.add(row)
    await db.commit()
    return row


async def _tenant_recommendation(db: AsyncSession, org: Org, _user: User) -> uuid.UUID:
    return (await make_recommendation(db, await make_account(db, org))).id


async def _tenant_approval(db: AsyncSession, org: Org, user: User) -> uuid.UUID:
    rec = await make_recommendation(db, await make_account(db, org), savings="900")
    return (await make_approval(db, rec, user)).id


TENANT_FACTORIES = {
    Recommendation: _tenant_recommendation,
    Approval: _tenant_approval,
}
