"""Recommendations: the engine that refreshes an account's findings, and the API's reads and
status changes.

``refresh_account(db, account)`` runs every rule over the account's live inventory
(``inventory.service.account_resources``) and its cost data (``costs.query``), then reconciles
with the stored rows by fingerprint (``rules.Finding.fingerprint``):

- a new finding becomes an ``open`` recommendation (the largest new ones are announced through
  the notification hub, ``RecommendationNotice``);
- a finding already stored keeps its id and status (open, in progress, dismissed, snoozed); its
  figures and evidence are updated to this refresh's;
- a stored open or in-progress recommendation that the refresh no longer finds is closed as
  ``applied`` with its last estimate kept as ``realized_monthly_savings`` (``closed_by``:
  ``resource_gone`` when the resource left the inventory, ``fixed`` when it is there but no
  longer matches the rule); one closed that way whose finding comes back is reopened.
  Dismissed ones stay dismissed.

Idempotent (one advisory lock per account): a refresh with nothing new changes figures only.
"""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Final

from sqlalchemy import or_
from sqlalchemy.ext.asyncio import AsyncSession

from xplorr.approvals import service as approvals
from xplorr.cloud_accounts.models import CloudAccount
from xplorr.core import audit, clock, money
from xplorr.core.db import advisory_xact_lock
from xplorr.core.errors import ValidationFailed
from xplorr.core.pagination import PageParams, paginate
from xplorr.core.tenancy import Principal, Scope, get_in_org, org_scope, org_select
from xplorr.costs import query
from xplorr.costs.query import CostQuery, Dim
from xplorr.inventory import service as inventory
from xplorr.inventory.models import InventoryResource
from xplorr.notifications import events, notify
from xplorr.recommendations import (
    aws_prices,
    aws_purchase,
    cost_rules,
    prices,
    provider_rules,
    rules,
    totals,
)
from xplorr.recommendations.models import (
    ClosedBy,
    Recommendation,
    RecommendationStatus,
    Risk,
)
from xplorr.recommendations.schemas import (
    HowToApplyOut,
    RecommendationFilters,
    RecommendationOut,
    RecommendationPage,
    RecommendationUpdate,
    SavingsTotalOut,
    SnoozeIn,
)

ON_DEMAND: Final = "Standard"  # FOCUS PricingCategory of on-demand usage
NOTIFY_MIN_SAVINGS: Final = Decimal(25)  # per month, in the recommendation's currency
NOTIFY_MAX_PER_REFRESH: Final = 5
LIVE: Final = (RecommendationStatus.OPEN, RecommendationStatus.IN_PROGRESS)


@dataclass(slots=True)
class RefreshResult:
    new: list[Recommendation] = field(default_factory=list)
    updated: int = 0
    closed: int = 0
    reopened: int = 0


def _micros(amount: Decimal) -> int:
    return int((amount * 1_000_000).to_integral_value())


def _facts(
    resources: Sequence[InventoryResource],
    now: datetime,
    book: prices.PriceBook = prices.SHIPPED_BOOK,
) -> rules.Facts:
    return rules.Facts(
        [
            rules.Resource(
                resource_id=r.resource_id,
                resource_type=r.resource_type,
                provider=r.provider,
                region=r.region,
                name=r.name,
                status=r.status,
                attributes=dict(r.attributes or {}),
                tags=dict(r.tags or {}),
            )
            for r in resources
        ],
        now,
        book,
    )


async def on_demand_series(
    db: AsyncSession, who: Scope, account_id: uuid.UUID
) -> list[cost_rules.OnDemandSeries]:
    """The account's daily on-demand usage cost per provider, service category, service and
    currency over the ``cost_rules.WINDOW_DAYS`` days through its last complete day."""
    through = (await query.data_through_by_account(db, who, [account_id])).get(account_id)
    if through is None:
        return []
    start = through - timedelta(days=cost_rules.WINDOW_DAYS - 1)
    series = await query.daily_series_by(
        db,
        who,
        CostQuery(
            start=start,
            end=through,
            group_by=(Dim.PROVIDER, Dim.SERVICE_CATEGORY, Dim.SERVICE, Dim.PRICING_CATEGORY),
            account_ids=frozenset({account_id}),
            charge_categories=frozenset({"Usage"}),
        ),
    )
    out = []
    for (key, currency), days in sorted(series.items(), key=lambda kv: str(kv[0])):
        provider, category, service, pricing = key
        if pricing != ON_DEMAND or service is None:
            continue
        out.append(
            cost_rules.OnDemandSeries(
                provider=str(provider or "other"),
                service_category=None if category is None else str(category),
                service=str(service),
                currency=currency,
                daily=[d.cost for d in days],
                first_day=start.isoformat(),
                last_day=through.isoformat(),
            )
        )
    return out


