"""Commitment coverage: spend by pricing model, coverage and utilisation from the cost store's
FOCUS columns (``costs.query.pricing_lines`` / ``on_demand_lines``), the coverage gaps of the
last 30 days, the owned commitments a collector stored, and advice over them: the rules'
(``_advice``), or the configured LLM's over the same figures (``commitments.advice``).

Amounts are in one currency (the requested account's, else the caller's default,
``core.money.default_currency``); other currencies are listed apart and never added in.
"""

import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Final

from sqlalchemy.ext.asyncio import AsyncSession

from xplorr.cloud_accounts.models import CloudAccount
from xplorr.commitments import advice
from xplorr.commitments.classify import (
    ELIGIBLE_CATEGORIES,
    MODELS,
    PricingModel,
    instance_family,
    is_hours,
    pricing_model,
)
from xplorr.commitments.models import Commitment
from xplorr.commitments.schemas import (
    Advice,
    CommitmentAnalysisOut,
    CoverageGap,
    CurrencyTotal,
    OwnedCommitment,
    PricingDay,
    PricingTotals,
)
from xplorr.core import clock, money
from xplorr.core.errors import NotFound
from xplorr.core.settings import Settings
from xplorr.core.tenancy import Principal, Scope, get_in_org, org_scope, org_select
from xplorr.costs import query
from xplorr.costs.query import CostQuery, PricingLine
from xplorr.notifications import notify
from xplorr.notifications.events import RiSpExpiration, Severity

ZERO: Final = Decimal(0)
GAP_WINDOW_DAYS: Final = 30
TOP_GAPS: Final = 20
STEADY: Final = Decimal("0.9")  # a gap this consistent is worth committing to
TARGET: Final = (60, 80)
HOURS_PER_MONTH: Final = Decimal(730)
DAYS_PER_MONTH: Final = Decimal(365) / 12
# The low end of a 1-year no-upfront Savings Plan's discount (product notes section 19:
# 20-40 %): savings are estimated conservatively.
SAVINGS_PLAN_DISCOUNT: Final = Decimal("0.20")
UNDERUSED: Final = Decimal(95)
EXPIRY_ADVICE_DAYS: Final = 60

DEFINITIONS: Final = {
    "pricing_models": "Usage charges by FOCUS PricingCategory: Standard = on_demand, Dynamic = "
    "spot, Committed = reserved or savings_plan (by CommitmentDiscountType, else "
    "CommitmentDiscountCategory Spend = savings plan, else the commitment id), Other = other. "
    "Amounts are EffectiveCost: a commitment's fee amortised over the usage it covered.",
    "coverage": "Share of commitment-eligible usage (service categories Compute and "
    "Databases, spot excluded) that a reservation or savings plan covered, valued at list "
    "price (ListCost) so that the discount does not shrink the covered side: covered / "
    "(covered + on-demand) x 100.",
    "utilization": "Share of the commitments' amortised cost that covered usage: used / "
    "(used + unused) x 100, from CommitmentDiscountStatus (lines without a status count as "
    "used).",
    "consistency_score": "Share of the last 30 days on which the group ran on demand "
    "(days with on-demand usage / 30).",
    "average_daily_on_demand": "On-demand EffectiveCost (and hours, when billed in hours) of "
    "the last 30 days divided by 30.",
}
RULES_NOTE: Final = "Advice from rules over the figures of this answer (no LLM involved)."
NOTES: Final = (
    "Owned commitments come from the provider's API (AWS: EC2, RDS and ElastiCache "
    "reservations, Savings Plans); Azure reservations and GCP commitments are not read yet.",
    "Instance families come from AWS usage types in the bill (CUR 2.0 line_item_usage_type, "
    "FOCUS x_UsageType, Cost Explorer's USAGE_TYPE); other groups are named by the bill's "
    "resource type.",
)


