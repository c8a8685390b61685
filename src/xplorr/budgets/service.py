"""Budgets: spend limits per calendar month, quarter or year, their spend, forecast and alerts.

**Spend** counts only the budget's currency: cost in other currencies under the same filters is
listed in the answer (``other_currencies``) and never added (an exchange rate would be a guess).
It runs from the period's first day through the last complete day of the budget's accounts'
data (``costs.query.data_through_by_account``; for an org-wide budget the earliest of them,
leaving out accounts whose data stopped more than a week before the newest).

**Cost of a list**: however many budgets, three reads of the cost store: the last complete day
per account, every budget's spend and the totals of its forecast's tax basis (``costs.forecast
.tax_queries``) in one statement (``costs.query.totals_for_many``), and one
daily series of the last 28 days per account, provider, service and charge category
(``daily_series_by``) from which each budget's own series is summed in Python for its forecast
(``costs.forecast``); budgets filtered on a tag add one series per distinct tag key.

**Alerts** (``evaluate``, run after every cost change and daily): at 80 % and at 100 % of the
amount (each when its ``alert_at_*`` is on) and ``projected_overrun`` when the forecast exceeds
the amount, each at most once per budget and period: a ``budget_alerts`` row (unique per
budget, period and kind) is written with the notification (``notify_fired``: the hub's
``budget_alert`` and ``projected_overrun``, whose event keys are per budget, period and
threshold too), in the same transaction.
"""

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Final

from sqlalchemy import delete, func
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from xplorr.budgets.models import AlertKind, Budget, BudgetAlert
from xplorr.budgets.schemas import (
    BudgetCreate,
    BudgetFilters,
    BudgetOut,
    BudgetUpdate,
    CurrencySpend,
)
from xplorr.cloud_accounts.models import CloudAccount
from xplorr.core import audit, clock, money
from xplorr.core.db import advisory_xact_lock
from xplorr.core.errors import Conflict, ValidationFailed
from xplorr.core.jobs import queue
from xplorr.core.pagination import Page, PageParams, paginate
from xplorr.core.tenancy import Principal, Scope, get_in_org, org_scope, org_select
from xplorr.costs import forecast as fc
from xplorr.costs import query, services
from xplorr.costs.query import CostQuery, DayCost, Dim, GroupBy, TagFilter, TagKey
from xplorr.notifications import events, notify

ZERO: Final = Decimal(0)
DORMANT_DAYS: Final = 7  # an account this far behind the newest does not hold org-wide ones back
HUNDRED: Final = Decimal(100)
PERCENT_QUANTUM: Final = Decimal("0.01")
THRESHOLDS: Final = ((AlertKind.AT_80, Decimal("0.8")), (AlertKind.AT_100, Decimal(1)))
OVER: Final = "Over budget"
PROJECTED: Final = "Projected over"
ON_TRACK: Final = "On track"
OTHER_CURRENCIES_NOTE: Final = (
    "Spend in other currencies is listed apart and never added to this budget."
)
_SERIES_DIMS: Final[tuple[GroupBy, ...]] = (
    Dim.ACCOUNT,
    Dim.PROVIDER,
    Dim.SERVICE,
    Dim.CHARGE_CATEGORY,
)


def today() -> date:
    return clock.now().date()


def cost_query(b: Budget, start: date, end: date) -> CostQuery:
    """The budget's filters over ``start..end`` (every currency: the caller keeps them apart)."""
    tags: tuple[TagFilter, ...] = ()
    if b.tag_key is not None and b.tag_value is not None:
        tags = (TagFilter(TagKey(b.tag_key), frozenset({b.tag_value})),)
    return CostQuery(
        start=start,
        end=end,
        account_ids=None if b.cloud_account_id is None else frozenset({b.cloud_account_id}),
        providers=None if b.provider is None else frozenset({b.provider}),
        services=None if b.service_name is None else frozenset({b.service_name}),
        tags=tags,
    )


async def budget_of(db: AsyncSession, who: Scope, budget_id: uuid.UUID) -> Budget | None:
    """The budget a notification names, or None once deleted (channel routing reads its
    service and tag filters: no 404 for a caller that is not a request)."""
    return await db.scalar(org_select(Budget, who).where(Budget.id == budget_id))


def tag_of(b: Budget) -> str | None:
    """The budget's tag filter as ``key:value`` (None: not narrowed to a tag)."""
    if b.tag_key is None or b.tag_value is None:
        return None
    return f"{b.tag_key}:{b.tag_value}"