async def findings_for(
    db: AsyncSession,
    account: CloudAccount,
    now: datetime,
    purchase: aws_purchase.PurchaseRead | None = None,
) -> tuple[list[rules.Finding], set[str]]:
    """Every rule's findings for ``account`` and the ids of its live resources (``purchase``:
    Cost Explorer's purchase recommendations, read by the job before the refresh), priced
    with the organization's Pricing API prices where they were read (``aws_prices``)."""
    who = org_scope(account.org_id)
    resources = await inventory.account_resources(db, who, account.id)
    book = await aws_prices.price_book(db, account)
    found = rules.run_aws_rules(_facts(resources, now, book))
    found += aws_purchase.findings_of(purchase)
    found += cost_rules.steady_on_demand(await on_demand_series(db, who, account.id))
    found += await provider_rules.findings(db, account, resources)
    return found, {r.resource_id for r in resources}


def _apply(row: Recommendation, f: rules.Finding, now: datetime) -> None:
    row.type, row.category, row.provider = f.type, f.category, f.provider
    row.resource_id, row.resource_name, row.region = f.resource_id, f.resource_name, f.region
    row.title, row.description = f.title, f.description
    row.estimated_monthly_savings = money.quantize_store(f.savings)
    row.sort_rank = _micros(f.savings)
    row.currency = f.currency
    row.evidence = f.evidence
    row.risk = Risk(f.risk)
    row.how_to_apply = f.how_to_apply.as_dict()
    row.last_seen_at = now


async def refresh_account(
    db: AsyncSession,
    account: CloudAccount,
    *,
    now: datetime | None = None,
    purchase: aws_purchase.PurchaseRead | None = None,
) -> RefreshResult:
    """Reconcile ``account``'s recommendations with what the rules find now (module doc).
    Purchase recommendations of a Cost Explorer source not read in full by ``purchase`` (or
    all of them, without it) are left as they are (``aws_purchase.unread``)."""
    now = now or clock.now()
    await advisory_xact_lock(db, f"recommendations:{account.id}")
    found, live_ids = await findings_for(db, account, now, purchase)
    existing = {
        r.fingerprint: r
        for r in (
            await db.scalars(
                org_select(Recommendation, org_scope(account.org_id)).where(
                    Recommendation.cloud_account_id == account.id
                )
            )
        ).all()
    }
    result = RefreshResult()
    seen: set[str] = set()
    for f in found:
        if f.fingerprint in seen:
            continue
        seen.add(f.fingerprint)
        row = existing.get(f.fingerprint)
        if row is None:
            row = Recommendation(
                id=uuid.uuid4(),
                org_id=account.org_id,
                cloud_account_id=account.id,
                fingerprint=f.fingerprint,
                status=RecommendationStatus.OPEN,
                detected_at=now,
            )
            _apply(row, f, now)
            db.add(row)
            result.new.append(row)
            continue
        if row.status is RecommendationStatus.APPLIED and row.closed_by in (
            ClosedBy.RESOURCE_GONE,
            ClosedBy.FIXED,
        ):
            # Closed by a refresh, found again: the waste came back.
            row.status, row.closed_by = RecommendationStatus.OPEN, None
            row.applied_at = row.realized_monthly_savings = None
            row.status_changed_at, row.status_changed_by = now, None
            result.reopened += 1
        _apply(row, f, now)
        result.updated += 1
    for fingerprint, row in existing.items():
        if fingerprint in seen or row.status not in LIVE:
            continue
        if aws_purchase.unread(purchase, fingerprint):
            continue
        gone = row.resource_id is not None and row.resource_id not in live_ids
        row.status = RecommendationStatus.APPLIED
        row.closed_by = ClosedBy.RESOURCE_GONE if gone else ClosedBy.FIXED
        row.realized_monthly_savings = row.estimated_monthly_savings
        row.applied_at = row.status_changed_at = now
        row.status_changed_by = None
        result.closed += 1
    await db.flush()
    await notify_new(db, account, result.new)
    return result


async def notify_new(
    db: AsyncSession, account: CloudAccount, new: Sequence[Recommendation]
) -> None:
    """Announce the largest new recommendations (at least ``NOTIFY_MIN_SAVINGS`` a month, at
    most ``NOTIFY_MAX_PER_REFRESH`` per refresh: a first refresh of a big account must not send
    hundreds of emails; the rest are in the list and the weekly digest)."""
    worth = sorted(
        (r for r in new if r.estimated_monthly_savings >= NOTIFY_MIN_SAVINGS),
        key=lambda r: (-r.estimated_monthly_savings, r.fingerprint),
    )[:NOTIFY_MAX_PER_REFRESH]
    for r in worth:
        await notify(
            db,
            events.RecommendationNotice(
                org_id=r.org_id,
                cloud_account_id=account.id,
                severity=events.Severity.MEDIUM
                if r.estimated_monthly_savings >= 100
                else events.Severity.LOW,
                recommendation_id=r.id,
                title=r.title,
                monthly_savings=money.round_money(r.estimated_monthly_savings, r.currency),
                currency=r.currency,
            ),
        )