@dataclass
class _Sums:
    by_day: dict[date, dict[PricingModel, Decimal]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(Decimal))
    )
    totals: dict[PricingModel, Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    covered_list: Decimal = ZERO
    on_demand_list: Decimal = ZERO
    used: Decimal = ZERO
    unused: Decimal = ZERO
    per_commitment: dict[str, list[Decimal]] = field(
        default_factory=lambda: defaultdict(lambda: [ZERO, ZERO])
    )


def _pct(part: Decimal, whole: Decimal) -> Decimal | None:
    if whole == ZERO:
        return None
    return (part * 100 / whole).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


async def check_account(db: AsyncSession, who: Principal, account_id: uuid.UUID | None) -> None:
    """404 for an account of another org or outside the caller's grants."""
    if account_id is None:
        return
    await get_in_org(db, CloudAccount, account_id, who)
    if who.account_ids is not None and account_id not in who.account_ids:
        raise NotFound.of("CloudAccount", account_id)


def _fold(lines: list[PricingLine], currency: str | None) -> _Sums:
    sums = _Sums()
    for line in lines:
        if line.currency != currency:
            continue
        model = pricing_model(
            line.pricing_category,
            line.commitment_id,
            line.commitment_type,
            line.commitment_category,
        )
        unused = (line.commitment_status or "").lower() == "unused"
        sums.by_day[line.day][model] += line.effective
        sums.totals[model] += line.effective
        if line.commitment_id is not None:
            pair = sums.per_commitment[line.commitment_id]
            pair[1 if unused else 0] += line.effective
            if unused:
                sums.unused += line.effective
            else:
                sums.used += line.effective
        if line.service_category in ELIGIBLE_CATEGORIES and not unused:
            if model in ("reserved", "savings_plan"):
                sums.covered_list += line.list_cost
            elif model == "on_demand":
                sums.on_demand_list += line.list_cost
    return sums


# (provider, service, instance family, resource type when no family, region)
_GapKey = tuple[str, str, str | None, str | None, str | None]


async def _gaps(
    db: AsyncSession, who: Scope, accounts: frozenset[uuid.UUID] | None, end: date, currency: str
) -> list[CoverageGap]:
    start = end - timedelta(days=GAP_WINDOW_DAYS - 1)
    lines = await query.on_demand_lines(
        db, who, CostQuery(start=start, end=end, account_ids=accounts, currency=currency)
    )
    cost: dict[_GapKey, dict[date, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    hours: dict[_GapKey, Decimal] = defaultdict(Decimal)
    billed_in_hours: set[_GapKey] = set()
    for line in lines:
        if line.service_category not in ELIGIBLE_CATEGORIES:
            continue
        family = instance_family(line.usage_type)
        full: _GapKey = (
            line.provider,
            line.service,
            family,
            None if family else line.resource_type,
            line.region,
        )
        cost[full][line.day] += line.effective
        if is_hours(line.unit):
            hours[full] += line.quantity
            billed_in_hours.add(full)
    window = Decimal(GAP_WINDOW_DAYS)
    gaps = []
    for key, days in cost.items():
        ran = [d for d, amount in days.items() if amount > ZERO]
        total = sum(days.values(), ZERO)
        if not ran or total <= ZERO:
            continue
        steady = min(days.values()) if len(ran) == GAP_WINDOW_DAYS else ZERO
        consistency = (Decimal(len(ran)) / window).quantize(Decimal("0.01"))
        saving = steady * DAYS_PER_MONTH * SAVINGS_PLAN_DISCOUNT if consistency >= STEADY else ZERO
        provider, service, family, rtype, region = key
        gaps.append(
            CoverageGap(
                provider=provider,
                service=service,
                instance_family=family,
                resource_type=rtype,
                region=region,
                average_daily_on_demand_cost=money.round_money(total / window, currency),
                average_daily_on_demand_hours=(
                    (hours[key] / window).quantize(Decimal("0.01"))
                    if key in billed_in_hours
                    else None
                ),
                days_run=len(ran),
                consistency_score=consistency,
                estimated_monthly_savings=money.round_money(saving, currency),
            )
        )
    gaps.sort(
        key=lambda g: (
            -g.estimated_monthly_savings,
            -g.average_daily_on_demand_cost,
            g.service,
            g.region or "",
            g.instance_family or g.resource_type or "",
        )
    )
    return gaps[:TOP_GAPS]


async def owned(db: AsyncSession, who: Principal, account_id: uuid.UUID | None) -> list[Commitment]:
    """The caller's visible commitments (of one account), soonest expiry first."""
    stmt = org_select(Commitment, who)
    if account_id is not None:
        stmt = stmt.where(Commitment.cloud_account_id == account_id)
    rows = list((await db.scalars(stmt)).all())
    rows.sort(key=lambda c: (c.end_at is None, c.end_at or clock.now(), c.commitment_id))
    return rows


def _matches(bill_id: str, commitment_id: str) -> bool:
    """The bill names an RI by ARN (``...:reserved-instances/<id>``) where the API gives the
    bare id."""
    return bill_id == commitment_id or bill_id.endswith(("/" + commitment_id, ":" + commitment_id))


def _owned_out(
    c: Commitment, per_commitment: dict[str, list[Decimal]], today: date
) -> OwnedCommitment:
    used = unused = ZERO
    seen = False
    for bill_id, (u, n) in per_commitment.items():
        if _matches(bill_id, c.commitment_id):
            used, unused, seen = used + u, unused + n, True
    expires = c.end_at.date() if c.end_at else None
    hourly = c.hourly_cost
    currency = c.currency
    return OwnedCommitment(
        id=c.id,
        cloud_account_id=c.cloud_account_id,
        provider=c.provider,
        commitment_id=c.commitment_id,
        kind="savings_plan" if c.kind == "savings_plan" else "reserved_instance",
        service=c.service,
        region=c.region,
        description=c.description,
        resource_type=c.resource_type,
        count=c.count,
        state=c.state,
        start_date=c.start_at.date() if c.start_at else None,
        expires_on=expires,
        days_left=(expires - today).days if expires else None,
        payment_option=c.payment_option,
        hourly_cost=hourly,
        monthly_cost=(
            money.round_money(hourly * HOURS_PER_MONTH, currency)
            if hourly is not None and currency
            else None
        ),
        upfront_cost=c.upfront_cost,
        currency=currency,
        utilization_percent=_pct(used, used + unused) if seen else None,
        source="demo" if c.source == "demo" else "api",
    )


def _advice(
    coverage: Decimal | None,
    utilization: Decimal | None,
    unused: Decimal,
    gaps: list[CoverageGap],
    commitments: list[OwnedCommitment],
    currency: str | None,
) -> list[Advice]:
    out: list[Advice] = []
    steady = [g for g in gaps if g.estimated_monthly_savings > ZERO]
    if coverage is not None and coverage < TARGET[0]:
        total = sum((g.estimated_monthly_savings for g in steady), ZERO)
        out.append(
            Advice(
                kind="coverage_low",
                severity="medium" if coverage < 40 else "low",
                title=f"Commitment coverage is {coverage} %, below the {TARGET[0]}-{TARGET[1]} % "
                "target",
                detail=f"{len(steady)} steady on-demand group(s) ran every day of the last 30; "
                f"committing to their steady part would save about {total} {currency} a month.",
                estimated_monthly_savings=total,
            )
        )
    if coverage is not None and coverage > TARGET[1]:
        out.append(
            Advice(
                kind="coverage_high",
                severity="info",
                title=f"Coverage is {coverage} %, above the {TARGET[1]} % target",
                detail="Buy more only for usage that is certain to stay: usage that shrinks "
                "leaves a commitment unused.",
            )
        )
    for g in steady[:5]:
        what = g.instance_family or g.resource_type or g.service
        out.append(
            Advice(
                kind="commit",
                severity="low",
                title=f"Cover steady {what} usage in {g.region or 'all regions'}",
                detail=f"{g.service} ran on demand {g.days_run} of the last 30 days at "
                f"{g.average_daily_on_demand_cost} {currency} a day on average: a savings plan "
                "or reservation for its steady part would cut it by about "
                f"{int(SAVINGS_PLAN_DISCOUNT * 100)} %.",
                estimated_monthly_savings=g.estimated_monthly_savings,
            )
        )
    if utilization is not None and utilization < UNDERUSED:
        out.append(
            Advice(
                kind="underused",
                severity="high" if utilization < 80 else "medium",
                title=f"Commitments are {utilization} % used",
                detail=f"{unused} {currency} of commitment went unused in the period: move "
                "matching workloads onto it, or exchange or sell what will stay unused.",
            )
        )
    for c in commitments:
        if c.days_left is not None and 0 <= c.days_left <= EXPIRY_ADVICE_DAYS:
            out.append(
                Advice(
                    kind="expiring",
                    severity="high" if c.days_left <= 30 else "medium",
                    title=f"{c.description} expires in {c.days_left} days",
                    detail=f"It expires on {c.expires_on}: renew or replace it before then, or "
                    "its usage falls back to on-demand prices.",
                )
            )
    return out


async def analysis(
    db: AsyncSession,
    who: Principal,
    *,
    account_id: uuid.UUID | None,
    days: int,
    today: date | None = None,
) -> CommitmentAnalysisOut:
    """The analysis with the rules' advice (no LLM: also what ``/ai-recommendations`` shows
    its LLM)."""
    out, _unused = await _analysis(db, who, account_id=account_id, days=days, today=today)
    return out


async def analysis_with_advice(
    db: AsyncSession,
    who: Principal,
    settings: Settings,
    *,
    account_id: uuid.UUID | None,
    days: int,
) -> CommitmentAnalysisOut:
    """The analysis with the configured LLM's advice over its figures, else the rules'
    (``commitments.advice``)."""
    out, unused = await _analysis(db, who, account_id=account_id, days=days)
    written = await advice.advise(db, who, settings, out, unused)
    return out.model_copy(
        update={
            "advice": written.advice,
            "advice_source": written.source,
            "advice_model": written.model,
            "advice_note": written.note,
        }
    )


async def _analysis(
    db: AsyncSession,
    who: Principal,
    *,
    account_id: uuid.UUID | None,
    days: int,
    today: date | None = None,
) -> tuple[CommitmentAnalysisOut, Decimal]:
    """The analysis (rules' advice) and the period's unused commitment cost."""
    await check_account(db, who, account_id)
    accounts = frozenset({account_id}) if account_id else None
    # Through the last complete day of the data (a partial today would read as a dip and
    # break every group's 30-day run).
    today = today or clock.now().date()
    end = await query.data_through(db, who, accounts) or today
    start = end - timedelta(days=days - 1)
    lines = await query.pricing_lines(
        db, who, CostQuery(start=start, end=end, account_ids=accounts)
    )
    per_currency: dict[str, Decimal] = defaultdict(Decimal)
    for line in lines:
        per_currency[line.currency] += line.effective
    currency = money.default_currency(None, await query.currency_use(db, who))
    if currency not in per_currency and per_currency:
        currency = sorted(per_currency, key=lambda c: (-per_currency[c], c))[0]
    sums = _fold(lines, currency)

    def rounded(amount: Decimal) -> Decimal:
        return money.round_money(amount, currency) if currency else ZERO

    daily = []
    for i in range(days):
        day = start + timedelta(days=i)
        m = sums.by_day.get(day, {})
        daily.append(
            PricingDay(
                date=day,
                **{k: rounded(m.get(k, ZERO)) for k in MODELS},
                total=rounded(sum(m.values(), ZERO)),
            )
        )
    totals = PricingTotals(
        **{k: rounded(sums.totals.get(k, ZERO)) for k in MODELS},
        total=rounded(sum(sums.totals.values(), ZERO)),
    )
    coverage = _pct(sums.covered_list, sums.covered_list + sums.on_demand_list)
    utilization = _pct(sums.used, sums.used + sums.unused)
    gaps = await _gaps(db, who, accounts, end, currency) if currency else []
    commitments = [
        _owned_out(c, sums.per_commitment, today) for c in await owned(db, who, account_id)
    ]
    unused = rounded(sums.unused)
    out = CommitmentAnalysisOut(
        account_id=account_id,
        days=days,
        start_date=start,
        end_date=end,
        currency=currency,
        currencies=[
            CurrencyTotal(currency=cur, total_cost=money.round_money(total, cur))
            for cur, total in sorted(
                per_currency.items(), key=lambda kv: (kv[0] != currency, kv[0])
            )
        ],
        definitions=dict(DEFINITIONS),
        assumptions={"savings_plan_discount": SAVINGS_PLAN_DISCOUNT},
        totals=totals,
        coverage_percent=coverage,
        utilization_percent=utilization,
        target_coverage_percent=list(TARGET),
        daily=daily,
        coverage_gaps=gaps,
        commitments=commitments,
        advice=_advice(coverage, utilization, unused, gaps, commitments, currency),
        advice_source="rules",
        advice_model=None,
        advice_note=RULES_NOTE,
        notes=list(NOTES),
    )
    return out, unused


NOTICE_DAYS: Final = 30


async def notify_expiring(db: AsyncSession, org_id: uuid.UUID, today: date | None = None) -> int:
    """An ``ri_sp_expiration`` notification for each of the org's commitments that expires in
    the next ``NOTICE_DAYS`` days. Idempotent: the hub delivers an event key (commitment and
    expiry date) once per target, so a daily run notifies once, and again only for a renewed
    term. -> how many commitments were announced."""
    day = today or clock.now().date()
    rows = (
        await db.scalars(
            org_select(Commitment, org_scope(org_id)).where(Commitment.end_at.is_not(None))
        )
    ).all()
    sent = 0
    for c in rows:
        assert c.end_at is not None
        expires = c.end_at.date()
        left = (expires - day).days
        if not 0 <= left <= NOTICE_DAYS:
            continue
        monthly = (
            money.round_money(c.hourly_cost * HOURS_PER_MONTH, c.currency)
            if c.hourly_cost is not None and c.currency
            else None
        )
        await notify(
            db,
            RiSpExpiration(
                org_id=org_id,
                cloud_account_id=c.cloud_account_id,
                severity=Severity.HIGH if left <= 7 else Severity.MEDIUM,
                commitment_id=c.commitment_id,
                commitment_type="savings_plan" if c.kind == "savings_plan" else "reserved_instance",
                description=c.description,
                expires_on=expires,
                days_left=left,
                monthly_cost=monthly,
                currency=c.currency if monthly is not None else None,
            ),
        )
        sent += 1
    return sent
