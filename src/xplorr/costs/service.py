"""``/costs``: the cost breakdown and the daily trend, answered through ``costs.query`` only.

Currencies are never added up: each answer is in one currency (the requested one, else the
default of ``core.money.default_currency``: the reporting currency, else the one most of the
caller's cloud accounts bill in) and lists every currency present with its own total. Amounts
are the exact sums rounded to their currency's minor units half up, each on its own: the
rounded groups may differ from the rounded total by a unit of the last place or so.
"""

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Final, Literal

from sqlalchemy.ext.asyncio import AsyncSession

from xplorr.cloud_accounts.models import CloudAccount
from xplorr.core import money
from xplorr.core.dates import DateRange
from xplorr.core.errors import NotFound, ValidationFailed
from xplorr.core.tenancy import Principal, get_in_org
from xplorr.costs import allocate, query
from xplorr.costs.allocate import AllocatedGroup, ShareRule
from xplorr.costs.query import CostGroup, CostMetric, CostQuery, Dim, GroupBy, Metric, TagKey
from xplorr.costs.schemas import (
    CostBreakdownOut,
    CostItem,
    CostTrendOut,
    CurrencyTotal,
    TrendPoint,
)

CostProvider = Literal["aws", "azure", "gcp"]
GROUP_BYS: Final[dict[str, Dim]] = {
    "provider": Dim.PROVIDER,
    "service": Dim.SERVICE,
    "region": Dim.REGION,
    "date": Dim.DATE,
    "account": Dim.ACCOUNT,
}
TAG_PREFIX: Final = "tag:"
PERCENT_QUANTUM: Final = Decimal("0.01")
ZERO: Final = Decimal(0)


@dataclass(frozen=True, slots=True)
class CostFilters:
    """The filters both endpoints share, validated."""

    start: date
    end: date
    metric: Metric = Metric.BILLED
    provider: CostProvider | None = None
    account_id: uuid.UUID | None = None
    currency: str | None = None

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def query(self, start: date | None = None, group_by: tuple[GroupBy, ...] = ()) -> CostQuery:
        return CostQuery(
            start=start or self.start,
            end=self.end,
            metric=self.metric,
            group_by=group_by,
            providers=frozenset({self.provider}) if self.provider else None,
            account_ids=frozenset({self.account_id}) if self.account_id else None,
        )


def resolve_filters(
    *,
    dates: DateRange,
    metric: Metric = Metric.BILLED,
    provider: CostProvider | None = None,
    account_id: uuid.UUID | None = None,
    currency: str | None = None,
) -> CostFilters:
    return CostFilters(
        start=dates.start,
        end=dates.end,
        metric=metric,
        provider=provider,
        account_id=account_id,
        currency=currency.upper() if currency else None,
    )


def parse_group_by(value: str) -> GroupBy:
    """``provider|service|region|date|account`` or ``tag:<key>``."""
    if value in GROUP_BYS:
        return GROUP_BYS[value]
    if value.startswith(TAG_PREFIX):
        key = value[len(TAG_PREFIX) :]
        if (problem := query.tag_key_problem(key)) is not None:
            raise ValidationFailed.on("groupBy", problem)
        return TagKey(key)
    raise ValidationFailed.on(
        "groupBy", "Use provider, service, region, date, account or tag:<key>."
    )


async def _check_account(db: AsyncSession, who: Principal, account_id: uuid.UUID | None) -> None:
    """A foreign account, or one the caller was not granted, is not found (never forbidden)."""
    if account_id is None:
        return
    await get_in_org(db, CloudAccount, account_id, who)
    if who.account_ids is not None and account_id not in who.account_ids:
        raise NotFound.of("CloudAccount", account_id)


def _percent(part: Decimal, whole: Decimal) -> Decimal:
    if whole == ZERO:
        return ZERO
    return (part * 100 / whole).quantize(PERCENT_QUANTUM, rounding=ROUND_HALF_UP)


def _currency_totals(totals: Mapping[str, Decimal], first: str | None) -> list[CurrencyTotal]:
    """Each currency's total: the answer's currency first, then alphabetical (amounts in
    different currencies are not comparable, so never ranked by size)."""
    ranked = sorted(totals.items(), key=lambda item: (item[0] != first, item[0]))
    return [
        CurrencyTotal(currency=cur, total_cost=money.round_money(total, cur))
        for cur, total in ranked
    ]


async def answer_currency(db: AsyncSession, who: Principal, requested: str | None) -> str | None:
    """The currency of an answer: the requested one, else ``core.money.default_currency``.

    The organization's reporting currency setting does not exist yet (integrations issue); until
    it does, the default is the currency most of ``who``'s visible cloud accounts bill in (then
    the most account-months), over every period stored, so it does not change with the range
    asked. None: no cost data."""
    if requested is not None:
        return requested
    return money.default_currency(None, await query.currency_use(db, who))


def _rounded(amount: Decimal, currency: str | None) -> Decimal:
    """``amount`` in the answer's currency, rounded to its minor units (0 without a currency)."""
    return money.round_money(amount, currency) if currency else ZERO


