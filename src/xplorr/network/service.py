"""Network spend from the cost store (``costs.query``), classified by ``network.classify``.

Two queries: the distinct (provider, service, category, subcategory, SKU, resource type, usage
type) keys of the range, classified; then the network keys' costs per resource and day.
Resources join the inventory by id (or ARN) for names, types and VPCs. Amounts in one currency
(the requested account's or the caller's default, ``core.money.default_currency``); others are
listed apart.
"""

import uuid
from collections import defaultdict
from collections.abc import Callable
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Final

from sqlalchemy.ext.asyncio import AsyncSession

from xplorr.cloud_accounts.models import CloudAccount
from xplorr.core import clock, money
from xplorr.core.errors import NotFound
from xplorr.core.tenancy import Principal, get_in_org
from xplorr.costs import query
from xplorr.costs import service as costs_service
from xplorr.costs.query import CostQuery, Dim
from xplorr.inventory import service as inventory
from xplorr.network.classify import AWS_ONLY, LABELS, CostLine, NetCategory, classify
from xplorr.network.schemas import (
    CategoryCost,
    CurrencyTotal,
    NetworkDay,
    NetworkResource,
    NetworkSummaryOut,
    VpcCost,
)

TOP: Final = 10
ZERO: Final = Decimal(0)
_KEY_DIMS: Final = (
    Dim.PROVIDER,
    Dim.SERVICE,
    Dim.SERVICE_CATEGORY,
    Dim.SERVICE_SUBCATEGORY,
    Dim.SKU,
    Dim.RESOURCE_TYPE,
    Dim.USAGE_TYPE,
)
NOTES: Final = (
    "Internet egress, inter-region and inter-AZ are told apart by AWS usage types (AWS only); "
    "other providers' transfer costs are placed by their SKU names when the export has them, "
    "else under 'Other networking'.",
    "Per-resource costs need resource-level billing data (AWS: resource IDs in the export).",
)


def _s(value: object) -> str | None:
    return None if value is None else str(value)


def _line(key: tuple[query.Key, ...]) -> CostLine:
    provider, svc, cat, sub, sku, rtype, usage_type = (_s(v) for v in key)
    return CostLine(provider or "", svc or "", cat, sub, sku, rtype, usage_type)


async def _check_account(db: AsyncSession, who: Principal, account_id: uuid.UUID | None) -> None:
    if account_id is None:
        return
    await get_in_org(db, CloudAccount, account_id, who)
    if who.account_ids is not None and account_id not in who.account_ids:
        raise NotFound.of("CloudAccount", account_id)


def _bare(resource_id: str) -> str:
    """``nat-0abc`` of ``arn:aws:ec2:us-east-1:123456789012:natgateway/nat-0abc``: AWS bills
    some resources by ARN where the inventory keeps EC2's own id."""
    if resource_id.startswith("arn:") and "/" in resource_id:
        return resource_id.rsplit("/", 1)[1]
    return resource_id


def _pct(part: Decimal, whole: Decimal) -> Decimal:
    if whole == ZERO:
        return ZERO
    return (part * 100 / whole).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


