"""Unit economics: business metrics per day, joined with that day's cloud cost
(``costs.query.daily_series``) into cost per unit, with the period's trend.

Trend (product notes section 17): the days with a value are split into a first and a second
half (an odd count leaves the middle day out); each half's cost per unit is its cost over its
units; a change beyond ``TREND_THRESHOLD_PERCENT`` (5 %) either way is ``increasing`` or
``decreasing``, anything within it ``stable``. Days without a value, or with 0, are left out
(never divided by zero).
"""

import csv
import io
import uuid
from collections.abc import Sequence
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Final, Literal

from pydantic import ValidationError
from sqlalchemy import func, select, tuple_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from xplorr.cloud_accounts.models import CloudAccount
from xplorr.core import audit, clock, money
from xplorr.core.errors import NotFound, ValidationFailed
from xplorr.core.tenancy import Principal, get_in_org, org_select
from xplorr.costs import query
from xplorr.costs import service as costs
from xplorr.costs.query import CostQuery, TagFilter, TagKey
from xplorr.unit_economics.models import MetricType, UnitMetric
from xplorr.unit_economics.schemas import (
    MAX_BULK,
    BulkResult,
    MetricNamesOut,
    MetricSummary,
    UnitDay,
    UnitEconomicsOut,
    UnitMetricIn,
    UnitMetricOut,
    UnitTotals,
    UnitTrend,
)

Direction = Literal["increasing", "decreasing", "stable"]
TREND_THRESHOLD_PERCENT: Final = Decimal(5)
PER_UNIT_QUANTUM: Final = Decimal("0.000001")
PERCENT_QUANTUM: Final = Decimal("0.01")
MAX_CSV_BYTES: Final = 1024 * 1024  # the request body cap (core.middleware)
ZERO: Final = Decimal(0)


MAX_NAMES: Final = 500


async def metric_names(db: AsyncSession, who: Principal) -> MetricNamesOut:
    """The organization's metric names with their days of values (a picker's choices)."""
    scoped = org_select(UnitMetric, who).subquery()
    newest = (
        select(scoped.c.name, func.max(scoped.c.date).label("last_date"))
        .group_by(scoped.c.name)
        .subquery()
    )
    rows = (
        await db.execute(
            select(
                scoped.c.name,
                func.count().label("days"),
                func.min(scoped.c.date).label("first_date"),
                newest.c.last_date,
            )
            .join(newest, newest.c.name == scoped.c.name)
            .group_by(scoped.c.name, newest.c.last_date)
            .order_by(scoped.c.name)
            .limit(MAX_NAMES)
        )
    ).all()
    kinds = dict(
        (
            await db.execute(
                select(scoped.c.name, scoped.c.metric_type).join(
                    newest,
                    (newest.c.name == scoped.c.name) & (newest.c.last_date == scoped.c.date),
                )
            )
        ).all()
    )
    return MetricNamesOut(
        data=[
            MetricSummary(
                name=r.name,
                metric_type=MetricType(kinds.get(r.name) or MetricType.CUSTOM),
                days=int(r.days),
                first_date=r.first_date,
                last_date=r.last_date,
            )
            for r in rows
        ]
    )


async def record(db: AsyncSession, who: Principal, data: UnitMetricIn) -> UnitMetricOut:
    """Store one day's value; replaces the value already stored for that name and day."""
    result = await _upsert(db, who, [data])
    row = result[0]
    return UnitMetricOut(
        name=row.name,
        metric_type=row.metric_type,
        value=row.value,
        date=row.date,
        created=row.created,
    )


class _Stored:
    def __init__(self, metric: UnitMetric, created: bool) -> None:
        self.name = metric.name
        self.metric_type = metric.metric_type
        self.value = metric.value
        self.date = metric.date
        self.created = created


