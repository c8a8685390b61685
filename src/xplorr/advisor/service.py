"""Writing the providers' own recommendations (the Azure and GCP collectors) and reading them
(the recommendations engine): one table, ``provider_recommendations``, whatever the provider."""

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from xplorr.advisor.models import ProviderRecommendation
from xplorr.cloud_accounts.models import CloudAccount
from xplorr.core import money
from xplorr.core.tenancy import Scope, org_scope, org_select


@dataclass(frozen=True, slots=True)
class Found:
    """One recommendation as a collector read it (amounts: the provider's, per month)."""

    recommendation_id: str
    resource_id: str | None
    category: str
    savings_amount: Decimal | None
    currency: str | None
    details: dict[str, Any] = field(default_factory=dict)
    impact: str | None = None
    problem: str | None = None
    solution: str | None = None
    annual_savings_amount: Decimal | None = None
    last_updated: datetime | None = None
    recommender: str | None = None
    kind: str | None = None
    location: str | None = None
    state: str | None = None


def _amount(value: Decimal | None) -> Decimal | None:
    return None if value is None else money.quantize_store(value)


def _cut(value: str | None, size: int) -> str | None:
    return value[:size] if value else None


async def replace(
    db: AsyncSession,
    account: CloudAccount,
    found: Iterable[Found],
    *,
    provider: str,
    source: str,
    now: datetime,
    complete: bool = True,
) -> int:
    """Store the account's recommendations of ``source`` as read: each one seen is inserted or
    updated in place (its row keeps its id); when the read was ``complete``, the others are
    removed (the provider withdrew them, or they were applied). Returns how many were seen."""
    stmt = org_select(ProviderRecommendation, org_scope(account.org_id)).where(
        ProviderRecommendation.cloud_account_id == account.id,
        ProviderRecommendation.source == source,
    )
    existing = {r.recommendation_id: r for r in (await db.scalars(stmt)).all()}
    seen: set[str] = set()
    for f in found:
        if f.recommendation_id in seen:
            continue
        seen.add(f.recommendation_id)
        values: dict[str, Any] = {
            "provider": provider,
            "resource_id": f.resource_id,
            "category": f.category[:64],
            "impact": _cut(f.impact, 32),
            "problem": f.problem,
            "solution": f.solution,
            "recommender": _cut(f.recommender, 200),
            "kind": _cut(f.kind, 32),
            "location": _cut(f.location, 100),
            "state": _cut(f.state, 32),
            "savings_amount": _amount(f.savings_amount),
            "annual_savings_amount": _amount(f.annual_savings_amount),
            "currency": (f.currency or "").upper()[:3] or None,
            "details": f.details,
            "last_updated": f.last_updated,
            "seen_at": now,
        }
        row = existing.get(f.recommendation_id)
        if row is None:
            db.add(
                ProviderRecommendation(
                    org_id=account.org_id,
                    cloud_account_id=account.id,
                    source=source,
                    recommendation_id=f.recommendation_id,
                    **values,
                )
            )
        else:
            for name, value in values.items():
                setattr(row, name, value)
    gone = [rid for rid in existing if rid not in seen] if complete else []
    if gone:
        await db.execute(
            delete(ProviderRecommendation).where(
                ProviderRecommendation.org_id == account.org_id,
                ProviderRecommendation.cloud_account_id == account.id,
                ProviderRecommendation.source == source,
                ProviderRecommendation.recommendation_id.in_(gone),
            )
        )
    await db.flush()
    return len(seen)


def _order(rows: Iterable[ProviderRecommendation]) -> list[ProviderRecommendation]:
    return sorted(rows, key=lambda r: (-(r.savings_amount or 0), r.source, r.recommendation_id))


async def list_for(
    db: AsyncSession, who: Scope, *, cloud_account_id: uuid.UUID | None = None
) -> list[ProviderRecommendation]:
    """The stored recommendations the scope may see (accounts granted), of one account when
    given, largest saving first."""
    stmt = org_select(ProviderRecommendation, who)
    if cloud_account_id is not None:
        stmt = stmt.where(ProviderRecommendation.cloud_account_id == cloud_account_id)
    return _order((await db.scalars(stmt)).all())


__all__ = ["Found", "list_for", "replace"]