@dataclass(slots=True)
class BudgetStatus:
    """A budget's period, spend (its currency), spend in other currencies, and forecast."""

    budget: Budget
    period_start: date
    period_end: date
    through: date | None
    spend: Decimal = ZERO
    other: dict[str, Decimal] = field(default_factory=dict)
    forecast: fc.Forecast | None = None

    @property
    def percent_used(self) -> Decimal:
        return (self.spend * HUNDRED / self.budget.amount).quantize(
            PERCENT_QUANTUM, rounding=ROUND_HALF_UP
        )

    @property
    def projected_overrun(self) -> bool:
        return self.forecast is not None and self.forecast.forecast > self.budget.amount

    @property
    def standing(self) -> str:
        """``Over budget`` (spent the amount), ``Projected over`` (the forecast exceeds it) or
        ``On track``: what the reports' budgets section and the digests' scorecard say."""
        if self.spend >= self.budget.amount:
            return OVER
        return PROJECTED if self.projected_overrun else ON_TRACK


def _through(b: Budget, throughs: dict[uuid.UUID, date], end: date, as_of: date) -> date | None:
    """The last complete day of the budget's accounts' data (the earliest among them; for an
    org-wide budget, among the accounts whose data is at most a week behind the newest, so a
    dormant account does not freeze it), capped at ``as_of`` and the period's end; None
    without data."""
    if b.cloud_account_id is not None:
        days = [throughs[b.cloud_account_id]] if b.cloud_account_id in throughs else []
    elif throughs:
        newest = max(throughs.values())
        days = [t for t in throughs.values() if t >= newest - timedelta(days=DORMANT_DAYS)]
    else:
        days = []
    return min([*days, as_of, end]) if days else None


def _matches(b: Budget, key: tuple[query.Key, ...]) -> bool:
    account, provider, service = key[0], key[1], key[2]
    if b.cloud_account_id is not None and account != b.cloud_account_id:
        return False
    if b.provider is not None and provider != b.provider:
        return False
    # Series name a service by its shown name (AmazonEC2 -> Amazon Elastic Compute Cloud).
    if b.service_name is not None and service != services.canonical(b.service_name):
        return False
    return b.tag_key is None or key[4] == b.tag_value


async def statuses(
    db: AsyncSession, who: Scope, budgets: Sequence[Budget], as_of: date | None = None
) -> list[BudgetStatus]:
    """Every budget's status as of ``as_of`` (default today, UTC), read as the module docstring
    says (three reads of the cost store, plus one per distinct tag key)."""
    as_of = as_of or today()
    if not budgets:
        return []
    throughs = await query.data_through_by_account(db, who)
    out: list[BudgetStatus] = []
    # Each budget's spend, and the totals its forecast's tax basis is made of.
    queries: dict[tuple[uuid.UUID, fc.TaxKey | None], CostQuery] = {}
    tax_kinds: dict[uuid.UUID, dict[fc.TaxKey, CostQuery]] = {}
    for b in budgets:
        start, end = fc.period_bounds(b.period, as_of)
        through = _through(b, throughs, end, as_of)
        out.append(BudgetStatus(b, start, end, through))
        if through is None:
            continue
        filtered = cost_query(b, min(start, through), through)
        if through >= start:
            queries[b.id, None] = filtered
        tax_kinds[b.id] = fc.tax_queries(filtered, start, through)
        for kind, q in tax_kinds[b.id].items():
            queries[b.id, kind] = q
    totals = await query.totals_for_many(db, who, queries)
    taxes: dict[uuid.UUID, fc.TaxBasis] = {}
    for s in out:
        b = s.budget
        spent = totals.get((b.id, None), {})
        s.spend = spent.get(b.currency, ZERO)
        s.other = {cur: v for cur, v in sorted(spent.items()) if cur != b.currency}
        kinds = {kind: totals[b.id, kind] for kind in tax_kinds.get(b.id, {})}
        basis = fc.tax_bases(kinds).get(b.currency)
        if basis is not None:
            taxes[b.id] = basis
    await _forecasts(db, who, out, taxes)
    return out


async def visible_statuses(
    db: AsyncSession,
    who: Scope,
    as_of: date,
    *,
    account_ids: frozenset[uuid.UUID] | None = None,
) -> list[BudgetStatus]:
    """The status as of ``as_of`` of every budget ``who`` sees, by name (``account_ids``: only
    those accounts' budgets). For other areas: the reports' budgets section, the daily digest's
    usage bars, the weekly summary's scorecard."""
    stmt = org_select(Budget, who).order_by(Budget.name, Budget.id)
    if account_ids is not None:
        stmt = stmt.where(Budget.cloud_account_id.in_(sorted(account_ids)))
    budgets = (await db.scalars(stmt)).all()
    return await statuses(db, who, budgets, as_of)


