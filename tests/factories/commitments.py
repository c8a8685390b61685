"""Owned commitments for tests: ``make_commitment(db, account, commitment_id, ...)`` writes a
row as a collector would (commits)."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from xplorr.cloud_accounts.models import CloudAccount
from xplorr.commitments.models import Commitment
from xplorr.core import clock


async def make_commitment(
    db: AsyncSession,
    account: CloudAccount,
    commitment_id: str,
    *,
    kind: str = "reserved_instance",
    service: str = "ec2",
    expires_in_days: int | None = 200,
    hourly_cost: Decimal | None = Decimal("0.10"),
    description: str | None = None,
    currency: str = "USD",
) -> Commitment:
    now = clock.now()
    end = (
        datetime.combine(now.date() + timedelta(days=expires_in_days), datetime.min.time(), UTC)
        if expires_in_days is not None
        else None
    )
    row = Commitment(
        org_id=account.org_id,
        cloud_account_id=account.id,
        provider="aws",
        commitment_id=commitment_id,
        kind=kind,
        service=service,
        region="us-east-1",
        description=description or f"1 x m5.large ({commitment_id})",
        resource_type="m5.large",
        count=1,
        state="active",
        start_at=end - timedelta(days=365) if end else None,
        end_at=end,
        payment_option="No Upfront",
        hourly_cost=hourly_cost,
        upfront_cost=Decimal(0),
        currency=currency,
        source="api",
        last_seen_at=now,
    )
    db.add(row)
    await db.commit()
    return row
