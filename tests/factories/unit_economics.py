"""Typed factories for unit metrics (add, commit, return)."""

from datetime import date
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from xplorr.core import clock
from xplorr.orgs.models import Org
from xplorr.unit_economics.models import MetricType, UnitMetric


async def add_metrics(
    db: AsyncSession,
    org: Org,
    values: dict[str, int | str],
    *,
    name: str = "Active Customers",
    metric_type: MetricType = MetricType.CUSTOMERS,
) -> None:
    """``values``: ISO day -> value."""
    now = clock.now()
    for day, value in values.items():
        db.add(
            UnitMetric(
                org_id=org.id,
                name=name,
                metric_type=metric_type,
                date=date.fromisoformat(day),
                value=Decimal(value),
                created_at=now,
                updated_at=now,
            )
        )
    await db.commit()
