"""Anomalies: detection over the cost store (read through ``costs.query`` only), the list and
the status changes.

``detect(db, org_id, first, last)`` judges every day of ``first..last`` (bounded to the 90 days
before the newest complete day of the organization's data) in every scope of section 11: each
service of each cloud account, each account's total and the organization's total, per currency
(amounts in different currencies are never added), on usage charges (``ChargeCategory``
Usage: purchases, taxes, credits and adjustments follow the bill's calendar, a fee on the
1st and taxes at the month's end, and would flag every month). It reads one zero-filled daily
series per service and account (one query) and sums the account and organization series from
it. A scope
is judged up to its own last complete day: an account's data through
``costs.query.data_through_by_account``; the organization's through the earliest of its
accounts' (accounts whose data stopped more than a week before the newest are left out of that
minimum: a dormant account must not stop the organization's detection).

Idempotent: one anomaly per scope, currency and day (a unique key). A re-run updates an anomaly
in place when its figures changed (a re-imported day) and removes an *open* one whose day no
longer qualifies; acknowledged and resolved ones are kept as people left them. Each new or
changed anomaly gets a deterministic root cause: the resources, SKUs and regions (an account:
services and regions; the organization: accounts and services) whose cost on the day moved most
against their own 7-day baseline, three per dimension.
"""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Final

from sqlalchemy import case, delete
from sqlalchemy.ext.asyncio import AsyncSession

from xplorr.anomalies import detect as rules
from xplorr.anomalies.models import Anomaly, AnomalyStatus, Scope, Severity
from xplorr.anomalies.schemas import AnomalyFilters, AnomalyOut, AnomalyUpdate, ContributorOut
from xplorr.cloud_accounts.models import CloudAccount
from xplorr.core import audit, clock, money
from xplorr.core.db import advisory_xact_lock
from xplorr.core.errors import ValidationFailed
from xplorr.core.pagination import Page, PageParams, paginate
from xplorr.core.tenancy import Principal, get_in_org, org_scope, org_select
from xplorr.core.tenancy import Scope as Reader
from xplorr.costs import query
from xplorr.costs.query import CostQuery, DayCost, Dim, GroupBy, Metric
from xplorr.notifications import events, notify
from xplorr.settings import service as org_settings

# Usage charges only: purchases (a commitment's monthly fee on the 1st), taxes (at the month's
# end), credits and adjustments come on the bill's calendar and would flag every month.
USAGE: Final = frozenset({"Usage"})
HORIZON_DAYS: Final = 90  # days before the newest complete day that detection looks at
DORMANT_DAYS: Final = 7  # an account this far behind the newest does not hold the org back
RECENT_DAYS: Final = 3  # anomalies of a scope's last 3 days are notified; older ones are history
HISTORY_DAYS: Final = 14  # read before the first judged day (baseline + the scope's start)
ROOT_CAUSE_TOP: Final = 3
ZERO: Final = Decimal(0)
# FOCUS has no usage-type column (AWS's lineItem/UsageType is not carried over): SkuId and
# ServiceSubcategory (e.g. "Virtual Machines", "Data Transfer") are the nearest, under a service.
_ROOT_DIMS: Final[dict[Scope, tuple[Dim, ...]]] = {
    Scope.SERVICE: (Dim.RESOURCE, Dim.SKU, Dim.SERVICE_SUBCATEGORY, Dim.REGION),
    Scope.ACCOUNT: (Dim.SERVICE, Dim.REGION),
    Scope.ORG: (Dim.ACCOUNT, Dim.SERVICE),
}
SEVERITY_RANK: Final = {
    Severity.LOW: 1,
    Severity.MEDIUM: 2,
    Severity.HIGH: 3,
    Severity.CRITICAL: 4,
}


@dataclass(frozen=True, slots=True)
class Detection:
    """Settings of one run: the organization's noise floor and whether drops count."""

    noise_floor: Decimal = rules.DEFAULT_NOISE_FLOOR
    drops: bool = False


async def settings_of(db: AsyncSession, org_id: uuid.UUID) -> Detection:
    """The org's ``anomaly_min_delta`` and ``anomaly_detect_drops`` (the settings area)."""
    org = await org_settings.get_org_settings(db, org_id)
    return Detection(noise_floor=org.anomaly_min_delta, drops=org.anomaly_detect_drops)