async def _forecasts(
    db: AsyncSession,
    who: Scope,
    out: list[BudgetStatus],
    taxes: Mapping[uuid.UUID, fc.TaxBasis],
) -> None:
    """Each budget's forecast from one daily series of the last 28 days (per tag key: one more)
    and its tax basis (none: no tax projected)."""
    dated = [s for s in out if s.through is not None]
    if not dated:
        return
    ends = [s.through for s in dated if s.through is not None]
    start = min(ends) - timedelta(days=fc.WINDOW_DAYS - 1)
    end = max(ends)
    tag_keys = sorted({s.budget.tag_key for s in dated if s.budget.tag_key is not None})
    series: dict[str | None, dict[tuple[tuple[query.Key, ...], str], list[DayCost]]] = {}
    if any(s.budget.tag_key is None for s in dated):
        series[None] = await query.daily_series_by(
            db, who, CostQuery(start=start, end=end, group_by=_SERIES_DIMS)
        )
    for tag in tag_keys:
        series[tag] = await query.daily_series_by(
            db, who, CostQuery(start=start, end=end, group_by=(*_SERIES_DIMS, TagKey(tag)))
        )
    days = [start + timedelta(days=i) for i in range((end - start).days + 1)]
    for s in dated:
        b = s.budget
        assert s.through is not None
        every = dict.fromkeys(days, ZERO)
        usage = dict.fromkeys(days, ZERO)
        for (key, currency), costs in series[b.tag_key].items():
            if currency != b.currency or not _matches(b, key):
                continue
            for d in costs:
                every[d.day] += d.cost
                if key[3] == fc.USAGE:
                    usage[d.day] += d.cost
        window = [d for d in days if s.through - timedelta(days=fc.WINDOW_DAYS) < d <= s.through]
        s.forecast = fc.project(
            [DayCost(d, every[d]) for d in window],
            recurring=[DayCost(d, usage[d]) for d in window],
            currency=b.currency,
            period_start=s.period_start,
            period_end=s.period_end,
            through=s.through,
            actual=s.spend,
            taxes=taxes.get(b.id),
        )


def to_out(s: BudgetStatus) -> BudgetOut:
    b = s.budget
    cur = b.currency
    f = s.forecast.rounded() if s.forecast is not None else None
    has_filters = any(v is not None for v in (b.provider, b.service_name, b.tag_key))
    return BudgetOut(
        id=b.id,
        name=b.name,
        amount=money.round_money(b.amount, cur),
        currency=cur,
        cloud_account_id=b.cloud_account_id,
        alert_at_80=b.alert_at_80,
        alert_at_100=b.alert_at_100,
        period=b.period,
        filters=BudgetFilters(
            provider=b.provider,  # type: ignore[arg-type]
            service=b.service_name,
            tag_key=b.tag_key,
            tag_value=b.tag_value,
        )
        if has_filters
        else None,
        period_start=s.period_start,
        period_end=s.period_end,
        data_through=s.through if s.through is not None and s.through >= s.period_start else None,
        current_spend=money.round_money(s.spend, cur),
        percent_used=s.percent_used,
        forecast=f.forecast if f else None,
        forecast_low=f.low if f else None,
        forecast_high=f.high if f else None,
        forecast_method=f.method if f else None,
        projected_overrun=s.projected_overrun,
        other_currencies=[
            CurrencySpend(currency=c, spend=money.round_money(v, c)) for c, v in s.other.items()
        ],
        note=OTHER_CURRENCIES_NOTE if s.other else None,
        created_at=b.created_at,
        updated_at=b.updated_at,
    )


# --- the API ------------------------------------------------------------------------------------


async def list_budgets(db: AsyncSession, who: Principal, page: PageParams) -> Page[BudgetOut]:
    """The caller's budgets, by name, each with its spend and forecast."""
    stmt = org_select(Budget, who).order_by(Budget.name, Budget.id)
    rows = await paginate(db, stmt, page, lambda b: b)
    found = await statuses(db, who, rows.data)
    return Page(data=[to_out(s) for s in found], total=rows.total, page=rows.page, limit=rows.limit)


async def get_budget(db: AsyncSession, who: Principal, budget_id: uuid.UUID) -> BudgetOut:
    return await _one(db, who, await get_in_org(db, Budget, budget_id, who))