def _item_key(value: query.Key) -> str | None:
    if value is None:
        return None
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def allocated_items(
    groups: Sequence[AllocatedGroup], currency: str | None
) -> tuple[list[CostItem], Decimal]:
    """The items of an allocated answer in ``currency`` (largest first) and their exact total.

    Each item's ``cost`` is rounded so that the items add up to the rounded total to the cent
    (``allocate.round_apportioned``); ``direct`` is rounded half up and ``allocated`` is the
    rest, so ``cost = direct + allocated`` in the answer too."""
    mine = [g for g in groups if g.currency == currency]
    total = sum((g.cost for g in mine), ZERO)
    if currency is None or not mine:
        return [], total
    costs = allocate.round_apportioned({i: g.cost for i, g in enumerate(mine)}, currency)
    items: list[tuple[Decimal, CostItem]] = []
    for i, g in enumerate(mine):
        direct = money.round_money(g.direct, currency)
        items.append(
            (
                g.cost,
                CostItem(
                    key=_item_key(g.key[0]),
                    name=g.names[0],
                    cost=costs[i],
                    percentage=_percent(g.cost, total),
                    direct=direct,
                    allocated=costs[i] - direct,
                ),
            )
        )
    items.sort(key=lambda item: (-item[0], item[1].name, item[1].key or ""))
    return [item for _, item in items], total


async def breakdown(
    db: AsyncSession,
    who: Principal,
    filters: CostFilters,
    group_by: str,
    rules: Sequence[ShareRule] | None = None,
) -> CostBreakdownOut:
    """Costs per group of one dimension; sorted by cost (date groups: by date). With ``rules``
    (``allocate=true``), grouped by a tag key: the allocation rules targeting that key applied
    (``costs.allocate``), each item showing its ``direct`` and ``allocated`` cost."""
    dim = parse_group_by(group_by)
    if rules is not None and not isinstance(dim, TagKey):
        raise ValidationFailed.on("allocate", "Allocation needs groupBy=tag:<key>.")
    await _check_account(db, who, filters.account_id)
    currency = await answer_currency(db, who, filters.currency)
    totals: dict[str, Decimal] = {}
    if rules is not None:
        allocated = await allocate.allocate(db, who, filters.query(group_by=(dim,)), rules)
        for ag in allocated.groups:
            totals[ag.currency] = totals.get(ag.currency, ZERO) + ag.cost
        items, total = allocated_items(allocated.groups, currency)
    else:
        groups = await query.aggregate(db, who, filters.query(group_by=(dim,)))
        for g in groups:
            totals[g.currency] = totals.get(g.currency, ZERO) + g.cost
        total = totals.get(currency, ZERO) if currency else ZERO
        mine: list[CostGroup] = [g for g in groups if g.currency == currency]
        if dim is Dim.DATE:
            mine.sort(key=lambda g: _item_key(g.key[0]) or "")
        else:
            mine.sort(key=lambda g: (-g.cost, g.names[0], _item_key(g.key[0]) or ""))
        items = [
            CostItem(
                key=_item_key(g.key[0]),
                name=g.names[0],
                cost=money.round_money(g.cost, g.currency),
                percentage=_percent(g.cost, total),
            )
            for g in mine
        ]
    return CostBreakdownOut(
        data=items,
        total_cost=_rounded(total, currency),
        currency=currency,
        currencies=_currency_totals(totals, currency),
        start_date=filters.start,
        end_date=filters.end,
        group_by=group_by,
        metric=CostMetric(filters.metric),
        allocated=rules is not None,
    )


async def trend(db: AsyncSession, who: Principal, filters: CostFilters) -> CostTrendOut:
    """The daily series of the range and the total of the equally long period before it, from
    one query over both periods."""
    await _check_account(db, who, filters.account_id)
    previous_start = filters.start - timedelta(days=filters.days)
    previous_end = filters.start - timedelta(days=1)
    groups = await query.aggregate(
        db, who, filters.query(start=previous_start, group_by=(Dim.DATE,))
    )
    current: dict[str, Decimal] = {}
    previous: dict[str, Decimal] = {}
    daily: dict[tuple[str, date], Decimal] = {}
    for g in groups:
        day = g.key[0]
        assert isinstance(day, date)
        period = current if day >= filters.start else previous
        period[g.currency] = period.get(g.currency, ZERO) + g.cost
        daily[(g.currency, day)] = g.cost
    currency = await answer_currency(db, who, filters.currency)
    total = current.get(currency, ZERO) if currency else ZERO
    before = previous.get(currency, ZERO) if currency else ZERO
    days = (filters.start + timedelta(days=i) for i in range(filters.days))
    return CostTrendOut(
        data=[
            TrendPoint(date=day, cost=_rounded(daily.get((currency or "", day), ZERO), currency))
            for day in days
        ],
        total_cost=_rounded(total, currency),
        previous_period_total=_rounded(before, currency),
        change_percent=None if before == ZERO else _percent(total - before, abs(before)),
        currency=currency,
        currencies=_currency_totals(current, currency),
        start_date=filters.start,
        end_date=filters.end,
        previous_start_date=previous_start,
        previous_end_date=previous_end,
        metric=CostMetric(filters.metric),
    )