@dataclass(frozen=True, slots=True)
class _ScopeSeries:
    scope: Scope
    key: str
    account_id: uuid.UUID | None
    service: str | None
    currency: str
    days: list[DayCost]
    through: date


@dataclass(slots=True)
class DetectResult:
    """What a run did: anomalies added (``new``), updated and removed; ``recent``: those to
    notify (new, or escalated to a higher severity, on one of their scope's last 3 days: older
    days are history, listed but not sent)."""

    new: list[Anomaly] = field(default_factory=list)
    recent: list[Anomaly] = field(default_factory=list)
    updated: int = 0
    removed: int = 0


def scope_key(scope: Scope, account_id: uuid.UUID | None, service: str | None) -> str:
    if scope is Scope.SERVICE:
        return f"service:{account_id}:{service}"
    if scope is Scope.ACCOUNT:
        return f"account:{account_id}"
    return "org"


def _add(a: list[DayCost], b: Sequence[DayCost]) -> list[DayCost]:
    return [DayCost(x.day, x.cost + y.cost) for x, y in zip(a, b, strict=True)]


def _scopes(
    by_service: dict[tuple[tuple[query.Key, ...], str], list[DayCost]],
    throughs: dict[uuid.UUID, date],
    org_through: date,
    accounts: frozenset[uuid.UUID] | None,
) -> list[_ScopeSeries]:
    """Every scope's series: services of the wanted accounts, those accounts' totals, and the
    organization's total (all accounts)."""
    out: list[_ScopeSeries] = []
    account_sums: dict[tuple[uuid.UUID, str], list[DayCost]] = {}
    org_sums: dict[str, list[DayCost]] = {}
    for (key, currency), days in sorted(by_service.items(), key=lambda kv: str(kv[0])):
        account_id, service = key
        assert isinstance(account_id, uuid.UUID)
        org_sums[currency] = _add(org_sums[currency], days) if currency in org_sums else days
        if accounts is not None and account_id not in accounts:
            continue
        through = throughs.get(account_id)
        if through is None:
            continue
        name = None if service is None else str(service)
        out.append(
            _ScopeSeries(
                Scope.SERVICE,
                scope_key(Scope.SERVICE, account_id, name),
                account_id,
                name,
                currency,
                days,
                through,
            )
        )
        seen = account_sums.get((account_id, currency))
        account_sums[(account_id, currency)] = days if seen is None else _add(seen, days)
    for (account_id, currency), days in account_sums.items():
        out.append(
            _ScopeSeries(
                Scope.ACCOUNT,
                scope_key(Scope.ACCOUNT, account_id, None),
                account_id,
                None,
                currency,
                days,
                throughs[account_id],
            )
        )
    for currency, days in sorted(org_sums.items()):
        out.append(_ScopeSeries(Scope.ORG, "org", None, None, currency, days, org_through))
    return out