async def resource_tags(
    db: AsyncSession, who: Scope, recommendation_id: uuid.UUID
) -> frozenset[str]:
    """The ``key:value`` tags of the resource a recommendation is about, as the inventory holds
    them (its account's row, live or deleted). Empty for one about no resource (cost-data and
    purchase recommendations), a resource the inventory does not hold, or an unknown id.
    Channel routing reads it (a tag-scoped channel gets the recommendations of its resources)."""
    rec = await db.scalar(
        org_select(Recommendation, who).where(Recommendation.id == recommendation_id)
    )
    if rec is None or rec.resource_id is None:
        return frozenset()
    return frozenset(
        f"{key}:{value}"
        for row in await inventory.resources_of(db, who, [rec.resource_id])
        if row.cloud_account_id == rec.cloud_account_id
        for key, value in (row.tags or {}).items()
        if value is not None
    )


# --- the API --------------------------------------------------------------------------------


async def _account_names(
    db: AsyncSession, who: Principal, ids: set[uuid.UUID]
) -> dict[uuid.UUID, str]:
    if not ids:
        return {}
    rows = await db.scalars(org_select(CloudAccount, who).where(CloudAccount.id.in_(sorted(ids))))
    return {a.id: a.name for a in rows}


def to_out(r: Recommendation, names: dict[uuid.UUID, str]) -> RecommendationOut:
    cur = r.currency
    how = r.how_to_apply or {}
    return RecommendationOut(
        id=r.id,
        type=r.type,
        category=r.category,
        provider=r.provider,
        account_id=r.cloud_account_id,
        account_name=names.get(r.cloud_account_id),
        resource_id=r.resource_id,
        resource_name=r.resource_name,
        region=r.region,
        title=r.title,
        description=r.description,
        estimated_monthly_savings=money.round_money(r.estimated_monthly_savings, cur),
        currency=cur,
        overlap_group=totals.overlap_group(r),
        evidence=r.evidence or {},
        risk=r.risk,
        how_to_apply=HowToApplyOut(
            console_steps=list(how.get("console_steps") or []),
            cli=how.get("cli"),
            terraform=how.get("terraform"),
        ),
        status=r.status,
        snoozed_until=r.snoozed_until,
        realized_monthly_savings=None
        if r.realized_monthly_savings is None
        else money.round_money(r.realized_monthly_savings, cur),
        closed_by=None if r.closed_by is None else r.closed_by.value,
        detected_at=r.detected_at,
        last_seen_at=r.last_seen_at,
        updated_at=r.updated_at,
        status_changed_at=r.status_changed_at,
        applied_at=r.applied_at,
    )


async def one_out(db: AsyncSession, who: Principal, r: Recommendation) -> RecommendationOut:
    return to_out(r, await _account_names(db, who, {r.cloud_account_id}))


async def list_recommendations(
    db: AsyncSession,
    who: Principal,
    filters: RecommendationFilters,
    page: PageParams,
    *,
    today: date | None = None,
) -> RecommendationPage:
    """The caller's recommendations (a user limited to some accounts: theirs), largest
    estimated saving first; snoozed ones (``snoozed_until`` after today) only with
    ``include_snoozed``. A foreign ``account_id`` is 404."""
    today = today or clock.now().date()
    stmt = org_select(Recommendation, who)
    if filters.account_id is not None:
        await get_in_org(db, CloudAccount, filters.account_id, who)
        stmt = stmt.where(Recommendation.cloud_account_id == filters.account_id)
    if filters.status is not None:
        stmt = stmt.where(Recommendation.status == filters.status)
    if filters.type is not None:
        stmt = stmt.where(Recommendation.type == filters.type)
    if filters.provider is not None:
        stmt = stmt.where(Recommendation.provider == filters.provider)
    if filters.category is not None:
        stmt = stmt.where(Recommendation.category == filters.category)
    if not filters.include_snoozed:
        stmt = stmt.where(
            or_(Recommendation.snoozed_until.is_(None), Recommendation.snoozed_until <= today)
        )
    stmt = stmt.order_by(
        Recommendation.sort_rank.desc(), Recommendation.detected_at, Recommendation.id
    )
    result = await paginate(db, stmt, page, lambda r: r)
    names = await _account_names(db, who, {r.cloud_account_id for r in result.data})
    open_rows = (
        await db.execute(
            stmt.where(Recommendation.status == RecommendationStatus.OPEN)
            .order_by(None)
            .with_only_columns(
                Recommendation.id,
                Recommendation.cloud_account_id,
                Recommendation.type,
                Recommendation.category,
                Recommendation.resource_id,
                Recommendation.currency,
                Recommendation.estimated_monthly_savings,
            )
        )
    ).all()
    saved = totals.monthly_savings(open_rows)
    return RecommendationPage(
        data=[to_out(r, names) for r in result.data],
        total=result.total,
        page=result.page,
        limit=result.limit,
        totals=[
            SavingsTotalOut(currency=cur, estimated_monthly_savings=saved[cur])
            for cur in sorted(saved)
        ],
    )