async def _upsert(db: AsyncSession, who: Principal, items: Sequence[UnitMetricIn]) -> list[_Stored]:
    """Insert or replace each (name, date); the last of duplicates in ``items`` wins. One read
    of the existing rows, then inserts in a savepoint (a concurrent insert of the same day
    turns into a replace on retry)."""
    latest: dict[tuple[str, date], UnitMetricIn] = {}
    for item in items:
        latest[(item.name, item.date)] = item
    for attempt in range(2):
        existing: dict[tuple[str, date], UnitMetric] = {}
        keys = sorted(latest)
        for i in range(0, len(keys), 500):
            chunk = keys[i : i + 500]
            stmt = org_select(UnitMetric, who).where(
                tuple_(UnitMetric.name, UnitMetric.date).in_(chunk)
            )
            for metric in (await db.scalars(stmt.with_for_update())).all():
                existing[(metric.name, metric.date)] = metric
        out: list[_Stored] = []
        now = clock.now()
        try:
            async with db.begin_nested():
                for key, item in latest.items():
                    found = existing.get(key)
                    if found is not None:
                        found.metric_type = item.metric_type
                        found.value = item.value
                        found.updated_at = now
                        out.append(_Stored(found, created=False))
                    else:
                        metric = UnitMetric(
                            id=uuid.uuid4(),
                            org_id=who.org_id,
                            name=item.name,
                            metric_type=item.metric_type,
                            date=item.date,
                            value=item.value,
                            created_at=now,
                            updated_at=now,
                        )
                        db.add(metric)
                        out.append(_Stored(metric, created=True))
                await db.flush()
        except IntegrityError:
            if attempt:
                raise
            continue
        created = sum(1 for s in out if s.created)
        await audit.record(
            db,
            "unit_metric.recorded",
            who=who,
            resource_type="unit_metric",
            resource_name=", ".join(sorted({k[0] for k in latest}))[:200],
            details={"created": created, "replaced": len(out) - created},
        )
        return out
    raise AssertionError("unreachable")  # pragma: no cover


async def record_many(
    db: AsyncSession, who: Principal, items: Sequence[UnitMetricIn]
) -> BulkResult:
    if len(items) > MAX_BULK:
        raise ValidationFailed.on("body", f"At most {MAX_BULK} values per request.")
    if not items:
        return BulkResult(created=0, replaced=0)
    stored = await _upsert(db, who, items)
    created = sum(1 for s in stored if s.created)
    return BulkResult(created=created, replaced=len(stored) - created)


def parse_csv(body: bytes) -> list[UnitMetricIn]:
    """``name,metric_type,value,date`` rows (header required; ``metric_type`` may be left out:
    ``custom``). A bad row is a 422 naming its line and column."""
    if len(body) > MAX_CSV_BYTES:
        raise ValidationFailed.on("body", f"At most {MAX_CSV_BYTES} bytes.")
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValidationFailed.on("body", "The CSV must be UTF-8.") from None
    if "\x00" in text:
        raise ValidationFailed.on("body", "Must not contain a NUL character.")
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in reader.fieldnames or []]
    reader.fieldnames = header
    missing = [c for c in ("name", "value", "date") if c not in header]
    if missing:
        raise ValidationFailed.on(
            "body", f"The header must name name, value and date (missing: {', '.join(missing)})."
        )
    extra = [c for c in header if c not in ("name", "metric_type", "value", "date")]
    if extra:
        raise ValidationFailed.on("body", f"Unknown column: {extra[0]}.")
    items: list[UnitMetricIn] = []
    for row in reader:
        line = reader.line_num
        if None in row:
            raise ValidationFailed.on(f"line {line}", "More fields than the header names.")
        values = {k: (v or "").strip() for k, v in row.items()}
        try:
            value = Decimal(values["value"])
        except InvalidOperation:
            raise ValidationFailed.on(f"line {line}.value", "Not a number.") from None
        try:
            items.append(
                UnitMetricIn(
                    name=values["name"],
                    metric_type=MetricType(values.get("metric_type") or MetricType.CUSTOM),
                    value=value,
                    date=date.fromisoformat(values["date"]),
                )
            )
        except ValueError as exc:
            column = "date"
            if isinstance(exc, ValidationError):
                column = str(exc.errors()[0]["loc"][0])
            elif "MetricType" in str(exc):
                column = "metric_type"
            raise ValidationFailed.on(
                f"line {line}.{column}", f"Invalid {column}: {values.get(column, '')!r:.80}."
            ) from None
        if len(items) > MAX_BULK:
            raise ValidationFailed.on("body", f"At most {MAX_BULK} rows per upload.")
    return items


def _per_unit(cost: Decimal, units: Decimal) -> Decimal:
    return (cost / units).quantize(PER_UNIT_QUANTUM, rounding=ROUND_HALF_UP)