async def detect(
    db: AsyncSession,
    org_id: uuid.UUID,
    first: date,
    last: date,
    *,
    accounts: frozenset[uuid.UUID] | None = None,
) -> DetectResult:
    """Judge ``first..last`` in every scope (``accounts``: only those accounts' service and
    account scopes, plus the organization's); see the module docstring."""
    await advisory_xact_lock(db, f"anomalies:{org_id}")
    who = org_scope(org_id)
    result = DetectResult()
    throughs = await query.data_through_by_account(db, who)
    if not throughs:
        return result
    newest = max(throughs.values())
    org_through = min(t for t in throughs.values() if t >= newest - timedelta(days=DORMANT_DAYS))
    first = max(first, newest - timedelta(days=HORIZON_DAYS - 1))
    last = min(last, newest)
    if first > last:
        return result
    settings = await settings_of(db, org_id)
    by_service = await query.daily_series_by(
        db,
        who,
        CostQuery(
            start=first - timedelta(days=HISTORY_DAYS),
            end=last,
            metric=Metric.BILLED,
            group_by=(Dim.ACCOUNT, Dim.SERVICE),
            charge_categories=USAGE,
        ),
    )
    scopes = _scopes(by_service, throughs, org_through, accounts)
    existing_rows = (
        await db.scalars(
            org_select(Anomaly, who).where(Anomaly.usage_date >= first, Anomaly.usage_date <= last)
        )
    ).all()
    existing = {(a.scope_key, a.currency, a.usage_date): a for a in existing_rows}
    judged: set[tuple[str, str, date]] = set()
    for s in scopes:
        until = min(last, s.through)
        if until < first:
            continue
        for i in range((until - first).days + 1):
            judged.add((s.key, s.currency, first + timedelta(days=i)))
        findings = rules.find(
            s.days, first, until, noise_floor=settings.noise_floor, drops=settings.drops
        )
        for f in findings:
            row = existing.pop((s.key, s.currency, f.day), None)
            if row is None:
                row = Anomaly(
                    id=uuid.uuid4(),
                    org_id=org_id,
                    scope=s.scope,
                    scope_key=s.key,
                    cloud_account_id=s.account_id,
                    service_name=s.service,
                    usage_date=f.day,
                    currency=s.currency,
                    status=AnomalyStatus.OPEN,
                )
                _set_figures(row, f)
                row.root_cause = await root_cause(db, row)
                db.add(row)
                result.new.append(row)
                if f.day > s.through - timedelta(days=RECENT_DAYS):
                    result.recent.append(row)
            elif _changed(row, f):
                escalated = SEVERITY_RANK[f.severity] > SEVERITY_RANK[row.severity]
                _set_figures(row, f)
                row.root_cause = await root_cause(db, row)
                result.updated += 1
                if escalated and f.day > s.through - timedelta(days=RECENT_DAYS):
                    result.recent.append(row)
    stale = [a.id for k, a in existing.items() if k in judged and a.status is AnomalyStatus.OPEN]
    if stale:
        await db.execute(delete(Anomaly).where(Anomaly.org_id == org_id, Anomaly.id.in_(stale)))
        result.removed = len(stale)
    await db.flush()
    return result


def _set_figures(row: Anomaly, f: rules.Finding) -> None:
    row.actual_cost = money.quantize_store(f.actual)
    row.baseline_cost = money.quantize_store(f.baseline)
    row.severity = f.severity
    row.direction = f.direction


def _changed(row: Anomaly, f: rules.Finding) -> bool:
    return (
        row.actual_cost != money.quantize_store(f.actual)
        or row.baseline_cost != money.quantize_store(f.baseline)
        or row.severity is not f.severity
        or row.direction is not f.direction
    )


async def root_cause(db: AsyncSession, anomaly: Anomaly) -> list[dict[str, Any]]:
    """Per dimension under the anomaly's scope, the three members whose cost on the day moved
    most (in the anomaly's direction) against their own baseline of the 7 days before; one
    query per dimension. Amounts as exact decimal text in the anomaly's currency."""
    day = anomaly.usage_date
    who = org_scope(anomaly.org_id)
    out: list[dict[str, Any]] = []
    for dim in _ROOT_DIMS[anomaly.scope]:
        group: tuple[GroupBy, ...] = (dim, Dim.DATE)
        q = CostQuery(
            start=day - timedelta(days=rules.BASELINE_DAYS),
            end=day,
            group_by=group,
            currency=anomaly.currency,
            account_ids=(
                None if anomaly.cloud_account_id is None else frozenset({anomaly.cloud_account_id})
            ),
            services=None if anomaly.service_name is None else frozenset({anomaly.service_name}),
            charge_categories=USAGE,
        )
        totals: dict[query.Key, tuple[str, Decimal, Decimal]] = {}
        for g in await query.aggregate(db, who, q):
            key, when = g.key
            name, actual, before = totals.get(key, (g.names[0], ZERO, ZERO))
            if when == day:
                actual += g.cost
            else:
                before += g.cost
            totals[key] = (name, actual, before)
        candidates = [
            rules.Contributor(
                dimension=dim.value,
                key=None if key is None else str(key),
                name=name,
                actual=actual,
                baseline=before / rules.BASELINE_DAYS,
            )
            for key, (name, actual, before) in totals.items()
        ]
        for c in rules.top_movers(candidates, anomaly.direction, ROOT_CAUSE_TOP):
            out.append(
                {
                    "dimension": c.dimension,
                    "key": c.key,
                    "name": c.name,
                    "actual": money.plain(money.quantize_store(c.actual)),
                    "baseline": money.plain(money.quantize_store(c.baseline)),
                }
            )
    return out