async def summary(
    db: AsyncSession,
    who: Principal,
    *,
    account_id: uuid.UUID | None,
    days: int,
    today: date | None = None,
) -> NetworkSummaryOut:
    await _check_account(db, who, account_id)
    end = today or clock.now().date()
    start = end - timedelta(days=days - 1)
    accounts = frozenset({account_id}) if account_id else None
    keys = await query.aggregate(
        db, who, CostQuery(start=start, end=end, group_by=_KEY_DIMS, account_ids=accounts)
    )
    kinds: dict[tuple[query.Key, ...], NetCategory] = {}
    for g in keys:
        kind = classify(_line(g.key))
        if kind is not None:
            kinds[g.key] = kind
    # (currency, category) totals; (currency, day, category); (currency, resource, category)
    totals: dict[str, dict[NetCategory, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    daily: dict[str, dict[date, dict[NetCategory, Decimal]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(Decimal))
    )
    per_resource: dict[str, dict[tuple[str, NetCategory], Decimal]] = defaultdict(
        lambda: defaultdict(Decimal)
    )
    if kinds:
        detail = await query.aggregate(
            db,
            who,
            CostQuery(
                start=start,
                end=end,
                group_by=(*_KEY_DIMS, Dim.RESOURCE, Dim.DATE),
                account_ids=accounts,
                services=frozenset(str(k[1]) for k in kinds),
                skus=frozenset(_s(k[4]) for k in kinds),
                usage_types=frozenset(_s(k[6]) for k in kinds),
            ),
        )
        for g in detail:
            kind = kinds.get(g.key[: len(_KEY_DIMS)])
            if kind is None:
                continue
            resource, day = g.key[-2], g.key[-1]
            assert isinstance(day, date)
            totals[g.currency][kind] += g.cost
            daily[g.currency][day][kind] += g.cost
            if resource is not None:
                per_resource[g.currency][(str(resource), kind)] += g.cost
    currency = await costs_service.default_currency(db, who)
    if currency not in totals and totals:
        currency = sorted(totals, key=lambda c: -sum(totals[c].values()))[0]
    mine = totals.get(currency or "", {})
    total = sum(mine.values(), ZERO)

    def rounded(amount: Decimal) -> Decimal:
        return money.round_money(amount, currency) if currency else ZERO

    categories = sorted(
        (
            CategoryCost(
                category=c.value,
                name=LABELS[c],
                cost=rounded(mine.get(c, ZERO)),
                percentage=_pct(mine.get(c, ZERO), total),
                aws_only=c in AWS_ONLY,
            )
            for c in NetCategory
        ),
        key=lambda c: (-c.cost, c.category),
    )
    days_mine = daily.get(currency or "", {})
    series = []
    for i in range(days):
        day = start + timedelta(days=i)
        cats = days_mine.get(day, {})
        series.append(
            NetworkDay(
                date=day,
                cost=rounded(sum(cats.values(), ZERO)),
                categories={c.value: rounded(v) for c, v in sorted(cats.items()) if v != ZERO},
            )
        )
    resources = await _resources(db, who, per_resource.get(currency or "", {}), rounded)
    vpcs: dict[str, list[Decimal]] = defaultdict(list)
    for r in resources:
        if r.vpc_id:
            vpcs[r.vpc_id].append(r.cost)
    return NetworkSummaryOut(
        account_id=account_id,
        days=days,
        start_date=start,
        end_date=end,
        currency=currency,
        total_cost=rounded(total),
        currencies=[
            CurrencyTotal(currency=cur, total_cost=money.round_money(sum(t.values(), ZERO), cur))
            for cur, t in sorted(totals.items(), key=lambda kv: (kv[0] != currency, kv[0]))
        ],
        categories=categories,
        daily=series,
        top_resources=resources[:TOP],
        nat_gateways=[r for r in resources if r.category == NetCategory.NAT_GATEWAY],
        load_balancers=[r for r in resources if r.category == NetCategory.LOAD_BALANCER],
        vpcs=sorted(
            (VpcCost(vpc_id=v, cost=sum(c, ZERO), resources=len(c)) for v, c in vpcs.items()),
            key=lambda v: (-v.cost, v.vpc_id),
        ),
        notes=list(NOTES),
    )


async def _resources(
    db: AsyncSession,
    who: Principal,
    costs: dict[tuple[str, NetCategory], Decimal],
    rounded: Callable[[Decimal], Decimal],
) -> list[NetworkResource]:
    """Each resource's network cost per category, largest first, joined to the inventory."""
    ids = {rid for rid, _ in costs}
    rows = await inventory.resources_of(db, who, ids | {_bare(rid) for rid in ids})
    by_id = {r.resource_id: r for r in rows}
    for r in rows:  # GCP bills instances and disks by numeric id (inventory.service.resources_of)
        bill_id = (r.attributes or {}).get("bill_id")
        if isinstance(bill_id, str):
            by_id.setdefault(bill_id, r)
    out = []
    for (rid, kind), amount in costs.items():
        row = by_id.get(rid) or by_id.get(_bare(rid))
        attrs = (row.attributes or {}) if row else {}
        vpc = attrs.get("vpc_id")
        out.append(
            NetworkResource(
                resource_id=rid,
                category=kind.value,
                cost=rounded(amount),
                name=row.name if row else None,
                type=row.resource_type if row else None,
                region=row.region if row else None,
                vpc_id=vpc if isinstance(vpc, str) else None,
                inventory_id=row.id if row else None,
            )
        )
    out.sort(key=lambda r: (-r.cost, r.resource_id, r.category))
    return out
