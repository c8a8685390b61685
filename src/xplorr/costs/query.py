"""The one reader of the cost tables: every cost figure in the product is asked for here.

Callers (the ``/costs`` API today; anomalies, budgets, allocation and reports later) describe
*what* they want with a :class:`CostQuery` (date range, measure, group-by dimensions, filters)
and never touch ``cost_records`` or its rollups themselves, so the engine under this module can
change without touching them (ARCHITECTURE.md "Cost data").

Guarantees every function here keeps:

- **Tenancy.** Every read is scoped to ``who.org_id`` and, when ``who.account_ids`` is not None
  (a user limited by account grants), to those accounts. Callers cannot forget it: the
  principal is a required argument and the filters are added here, never by them.
- **Exact money.** Sums are computed by the database as exact decimals
  (``func.sum(col, type_=Money)``: NUMERIC on PostgreSQL, integer nanos on SQLite) and
  returned as ``Decimal`` with the store's 9 decimal places. Rounding is the caller's business.
- **Currencies are never added up.** Every answer is per currency (:attr:`CostGroup.currency`,
  ``dict`` keys of :func:`totals_by_currency` and :func:`daily_series`).
- **The cheapest table that can answer.** :func:`source_for` picks, per query:

  * ``cost_service_rollups`` when every group-by and filter dimension is in that rollup
    (provider, service, service category, date/month, account, currency): the /costs overview
    (by service, trend) reads ~6x fewer rows than from ``cost_rollups``;
  * ``cost_rollups`` when they are in that one (the above plus region, charge and pricing
    category);
  * ``cost_sku_rollups`` for a SKU grouping or filter with those dimensions;
  * for a resource grouping or filter with those dimensions (not by day or week): the whole
    months of the range from ``cost_resource_running_totals`` (per calendar year, the running
    totals of its last month minus those of the month before: two rows per resource for a
    year), by month from ``cost_monthly_resource_rollups``, the other days from the raw rows;
  * ``cost_tag_value_rollups`` for one tag key (a group-by on it, or a filter on its values,
    untagged included) with nothing else but time, account and currency; ``cost_tag_rollups``
    when it comes with any ``cost_rollups`` dimension but pricing category. The untagged rows
    are derived: the total of the same filters in ``cost_service_rollups`` (or
    ``cost_rollups``) minus the key's tagged sums, present where the total counts more raw rows
    than the tagged sums (every rollup keeps ``row_count``);
  * ``cost_records`` otherwise (several tag keys, resource with SKU or a tag, a tag with
    pricing category, quantities...).

  The whole calendar months of a range come from the monthly rollups (``cost_monthly_*``),
  its other days from the daily ones, unless the query groups by day or week.

Service names are the shown ones of ``costs.services`` (``AmazonEC2`` is grouped as ``Amazon
Elastic Compute Cloud``): the rollups store them, the raw rows are mapped when read, and a
service filter matches every spelling of the service.

  Every engine gives the same answer (tested: ``tests/costs/test_query.py``), with one rule the
  rollups force on all of them: a group whose grouped tag key is untagged and whose sum is
  exactly zero is left out (a derived untagged bucket cannot tell "no rows" from "rows that add
  up to zero").

Tag values are compared as the store's rollup keeps them: the JSON value as text (a JSON
``null`` value is ``""``), at most 500 characters. A row without the key is untagged
(``None`` in a key).
"""

import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any, Final, NamedTuple, TypeVar