async def notify_anomalies(db: AsyncSession, anomalies: Sequence[Anomaly]) -> None:
    """One ``anomaly_detected`` notification per anomaly, in the caller's transaction (the hub
    delivers each anomaly and severity once per target; low ones by email only)."""
    if not anomalies:
        return
    who = org_scope(anomalies[0].org_id)
    ids = {a.cloud_account_id for a in anomalies if a.cloud_account_id is not None}
    names: dict[uuid.UUID, str] = {}
    if ids:
        rows = await db.scalars(
            org_select(CloudAccount, who).where(CloudAccount.id.in_(sorted(ids)))
        )
        names = {r.id: r.name for r in rows}
    for a in anomalies:
        await notify(
            db,
            events.AnomalyDetected(
                org_id=a.org_id,
                cloud_account_id=a.cloud_account_id,
                severity=events.Severity(a.severity.value),
                anomaly_id=a.id,
                scope=a.scope.value,
                service=a.service_name,
                account_name=names.get(a.cloud_account_id) if a.cloud_account_id else None,
                day=a.usage_date,
                actual=a.actual_cost,
                baseline=a.baseline_cost,
                percent_above=rules.percent_change(a.actual_cost, a.baseline_cost),
                currency=a.currency,
                direction=a.direction.value,
                top_contributors=tuple(
                    events.Contributor(
                        kind=c["dimension"],
                        name=c["name"],
                        actual=Decimal(c["actual"]),
                        baseline=Decimal(c["baseline"]),
                    )
                    for c in a.root_cause
                ),
            ),
        )


# --- the API ------------------------------------------------------------------------------------


async def _account_names(
    db: AsyncSession, who: Principal, ids: set[uuid.UUID]
) -> dict[uuid.UUID, str]:
    if not ids:
        return {}
    rows = await db.scalars(org_select(CloudAccount, who).where(CloudAccount.id.in_(sorted(ids))))
    return {a.id: a.name for a in rows}


def to_out(a: Anomaly, names: dict[uuid.UUID, str]) -> AnomalyOut:
    cur = a.currency
    return AnomalyOut(
        id=a.id,
        scope=a.scope,
        cloud_account_id=a.cloud_account_id,
        account_name=None if a.cloud_account_id is None else names.get(a.cloud_account_id),
        service=a.service_name,
        date=a.usage_date,
        currency=cur,
        actual_cost=money.round_money(a.actual_cost, cur),
        baseline_cost=money.round_money(a.baseline_cost, cur),
        excess_cost=money.round_money(a.actual_cost - a.baseline_cost, cur),
        percent_above=rules.percent_change(a.actual_cost, a.baseline_cost)
        if a.baseline_cost > ZERO
        else None,
        severity=a.severity,
        direction=a.direction,
        status=a.status,
        root_cause=[
            ContributorOut(
                dimension=c["dimension"],
                key=c["key"],
                name=c["name"],
                actual_cost=money.round_money(Decimal(c["actual"]), cur),
                baseline_cost=money.round_money(Decimal(c["baseline"]), cur),
                change=money.round_money(Decimal(c["actual"]) - Decimal(c["baseline"]), cur),
            )
            for c in a.root_cause
        ],
        detected_at=a.detected_at,
        updated_at=a.updated_at,
        status_changed_at=a.status_changed_at,
    )


async def list_anomalies(
    db: AsyncSession, who: Principal, filters: AnomalyFilters, page: PageParams
) -> Page[AnomalyOut]:
    """The caller's anomalies (a user limited to some accounts: theirs, without org-wide ones),
    newest day first, then most severe; a foreign ``accountId`` is 404."""
    stmt = org_select(Anomaly, who)
    if filters.account_id is not None:
        await get_in_org(db, CloudAccount, filters.account_id, who)
        stmt = stmt.where(Anomaly.cloud_account_id == filters.account_id)
    if filters.status is not None:
        stmt = stmt.where(Anomaly.status == filters.status)
    if filters.severity is not None:
        stmt = stmt.where(Anomaly.severity == filters.severity)
    if filters.start_date is not None:
        stmt = stmt.where(Anomaly.usage_date >= filters.start_date)
    if filters.end_date is not None:
        stmt = stmt.where(Anomaly.usage_date <= filters.end_date)
    rank = case(*((Anomaly.severity == s, r) for s, r in SEVERITY_RANK.items()), else_=0)
    stmt = stmt.order_by(
        Anomaly.usage_date.desc(), rank.desc(), Anomaly.detected_at, Anomaly.scope_key, Anomaly.id
    )
    result = await paginate(db, stmt, page, lambda a: a)
    names = await _account_names(
        db, who, {a.cloud_account_id for a in result.data if a.cloud_account_id is not None}
    )
    return Page(
        data=[to_out(a, names) for a in result.data],
        total=result.total,
        page=result.page,
        limit=result.limit,
    )