def trend(days: Sequence[tuple[Decimal, Decimal]]) -> UnitTrend | None:
    """The trend of (cost, units) days with units > 0, oldest first (module docstring)."""
    half = len(days) // 2
    if half == 0:
        return None
    first, second = days[:half], days[-half:]
    first_cpu = sum((c for c, _ in first), ZERO) / sum((u for _, u in first), ZERO)
    second_cpu = sum((c for c, _ in second), ZERO) / sum((u for _, u in second), ZERO)
    change = None if first_cpu == ZERO else (second_cpu - first_cpu) * 100 / abs(first_cpu)
    direction: Direction
    if change is None:
        direction = (
            "stable"
            if second_cpu == ZERO
            else ("increasing" if second_cpu > ZERO else "decreasing")
        )
    elif change > TREND_THRESHOLD_PERCENT:
        direction = "increasing"
    elif change < -TREND_THRESHOLD_PERCENT:
        direction = "decreasing"
    else:
        direction = "stable"
    return UnitTrend(
        direction=direction,
        first_half_cost_per_unit=first_cpu.quantize(PER_UNIT_QUANTUM, rounding=ROUND_HALF_UP),
        second_half_cost_per_unit=second_cpu.quantize(PER_UNIT_QUANTUM, rounding=ROUND_HALF_UP),
        change_percent=None
        if change is None
        else change.quantize(PERCENT_QUANTUM, rounding=ROUND_HALF_UP),
        threshold_percent=TREND_THRESHOLD_PERCENT,
    )


def parse_tag(value: str | None) -> TagFilter | None:
    """``key:value`` (the first colon separates them)."""
    if value is None:
        return None
    key, sep, tag_value = value.partition(":")
    if not sep or not key:
        raise ValidationFailed.on("tag", "Use key:value.")
    if (problem := query.tag_key_problem(key)) is not None:
        raise ValidationFailed.on("tag", problem)
    return TagFilter(TagKey(key), frozenset({tag_value}))


async def unit_costs(
    db: AsyncSession,
    who: Principal,
    *,
    start: date,
    end: date,
    metric_name: str,
    account_id: uuid.UUID | None = None,
    service: str | None = None,
    tag: str | None = None,
    currency: str | None = None,
) -> UnitEconomicsOut:
    """Per day with a value: the day's cost in scope (every visible account, or ``account_id``;
    ``service``; ``tag``), the units and cost per unit; the totals and the trend."""
    tag_filter = parse_tag(tag)
    if account_id is not None:
        await get_in_org(db, CloudAccount, account_id, who)
        if who.account_ids is not None and account_id not in who.account_ids:
            raise NotFound.of("CloudAccount", account_id)
    metrics = list(
        (
            await db.scalars(
                org_select(UnitMetric, who)
                .where(
                    UnitMetric.name == metric_name,
                    UnitMetric.date >= start,
                    UnitMetric.date <= end,
                )
                .order_by(UnitMetric.date)
            )
        ).all()
    )
    if metrics:
        metric_type = metrics[-1].metric_type
    else:
        known = await db.scalar(
            org_select(UnitMetric, who).where(UnitMetric.name == metric_name).limit(1)
        )
        if known is None:
            raise NotFound(f"No unit metric named '{metric_name}'.", code="UNIT_METRIC_NOT_FOUND")
        metric_type = known.metric_type
    answer = await costs.answer_currency(db, who, currency)
    series = await query.daily_series(
        db,
        who,
        CostQuery(
            start=start,
            end=end,
            account_ids=frozenset({account_id}) if account_id else None,
            services=frozenset({service}) if service else None,
            tags=(tag_filter,) if tag_filter else (),
            currency=answer,
        ),
    )
    daily = {d.day: d.cost for d in series.get(answer or "", [])}
    days: list[tuple[Decimal, Decimal]] = []
    out: list[UnitDay] = []
    for m in metrics:
        if m.value <= ZERO:
            continue
        cost = daily.get(m.date, ZERO)
        days.append((cost, m.value))
        out.append(
            UnitDay(
                date=m.date,
                cost=money.round_money(cost, answer) if answer else ZERO,
                units=m.value.normalize(),
                cost_per_unit=_per_unit(cost, m.value),
            )
        )
    total_cost = sum((c for c, _ in days), ZERO)
    total_units = sum((u for _, u in days), ZERO)
    return UnitEconomicsOut(
        metric_name=metric_name,
        metric_type=metric_type,
        start_date=start,
        end_date=end,
        currency=answer,
        data=out,
        totals=UnitTotals(
            cost=money.round_money(total_cost, answer) if answer else ZERO,
            units=total_units.normalize(),
            cost_per_unit=_per_unit(total_cost, total_units) if total_units else None,
        ),
        trend=trend(days),
    )