async def _one(db: AsyncSession, who: Principal, b: Budget) -> BudgetOut:
    [s] = await statuses(db, who, [b])
    return to_out(s)


def _check_amount(amount: Decimal, currency: str) -> Decimal:
    if money.round_money(amount, currency) != amount:
        raise ValidationFailed.on(
            "amount", f"Use at most {money.minor_units(currency)} decimals for {currency}."
        )
    return amount


async def _check_account(db: AsyncSession, who: Principal, account_id: uuid.UUID | None) -> None:
    """A foreign or hidden account is 404; a user limited to some accounts may not make a
    budget organization-wide (they could not see it)."""
    if account_id is not None:
        await get_in_org(db, CloudAccount, account_id, who)
    elif who.account_ids is not None:
        raise ValidationFailed.on(
            "cloud_account_id", "Required: you have access to some cloud accounts only."
        )


def _apply_filters(b: Budget, filters: BudgetFilters | None) -> None:
    f = filters or BudgetFilters()
    if (f.tag_key is None) != (f.tag_value is None):
        raise ValidationFailed.on("filters.tag_value", "Give tag_key and tag_value together.")
    if f.tag_key is not None and (problem := query.tag_key_problem(f.tag_key)) is not None:
        raise ValidationFailed.on("filters.tag_key", problem)
    b.provider, b.service_name = f.provider, f.service
    b.tag_key, b.tag_value = f.tag_key, f.tag_value


async def _save(db: AsyncSession, b: Budget) -> None:
    try:
        async with db.begin_nested():  # savepoint: a taken name must not poison the request
            db.add(b)
            await db.flush()
    except IntegrityError as exc:
        raise Conflict(
            f"A budget named '{b.name}' already exists.", code="BUDGET_NAME_TAKEN"
        ) from exc


async def _check_name_free(db: AsyncSession, who: Principal, name: str) -> None:
    """409 when the organization has a budget of that name (checked before the row changes:
    a flush would otherwise fail outside any savepoint; the unique index still backs it)."""
    taken = await db.scalar(
        org_select(Budget, org_scope(who.org_id)).where(Budget.name == name).limit(1)
    )
    if taken is not None:
        raise Conflict(f"A budget named '{name}' already exists.", code="BUDGET_NAME_TAKEN")


async def _evaluate_soon(db: AsyncSession, org_id: uuid.UUID) -> None:
    """Queue the organization's evaluation (a new or changed budget may already be crossed)."""
    await queue.enqueue(
        db,
        "budgets.evaluate_org",
        {},
        org_id=org_id,
        key=f"budgets.evaluate_org:{org_id}",
        dedupe=True,
    )


async def create_budget(db: AsyncSession, who: Principal, body: BudgetCreate) -> BudgetOut:
    await _check_account(db, who, body.cloud_account_id)
    b = Budget(
        id=uuid.uuid4(),
        org_id=who.org_id,
        name=body.name,
        amount=_check_amount(body.amount, body.currency),
        currency=body.currency,
        cloud_account_id=body.cloud_account_id,
        alert_at_80=body.alert_at_80,
        alert_at_100=body.alert_at_100,
        period=body.period,
        created_by=who.user_id,
    )
    _apply_filters(b, body.filters)
    await _save(db, b)
    await audit.record(db, "budget.created", who=who, target=b)
    await _evaluate_soon(db, who.org_id)
    return await _one(db, who, b)


async def update_budget(
    db: AsyncSession, who: Principal, budget_id: uuid.UUID, body: BudgetUpdate
) -> BudgetOut:
    b = await get_in_org(db, Budget, budget_id, who, for_update=True)
    given = body.model_fields_set
    if body.name is not None and body.name != b.name:
        await _check_name_free(db, who, body.name)
    if "cloud_account_id" in given:
        await _check_account(db, who, body.cloud_account_id)
        b.cloud_account_id = body.cloud_account_id
    for name in ("name", "alert_at_80", "alert_at_100", "period", "currency", "amount"):
        value = getattr(body, name)
        if name in given and value is None:
            raise ValidationFailed.on(name, "Must not be null.")
        if value is not None:
            setattr(b, name, value)
    _check_amount(b.amount, b.currency)
    if "filters" in given:
        _apply_filters(b, body.filters)
    changes = sorted(given)
    await audit.record(db, "budget.updated", who=who, target=b, details={"fields": changes})
    await _evaluate_soon(db, who.org_id)
    return await _one(db, who, b)


async def delete_budget(db: AsyncSession, who: Principal, budget_id: uuid.UUID) -> None:
    b = await get_in_org(db, Budget, budget_id, who, for_update=True)
    await audit.record(db, "budget.deleted", who=who, target=b)
    await db.execute(delete(Budget).where(Budget.org_id == who.org_id, Budget.id == b.id))