from sqlalchemy import (
    ColumnElement,
    Date,
    Select,
    String,
    Text,
    case,
    cast,
    false,
    func,
    literal,
    literal_column,
    null,
    or_,
    select,
    type_coerce,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession

from xplorr.cloud_accounts.models import CloudAccount
from xplorr.core.models import Money
from xplorr.core.money import CurrencyUse
from xplorr.core.tenancy import Scope, org_select
from xplorr.costs import services
from xplorr.costs.models import (
    CostImport,
    CostMonthlyResourceRollup,
    CostMonthlyRollup,
    CostMonthlySkuRollup,
    CostMonthlyTagRollup,
    CostMonthlyTagValueRollup,
    CostRecord,
    CostResourceRunningTotal,
    CostRollup,
    CostServiceRollup,
    CostSkuRollup,
    CostTagRollup,
    CostTagValueRollup,
    Quantity,
)
from xplorr.costs.store import TAG_KEY_MAX, TAG_VALUE_MAX, add_months

ZERO: Final = Decimal(0)


class Metric(StrEnum):
    """Which FOCUS cost column is summed."""

    BILLED = "billed"  # BilledCost: what the invoice says
    EFFECTIVE = "effective"  # EffectiveCost: amortized, after commitment discounts
    LIST = "list"  # ListCost: at public list prices
    # ConsumedQuantity, in the row's ConsumedUnit: group by Dim.UNIT (with RESOURCE or SKU)
    # to keep units apart. Read from cost_records; CostGroup.cost then holds the quantity.
    QUANTITY = "quantity"


class CostMetric(StrEnum):
    """The money metrics (what the /costs API offers): :class:`Metric` without quantity."""

    BILLED = "billed"
    EFFECTIVE = "effective"
    LIST = "list"


class ChargeCategory(StrEnum):
    """FOCUS ChargeCategory: a closed set in every FOCUS version."""

    USAGE = "Usage"
    PURCHASE = "Purchase"
    TAX = "Tax"
    CREDIT = "Credit"
    ADJUSTMENT = "Adjustment"


class Dim(StrEnum):
    """A column a query can group by. Tag keys are :class:`TagKey` instead."""

    PROVIDER = "provider"  # slug: aws | azure | gcp | other (see provider_label)
    SERVICE = "service"  # ServiceName
    SERVICE_CATEGORY = "service_category"
    REGION = "region"  # RegionId (None: not regional)
    DATE = "date"  # usage day (UTC)
    MONTH = "month"  # first day of the usage day's calendar month
    WEEK = "week"  # the Monday of the usage day's ISO week
    ACCOUNT = "account"  # the Xplorr cloud account id
    CHARGE_CATEGORY = "charge_category"  # Usage | Purchase | Tax | Credit | Adjustment
    CURRENCY = "currency"  # BillingCurrency
    RESOURCE = "resource"  # ResourceId (cost_records only)
    RESOURCE_TYPE = "resource_type"
    SKU = "sku"
    USAGE_TYPE = "usage_type"  # the provider's usage type (AWS), cost_records only
    PRICING_CATEGORY = "pricing_category"
    SUB_ACCOUNT = "sub_account"  # SubAccountId (AWS member account, Azure subscription...)
    COMMITMENT = "commitment"  # CommitmentDiscountId (None: not covered by a commitment)
    UNIT = "unit"  # ConsumedUnit (cost_records only)
    SERVICE_SUBCATEGORY = "service_subcategory"  # ServiceSubcategory (cost_records only)


# Dimensions each rollup carries (group-by and filter).
SERVICE_ROLLUP_DIMS: Final = frozenset(
    {
        Dim.PROVIDER,
        Dim.SERVICE,
        Dim.SERVICE_CATEGORY,
        Dim.DATE,
        Dim.MONTH,
        Dim.WEEK,
        Dim.ACCOUNT,
        Dim.CURRENCY,
    }
)
ROLLUP_DIMS: Final = frozenset(
    {
        Dim.PROVIDER,
        Dim.SERVICE,
        Dim.SERVICE_CATEGORY,
        Dim.REGION,
        Dim.DATE,
        Dim.MONTH,
        Dim.WEEK,
        Dim.ACCOUNT,
        Dim.CHARGE_CATEGORY,
        Dim.PRICING_CATEGORY,
        Dim.CURRENCY,
    }
)
TAG_ROLLUP_DIMS: Final = ROLLUP_DIMS - {Dim.PRICING_CATEGORY}
TAG_VALUE_ROLLUP_DIMS: Final = frozenset({Dim.DATE, Dim.MONTH, Dim.WEEK, Dim.ACCOUNT, Dim.CURRENCY})
SKU_ROLLUP_DIMS: Final = ROLLUP_DIMS | {Dim.SKU}
# Monthly only: a range's whole months from the rollup, its other days from the raw rows.
RESOURCE_ROLLUP_DIMS: Final = (ROLLUP_DIMS - {Dim.DATE, Dim.WEEK}) | {Dim.RESOURCE}

_FORBIDDEN_IN_TAG_KEY = frozenset('"\\')


def tag_key_problem(key: str) -> str | None:
    """Why ``key`` cannot be a tag key, or None. 1..200 characters, no control characters, no
    double quote or backslash (they cannot be addressed in a JSON path on every database)."""
    if not key:
        return "Tag key must not be empty."
    if len(key) > TAG_KEY_MAX:
        return f"Tag key must be at most {TAG_KEY_MAX} characters."
    if any(ch in _FORBIDDEN_IN_TAG_KEY or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in key):
        return "Tag key must not contain control characters, double quotes or backslashes."
    return None


@dataclass(frozen=True, slots=True)
class TagKey:
    """Group by (or filter on) the value of one tag key, e.g. ``TagKey("env")``."""

    key: str

    def __post_init__(self) -> None:
        if (problem := tag_key_problem(self.key)) is not None:
            raise ValueError(problem)


GroupBy = Dim | TagKey
Key = str | date | uuid.UUID | None


@dataclass(frozen=True, slots=True)
class TagFilter:
    """Rows whose value for ``key`` is one of ``values``; ``None`` among them means untagged."""

    key: TagKey
    values: frozenset[str | None]


class Source(StrEnum):
    """The table a query is answered from (see :func:`source_for`)."""

    SERVICE_ROLLUP = "cost_service_rollups"
    ROLLUP = "cost_rollups"
    TAG_VALUE_ROLLUP = "cost_tag_value_rollups"
    TAG_ROLLUP = "cost_tag_rollups"
    SKU_ROLLUP = "cost_sku_rollups"
    RESOURCE_ROLLUP = "cost_monthly_resource_rollups"
    RECORDS = "cost_records"


@dataclass(frozen=True, slots=True)
class CostQuery:
    """What to sum. Dates are usage days, both ends inclusive.

    A filter left at ``None`` does not filter; an empty set matches nothing. ``regions`` and
    ``service_categories`` may contain ``None`` (rows without one). ``account_ids`` narrows the
    caller's visible accounts further; it never widens them.
    """

    start: date
    end: date
    metric: Metric = Metric.BILLED
    group_by: tuple[GroupBy, ...] = ()
    providers: frozenset[str] | None = None
    account_ids: frozenset[uuid.UUID] | None = None
    services: frozenset[str] | None = None
    service_categories: frozenset[str | None] | None = None
    regions: frozenset[str | None] | None = None
    charge_categories: frozenset[str] | None = None
    resource_ids: frozenset[str] | None = None
    currency: str | None = None
    tags: tuple[TagFilter, ...] = field(default=())
    # Raw-row filters (the rollups have no SkuId column but the SKU rollup's, no usage type).
    skus: frozenset[str | None] | None = None
    usage_types: frozenset[str | None] | None = None

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError("end is before start")
        if len(set(self.group_by)) != len(self.group_by):
            raise ValueError("group_by repeats a dimension")
        keys = [f.key for f in self.tags]
        if len(set(keys)) != len(keys):
            raise ValueError("one TagFilter per tag key")

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


@dataclass(frozen=True, slots=True)
class CostGroup:
    """One group of an :func:`aggregate` answer.

    ``key`` and ``names`` hold one entry per ``CostQuery.group_by`` dimension, in its order:
    ``date`` for DATE/MONTH, ``uuid.UUID`` for ACCOUNT, ``str`` or ``None`` otherwise (``None``
    for a tag key = untagged). ``names`` are display names: provider labels, account names,
    ISO dates, ``"untagged"``, ``"(none)"`` for a missing value.
    """

    key: tuple[Key, ...]
    names: tuple[str, ...]
    currency: str
    cost: Decimal


@dataclass(frozen=True, slots=True)
class DayCost:
    day: date
    cost: Decimal


PROVIDER_LABELS: Final = {"aws": "AWS", "azure": "Microsoft Azure", "gcp": "Google Cloud"}
UNTAGGED_NAME: Final = "untagged"
NONE_NAME: Final = "(none)"


def provider_label(slug: str, provider_name: str | None = None) -> str:
    """Display name of a provider: AWS, Microsoft Azure, Google Cloud, else as exported."""
    return PROVIDER_LABELS.get(slug) or provider_name or slug


# --- engine choice ------------------------------------------------------------------------------


def _tag_keys(q: CostQuery) -> set[str]:
    return {d.key for d in q.group_by if isinstance(d, TagKey)} | {f.key.key for f in q.tags}


def _filtered_dims(q: CostQuery) -> set[Dim]:
    """The dimensions ``q`` filters on, besides accounts and currency (every table has them)."""
    return {
        dim
        for dim, values in (
            (Dim.PROVIDER, q.providers),
            (Dim.SERVICE, q.services),
            (Dim.SERVICE_CATEGORY, q.service_categories),
            (Dim.REGION, q.regions),
            (Dim.CHARGE_CATEGORY, q.charge_categories),
            (Dim.RESOURCE, q.resource_ids),
            (Dim.SKU, q.skus),
            (Dim.USAGE_TYPE, q.usage_types),
        )
        if values is not None
    }


def source_for(q: CostQuery) -> Source:
    """The cheapest table that answers ``q`` exactly (module docstring)."""
    if q.metric is Metric.QUANTITY:  # the rollups keep money only
        return Source.RECORDS
    dims = {*(d for d in q.group_by if isinstance(d, Dim)), *_filtered_dims(q)}
    tag_keys = _tag_keys(q)
    if not tag_keys:
        if dims <= SERVICE_ROLLUP_DIMS:
            return Source.SERVICE_ROLLUP
        if dims <= ROLLUP_DIMS:
            return Source.ROLLUP
        if dims <= SKU_ROLLUP_DIMS:
            return Source.SKU_ROLLUP
        if dims <= RESOURCE_ROLLUP_DIMS:
            return Source.RESOURCE_ROLLUP
        return Source.RECORDS
    if len(tag_keys) == 1:
        if dims <= TAG_VALUE_ROLLUP_DIMS:
            return Source.TAG_VALUE_ROLLUP
        if dims <= TAG_ROLLUP_DIMS:
            return Source.TAG_ROLLUP
    return Source.RECORDS


# --- SQL building -------------------------------------------------------------------------------

_CostTable = (
    type[CostRecord]
    | type[CostRollup]
    | type[CostServiceRollup]
    | type[CostTagRollup]
    | type[CostTagValueRollup]
    | type[CostSkuRollup]
    | type[CostMonthlyRollup]
    | type[CostMonthlyTagRollup]
    | type[CostMonthlyTagValueRollup]
    | type[CostMonthlySkuRollup]
    | type[CostMonthlyResourceRollup]
    | type[CostResourceRunningTotal]
)
_SumTable = type[CostRecord] | type[CostRollup] | type[CostServiceRollup] | type[CostSkuRollup]
_TagTable = type[CostTagRollup] | type[CostTagValueRollup]
_SUM_TABLES: Final[dict[Source, _SumTable]] = {
    Source.SERVICE_ROLLUP: CostServiceRollup,
    Source.ROLLUP: CostRollup,
    Source.SKU_ROLLUP: CostSkuRollup,
}
_TAG_TABLES: Final = frozenset(
    {CostTagRollup, CostTagValueRollup, CostMonthlyTagRollup, CostMonthlyTagValueRollup}
)


def _dialect(db: AsyncSession) -> str:
    return db.get_bind().dialect.name


def _metric_col(model: _CostTable, metric: Metric) -> Any:
    if metric is Metric.QUANTITY:
        if model is not CostRecord:
            raise ValueError(f"{model.__tablename__} has no quantity")
        return CostRecord.consumed_quantity
    return {
        Metric.BILLED: model.billed_cost,
        Metric.EFFECTIVE: model.effective_cost,
        Metric.LIST: model.list_cost,
    }[metric]


def _month(col: Any, dialect: str) -> ColumnElement[date]:
    if dialect == "postgresql":
        return cast(func.date_trunc("month", col), Date)
    return func.date(col, "start of month", type_=Date)


def _week(col: Any, dialect: str) -> ColumnElement[date]:
    """The Monday of ``col``'s ISO week."""
    if dialect == "postgresql":
        return cast(func.date_trunc("week", col), Date)
    # 'weekday 0' moves forward to the next Sunday (or stays on one); 6 days back is Monday.
    return func.date(col, "weekday 0", "-6 days", type_=Date)


def _tag_parts(key: str, dialect: str) -> tuple[ColumnElement[bool], ColumnElement[str]]:
    """(has the key, its value as the rollup stores it) over ``cost_records.tags``."""
    tags = CostRecord.tags
    raw: ColumnElement[Any]
    if dialect == "postgresql":
        is_object = func.jsonb_typeof(tags) == "object"
        present = func.jsonb_extract_path(tags, literal(key, String)).is_not(None)
        raw = func.jsonb_extract_path_text(tags, literal(key, String), type_=Text)
    else:
        path = literal(f'$."{key}"', String)
        is_object = func.json_type(tags) == "object"
        present = func.json_type(tags, path).is_not(None)
        raw = cast(func.json_extract(tags, path), Text)
    has_key = (tags.is_not(None) & is_object & present).self_group()
    value = func.substr(func.coalesce(raw, ""), 1, TAG_VALUE_MAX, type_=Text)
    return has_key, value


def _tag_value(key: str, dialect: str) -> ColumnElement[str | None]:
    """The key's value, or NULL when the row does not carry the key."""
    has_key, value = _tag_parts(key, dialect)
    return case((has_key, value), else_=None)


_COLUMNS: Final[dict[Dim, str]] = {
    Dim.PROVIDER: "provider",
    Dim.SERVICE: "service_name",
    Dim.SERVICE_CATEGORY: "service_category",
    Dim.REGION: "region",
    Dim.DATE: "usage_date",
    Dim.ACCOUNT: "cloud_account_id",
    Dim.CHARGE_CATEGORY: "charge_category",
    Dim.CURRENCY: "currency",
    Dim.RESOURCE: "resource_id",
    Dim.RESOURCE_TYPE: "resource_type",
    Dim.SKU: "sku_id",
    Dim.USAGE_TYPE: "usage_type",
    Dim.PRICING_CATEGORY: "pricing_category",
    Dim.SUB_ACCOUNT: "sub_account_id",
    Dim.COMMITMENT: "commitment_discount_id",
    Dim.UNIT: "consumed_unit",
    Dim.SERVICE_SUBCATEGORY: "service_subcategory",
}


def _dim_expr(model: _CostTable, dim: GroupBy, dialect: str) -> Any:
    """The SQL expression of a dimension in ``model`` (ValueError if the table lacks it)."""
    if isinstance(dim, TagKey):
        if model in _TAG_TABLES:
            return model.tag_value  # type: ignore[union-attr]
        return _tag_value(dim.key, dialect)
    if dim is Dim.MONTH:
        return _month(model.usage_date, dialect)
    if dim is Dim.WEEK:
        return _week(model.usage_date, dialect)
    if dim is Dim.SERVICE and model is CostRecord:
        return services.canonical_sql(CostRecord.service_name)
    column = getattr(model, _COLUMNS[dim], None)
    if column is None:
        raise ValueError(f"{model.__tablename__} has no {dim} column")
    return column


def _in(col: Any, values: Iterable[str | None]) -> ColumnElement[bool]:
    wanted = set(values)
    named = sorted(v for v in wanted if v is not None)
    parts: list[ColumnElement[bool]] = []
    if named:
        parts.append(col.in_(named))
    if None in wanted:
        parts.append(col.is_(None))
    return or_(*parts) if parts else false()


def _visible_accounts(who: Scope, q: CostQuery) -> frozenset[uuid.UUID] | None:
    """The accounts a query may read: the caller's grants narrowed by the query (None = all)."""
    if who.account_ids is None:
        return q.account_ids
    if q.account_ids is None:
        return who.account_ids
    return who.account_ids & q.account_ids


def _where(model: _CostTable, who: Scope, q: CostQuery, dialect: str) -> list[ColumnElement[bool]]:
    """Tenancy first, then the date range, then the query's filters (tag filters on raw rows
    only: the tag-rollup engine filters its ``tag_value`` itself)."""
    conds: list[ColumnElement[bool]] = [
        model.org_id == who.org_id,
        model.usage_date >= q.start,
        model.usage_date <= q.end,
    ]
    accounts = _visible_accounts(who, q)
    if accounts is not None:
        conds.append(model.cloud_account_id.in_(sorted(accounts)) if accounts else false())
    if q.currency is not None:
        conds.append(model.currency == q.currency)
    for dim, values in (
        (Dim.PROVIDER, q.providers),
        (Dim.SERVICE, q.services),
        (Dim.SERVICE_CATEGORY, q.service_categories),
        (Dim.REGION, q.regions),
        (Dim.CHARGE_CATEGORY, q.charge_categories),
        (Dim.RESOURCE, q.resource_ids),
        (Dim.SKU, q.skus),
        (Dim.USAGE_TYPE, q.usage_types),
    ):
        if values is None:
            continue
        if dim is Dim.SERVICE:  # the raw spelling, of every spelling of the service
            conds.append(_in(model.service_name, services.spellings(v for v in values if v)))  # type: ignore[union-attr]
        else:
            conds.append(_in(_dim_expr(model, dim, dialect), values))
    if model is CostRecord:
        for f in q.tags:
            has_key, value = _tag_parts(f.key.key, dialect)
            named = sorted(v for v in f.values if v is not None)
            parts: list[ColumnElement[bool]] = []
            if named:
                parts.append(has_key & value.in_(named))
            if None in f.values:
                parts.append(~has_key)
            conds.append(or_(*parts) if parts else false())
    return conds


class Part(NamedTuple):
    """Rows to sum: a table and its conditions, added (or, ``negate``, subtracted)."""

    table: _CostTable
    where: Sequence[ColumnElement[bool]]
    negate: bool = False


def _negate(amount: Any, dialect: str) -> Any:
    """``-amount`` of a Money expression (on SQLite, Money is exact text: flip its sign)."""
    if dialect == "postgresql":
        return -amount
    flipped = case(
        (func.substr(amount, 1, 1) == "-", func.substr(amount, 2)),
        else_=literal_column("'-'").op("||")(amount),
    )
    return type_coerce(flipped, Money)


def _grouped(
    parts: Sequence[Part],
    dims: Sequence[GroupBy],
    metric: Metric,
    dialect: str,
    *,
    provider_name: bool = False,
    counted: bool = False,
) -> Select[Any]:
    """``SELECT k0.., currency, SUM(metric) [, MAX(provider_name)] [, rows] ... GROUP BY k0..,
    currency`` over the rows of every ``(table, where)`` part (a UNION ALL when there are
    several: the whole months of a range from a monthly rollup, its other days from the daily
    one). ``counted``: also the number of raw rows summed (a rollup's ``row_count``). With a
    subtracted part (running totals), only the groups with rows left are answered.

    The dimension expressions are computed in a subquery and grouped by its columns, so an
    expression with bound parameters (a tag key, a date format) is written once: PostgreSQL
    refuses a GROUP BY whose parameters differ from the select list's."""
    signed = any(part.negate for part in parts)
    counted = counted or signed
    selects: list[Select[Any]] = []
    for model, where, negate in parts:
        cols: list[Any] = [_dim_expr(model, d, dialect).label(f"k{i}") for i, d in enumerate(dims)]
        cols.append(model.currency.label("cur"))
        amount = _metric_col(model, metric)
        cols.append((_negate(amount, dialect) if negate else amount).label("amount"))
        if provider_name:
            cols.append(model.provider_name.label("pname"))  # type: ignore[union-attr]
        if counted:
            rows = literal(1) if model is CostRecord else model.row_count  # type: ignore[union-attr]
            cols.append((-rows if negate else rows).label("n"))
        selects.append(select(*cols).where(*where))
    inner = (selects[0] if len(selects) == 1 else union_all(*selects)).subquery("c")
    keys = [inner.c[f"k{i}"] for i in range(len(dims))]
    total = (
        func.sum(inner.c.amount, type_=Quantity)
        if metric is Metric.QUANTITY
        else func.sum(inner.c.amount, type_=Money)
    )
    outer: list[Any] = [*keys, inner.c.cur, total]
    if provider_name:
        outer.append(func.max(inner.c.pname))
    if counted:
        outer.append(func.sum(inner.c.n))
    stmt = select(*outer).group_by(*keys, inner.c.cur)
    return stmt.having(func.sum(inner.c.n) > 0) if signed else stmt


_MONTHLY: Final[dict[type, type]] = {
    CostRollup: CostMonthlyRollup,
    CostServiceRollup: CostMonthlyRollup,
    CostTagRollup: CostMonthlyTagRollup,
    CostTagValueRollup: CostMonthlyTagValueRollup,
    CostSkuRollup: CostMonthlySkuRollup,
}


def _next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


def _month_split(q: CostQuery) -> tuple[list[tuple[date, date]], tuple[date, date] | None]:
    """(the day ranges of ``q`` outside whole calendar months, the whole months or None)."""
    first = q.start if q.start.day == 1 else _next_month(q.start)
    month_end = _next_month(q.end) - timedelta(days=1)
    last = q.end if q.end == month_end else q.end.replace(day=1) - timedelta(days=1)
    if first > last:
        return [(q.start, q.end)], None
    days = []
    if q.start < first:
        days.append((q.start, first - timedelta(days=1)))
    if last < q.end:
        days.append((last + timedelta(days=1), q.end))
    return days, (first, last)


Extra = Callable[[Any], list[ColumnElement[bool]]]


def _parts(
    model: _CostTable,
    who: Scope,
    q: CostQuery,
    dialect: str,
    extra: Extra | None = None,
    monthly: _CostTable | None = None,
) -> list[Part]:
    """Where the rows of ``q`` are read: ``model`` alone, or, for a daily table with a monthly
    rollup (``monthly``, by default its own) and a query not grouped by day or week, its whole
    months from the monthly rollup and the other days from ``model``. ``extra``: more
    conditions, written for the table given."""

    def part(table: Any, start: date, end: date) -> Part:
        sub = replace(q, start=start, end=end)
        return Part(table, [*_where(table, who, sub, dialect), *(extra(table) if extra else [])])

    monthly = monthly or _MONTHLY.get(model)
    days, months = _month_split(q)
    if monthly is None or months is None or {Dim.DATE, Dim.WEEK} & set(q.group_by):
        return [part(model, q.start, q.end)]
    return [part(monthly, *months), *(part(model, start, end) for start, end in days)]


# The reads of many rows (raw rows, SKUs, resources, the daily tag rollup) run, on PostgreSQL,
# with more memory for their hash tables than the default 4 MB (tens of thousands of resource
# groups spill to temporary files in it) and without parallel workers: with several requests
# at once on a small server, workers cost more CPU than they save (bench/costs_api.py, top 100
# resources of a year at 10M rows from 4 clients on 2 cores: p95 810 ms with them, 320 ms
# without).
HEAVY_WORK_MEM: Final = "64MB"
_HEAVY: Final = frozenset(
    {Source.RECORDS, Source.SKU_ROLLUP, Source.RESOURCE_ROLLUP, Source.TAG_ROLLUP}
)


async def _plan_for_heavy(db: AsyncSession, source: Source) -> None:
    """The transaction's planner settings for a read from ``source`` (see above)."""
    if source in _HEAVY and _dialect(db) == "postgresql":
        await db.execute(
            select(
                func.set_config("work_mem", HEAVY_WORK_MEM, True),
                func.set_config("max_parallel_workers_per_gather", "0", True),
            )
        )


def _month_pieces(start: date, end: date) -> list[tuple[date, date]]:
    """``start..end`` cut at month boundaries."""
    pieces = []
    while start <= end:
        month_end = _next_month(start) - timedelta(days=1)
        pieces.append((start, min(end, month_end)))
        start = month_end + timedelta(days=1)
    return pieces


async def _resource_parts(db: AsyncSession, who: Scope, q: CostQuery, dialect: str) -> list[Part]:
    """Where a resource-grain query (:data:`Source.RESOURCE_ROLLUP`) reads its rows.

    Grouped by month: whole months from ``cost_monthly_resource_rollups``, other days from
    ``cost_records``. Otherwise from ``cost_resource_running_totals``, per calendar year of the
    range's months: the running totals of the last month (each account's newest, if earlier)
    minus those of the month before the first (unless it is a January). A month the range
    covers most of is read whole, its days outside the range subtracted from the raw rows; the
    days of the other partial months are read from the raw rows."""
    if Dim.MONTH in q.group_by:
        return _parts(CostRecord, who, q, dialect, monthly=CostMonthlyResourceRollup)
    raw: list[Part] = []
    months: list[date] = []
    for d0, d1 in _month_pieces(q.start, q.end):
        month = d0.replace(day=1)
        month_end = _next_month(month) - timedelta(days=1)
        covered = (d1 - d0).days + 1
        if 2 * covered <= (month_end - month).days + 1:
            raw.append(
                Part(CostRecord, _where(CostRecord, who, replace(q, start=d0, end=d1), dialect))
            )
            continue
        months.append(month)
        for x0, x1 in ((month, d0 - timedelta(days=1)), (d1 + timedelta(days=1), month_end)):
            if x0 <= x1:
                sub = replace(q, start=x0, end=x1)
                raw.append(Part(CostRecord, _where(CostRecord, who, sub, dialect), negate=True))
    if not months:
        return raw
    r = CostResourceRunningTotal
    newest = select(func.max(r.usage_date)).where(r.cloud_account_id == CloudAccount.id)
    stmt = select(CloudAccount.id, newest.scalar_subquery()).where(
        CloudAccount.org_id == who.org_id
    )
    visible = _visible_accounts(who, q)
    if visible is not None:
        stmt = stmt.where(CloudAccount.id.in_(sorted(visible)))
    lasts = {a: m for a, m in (await db.execute(stmt)).all() if m is not None}

    def snapshot(month: date, accounts: Iterable[uuid.UUID], negate: bool = False) -> Part:
        sub = replace(q, start=month, end=month, account_ids=frozenset(accounts))
        return Part(r, _where(r, who, sub, dialect), negate)

    parts = raw
    first, last = months[0], months[-1]  # consecutive months
    while first <= last:
        end = min(last, first.replace(month=12))
        ends: dict[date, list[uuid.UUID]] = defaultdict(list)
        for account, newest_month in lasts.items():
            if newest_month >= first:
                ends[min(end, newest_month)].append(account)
        parts += [snapshot(month, accounts) for month, accounts in sorted(ends.items())]
        if ends and first.month != 1:
            accounts = [a for group in ends.values() for a in group]
            parts.append(snapshot(add_months(first, -1), accounts, negate=True))
        first = date(first.year + 1, 1, 1)
    return parts


_Sums = dict[tuple[tuple[Key, ...], str], Decimal]
_Counts = dict[tuple[tuple[Key, ...], str], int]


async def _sums(db: AsyncSession, stmt: Select[Any], n: int) -> _Sums:
    """Run a :func:`_grouped` statement with ``n`` key columns: {(key, currency): sum}."""
    return {
        (tuple(row[:n]), row[n]): row[n + 1] if row[n + 1] is not None else ZERO
        for row in (await db.execute(stmt)).all()
    }


async def _counted_sums(db: AsyncSession, stmt: Select[Any], n: int) -> tuple[_Sums, _Counts]:
    """Run a counted :func:`_grouped` statement: (sums, raw rows summed) per (key, currency)."""
    sums: _Sums = {}
    counts: _Counts = {}
    for row in (await db.execute(stmt)).all():
        slot = (tuple(row[:n]), row[n])
        sums[slot] = row[n + 1] if row[n + 1] is not None else ZERO
        counts[slot] = int(row[n + 2] or 0)
    return sums, counts


async def _from_table(
    db: AsyncSession,
    who: Scope,
    q: CostQuery,
    model: _SumTable,
    parts: list[Part] | None = None,
) -> tuple[_Sums, dict[str, str]]:
    """Sums from a rollup or ``cost_records`` (or from ``parts`` when given), and, when
    grouping by provider, each provider slug's exported name (for providers without a label
    of ours)."""
    dialect = _dialect(db)
    n = len(q.group_by)
    parts = parts if parts is not None else _parts(model, who, q, dialect)
    if Dim.PROVIDER not in q.group_by:
        return await _sums(db, _grouped(parts, q.group_by, q.metric, dialect), n), {}
    stmt = _grouped(parts, q.group_by, q.metric, dialect, provider_name=True)
    pos = q.group_by.index(Dim.PROVIDER)
    sums: _Sums = {}
    names: dict[str, str] = {}
    for row in (await db.execute(stmt)).all():
        sums[(tuple(row[:n]), row[n])] = row[n + 1] if row[n + 1] is not None else ZERO
        if row[n + 2] is not None:
            names[str(row[pos])] = row[n + 2]
    return sums, names


async def _from_tag_rollup(
    db: AsyncSession, who: Scope, q: CostQuery, model: _TagTable
) -> tuple[_Sums, dict[str, str]]:
    """One tag key from ``cost_tag_rollups`` or ``cost_tag_value_rollups`` (``model``), with
    the provider names as :func:`_from_table` gives them. Its untagged rows, when asked for (a
    group-by on the key, or ``None`` among a filter's values), are derived: the rollup total
    of the same filters minus the key's tagged sums, present where the total counts more raw
    rows than the tagged sums do (so an untagged filter needs no raw row either)."""
    dialect = _dialect(db)
    (key,) = _tag_keys(q)
    wanted = next((f.values for f in q.tags), None)  # None: every value and untagged
    need_untagged = wanted is None or None in wanted
    others = [d for d in q.group_by if isinstance(d, Dim)]

    def on_key(table: Any) -> list[ColumnElement[bool]]:
        conds = [table.tag_key == key]
        if wanted is not None and not need_untagged:
            conds.append(_in(table.tag_value, [v for v in wanted if v is not None]))
        return conds

    tag_dims: list[GroupBy] = [*others, TagKey(key)]
    tables = _parts(model, who, replace(q, group_by=tuple(tag_dims)), dialect, on_key)
    stmt = _grouped(tables, tag_dims, q.metric, dialect, counted=True)
    tagged, tagged_rows = await _counted_sums(db, stmt, len(tag_dims))

    # Sums per (other dims, currency, tag value or None), then laid out in q.group_by's order.
    parts: dict[tuple[tuple[Key, ...], str, str | None], Decimal] = {}
    tagged_total: dict[tuple[tuple[Key, ...], str], Decimal] = defaultdict(Decimal)
    tagged_count: dict[tuple[tuple[Key, ...], str], int] = defaultdict(int)
    for (k, cur), amount in tagged.items():
        other_key, value = k[:-1], k[-1]
        tagged_total[(other_key, cur)] += amount
        tagged_count[(other_key, cur)] += tagged_rows[(k, cur)]
        if wanted is None or value in wanted:
            parts[(other_key, cur, None if value is None else str(value))] = amount
    names: dict[str, str] = {}
    if need_untagged:
        untagged_q = replace(q, group_by=tuple(others), tags=())
        r: _SumTable = (
            CostServiceRollup if source_for(untagged_q) is Source.SERVICE_ROLLUP else CostRollup
        )
        parts_all = _parts(r, who, untagged_q, dialect)
        grouped = _grouped(
            parts_all,
            others,
            q.metric,
            dialect,
            provider_name=Dim.PROVIDER in others,
            counted=True,
        )
        n = len(others)
        pos = others.index(Dim.PROVIDER) if Dim.PROVIDER in others else -1
        for row in (await db.execute(grouped)).all():
            other_key, cur = tuple(row[:n]), row[n]
            total = row[n + 1] if row[n + 1] is not None else ZERO
            if pos >= 0 and row[n + 2] is not None:
                names[str(row[pos])] = row[n + 2]
            if int(row[-1] or 0) > tagged_count.get((other_key, cur), 0):
                parts[(other_key, cur, None)] = total - tagged_total.get((other_key, cur), ZERO)

    out: _Sums = defaultdict(Decimal)
    for (other_key, cur, value), amount in parts.items():
        it = iter(other_key)
        full = tuple(value if isinstance(d, TagKey) else next(it) for d in q.group_by)
        out[(full, cur)] += amount
    if Dim.PROVIDER in others and not names:
        _, names = await _from_table(
            db, who, replace(q, group_by=(Dim.PROVIDER,), tags=()), CostServiceRollup
        )
    return dict(out), names


async def _account_names(
    db: AsyncSession, who: Scope, ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, str]:
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    stmt = (
        org_select(CloudAccount, who)
        .where(CloudAccount.id.in_(wanted))
        .with_only_columns(CloudAccount.id, CloudAccount.name)
    )
    return {row[0]: row[1] for row in (await db.execute(stmt)).all()}


def _name(
    dim: GroupBy,
    value: Key,
    accounts: Mapping[uuid.UUID, str],
    providers: Mapping[str, str],
) -> str:
    if value is None:
        return UNTAGGED_NAME if isinstance(dim, TagKey) else NONE_NAME
    if isinstance(value, date):
        return value.isoformat()
    if dim is Dim.ACCOUNT and isinstance(value, uuid.UUID):
        return accounts.get(value, str(value))
    if dim is Dim.PROVIDER:
        return provider_label(str(value), providers.get(str(value)))
    return str(value)


def _sort_key(group: CostGroup) -> tuple[Any, ...]:
    return (group.currency, *((v is not None, v if v is not None else "") for v in group.key))


# --- the API ------------------------------------------------------------------------------------


async def aggregate(
    db: AsyncSession, who: Scope, q: CostQuery, *, source: Source | None = None
) -> list[CostGroup]:
    """Sum ``q.metric`` per ``q.group_by`` and currency, over ``who``'s visible accounts.

    Groups come sorted by currency, then key (``None`` first). ``source`` forces a table (tests
    compare engines): it must be :func:`source_for`'s choice or ``Source.RECORDS``, which can
    answer anything.
    """
    chosen = source_for(q)
    if source is not None and source not in (chosen, Source.RECORDS):
        raise ValueError(f"{source} cannot answer this query")
    source = source or chosen
    if _visible_accounts(who, q) == frozenset():
        return []
    providers: dict[str, str] = {}
    await _plan_for_heavy(db, source)
    if source is Source.TAG_ROLLUP:
        sums, providers = await _from_tag_rollup(db, who, q, CostTagRollup)
    elif source is Source.TAG_VALUE_ROLLUP:
        sums, providers = await _from_tag_rollup(db, who, q, CostTagValueRollup)
    elif source is Source.RESOURCE_ROLLUP:
        parts = await _resource_parts(db, who, q, _dialect(db))
        sums, providers = await _from_table(db, who, q, CostRecord, parts)
    else:
        sums, providers = await _from_table(db, who, q, _SUM_TABLES.get(source, CostRecord))
    tag_positions = [i for i, d in enumerate(q.group_by) if isinstance(d, TagKey)]
    if tag_positions:
        sums = {
            (k, cur): amount
            for (k, cur), amount in sums.items()
            if amount != ZERO or all(k[i] is not None for i in tag_positions)
        }
    groups = await _named(db, who, q, sums, providers)
    groups.sort(key=_sort_key)
    return groups


async def _named(
    db: AsyncSession, who: Scope, q: CostQuery, sums: _Sums, providers: Mapping[str, str]
) -> list[CostGroup]:
    """``sums`` as :class:`CostGroup` with their display names (unsorted)."""
    accounts: dict[uuid.UUID, str] = {}
    if Dim.ACCOUNT in q.group_by:
        pos = q.group_by.index(Dim.ACCOUNT)
        ids = (k[pos] for k, _ in sums)
        accounts = await _account_names(db, who, (i for i in ids if isinstance(i, uuid.UUID)))
    return [
        CostGroup(
            key=k,
            names=tuple(
                _name(d, v, accounts, providers) for d, v in zip(q.group_by, k, strict=True)
            ),
            currency=cur,
            cost=amount,
        )
        for (k, cur), amount in sums.items()
    ]


@dataclass(frozen=True, slots=True)
class TopGroups:
    """The largest groups of one currency (:func:`top_groups`)."""

    # Every group of the currency whose cost is at least the n-th largest (ties at the
    # boundary included), or all of them when there are n or fewer; in aggregate()'s order.
    groups: list[CostGroup]
    count: int  # the currency's groups
    totals: dict[str, Decimal]  # every currency's total over all its groups


async def top_groups(
    db: AsyncSession, who: Scope, q: CostQuery, currency: str, n: int
) -> TopGroups:
    """:func:`aggregate`'s answer reduced to the ``n`` largest groups of ``currency``, with the
    number of its groups and every currency's total: what a "top N and the rest as other"
    answer needs, without carrying every group (a resource grouping has tens of thousands)
    out of the database. The ranking is PostgreSQL's (exact NUMERIC); on SQLite, whose sums
    are text, and for the derived tag sums, the whole answer is ranked here instead."""
    if n < 1:
        raise ValueError("n must be at least 1")
    source = source_for(q)
    derived = source in (Source.TAG_ROLLUP, Source.TAG_VALUE_ROLLUP) or any(
        isinstance(d, TagKey) for d in q.group_by
    )
    dialect = _dialect(db)
    if derived or dialect != "postgresql" or q.metric is Metric.QUANTITY:
        groups = await aggregate(db, who, q)
        totals: dict[str, Decimal] = defaultdict(Decimal)
        for g in groups:
            totals[g.currency] += g.cost
        mine = [g for g in groups if g.currency == currency]
        if len(mine) > n:
            floor = sorted((g.cost for g in mine), reverse=True)[n - 1]
            mine = [g for g in mine if g.cost >= floor]
        return TopGroups(mine, sum(1 for g in groups if g.currency == currency), dict(totals))
    if _visible_accounts(who, q) == frozenset():
        return TopGroups([], 0, {})
    await _plan_for_heavy(db, source)
    model: _SumTable = _SUM_TABLES.get(source, CostRecord)
    parts = (
        await _resource_parts(db, who, q, dialect)
        if source is Source.RESOURCE_ROLLUP
        else _parts(model, who, q, dialect)
    )
    named = Dim.PROVIDER in q.group_by
    keys = len(q.group_by)
    grouped = _grouped(
        parts,
        q.group_by,
        q.metric,
        dialect,
        provider_name=named,
    ).cte("g")
    cols = list(grouped.c)
    key_cols, cur, total = cols[:keys], cols[keys], cols[keys + 1]
    nth = func.coalesce(  # the n-th largest, or the smallest when there are fewer
        select(total)
        .where(cur == currency)
        .order_by(total.desc())
        .limit(1)
        .offset(n - 1)
        .scalar_subquery(),
        select(func.min(total)).where(cur == currency).scalar_subquery(),
    )
    pname = [cols[keys + 2]] if named else []
    candidates = select(
        literal(True).label("top"), *key_cols, cur, total, *pname, literal(1).label("groups")
    ).where(cur == currency, total >= nth)
    stats = select(
        literal(False),
        *(null().label(c.name) for c in key_cols),
        cur,
        func.sum(total, type_=Money),
        *(null() for _ in pname),
        func.count(),
    ).group_by(cur)
    sums: _Sums = {}
    providers: dict[str, str] = {}
    all_totals: dict[str, Decimal] = {}
    count = 0
    pos = q.group_by.index(Dim.PROVIDER) if named else -1
    rows: Sequence[Any] = (await db.execute(union_all(candidates, stats))).all()
    for row in rows:
        key, row_cur, amount = tuple(row[1 : keys + 1]), row[keys + 1], row[keys + 2]
        amount = amount if amount is not None else ZERO
        if not row[0]:
            all_totals[row_cur] = amount
            if row_cur == currency:
                count = int(row[-1])
            continue
        sums[(key, row_cur)] = amount
        if named and row[keys + 3] is not None:
            providers[str(key[pos])] = row[keys + 3]
    groups = await _named(db, who, q, sums, providers)
    groups.sort(key=_sort_key)
    return TopGroups(groups, count, all_totals)


_TIME_DIMS: Final = frozenset({Dim.DATE, Dim.MONTH, Dim.WEEK})


async def aggregate_each(
    db: AsyncSession, who: Scope, q: CostQuery, dims: Sequence[Dim]
) -> dict[Dim, list[CostGroup]]:
    """:func:`aggregate` of ``q`` by each of ``dims`` on its own (``q.group_by`` is ignored;
    what ``/costs/dimensions`` lists), in one statement: the sums by all of ``dims`` at once,
    folded per dimension in SQL. When a tag or resource rollup would answer (a tag filter in
    ``q``...), :func:`aggregate` by all of them, folded here."""
    every = replace(q, group_by=tuple(dims))
    if _visible_accounts(who, q) == frozenset():
        return {dim: [] for dim in dims}
    model = _SUM_TABLES.get(source_for(every))
    if model is None or q.metric is Metric.QUANTITY:
        return _fold(await aggregate(db, who, every), dims)
    dialect = _dialect(db)
    named = Dim.PROVIDER in dims
    all_dims = _grouped(
        _parts(model, who, every, dialect), dims, q.metric, dialect, provider_name=named
    ).cte("every")
    cols = list(all_dims.c)
    cur, total = cols[len(dims)], cols[len(dims) + 1]
    pname = cols[len(dims) + 2] if named else None
    selects = [
        select(
            literal(index).label("d"),
            cast(cols[index], String).label("k"),
            cur,
            func.sum(total, type_=Money).label("total"),
            (func.max(pname) if dim is Dim.PROVIDER and pname is not None else null()).label(
                "pname"
            ),
        ).group_by(cols[index], cur)
        for index, dim in enumerate(dims)
    ]
    sums: dict[Dim, _Sums] = defaultdict(dict)
    providers: dict[str, str] = {}
    for index, key, currency, amount, provider_name in (
        await db.execute(union_all(*selects))
    ).all():
        dim = dims[int(index)]
        value: Key = key
        if key is not None and dim is Dim.ACCOUNT:
            value = uuid.UUID(str(key))
        elif key is not None and dim in _TIME_DIMS:
            value = date.fromisoformat(str(key)[:10])
        sums[dim][((value,), currency)] = amount if amount is not None else ZERO
        if provider_name is not None:
            providers[str(key)] = provider_name
    out = {}
    for dim in dims:
        groups = await _named(db, who, replace(q, group_by=(dim,)), sums[dim], providers)
        out[dim] = sorted(groups, key=_sort_key)
    return out


def _fold(groups: Sequence[CostGroup], dims: Sequence[Dim]) -> dict[Dim, list[CostGroup]]:
    """Groups by all of ``dims`` summed per each one of them."""
    out: dict[Dim, list[CostGroup]] = {}
    for i, dim in enumerate(dims):
        folded: dict[tuple[Key, str, str], Decimal] = defaultdict(Decimal)
        for g in groups:
            folded[(g.key[i], g.names[i], g.currency)] += g.cost
        out[dim] = sorted(
            (CostGroup((k,), (name,), cur, cost) for (k, name, cur), cost in folded.items()),
            key=_sort_key,
        )
    return out


async def totals_by_currency(db: AsyncSession, who: Scope, q: CostQuery) -> dict[str, Decimal]:
    """The total of ``q``'s filters per currency (``q.group_by`` is ignored)."""
    groups = await aggregate(db, who, replace(q, group_by=()))
    return {g.currency: g.cost for g in groups}


async def daily_series(db: AsyncSession, who: Scope, q: CostQuery) -> dict[str, list[DayCost]]:
    """Per currency, one :class:`DayCost` for every day of ``q.start..q.end`` (0 where nothing
    was spent). ``q.group_by`` is ignored. With ``q.currency`` set, that currency is always in
    the answer, even without data."""
    groups = await aggregate(db, who, replace(q, group_by=(Dim.DATE,)))
    by_currency: dict[str, dict[date, Decimal]] = defaultdict(dict)
    if q.currency is not None:
        by_currency[q.currency] = {}
    for g in groups:
        day = g.key[0]
        assert isinstance(day, date)
        by_currency[g.currency][day] = g.cost
    days = [q.start + timedelta(days=i) for i in range(q.days)]
    return {
        cur: [DayCost(d, costs.get(d, ZERO)) for d in days]
        for cur, costs in sorted(by_currency.items())
    }


async def currency_use(db: AsyncSession, who: Scope) -> dict[str, CurrencyUse]:
    """Per currency, how many of ``who``'s visible cloud accounts bill in it and in how many
    (account, billing month) pairs, over every period stored (what
    ``core.money.default_currency`` ranks). Read from ``cost_imports``: one row per account and
    billing period, whatever the volume of cost rows."""
    stmt = select(CostImport.cloud_account_id, CostImport.totals).where(
        CostImport.org_id == who.org_id
    )
    if who.account_ids is not None:
        if not who.account_ids:
            return {}
        stmt = stmt.where(CostImport.cloud_account_id.in_(sorted(who.account_ids)))
    accounts: dict[str, set[uuid.UUID]] = defaultdict(set)
    months: dict[str, int] = defaultdict(int)
    for account_id, totals in (await db.execute(stmt)).all():
        for currency in totals or {}:
            accounts[currency].add(account_id)
            months[currency] += 1
    return {cur: CurrencyUse(len(ids), months[cur]) for cur, ids in accounts.items()}


async def daily_series_by(
    db: AsyncSession, who: Scope, q: CostQuery
) -> dict[tuple[tuple[Key, ...], str], list[DayCost]]:
    """:func:`daily_series` per group: for each ``q.group_by`` key and currency (e.g. per
    service per account over the last N days), one :class:`DayCost` for every day of
    ``q.start..q.end`` (0 where the group spent nothing that day). Groups are those with a
    cost in the range, in :func:`aggregate`'s order; one query."""
    if Dim.DATE in q.group_by or Dim.MONTH in q.group_by:
        raise ValueError("daily_series_by groups by day itself: leave DATE/MONTH out of group_by")
    groups = await aggregate(db, who, replace(q, group_by=(*q.group_by, Dim.DATE)))
    days = [q.start + timedelta(days=i) for i in range(q.days)]
    by_group: dict[tuple[tuple[Key, ...], str], dict[date, Decimal]] = {}
    for g in groups:
        day = g.key[-1]
        assert isinstance(day, date)
        by_group.setdefault((g.key[:-1], g.currency), {})[day] = g.cost
    return {
        group: [DayCost(d, costs.get(d, ZERO)) for d in days] for group, costs in by_group.items()
    }


def _complete_through(last_date: date, snapshot_day: date) -> date:
    """An export written on day D holds a partial day D (and nothing after it)."""
    return snapshot_day - timedelta(days=1) if last_date >= snapshot_day else last_date


async def data_through_by_account(
    db: AsyncSession, who: Scope, accounts: Iterable[uuid.UUID] | None = None
) -> dict[uuid.UUID, date]:
    """The last complete day of each visible account's stored data (``accounts``: only
    those), for accounts that have data: the newest day imported, unless the snapshot holding
    it was taken that same day or earlier (an export written mid-day holds a partial day),
    then the day before the snapshot. One query over ``cost_imports`` (a row per account and
    billing period)."""
    stmt = select(CostImport.cloud_account_id, CostImport.last_date, CostImport.snapshot_at).where(
        CostImport.org_id == who.org_id, CostImport.last_date.is_not(None)
    )
    wanted = None if accounts is None else frozenset(accounts)
    visible = (
        who.account_ids
        if wanted is None
        else (wanted if who.account_ids is None else wanted & who.account_ids)
    )
    if visible is not None:
        if not visible:
            return {}
        stmt = stmt.where(CostImport.cloud_account_id.in_(sorted(visible)))
    newest: dict[uuid.UUID, tuple[date, date]] = {}
    for account_id, last_date, snapshot_at in (await db.execute(stmt)).all():
        seen = newest.get(account_id)
        if last_date is None:
            continue
        if seen is None or last_date > seen[0]:
            newest[account_id] = (last_date, snapshot_at.date())
    return {
        account_id: _complete_through(last, snapshot_day)
        for account_id, (last, snapshot_day) in newest.items()
    }


async def data_through(
    db: AsyncSession, who: Scope, accounts: Iterable[uuid.UUID] | None = None
) -> date | None:
    """The last day complete for every visible account with data (``accounts``: among
    those): the earliest of their :func:`data_through_by_account`; None without data."""
    per_account = await data_through_by_account(db, who, accounts)
    return min(per_account.values()) if per_account else None


@dataclass(frozen=True, slots=True)
class MonthToDate:
    """``totals`` (per currency) of ``start..through``: the month of ``as_of`` up to the last
    complete day of the data (``through`` None: no complete day of that month yet)."""

    start: date
    through: date | None
    totals: dict[str, Decimal]


async def month_to_date(db: AsyncSession, who: Scope, q: CostQuery, as_of: date) -> MonthToDate:
    """The month-to-date of ``as_of``'s calendar month over complete days only: from the first
    of the month through ``as_of`` or the last complete day of the queried accounts' data
    (:func:`data_through`), whichever is earlier. ``q``'s dates and ``group_by`` are ignored;
    its filters and metric apply."""
    start = as_of.replace(day=1)
    complete = await data_through(db, who, q.account_ids)
    through = as_of if complete is None else min(as_of, complete)
    if complete is None or through < start:
        return MonthToDate(start, None, {})
    totals = await totals_by_currency(db, who, replace(q, start=start, end=through))
    return MonthToDate(start, through, totals)


QueryKey = TypeVar("QueryKey")


async def totals_for_many(
    db: AsyncSession, who: Scope, queries: Mapping[QueryKey, CostQuery]
) -> dict[QueryKey, dict[str, Decimal]]:
    """:func:`totals_by_currency` of many queries (every budget of an org, each with its own
    range and filters) in one statement: a UNION ALL of each query's sum per currency, each
    from the cheapest table that answers it (raw rows for a tag filter). ``group_by`` is
    ignored. A key whose query matches nothing maps to ``{}``."""
    out: dict[QueryKey, dict[str, Decimal]] = {key: {} for key in queries}
    dialect = _dialect(db)
    keys = list(queries)
    parts: list[Select[Any]] = []
    for index, key in enumerate(keys):
        q = replace(queries[key], group_by=())
        if _visible_accounts(who, q) == frozenset():
            continue
        source = source_for(q)
        model: _SumTable = CostRecord
        if source is Source.SERVICE_ROLLUP:
            model = CostServiceRollup
        elif source is Source.ROLLUP:
            model = CostRollup
        inner = (
            select(
                model.currency.label("cur"),
                _metric_col(model, q.metric).label("amount"),
            )
            .where(*_where(model, who, q, dialect))
            .subquery(f"q{index}")
        )
        total_type: Any = Quantity if q.metric is Metric.QUANTITY else Money
        parts.append(
            select(
                literal(index).label("query"),
                inner.c.cur,
                func.sum(inner.c.amount, type_=total_type).label("total"),
            ).group_by(inner.c.cur)
        )
    if not parts:
        return out
    stmt = parts[0] if len(parts) == 1 else union_all(*parts)
    for index, currency, total in (await db.execute(stmt)).all():
        out[keys[int(index)]][currency] = total if total is not None else ZERO
    return out


async def totals_by_account(
    db: AsyncSession, who: Scope, q: CostQuery
) -> dict[uuid.UUID, dict[str, Decimal]]:
    """The total of ``q`` per visible cloud account and currency, in one query (accounts
    without cost in the range are absent). ``q.group_by`` is ignored."""
    out: dict[uuid.UUID, dict[str, Decimal]] = {}
    for g in await aggregate(db, who, replace(q, group_by=(Dim.ACCOUNT,))):
        account = g.key[0]
        assert isinstance(account, uuid.UUID)
        out.setdefault(account, {})[g.currency] = g.cost
    return out


async def tag_key_totals(
    db: AsyncSession, who: Scope, q: CostQuery
) -> dict[str, dict[str, Decimal]]:
    """Per tag key and currency, the total of ``q``'s costs that carry the key (a row counts
    once for each of its keys). From ``cost_tag_value_rollups`` when ``q`` filters on accounts
    and currency only, from ``cost_tag_rollups`` when it filters on their dimensions, else
    from the raw rows. ``q.group_by`` is ignored."""
    if q.metric is Metric.QUANTITY:
        raise ValueError("tag keys are summed in money")
    if _visible_accounts(who, q) == frozenset():
        return {}
    dialect = _dialect(db)
    postgres = dialect == "postgresql"
    stmt: Select[Any]
    filtered = _filtered_dims(q)
    if filtered <= TAG_ROLLUP_DIMS and not q.tags:
        table: _TagTable = CostTagValueRollup if not filtered else CostTagRollup
        selects = [
            select(
                m.tag_key.label("k"),  # type: ignore[union-attr]
                m.currency.label("cur"),
                _metric_col(m, q.metric).label("amount"),
            ).where(*where)
            for m, where, _ in _parts(table, who, replace(q, group_by=()), dialect)
        ]
        rows = (selects[0] if len(selects) == 1 else union_all(*selects)).subquery("t")
        stmt = select(rows.c.k, rows.c.cur, func.sum(rows.c.amount, type_=Money)).group_by(
            rows.c.k, rows.c.cur
        )
    else:
        r = CostRecord
        is_object = (
            func.jsonb_typeof(r.tags) == "object"
            if postgres
            else func.json_type(r.tags) == "object"
        )
        per_tags = (
            select(
                r.tags.label("tags"),
                r.currency.label("cur"),
                func.sum(_metric_col(r, q.metric), type_=Money).label("amount"),
            )
            .where(*_where(r, who, q, dialect), r.tags.is_not(None), is_object)
            .group_by(r.tags, r.currency)
            .subquery("per_tags")
        )
        each = (
            func.jsonb_each_text(per_tags.c.tags) if postgres else func.json_each(per_tags.c.tags)
        ).table_valued("key", "value")
        key = func.substr(each.c["key"], 1, TAG_KEY_MAX).label("k")
        inner = (
            select(key, per_tags.c.cur, per_tags.c.amount)
            .select_from(per_tags)
            .join(each, literal(1) == literal(1))
            .subquery("keys")
        )
        stmt = select(inner.c.k, inner.c.cur, func.sum(inner.c.amount, type_=Money)).group_by(
            inner.c.k, inner.c.cur
        )
    out: dict[str, dict[str, Decimal]] = defaultdict(dict)
    for row in (await db.execute(stmt)).all():
        out[str(row[0])][str(row[1])] = row[2] if row[2] is not None else ZERO
    return dict(out)


async def tag_key_spellings(
    db: AsyncSession, who: Scope, key: str, *, any_case: bool = False
) -> list[str]:
    """The spellings of tag ``key`` on any of ``who``'s visible costs, over every period stored
    (``any_case``: every key equal to it ignoring case), sorted; [] when no cost carries it."""
    t = CostTagValueRollup
    match = func.lower(t.tag_key) == key.lower() if any_case else t.tag_key == key
    stmt = select(t.tag_key).where(t.org_id == who.org_id, match).distinct()
    if who.account_ids is not None:
        if not who.account_ids:
            return []
        stmt = stmt.where(t.cloud_account_id.in_(sorted(who.account_ids)))
    if not any_case:
        stmt = stmt.limit(1)
    return sorted(str(k) for k in (await db.execute(stmt)).scalars())


@dataclass(frozen=True, slots=True)
class BilledResource:
    """A resource the bill names (a ``ResourceId`` with cost rows in the range): its cost per
    currency, its first and last usage day, and what its newest day's rows say about it."""

    cloud_account_id: uuid.UUID
    resource_id: str
    costs: dict[str, Decimal]  # the summed metric per currency (never added up)
    first_day: date
    last_day: date
    provider: str
    service: str
    service_category: str | None
    region: str | None
    resource_type: str | None
    resource_name: str | None
    tags: dict[str, str]  # JSON object tags only; values as the rollups keep them


def _tag_text(value: Any) -> str:
    """A tag value as the rollups keep it: JSON text, ``""`` for a JSON null."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value[:TAG_VALUE_MAX]
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)[:TAG_VALUE_MAX]


async def billed_resources(db: AsyncSession, who: Scope, q: CostQuery) -> list[BilledResource]:
    """Every visible resource with cost rows in ``q``'s range and filters (rows without a
    ``ResourceId`` are left out), per cloud account and resource id: the summed ``q.metric``
    per currency, the first and last usage day, and the provider, service, category, region,
    type, name and tags of its newest day in the range (the lowest row id of that day when
    several rows disagree; tags that are not a JSON object count as none). ``q.group_by`` is
    ignored. Two queries over ``cost_records``. Sorted by account, then resource id.

    What a bill-derived inventory reads (``inventory.bill``); tagging policies
    (``tagging.service``) price the live inventory's resources from it and check the resources
    no live inventory row claims with its tags."""
    if q.metric is Metric.QUANTITY:
        raise ValueError("billed_resources sums money")
    if _visible_accounts(who, q) == frozenset():
        return []
    r = CostRecord
    where = [*_where(r, who, q, _dialect(db)), r.resource_id.is_not(None)]
    sums_stmt = (
        select(
            r.cloud_account_id,
            r.resource_id,
            r.currency,
            func.sum(_metric_col(r, q.metric), type_=Money),
            func.min(r.usage_date),
            func.max(r.usage_date),
        )
        .where(*where)
        .group_by(r.cloud_account_id, r.resource_id, r.currency)
    )
    newest = (
        select(
            r.cloud_account_id.label("a"),
            r.resource_id.label("rid"),
            func.max(r.usage_date).label("d"),
        )
        .where(*where)
        .group_by(r.cloud_account_id, r.resource_id)
        .subquery("newest")
    )
    attrs_stmt = (
        select(
            r.cloud_account_id,
            r.resource_id,
            r.provider,
            r.resource_name,
            r.resource_type,
            r.service_name,
            r.service_category,
            r.region,
            r.tags,
        )
        .join(
            newest,
            (r.cloud_account_id == newest.c.a)
            & (r.resource_id == newest.c.rid)
            & (r.usage_date == newest.c.d),
        )
        .where(*where)
        .order_by(r.id)
    )
    attrs: dict[tuple[uuid.UUID, str], Any] = {}
    for row in (await db.execute(attrs_stmt)).all():
        attrs.setdefault((row[0], row[1]), row)
    costs: dict[tuple[uuid.UUID, str], dict[str, Decimal]] = defaultdict(dict)
    days: dict[tuple[uuid.UUID, str], tuple[date, date]] = {}
    for account_id, resource_id, currency, total, first, last in (
        await db.execute(sums_stmt)
    ).all():
        key = (account_id, resource_id)
        costs[key][currency] = total if total is not None else ZERO
        seen = days.get(key)
        days[key] = (first, last) if seen is None else (min(seen[0], first), max(seen[1], last))
    out: list[BilledResource] = []
    for key in sorted(costs, key=lambda k: (str(k[0]), k[1])):
        a = attrs[key]
        raw_tags = a[8] if isinstance(a[8], dict) else {}
        out.append(
            BilledResource(
                cloud_account_id=key[0],
                resource_id=key[1],
                costs=dict(sorted(costs[key].items())),
                first_day=days[key][0],
                last_day=days[key][1],
                provider=a[2],
                resource_name=a[3],
                resource_type=a[4],
                service=a[5],
                service_category=a[6],
                region=a[7],
                tags={str(k): _tag_text(v) for k, v in raw_tags.items()},
            )
        )
    return out


# --- commitment coverage (commitments area) -----------------------------------------------------


@dataclass(frozen=True, slots=True)
class PricingLine:
    """Usage charges of one day summed per pricing and commitment columns (FOCUS
    PricingCategory, CommitmentDiscountId/Type/Category/Status) and service category.
    ``effective`` is EffectiveCost (amortised), ``list_cost`` ListCost (the on-demand price)."""

    day: date
    currency: str
    provider: str
    service_category: str | None
    pricing_category: str | None
    commitment_id: str | None
    commitment_type: str | None
    commitment_category: str | None
    commitment_status: str | None
    effective: Decimal
    list_cost: Decimal
    billed: Decimal


@dataclass(frozen=True, slots=True)
class UsageLine:
    """Usage charges of one day summed per (provider, service, region, resource type, SKU,
    usage type, consumed unit): what the coverage gaps are found in. ``quantity`` is
    ConsumedQuantity in ``unit``."""

    day: date
    currency: str
    provider: str
    service: str
    service_category: str | None
    region: str | None
    resource_type: str | None
    sku: str | None
    usage_type: str | None
    unit: str | None
    effective: Decimal
    quantity: Decimal


def _usage_where(who: Scope, q: CostQuery, dialect: str) -> list[ColumnElement[bool]]:
    usage = replace(q, charge_categories=frozenset({ChargeCategory.USAGE.value}))
    return _where(CostRecord, who, usage, dialect)


async def pricing_lines(db: AsyncSession, who: Scope, q: CostQuery) -> list[PricingLine]:
    """Usage of ``q``'s range and filters (``q.group_by`` and ``q.metric`` are ignored; charge
    categories other than Usage are left out: a commitment's purchase fee is amortised into its
    covered usage's EffectiveCost) per day, pricing and commitment columns. Raw rows: the
    rollups keep no commitment column."""
    if _visible_accounts(who, q) == frozenset():
        return []
    r = CostRecord
    keys = (
        r.usage_date,
        r.currency,
        r.provider,
        r.service_category,
        r.pricing_category,
        r.commitment_discount_id,
        r.commitment_discount_type,
        r.commitment_discount_category,
        r.commitment_discount_status,
    )
    stmt = (
        select(
            *keys,
            func.sum(r.effective_cost, type_=Money),
            func.sum(r.list_cost, type_=Money),
            func.sum(r.billed_cost, type_=Money),
        )
        .where(*_usage_where(who, q, _dialect(db)))
        .group_by(*keys)
    )
    return [
        PricingLine(*row[:9], row[9] or ZERO, row[10] or ZERO, row[11] or ZERO)
        for row in (await db.execute(stmt)).all()
    ]


async def on_demand_lines(db: AsyncSession, who: Scope, q: CostQuery) -> list[UsageLine]:
    """Usage at on-demand prices (PricingCategory ``Standard``, or none given) of ``q``'s
    range and filters, per day, provider, service (shown name), region, resource type, SKU,
    usage type and consumed unit."""
    if _visible_accounts(who, q) == frozenset():
        return []
    r = CostRecord
    service = services.canonical_sql(r.service_name).label("service")
    inner = (
        select(
            r.usage_date.label("day"),
            r.currency.label("cur"),
            r.provider.label("provider"),
            service,
            r.service_category.label("category"),
            r.region.label("region"),
            r.resource_type.label("rtype"),
            r.sku_id.label("sku"),
            r.usage_type.label("usage_type"),
            r.consumed_unit.label("unit"),
            r.effective_cost.label("eff"),
            r.consumed_quantity.label("qty"),
        )
        .where(
            *_usage_where(who, q, _dialect(db)),
            or_(r.pricing_category == "Standard", r.pricing_category.is_(None)),
        )
        .subquery("u")
    )
    keys = [inner.c[k] for k in ("day", "cur", "provider", "service", "category", "region")]
    keys += [inner.c[k] for k in ("rtype", "sku", "usage_type", "unit")]
    stmt = select(
        *keys,
        func.sum(inner.c.eff, type_=Money),
        func.sum(inner.c.qty, type_=Quantity),
    ).group_by(*keys)
    return [
        UsageLine(*row[:10], row[10] or ZERO, row[11] or ZERO)
        for row in (await db.execute(stmt)).all()
    ]