async def get_anomaly(db: AsyncSession, who: Principal, anomaly_id: uuid.UUID) -> AnomalyOut:
    """One of the caller's anomalies (404 otherwise, as for the list's rows)."""
    anomaly = await get_in_org(db, Anomaly, anomaly_id, who)
    names = await _account_names(
        db, who, {anomaly.cloud_account_id} if anomaly.cloud_account_id else set()
    )
    return to_out(anomaly, names)


async def update_anomaly(
    db: AsyncSession, who: Principal, anomaly_id: uuid.UUID, body: AnomalyUpdate
) -> AnomalyOut:
    """Set an anomaly's status (audited when it changes)."""
    anomaly = await get_in_org(db, Anomaly, anomaly_id, who, for_update=True)
    if body.status is None:
        raise ValidationFailed.on("status", "Field required")
    before = anomaly.status
    if body.status is not before:
        anomaly.status = body.status
        anomaly.status_changed_at = clock.now()
        anomaly.status_changed_by = who.user_id
        await audit.record(
            db,
            "anomaly.status_changed",
            who=who,
            target=anomaly,
            details={"from": before.value, "to": body.status.value},
        )
        await db.flush()
    names = await _account_names(
        db, who, {anomaly.cloud_account_id} if anomaly.cloud_account_id else set()
    )
    return to_out(anomaly, names)


@dataclass(frozen=True, slots=True)
class Tally:
    """The anomalies of some days that a reader sees: how many, how many per severity, and per
    currency the cost above baseline of their spikes (``excess``), each dollar counted once."""

    count: int
    by_severity: dict[Severity, int]
    excess: dict[str, Decimal]


def _excess_once(found: Sequence[Anomaly]) -> dict[str, Decimal]:
    """The spikes' cost above baseline per currency. Scopes nest (a service's cost is in its
    account's total, which is in the organization's), so summing every anomaly would count the
    same spend two or three times: per day and currency, the organization's spike when there is
    one; otherwise per account its own spike, or else the sum of its services' spikes. Drops
    (below baseline) add nothing: they are no excess."""
    spikes = [a for a in found if a.actual_cost > a.baseline_cost]
    days: dict[tuple[date, str], list[Anomaly]] = {}
    for a in spikes:
        days.setdefault((a.usage_date, a.currency), []).append(a)
    out: dict[str, Decimal] = {}
    for (_day, currency), rows in sorted(days.items()):
        org_wide = [a for a in rows if a.scope is Scope.ORG]
        counted = org_wide
        if not org_wide:
            accounts = {a.cloud_account_id for a in rows}
            counted = []
            for account in sorted(accounts, key=str):
                mine = [a for a in rows if a.cloud_account_id == account]
                whole = [a for a in mine if a.scope is Scope.ACCOUNT]
                counted += whole or [a for a in mine if a.scope is Scope.SERVICE]
        out[currency] = out.get(currency, ZERO) + sum(
            (a.actual_cost - a.baseline_cost for a in counted), ZERO
        )
    return {cur: money.round_money(v, cur) for cur, v in sorted(out.items())}


async def tally(db: AsyncSession, who: Reader, start: date, end: date) -> Tally:
    """The anomalies of ``start..end`` that ``who`` sees (a user limited to some accounts:
    theirs, without the organization-wide ones), for the weekly summary."""
    stmt = org_select(Anomaly, who).where(Anomaly.usage_date >= start, Anomaly.usage_date <= end)
    found = (await db.scalars(stmt)).all()
    by_severity = dict.fromkeys(SEVERITY_RANK, 0)
    for a in found:
        by_severity[a.severity] += 1
    return Tally(count=len(found), by_severity=by_severity, excess=_excess_once(found))
