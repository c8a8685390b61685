"""``/costs``: the breakdown, the trend and the discovery endpoints, answered through
``costs.query`` only.

Currencies are never added up: each answer is in one currency (the requested one, else the
default of ``core.money.default_currency``: the org's ``default_currency`` setting, else the
one most of the caller's cloud accounts bill in) and lists every currency present with its own
total. Amounts are the exact sums rounded to their currency's minor units by largest remainder
(``core.money.round_parts``): the groups of a level add up exactly to the rounded total above
them (and a trend's points to its ``totalCost``).
"""

import calendar
import uuid
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Final

from sqlalchemy.ext.asyncio import AsyncSession

from xplorr.cloud_accounts.models import CloudAccount
from xplorr.core import clock, money
from xplorr.core.dates import MIN_DATE
from xplorr.core.errors import NotFound, ValidationFailed
from xplorr.core.tenancy import Principal, Scope, get_in_org
from xplorr.costs import allocate, query
from xplorr.costs.allocate import AllocatedGroup, ShareRule
from xplorr.costs.query import (
    CostGroup,
    CostMetric,
    CostQuery,
    Dim,
    GroupBy,
    Metric,
    TagFilter,
    TagKey,
)
from xplorr.costs.schemas import (
    CostBreakdownOut,
    CostItem,
    CostTrendOut,
    CurrencyTotal,
    DimensionsOut,
    TagKeyItem,
    TagKeysOut,
    TagValuesOut,
    TrendPoint,
)
from xplorr.kubernetes import query as cluster_query
from xplorr.kubernetes.query import ClusterGroupBy, ClusterInfo
from xplorr.settings import service as org_settings

GROUP_BYS: Final[dict[str, Dim]] = {
    "provider": Dim.PROVIDER,
    "service": Dim.SERVICE,
    "region": Dim.REGION,
    "date": Dim.DATE,
    "account": Dim.ACCOUNT,
    "resource": Dim.RESOURCE,
    "sku": Dim.SKU,
    "chargeCategory": Dim.CHARGE_CATEGORY,
    "serviceCategory": Dim.SERVICE_CATEGORY,
    "pricingCategory": Dim.PRICING_CATEGORY,
    "month": Dim.MONTH,
    "week": Dim.WEEK,
}
GROUP_BY_HELP: Final = ", ".join(GROUP_BYS) + " or tag:<key>"
TIME_DIMS: Final = frozenset({Dim.DATE, Dim.WEEK, Dim.MONTH})
TAG_PREFIX: Final = "tag:"
PERCENT_QUANTUM: Final = Decimal("0.01")
ZERO: Final = Decimal(0)
OTHER_NAME: Final = "other"
DAILY_MAX_DAYS: Final = 366  # a leap year: "the last 12 months" always fits
MONTHLY_MAX_DAYS: Final = 3 * 365 + 1  # three years, one of them leap
DEFAULT_DAYS: Final = 30
DEFAULT_MONTHS: Final = 13  # this month and the twelve before it
DEFAULT_WEEKS: Final = 12
TAG_VALUE_MAX: Final = 500