# --- evaluation ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Fired:
    """An alert a budget fired (new this evaluation): notify it."""

    status: BudgetStatus
    kind: AlertKind

    @property
    def event_key(self) -> str:
        return f"budget:{self.status.budget.id}:{self.status.period_start}:{self.kind.value}"


def due_kinds(s: BudgetStatus) -> list[AlertKind]:
    b = s.budget
    kinds = [
        kind
        for kind, share in THRESHOLDS
        if (b.alert_at_80 if kind is AlertKind.AT_80 else b.alert_at_100)
        and s.spend >= b.amount * share
    ]
    if s.projected_overrun:
        kinds.append(AlertKind.PROJECTED_OVERRUN)
    return kinds


async def evaluate(
    db: AsyncSession,
    org_id: uuid.UUID,
    *,
    account_id: uuid.UUID | None = None,
    as_of: date | None = None,
) -> list[Fired]:
    """Fire each due alert of the organization's budgets once per period (``account_id``: only
    the budgets that account's costs count in: its own and the organization-wide ones)."""
    await advisory_xact_lock(db, f"budgets:{org_id}")
    who = org_scope(org_id)
    stmt = org_select(Budget, who).order_by(Budget.name)
    if account_id is not None:
        stmt = stmt.where(
            (Budget.cloud_account_id == account_id) | Budget.cloud_account_id.is_(None)
        )
    budgets = (await db.scalars(stmt)).all()
    found = await statuses(db, who, budgets, as_of)
    due = [(s, kind) for s in found for kind in due_kinds(s)]
    if not due:
        return []
    seen = {
        (a.budget_id, a.period_start, a.kind)
        for a in await db.scalars(
            org_select(BudgetAlert, who).where(
                BudgetAlert.budget_id.in_(sorted({s.budget.id for s, _ in due}))
            )
        )
    }
    fired: list[Fired] = []
    for s, kind in due:
        if (s.budget.id, s.period_start, kind) in seen:
            continue
        db.add(
            BudgetAlert(
                id=uuid.uuid4(),
                org_id=org_id,
                budget_id=s.budget.id,
                period_start=s.period_start,
                kind=kind,
                spend_at_alert=s.spend,
                forecast_at_alert=None if s.forecast is None else s.forecast.forecast,
            )
        )
        fired.append(Fired(s, kind))
    await db.flush()
    return fired


async def notify_fired(db: AsyncSession, fired: Sequence[Fired]) -> None:
    """Hand each new alert to the hub: ``budget_alert`` at 80 % (medium) and 100 % (high),
    ``projected_overrun`` (medium); each delivered once per budget, period and threshold."""
    for f in fired:
        s, b = f.status, f.status.budget
        cur = b.currency
        event: events.Notification
        if f.kind is AlertKind.PROJECTED_OVERRUN:
            assert s.forecast is not None
            event = events.ProjectedOverrun(
                org_id=b.org_id,
                cloud_account_id=b.cloud_account_id,
                budget_id=b.id,
                budget_name=b.name,
                amount=money.round_money(b.amount, cur),
                current_spend=money.round_money(s.spend, cur),
                forecast=money.round_money(s.forecast.forecast, cur),
                forecast_low=money.round_money(s.forecast.low, cur),
                forecast_high=money.round_money(s.forecast.high, cur),
                currency=cur,
                period_start=s.period_start,
                period_end=s.period_end,
            )
        else:
            event = events.BudgetAlert(
                org_id=b.org_id,
                cloud_account_id=b.cloud_account_id,
                severity=events.Severity.HIGH
                if f.kind is AlertKind.AT_100
                else events.Severity.MEDIUM,
                budget_id=b.id,
                budget_name=b.name,
                threshold_percent=int(f.kind.value),
                amount=money.round_money(b.amount, cur),
                current_spend=money.round_money(s.spend, cur),
                percent_used=s.percent_used,
                currency=cur,
                period_start=s.period_start,
                period_end=s.period_end,
                forecast=None
                if s.forecast is None
                else money.round_money(s.forecast.forecast, cur),
            )
        await notify(db, event)


async def alert_count(db: AsyncSession, org_id: uuid.UUID) -> int:
    """How many alerts the organization's budgets have fired (tests, diagnostics)."""
    stmt = org_select(BudgetAlert, org_scope(org_id)).with_only_columns(func.count())
    return int(await db.scalar(stmt) or 0)
