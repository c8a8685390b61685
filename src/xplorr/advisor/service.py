"""Writing the providers' recommendations (collectors) and reading them (the savings area)."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from xplorr.advisor.models import ProviderRecommendation
from xplorr.cloud_accounts.models import CloudAccount
from xplorr.core import money
from xplorr.core.tenancy import Scope, org_select


@dataclass(frozen=True, slots=True)
class Found:
    recommendation_id: str
    resource_id: str | None
    category: str
    impact: str | None
    problem: str | None
    solution: str | None
    savings_amount: Decimal | None
    annual_savings_amount: Decimal | None
    currency: str | None
    details: dict[str, Any]
    last_updated: datetime | None


def _amount(value: Decimal | None) -> Decimal | None:
    return None if value is None else money.quantize_store(value)


async def replace(
    db: AsyncSession,
    account: CloudAccount,
    found: Iterable[Found],
    *,
    provider: str,
    source: str,
    now: datetime,
) -> int:
    """The account's recommendations of ``source`` become exactly ``found`` (a complete
    read); returns how many are stored."""
    await db.execute(
        delete(ProviderRecommendation).where(
            ProviderRecommendation.org_id == account.org_id,
            ProviderRecommendation.cloud_account_id == account.id,
            ProviderRecommendation.source == source,
        )
    )
    count = 0
    seen: set[str] = set()
    for f in found:
        if f.recommendation_id in seen:
            continue
        seen.add(f.recommendation_id)
        db.add(
            ProviderRecommendation(
                org_id=account.org_id,
                cloud_account_id=account.id,
                provider=provider,
                source=source,
                recommendation_id=f.recommendation_id,
                resource_id=f.resource_id,
                category=f.category[:64],
                impact=(f.impact or None) and f.impact[:32],
                problem=f.problem,
                solution=f.solution,
                savings_amount=_amount(f.savings_amount),
                annual_savings_amount=_amount(f.annual_savings_amount),
                currency=(f.currency or "").upper()[:3] or None,
                details=f.details,
                last_updated=f.last_updated,
                seen_at=now,
            )
        )
        count += 1
    await db.flush()
    return count


async def list_for(db: AsyncSession, who: Scope) -> list[ProviderRecommendation]:
    """Every stored recommendation the caller may see (accounts granted), largest saving first."""
    rows = (await db.scalars(org_select(ProviderRecommendation, who))).all()
    return sorted(rows, key=lambda r: (-(r.savings_amount or 0), r.recommendation_id))


__all__ = ["Found", "list_for", "replace"]