class Granularity(StrEnum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"


class PreviousPeriod(StrEnum):
    """What ``/costs/trend`` compares the range with."""

    PRECEDING = "preceding"  # the equally long period just before startDate
    MONTH_TO_DATE = "month_to_date"  # this month so far against the same days of last month
    YEAR_OVER_YEAR = "year_over_year"  # the same days one year earlier


class TagCase(StrEnum):
    SENSITIVE = "sensitive"
    INSENSITIVE = "insensitive"


@dataclass(frozen=True, slots=True)
class CostParams:
    """The query parameters every ``/costs`` endpoint shares, parsed but not yet resolved
    (the default range depends on the data and on the grain)."""

    start_date: str | None = None
    end_date: str | None = None
    metric: Metric = Metric.BILLED
    provider: str | None = None
    account_id: uuid.UUID | None = None
    currency: str | None = None
    services: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    charge_categories: tuple[str, ...] = ()
    service_categories: tuple[str, ...] = ()
    resource_ids: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    # A Kubernetes cluster (its OpenCost allocations) instead of the cloud accounts' costs:
    # /costs and /costs/trend only (kubernetes.query).
    cluster_id: uuid.UUID | None = None


@dataclass(frozen=True, slots=True)
class CostFilters:
    """The filters, validated, with the range resolved."""

    start: date
    end: date
    metric: Metric = Metric.BILLED
    provider: str | None = None
    account_id: uuid.UUID | None = None
    currency: str | None = None
    services: frozenset[str] | None = None
    regions: frozenset[str] | None = None
    charge_categories: frozenset[str] | None = None
    service_categories: frozenset[str] | None = None
    resource_ids: frozenset[str] | None = None
    tags: tuple[TagFilter, ...] = field(default=())
    cluster: ClusterInfo | None = None

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def query(
        self,
        start: date | None = None,
        end: date | None = None,
        group_by: tuple[GroupBy, ...] = (),
    ) -> CostQuery:
        return CostQuery(
            start=start or self.start,
            end=end or self.end,
            metric=self.metric,
            group_by=group_by,
            providers=frozenset({self.provider}) if self.provider else None,
            account_ids=frozenset({self.account_id}) if self.account_id else None,
            services=self.services,
            regions=self.regions,
            charge_categories=self.charge_categories,
            service_categories=(
                frozenset[str | None](self.service_categories)
                if self.service_categories is not None
                else None
            ),
            resource_ids=self.resource_ids,
            tags=self.tags,
        )


def parse_tag_filters(values: Sequence[str]) -> tuple[TagFilter, ...]:
    """``key:value`` (``key:`` for rows without the key), repeatable: values of one key are
    OR-ed, keys AND-ed."""
    by_key: dict[str, set[str | None]] = defaultdict(set)
    for raw in values:
        key, sep, value = raw.partition(":")
        if not sep:
            raise ValidationFailed.on(
                "tag", "Use key:value, or key: for costs without the key (e.g. env:prod, env:)."
            )
        if (problem := query.tag_key_problem(key)) is not None:
            raise ValidationFailed.on("tag", problem)
        if len(value) > TAG_VALUE_MAX:
            raise ValidationFailed.on("tag", f"A tag value is at most {TAG_VALUE_MAX} characters.")
        by_key[key].add(value or None)
    return tuple(TagFilter(TagKey(k), frozenset(v)) for k, v in sorted(by_key.items()))


def _nonempty(field_name: str, values: Sequence[str]) -> frozenset[str] | None:
    if not values:
        return None
    if any(not v for v in values):
        raise ValidationFailed.on(field_name, "Must not be empty.")
    return frozenset(values)


def _parse_day(field_name: str, value: str | None) -> date | None:
    if value is None:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise ValidationFailed.on(field_name, "Not a calendar date (YYYY-MM-DD).") from None
    if len(value) != 10:
        raise ValidationFailed.on(field_name, "Use the YYYY-MM-DD form.")
    if day < MIN_DATE:
        raise ValidationFailed.on(field_name, f"Dates start at {MIN_DATE.isoformat()}.")
    return day


def _months_back(day: date, months: int) -> date:
    """The first of the month ``months`` calendar months before ``day``'s month."""
    index = day.year * 12 + day.month - 1 - months
    return date(index // 12, index % 12 + 1, 1)


def _default_start(end: date, grain: Granularity) -> date:
    if grain is Granularity.MONTH:
        return _months_back(end, DEFAULT_MONTHS - 1)
    if grain is Granularity.WEEK:
        monday = end - timedelta(days=end.weekday())
        return monday - timedelta(weeks=DEFAULT_WEEKS - 1)
    return end - timedelta(days=DEFAULT_DAYS)


async def resolve_filters(
    db: AsyncSession,
    who: Principal,
    params: CostParams,
    *,
    grain: Granularity = Granularity.DAY,
    start_default: Callable[[date], date] | None = None,
    cluster_ok: bool = False,
) -> CostFilters:
    """Validate ``params`` and resolve the range: the end defaults to the last complete day of
    the data the filters can see (``dataThrough``; today without data), the start to 30 days
    before it (daily), the Monday 11 weeks before its week (weekly) or the first of the month
    12 months before its month (monthly). At most 366 days, three years by month.

    With a ``clusterId`` (where ``cluster_ok``): the cluster's last day with allocations ends
    the default range, and the cloud filters do not apply (a 422 names the first given)."""
    cluster = await _check_cluster(db, who, params, cluster_ok)
    await _check_account(db, who, params.account_id)
    start_day = _parse_day("startDate", params.start_date)
    end = _parse_day("endDate", params.end_date)
    if end is None and cluster is not None:
        end = cluster.data_through or clock.now().date()
    if end is None:
        accounts = [params.account_id] if params.account_id else None
        end = await query.data_through(db, who, accounts) or clock.now().date()
    start = start_day or (start_default or (lambda e: _default_start(e, grain)))(end)
    if start < MIN_DATE:
        raise ValidationFailed.on("startDate", f"Dates start at {MIN_DATE.isoformat()}.")
    if end < start:
        raise ValidationFailed.on("endDate", "Must not be before startDate.")
    limit = MONTHLY_MAX_DAYS if grain is Granularity.MONTH else DAILY_MAX_DAYS
    if (end - start).days + 1 > limit:
        raise ValidationFailed.on(
            "endDate",
            f"The range is at most {DAILY_MAX_DAYS} days by day or week, "
            f"{MONTHLY_MAX_DAYS} days (three years) by month.",
        )
    return CostFilters(
        start=start,
        end=end,
        metric=params.metric,
        provider=params.provider,
        account_id=params.account_id,
        currency=params.currency.upper() if params.currency else None,
        services=_nonempty("service", params.services),
        regions=_nonempty("region", params.regions),
        charge_categories=_nonempty("chargeCategory", params.charge_categories),
        service_categories=_nonempty("serviceCategory", params.service_categories),
        resource_ids=_nonempty("resourceId", params.resource_ids),
        tags=parse_tag_filters(params.tags),
        cluster=cluster,
    )


# The cloud filters, which a cluster's costs do not have (query parameter -> CostParams field).
_CLOUD_FILTERS: Final = {
    "provider": "provider",
    "accountId": "account_id",
    "service": "services",
    "region": "regions",
    "chargeCategory": "charge_categories",
    "serviceCategory": "service_categories",
    "resourceId": "resource_ids",
    "tag": "tags",
}


async def _check_cluster(
    db: AsyncSession, who: Principal, params: CostParams, cluster_ok: bool
) -> ClusterInfo | None:
    if params.cluster_id is None:
        return None
    if not cluster_ok:
        raise ValidationFailed.on("clusterId", "Only /costs and /costs/trend answer for a cluster.")
    for name, attr in _CLOUD_FILTERS.items():
        if getattr(params, attr):
            raise ValidationFailed.on(
                name, "Not with clusterId: a cluster's costs are its OpenCost allocations."
            )
    return await cluster_query.cluster_info(db, who, params.cluster_id)


def parse_group_by(value: str, field_name: str = "groupBy") -> GroupBy:
    """One of :data:`GROUP_BYS` or ``tag:<key>``."""
    if value in GROUP_BYS:
        return GROUP_BYS[value]
    if value.startswith(TAG_PREFIX):
        key = value[len(TAG_PREFIX) :]
        if (problem := query.tag_key_problem(key)) is not None:
            raise ValidationFailed.on(field_name, problem)
        return TagKey(key)
    raise ValidationFailed.on(field_name, f"Must be one of {GROUP_BY_HELP}.")


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


async def default_currency(db: AsyncSession, who: Scope) -> str | None:
    """``core.money.default_currency`` for ``who``'s answers: the organization's
    ``default_currency`` setting when set, else the currency most of ``who``'s visible cloud
    accounts bill in (then the most account-months), over every period stored, so it does not
    change with the range asked. None: no setting and no cost data."""
    reporting = (await org_settings.get_org_settings(db, who.org_id)).default_currency
    if reporting is not None:
        return money.default_currency(reporting, {})
    return money.default_currency(None, await query.currency_use(db, who))


async def answer_currency(db: AsyncSession, who: Principal, requested: str | None) -> str | None:
    """The currency of an answer: the requested one, else ``default_currency``."""
    if requested is not None:
        return requested
    return await default_currency(db, who)


def _rounded(amount: Decimal, currency: str | None) -> Decimal:
    """``amount`` in the answer's currency, rounded to its minor units (0 without a currency)."""
    return money.round_money(amount, currency) if currency else ZERO


def _parts(
    amounts: Sequence[Decimal], currency: str | None, total: Decimal | None = None
) -> list[Decimal]:
    if not currency:
        return [ZERO for _ in amounts]
    return money.round_parts(amounts, currency, total)


def _item_key(value: query.Key) -> str | None:
    if value is None:
        return None
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


@dataclass(slots=True)
class _Node:
    """A group being built: exact cost, and the groups of the second dimension under it.
    With allocation, ``direct`` is its own cost (``cost - direct`` moved onto it by rules);
    None without allocation."""

    key: query.Key
    name: str
    cost: Decimal
    other: bool = False
    children: list["_Node"] = field(default_factory=list)
    direct: Decimal | None = None

    def add(self, cost: Decimal, direct: Decimal | None) -> None:
        self.cost += cost
        if direct is not None:
            self.direct = (self.direct or ZERO) + direct


def _order(nodes: list[_Node], dim: GroupBy | ClusterGroupBy) -> None:
    if dim in TIME_DIMS:
        nodes.sort(key=lambda n: _item_key(n.key) or "")
    else:
        nodes.sort(key=lambda n: (-n.cost, n.name, _item_key(n.key) or ""))


def _top(nodes: list[_Node], dim: GroupBy | ClusterGroupBy, limit: int | None) -> list[_Node]:
    """The ``limit`` largest groups, the rest summed into one ``other`` group (listed last)."""
    _order(nodes, dim)
    if limit is None or len(nodes) <= limit:
        return nodes
    ranked = sorted(nodes, key=lambda n: (-n.cost, n.name, _item_key(n.key) or ""))
    kept, rest = ranked[:limit], ranked[limit:]
    _order(kept, dim)
    allocated = any(n.direct is not None for n in rest)
    merged: dict[tuple[str, str], _Node] = {}
    for node in rest:
        for child in node.children:
            slot = (child.name, _item_key(child.key) or "")
            if slot not in merged:
                merged[slot] = _Node(
                    child.key, child.name, ZERO, child.other, direct=ZERO if allocated else None
                )
            merged[slot].add(child.cost, child.direct)
    other = _Node(None, OTHER_NAME, ZERO, other=True, direct=ZERO if allocated else None)
    for node in rest:
        other.add(node.cost, node.direct)
    other.children = list(merged.values())
    return [*kept, other]


def _items(
    nodes: list[_Node],
    rounded: Sequence[Decimal],
    whole: Decimal,
    currency: str | None,
    nested: bool,
) -> list[CostItem]:
    """The answer's items: ``rounded`` costs (largest remainder); with allocation ``direct``
    rounded half up and ``allocated`` the rest, so ``cost = direct + allocated`` as shown."""
    out: list[CostItem] = []
    for node, amount in zip(nodes, rounded, strict=True):
        children = None
        if nested:
            children = _items(
                node.children,
                _parts([c.cost for c in node.children], currency, amount),
                node.cost,
                currency,
                nested=False,
            )
        direct = None
        if node.direct is not None:
            direct = _rounded(node.direct, currency)
        out.append(
            CostItem(
                key=_item_key(node.key),
                name=node.name,
                cost=amount,
                percentage=_percent(node.cost, whole),
                other=node.other,
                groups=children,
                direct=direct,
                allocated=None if direct is None else amount - direct,
            )
        )
    return out


def _tree(
    rows: Sequence[tuple[tuple[query.Key, ...], tuple[str, ...], Decimal, Decimal | None]],
    dims: tuple[GroupBy | ClusterGroupBy, ...],
    limit: int | None,
    ranked: tuple[int, Decimal] | None = None,
) -> list[_Node]:
    """``rows`` (key, names, cost, direct) at ``dims`` grain as ordered top-level nodes, each
    with the second dimension's nodes under it; ``limit`` applied at each level. ``ranked``:
    ``rows`` are only the largest groups of one dimension (``query.top_groups``), out of
    (this many groups, adding up to this total): the rest is ``other``."""
    top: dict[tuple[str, str], _Node] = {}
    for key, names, cost, direct in rows:
        slot = (names[0], _item_key(key[0]) or "")
        node = top.get(slot)
        if node is None:
            node = top[slot] = _Node(
                key[0], names[0], ZERO, direct=None if direct is None else ZERO
            )
        node.add(cost, direct)
        if len(dims) > 1:
            node.children.append(_Node(key[1], names[1], cost, direct=direct))
    nodes = _top(list(top.values()), dims[0], limit)
    if ranked is not None and limit is not None and ranked[0] > limit:
        kept = [n for n in nodes if not n.other]
        rest = ranked[1] - sum((n.cost for n in kept), ZERO)
        nodes = [*kept, _Node(None, OTHER_NAME, rest, other=True)]
    if len(dims) > 1:
        for node in nodes:
            node.children = _top(node.children, dims[1], limit)
    return nodes


def allocated_items(
    groups: Sequence[AllocatedGroup], currency: str | None
) -> tuple[list[CostItem], Decimal]:
    """The items of a one-dimension allocated answer in ``currency`` (as ``GET /costs``
    shows them: largest first, the same rounding) and their exact total. What the allocation
    preview compares."""
    mine = [g for g in groups if g.currency == currency]
    total = sum((g.cost for g in mine), ZERO)
    if currency is None or not mine:
        return [], total
    dim = TagKey("_")  # any tag key: ordered by cost
    nodes = _tree([(g.key, g.names, g.cost, g.direct) for g in mine], (dim,), None)
    return _items(nodes, _parts([n.cost for n in nodes], currency), total, currency, False), total


async def breakdown(
    db: AsyncSession,
    who: Principal,
    params: CostParams,
    group_by: str,
    then_by: str | None = None,
    limit: int | None = None,
    rules: Sequence[ShareRule] | None = None,
) -> CostBreakdownOut:
    """Costs per group of one dimension (and per group of a second one inside each), sorted
    by cost (time groups: by date); the ``limit`` largest and the rest as ``other``.

    With ``rules`` (``allocate=true``, which needs ``groupBy=tag:<key>``): the allocation rules
    targeting that key applied (``costs.allocate``) under the same filters, each item (nested
    ones and ``other`` included) showing its ``direct`` and ``allocated`` cost."""
    if params.cluster_id is not None:
        return await _cluster_breakdown(db, who, params, group_by, then_by, limit, rules)
    dim = parse_group_by(group_by)
    second = parse_group_by(then_by, "thenBy") if then_by is not None else None
    if second is not None and second == dim:
        raise ValidationFailed.on("thenBy", "Must differ from groupBy.")
    if rules is not None and not isinstance(dim, TagKey):
        raise ValidationFailed.on("allocate", "Allocation needs groupBy=tag:<key>.")
    monthly = Dim.MONTH in (dim, second)
    filters = await resolve_filters(
        db, who, params, grain=Granularity.MONTH if monthly else Granularity.DAY
    )
    dims: tuple[GroupBy, ...] = (dim,) if second is None else (dim, second)
    currency = await answer_currency(db, who, filters.currency)
    totals: dict[str, Decimal] = {}
    rows: list[Row] = []
    ranked: tuple[int, Decimal] | None = None
    if rules is None and second is None and limit is not None and currency is not None:
        # Only the largest groups leave the database (tens of thousands of resources...).
        top = await query.top_groups(db, who, filters.query(group_by=dims), currency, limit)
        totals = top.totals
        rows = [(g.key, g.names, g.cost, None) for g in top.groups]
        ranked = (top.count, totals.get(currency, ZERO))
    elif rules is not None:
        allocation = await allocate.allocate(db, who, filters.query(group_by=dims), rules)
        for ag in allocation.groups:
            totals[ag.currency] = totals.get(ag.currency, ZERO) + ag.cost
            if ag.currency == currency:
                rows.append((ag.key, ag.names, ag.cost, ag.direct))
    else:
        groups: list[CostGroup] = await query.aggregate(db, who, filters.query(group_by=dims))
        for g in groups:
            totals[g.currency] = totals.get(g.currency, ZERO) + g.cost
            if g.currency == currency:
                rows.append((g.key, g.names, g.cost, None))
    return _breakdown_out(
        rows, dims, limit, totals, currency, filters, group_by, then_by, rules, ranked
    )


Row = tuple[tuple[query.Key, ...], tuple[str, ...], Decimal, Decimal | None]


def _breakdown_out(
    rows: Sequence[Row],
    dims: tuple[GroupBy | ClusterGroupBy, ...],
    limit: int | None,
    totals: Mapping[str, Decimal],
    currency: str | None,
    filters: CostFilters,
    group_by: str,
    then_by: str | None,
    rules: Sequence[ShareRule] | None,
    ranked: tuple[int, Decimal] | None = None,
) -> CostBreakdownOut:
    total = totals.get(currency, ZERO) if currency else ZERO
    nodes = _tree(rows, dims, limit, ranked)
    return CostBreakdownOut(
        data=_items(
            nodes,
            _parts([n.cost for n in nodes], currency),
            total,
            currency,
            nested=len(dims) > 1,
        ),
        total_cost=_rounded(total, currency),
        currency=currency,
        currencies=_currency_totals(totals, currency),
        start_date=filters.start,
        end_date=filters.end,
        group_by=group_by,
        then_by=then_by,
        metric=CostMetric(filters.metric),
        allocated=rules is not None,
    )


async def _cluster_breakdown(
    db: AsyncSession,
    who: Principal,
    params: CostParams,
    group_by: str,
    then_by: str | None,
    limit: int | None,
    rules: Sequence[ShareRule] | None,
) -> CostBreakdownOut:
    """``GET /costs?clusterId=``: the cluster's allocations by namespace, controller, pod,
    node, label or period (idle as its own group), in the cluster's currency. With ``rules``
    (``allocate=true``, which needs ``groupBy=namespace`` or ``label:<key>``): the rules over
    this cluster targeting that dimension applied (``kubernetes.query.allocate``)."""
    dim = cluster_query.parse_group_by(group_by)
    second = cluster_query.parse_group_by(then_by, "thenBy") if then_by is not None else None
    if second is not None and second == dim:
        raise ValidationFailed.on("thenBy", "Must differ from groupBy.")
    if rules is not None and cluster_query.allocation_target(dim) is None:
        raise ValidationFailed.on(
            "allocate", "With clusterId, allocation needs groupBy=namespace or label:<key>."
        )
    monthly = Dim.MONTH in (dim, second)
    filters = await resolve_filters(
        db, who, params, grain=Granularity.MONTH if monthly else Granularity.DAY, cluster_ok=True
    )
    cluster = filters.cluster
    assert cluster is not None
    dims: tuple[ClusterGroupBy, ...] = (dim,) if second is None else (dim, second)
    currency = filters.currency or cluster.currency
    found: Sequence[AllocatedGroup | CostGroup]
    if rules is not None:
        found = (
            await cluster_query.allocate(db, who, cluster, filters.start, filters.end, dims, rules)
        ).groups
    else:
        found = await cluster_query.aggregate(db, who, cluster, filters.start, filters.end, dims)
    totals = {cluster.currency: sum((g.cost for g in found), ZERO)} if found else {}
    rows = [
        (g.key, g.names, g.cost, g.direct if isinstance(g, AllocatedGroup) else None)
        for g in found
        if g.currency == currency
    ]
    return _breakdown_out(rows, dims, limit, totals, currency, filters, group_by, then_by, rules)


def _shift_year(day: date, years: int) -> date:
    """``day`` ``years`` years later (earlier when negative); 29 February -> 28 February."""
    year = day.year + years
    return day.replace(year=year, day=min(day.day, calendar.monthrange(year, day.month)[1]))


def _previous(filters: CostFilters, mode: PreviousPeriod) -> tuple[date, date]:
    if mode is PreviousPeriod.MONTH_TO_DATE:
        last_month_start = _months_back(filters.start, 1)
        last_day = calendar.monthrange(last_month_start.year, last_month_start.month)[1]
        return last_month_start, last_month_start.replace(day=min(filters.end.day, last_day))
    if mode is PreviousPeriod.YEAR_OVER_YEAR:
        return _shift_year(filters.start, -1), _shift_year(filters.end, -1)
    return filters.start - timedelta(days=filters.days), filters.start - timedelta(days=1)


def _buckets(start: date, end: date, grain: Granularity) -> list[date]:
    """The first day of every bucket of ``grain`` that meets ``start..end``."""
    if grain is Granularity.DAY:
        return [start + timedelta(days=i) for i in range((end - start).days + 1)]
    if grain is Granularity.WEEK:
        first = start - timedelta(days=start.weekday())
        return [first + timedelta(weeks=i) for i in range((end - first).days // 7 + 1)]
    out = [start.replace(day=1)]
    while (nxt := _months_back(out[-1], -1)) <= end:
        out.append(nxt)
    return out


_GRAIN_DIM: Final = {
    Granularity.DAY: Dim.DATE,
    Granularity.WEEK: Dim.WEEK,
    Granularity.MONTH: Dim.MONTH,
}


async def trend(
    db: AsyncSession,
    who: Principal,
    params: CostParams,
    granularity: Granularity = Granularity.DAY,
    previous_period: PreviousPeriod = PreviousPeriod.PRECEDING,
) -> CostTrendOut:
    """The series of the range by day, week or month (every bucket, 0 without cost) and the
    total of the period it is compared with."""
    start_default: Callable[[date], date] | None = None
    if previous_period is PreviousPeriod.MONTH_TO_DATE:
        if params.start_date is not None:
            raise ValidationFailed.on(
                "startDate",
                "Not with previousPeriod=month_to_date: the range is the month of endDate "
                "up to endDate.",
            )
        start_default = lambda end: end.replace(day=1)  # noqa: E731
    filters = await resolve_filters(
        db, who, params, grain=granularity, start_default=start_default, cluster_ok=True
    )
    previous_start, previous_end = _previous(filters, previous_period)
    cluster = filters.cluster
    if cluster is not None:
        current = await cluster_query.aggregate(
            db, who, cluster, filters.start, filters.end, (_GRAIN_DIM[granularity],)
        )
        before_total = await cluster_query.total(db, who, cluster, previous_start, previous_end)
        before = {cluster.currency: before_total} if before_total else {}
    else:
        current = await query.aggregate(db, who, filters.query(group_by=(_GRAIN_DIM[granularity],)))
        before = await query.totals_by_currency(
            db, who, filters.query(start=previous_start, end=previous_end)
        )
    totals: dict[str, Decimal] = defaultdict(Decimal)
    series: dict[tuple[str, date], Decimal] = {}
    for g in current:
        bucket = g.key[0]
        assert isinstance(bucket, date)
        totals[g.currency] += g.cost
        series[(g.currency, bucket)] = g.cost
    currency = (
        filters.currency or cluster.currency
        if cluster is not None
        else await answer_currency(db, who, filters.currency)
    )
    total = totals.get(currency, ZERO) if currency else ZERO
    previous_total = before.get(currency, ZERO) if currency else ZERO
    buckets = _buckets(filters.start, filters.end, granularity)
    exact = [series.get((currency or "", b), ZERO) for b in buckets]
    return CostTrendOut(
        data=[
            TrendPoint(date=b, cost=c)
            for b, c in zip(buckets, _parts(exact, currency), strict=True)
        ],
        total_cost=_rounded(total, currency),
        previous_period_total=_rounded(previous_total, currency),
        change_percent=(
            None
            if previous_total == ZERO
            else _percent(total - previous_total, abs(previous_total))
        ),
        currency=currency,
        currencies=_currency_totals(totals, currency),
        start_date=filters.start,
        end_date=filters.end,
        previous_start_date=previous_start,
        previous_end_date=previous_end,
        granularity=granularity,
        previous_period=previous_period,
        metric=CostMetric(filters.metric),
    )


# --- discovery -----------------------------------------------------------------------------------

DIMENSIONS: Final[dict[str, Dim]] = {
    "providers": Dim.PROVIDER,
    "accounts": Dim.ACCOUNT,
    "services": Dim.SERVICE,
    "serviceCategories": Dim.SERVICE_CATEGORY,
    "regions": Dim.REGION,
    "chargeCategories": Dim.CHARGE_CATEGORY,
    "pricingCategories": Dim.PRICING_CATEGORY,
}


def _ranked_items(
    groups: Sequence[CostGroup], currency: str | None, total: Decimal
) -> list[CostItem]:
    mine = [_Node(g.key[0], g.names[0], g.cost) for g in groups if g.currency == currency]
    _order(mine, Dim.SERVICE)
    return _items(mine, _parts([n.cost for n in mine], currency), total, currency, nested=False)


async def dimensions(db: AsyncSession, who: Principal, params: CostParams) -> DimensionsOut:
    """Every value of each dimension in the range, with its total (largest first): one query
    grouping by each of them (``query.aggregate_each``)."""
    filters = await resolve_filters(db, who, params)
    currency = await answer_currency(db, who, filters.currency)
    per_dim = await query.aggregate_each(db, who, filters.query(), tuple(DIMENSIONS.values()))
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for g in per_dim[Dim.PROVIDER]:
        totals[g.currency] += g.cost
    total = totals.get(currency, ZERO) if currency else ZERO
    lists = {name: _ranked_items(per_dim[dim], currency, total) for name, dim in DIMENSIONS.items()}
    return DimensionsOut(
        providers=lists["providers"],
        accounts=lists["accounts"],
        services=lists["services"],
        service_categories=lists["serviceCategories"],
        regions=lists["regions"],
        charge_categories=lists["chargeCategories"],
        pricing_categories=lists["pricingCategories"],
        total_cost=_rounded(total, currency),
        currency=currency,
        currencies=_currency_totals(totals, currency),
        start_date=filters.start,
        end_date=filters.end,
        metric=CostMetric(filters.metric),
    )


async def tag_keys(
    db: AsyncSession, who: Principal, params: CostParams, tag_case: TagCase
) -> TagKeysOut:
    """Every tag key in the range with the cost of the rows that carry it and its share of the
    total, largest first; ``insensitive``: keys that differ only in case are one."""
    filters = await resolve_filters(db, who, params)
    currency = await answer_currency(db, who, filters.currency)
    q = filters.query()
    totals = await query.totals_by_currency(db, who, q)
    total = totals.get(currency, ZERO) if currency else ZERO
    per_key = await query.tag_key_totals(db, who, q)
    merged: dict[str, tuple[list[str], Decimal]] = {}
    for key, by_currency in per_key.items():
        amount = by_currency.get(currency or "", None)
        if amount is None:
            continue
        slot = key.lower() if tag_case is TagCase.INSENSITIVE else key
        spellings, cost = merged.get(slot, ([], ZERO))
        merged[slot] = ([*spellings, key], cost + amount)
    ranked = sorted(merged.items(), key=lambda item: (-item[1][1], item[0]))
    return TagKeysOut(
        data=[
            TagKeyItem(
                key=slot,
                variants=sorted(spellings),
                cost=_rounded(cost, currency),
                percentage=_percent(cost, total),
            )
            for slot, (spellings, cost) in ranked
        ],
        total_cost=_rounded(total, currency),
        currency=currency,
        currencies=_currency_totals(totals, currency),
        start_date=filters.start,
        end_date=filters.end,
        tag_case=tag_case,
        metric=CostMetric(filters.metric),
    )


async def tag_values(
    db: AsyncSession,
    who: Principal,
    params: CostParams,
    key: str,
    tag_case: TagCase,
    limit: int | None = None,
) -> TagValuesOut:
    """The values of one tag key with their totals, the untagged rest as ``{key: null}``;
    ``insensitive``: every key spelled like ``key`` in any case."""
    if (problem := query.tag_key_problem(key)) is not None:
        raise ValidationFailed.on("key", problem)
    keys = await query.tag_key_spellings(db, who, key, any_case=tag_case is TagCase.INSENSITIVE)
    if not keys:
        raise NotFound("No cost you can see carries this tag key.", code="TAG_KEY_NOT_FOUND")
    filters = await resolve_filters(db, who, params)
    currency = await answer_currency(db, who, filters.currency)
    q = filters.query()
    totals = await query.totals_by_currency(db, who, q)
    total = totals.get(currency, ZERO) if currency else ZERO
    values: dict[str, Decimal] = defaultdict(Decimal)
    tagged = ZERO
    for spelling in keys:
        groups = await query.aggregate(
            db, who, replace(q, group_by=(TagKey(spelling),), currency=currency)
        )
        for g in groups:
            if g.currency != currency or g.key[0] is None:
                continue
            values[str(g.key[0])] += g.cost
            tagged += g.cost
    nodes = [_Node(v, v, c) for v, c in values.items()]
    untagged = total - tagged
    if untagged != ZERO:
        nodes.append(_Node(None, query.UNTAGGED_NAME, untagged))
    nodes = _top(nodes, Dim.SERVICE, limit)
    return TagValuesOut(
        data=_items(nodes, _parts([n.cost for n in nodes], currency), total, currency, False),
        key=key,
        variants=keys,
        total_cost=_rounded(total, currency),
        currency=currency,
        currencies=_currency_totals(totals, currency),
        start_date=filters.start,
        end_date=filters.end,
        tag_case=tag_case,
        metric=CostMetric(filters.metric),
    )