async def open_recommendations(
    db: AsyncSession, who: Scope, *, limit: int | None = 50
) -> list[Recommendation]:
    """The open, not snoozed recommendations the scope sees, largest saving first (for other
    areas: the AI insights, the reports, the digest; ``limit`` None: all of them)."""
    today = clock.now().date()
    stmt = (
        org_select(Recommendation, who)
        .where(
            Recommendation.status == RecommendationStatus.OPEN,
            or_(Recommendation.snoozed_until.is_(None), Recommendation.snoozed_until <= today),
        )
        .order_by(Recommendation.sort_rank.desc(), Recommendation.id)
        .limit(limit)
    )
    return list((await db.scalars(stmt)).all())


async def update_recommendation(
    db: AsyncSession, who: Principal, recommendation_id: uuid.UUID, body: RecommendationUpdate
) -> RecommendationOut:
    """Set a recommendation's status (audited). Moving it to ``in_progress`` or ``applied``
    above the organization's approval threshold needs an approved approval: without one, a
    pending approval is opened (or the pending one reused) and the answer is 409
    ``APPROVAL_REQUIRED`` naming it (``approvals.service.gate``)."""
    rec = await get_in_org(db, Recommendation, recommendation_id, who, for_update=True)
    if body.status is None:
        raise ValidationFailed.on("status", "Field required")
    before = rec.status
    if body.status is before:
        return await one_out(db, who, rec)
    if body.status in (RecommendationStatus.IN_PROGRESS, RecommendationStatus.APPLIED) and (
        before is not RecommendationStatus.IN_PROGRESS
    ):
        await approvals.gate(db, who, rec)
    await set_status(db, who, rec, body.status)
    return await one_out(db, who, rec)


async def set_status(
    db: AsyncSession, who: Principal | None, rec: Recommendation, status: RecommendationStatus
) -> None:
    """Change a recommendation's status and audit it (``who`` None: a system job)."""
    before = rec.status
    rec.status = status
    rec.status_changed_at = clock.now()
    rec.status_changed_by = who.user_id if who else None
    if status is RecommendationStatus.APPLIED:
        rec.closed_by = ClosedBy.USER
        rec.applied_at = rec.status_changed_at
        rec.realized_monthly_savings = rec.estimated_monthly_savings
    else:
        rec.closed_by = rec.applied_at = rec.realized_monthly_savings = None
    await audit.record(
        db,
        "recommendation.status_changed",
        who=who,
        org_id=rec.org_id,
        target=rec,
        details={"from": before.value, "to": status.value},
    )
    await db.flush()


async def snooze_recommendation(
    db: AsyncSession, who: Principal, recommendation_id: uuid.UUID, body: SnoozeIn
) -> RecommendationOut:
    """Hide a recommendation from the list until a day (audited)."""
    rec = await get_in_org(db, Recommendation, recommendation_id, who, for_update=True)
    if (body.until is None) == (body.days is None):
        raise ValidationFailed.on("until", "Send either until or days.")
    today = clock.now().date()
    until = body.until if body.until is not None else today + timedelta(days=body.days or 0)
    if until <= today or until > today + timedelta(days=365):
        raise ValidationFailed.on("until", "Must be a day after today and within a year.")
    rec.snoozed_until = until
    await audit.record(
        db,
        "recommendation.snoozed",
        who=who,
        target=rec,
        details={"until": until.isoformat()},
    )
    await db.flush()
    return await one_out(db, who, rec)


async def applied_between(
    db: AsyncSession, who: Scope, start: date, end: date
) -> list[Recommendation]:
    """The recommendations ``who`` sees that were closed as applied on ``start..end`` (UTC
    days; by a person, or by a refresh that no longer found them), largest realised saving
    first: for the weekly summary's "applied" count and "savings realised"."""
    stmt = (
        org_select(Recommendation, who)
        .where(
            Recommendation.status == RecommendationStatus.APPLIED,
            Recommendation.applied_at >= datetime.combine(start, time.min, UTC),
            Recommendation.applied_at < datetime.combine(end + timedelta(days=1), time.min, UTC),
        )
        .order_by(Recommendation.sort_rank.desc(), Recommendation.id)
    )
    return list((await db.scalars(stmt)).all())
