"""Allocation rules: CRUD, the rules as ``costs.allocate`` applies them, and the preview.

The rules are applied by the cost query side (``costs.allocate``) when a cost query groups by
a rule's target key and asks for allocation (``GET /costs?groupBy=tag:team&allocate=true``).
A preview (``POST /allocation-rules?preview=true``, and the same on PATCH) computes, for the
last full calendar month of data, each target value's cost with the active rules as they are
and as they would be, through the very same functions, and saves nothing: what a preview says
is what ``/costs`` answers for that month once the change is saved.
"""

import uuid
from collections.abc import Sequence
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Final

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from xplorr.allocation.models import AllocationMethod, AllocationRule, AllocationTarget
from xplorr.allocation.schemas import (
    AllocationRuleCreate,
    AllocationRuleOut,
    AllocationRuleUpdate,
    PreviewOut,
    PreviewValue,
    SourceIn,
    SourceOut,
    check_method,
    check_target,
)
from xplorr.cloud_accounts.models import CloudAccount
from xplorr.core import audit, clock, money
from xplorr.core.errors import Conflict, ValidationFailed
from xplorr.core.pagination import Page, PageParams, paginate
from xplorr.core.tenancy import Principal, Scope, get_in_org, org_select
from xplorr.costs import allocate, query
from xplorr.costs import service as costs
from xplorr.costs.allocate import Allocation, Method, ShareRule, Source
from xplorr.costs.query import CostQuery, TagKey
from xplorr.kubernetes import query as cluster_query

ZERO: Final = Decimal(0)


def _splits_out(splits: dict[str, Any] | None) -> dict[str, Decimal] | None:
    return None if splits is None else {k: Decimal(str(v)) for k, v in splits.items()}


def to_out(rule: AllocationRule) -> AllocationRuleOut:
    return AllocationRuleOut(
        id=rule.id,
        name=rule.name,
        source=SourceOut(
            provider=rule.source_provider,
            account_id=rule.source_account_id,
            service=rule.source_service,
            region=rule.source_region,
            tag_key=rule.source_tag_key,
            tag_value=rule.source_tag_value,
            cluster_id=rule.source_cluster_id,
            namespace=rule.source_namespace,
            idle=rule.source_idle,
        ),
        target_kind=rule.target_kind,
        target_tag_key=rule.target_tag_key,
        method=rule.method,
        splits=_splits_out(rule.splits),
        priority=rule.priority,
        active=rule.active,
        created_at=rule.created_at,
        updated_at=rule.updated_at,
    )


def share_rule(rule: AllocationRule) -> ShareRule:
    """The rule as ``costs.allocate`` applies it."""
    return ShareRule(
        id=rule.id,
        name=rule.name,
        source=Source(
            provider=rule.source_provider,
            account_id=rule.source_account_id,
            service=rule.source_service,
            region=rule.source_region,
            tag_key=rule.source_tag_key,
            tag_value=rule.source_tag_value if rule.source_tag_key is not None else None,
            cluster_id=rule.source_cluster_id,
            namespace=rule.source_namespace,
            idle=rule.source_idle,
        ),
        target_key=(
            None if rule.target_kind is AllocationTarget.NAMESPACE else rule.target_tag_key
        ),
        method=Method(rule.method.value),
        splits=_splits_out(rule.splits),
        priority=rule.priority,
    )


async def share_rules(db: AsyncSession, who: Scope) -> list[ShareRule]:
    """The organization's active rules (what ``allocate=true`` applies)."""
    stmt = org_select(AllocationRule, who).where(AllocationRule.active.is_(True))
    return [share_rule(r) for r in (await db.scalars(stmt)).all()]


async def list_rules(db: AsyncSession, who: Principal, page: PageParams) -> Page[AllocationRuleOut]:
    stmt = org_select(AllocationRule, who).order_by(
        AllocationRule.priority, AllocationRule.name, AllocationRule.id
    )
    return await paginate(db, stmt, page, to_out)


def _assign_source(rule: AllocationRule, source: SourceIn) -> None:
    rule.source_provider = source.provider
    rule.source_account_id = source.account_id
    rule.source_service = source.service
    rule.source_region = source.region
    rule.source_tag_key = source.tag_key
    rule.source_tag_value = source.tag_value
    rule.source_cluster_id = source.cluster_id
    rule.source_namespace = source.namespace
    rule.source_idle = source.idle


def _store_splits(splits: dict[str, Decimal] | None) -> dict[str, str] | None:
    return None if splits is None else {k: money.plain(v) for k, v in splits.items()}


async def _check_source(db: AsyncSession, who: Principal, source: SourceIn) -> None:
    """A source's account or cluster must be the organization's (404 otherwise)."""
    if source.account_id is not None:
        await get_in_org(db, CloudAccount, source.account_id, who)
    if source.cluster_id is not None:
        await cluster_query.cluster_info(db, who, source.cluster_id)


def _new_rule(who: Principal, data: AllocationRuleCreate) -> AllocationRule:
    now = clock.now()
    rule = AllocationRule(
        id=uuid.uuid4(),
        org_id=who.org_id,
        name=data.name,
        target_kind=data.target_kind,
        target_tag_key=data.target_tag_key,
        method=data.method,
        splits=_store_splits(data.splits),
        priority=data.priority,
        active=data.active,
        created_at=now,
        updated_at=now,
    )
    _assign_source(rule, data.source)
    return rule


def _conflict(name: str) -> Conflict:
    return Conflict(
        f"An allocation rule named '{name}' already exists.", code="ALLOCATION_RULE_EXISTS"
    )


async def create_rule(
    db: AsyncSession, who: Principal, data: AllocationRuleCreate
) -> AllocationRule:
    await _check_source(db, who, data.source)
    rule = _new_rule(who, data)
    try:
        async with db.begin_nested():
            db.add(rule)
    except IntegrityError as exc:
        raise _conflict(data.name) from exc
    await audit.record(db, "allocation_rule.created", who=who, target=rule)
    return rule


def _merged(rule: AllocationRule, data: AllocationRuleUpdate) -> AllocationRuleCreate:
    """The rule as ``data`` would leave it, validated as a whole (422 naming the problem)."""
    changes = data.model_dump(exclude_unset=True)
    method = AllocationMethod(changes.get("method") or rule.method)
    splits = data.splits if "splits" in changes else _splits_out(rule.splits)
    if "method" in changes and "splits" not in changes and method is not rule.method:
        splits = None if method is AllocationMethod.PROPORTIONAL else splits
    if (problem := check_method(method, splits)) is not None:
        raise ValidationFailed.on("splits", problem)
    source = data.source or SourceIn(
        provider=rule.source_provider,
        account_id=rule.source_account_id,
        service=rule.source_service,
        region=rule.source_region,
        tag_key=rule.source_tag_key,
        tag_value=rule.source_tag_value,
        cluster_id=rule.source_cluster_id,
        namespace=rule.source_namespace,
        idle=rule.source_idle,
    )
    if "name" in changes and data.name is None:
        raise ValidationFailed.on("name", "Must not be null.")
    if "source" in changes and data.source is None:
        raise ValidationFailed.on("source", "Must not be null.")
    if "target_kind" in changes and data.target_kind is None:
        raise ValidationFailed.on("target_kind", "Must not be null.")
    kind = data.target_kind or rule.target_kind
    # A change of target kind leaves the old key behind unless a new one is sent.
    key = (
        data.target_tag_key
        if "target_tag_key" in changes or kind is not rule.target_kind
        else rule.target_tag_key
    )
    if (wrong := check_target(kind, key, source)) is not None:
        raise ValidationFailed.on(*wrong)
    return AllocationRuleCreate(
        name=data.name or rule.name,
        source=source,
        target_kind=kind,
        target_tag_key=key,
        method=method,
        splits=splits,
        priority=rule.priority if data.priority is None else data.priority,
        active=rule.active if data.active is None else data.active,
    )


async def update_rule(
    db: AsyncSession, who: Principal, rule_id: uuid.UUID, data: AllocationRuleUpdate
) -> AllocationRule:
    rule = await get_in_org(db, AllocationRule, rule_id, who, for_update=True)
    merged = _merged(rule, data)
    await _check_source(db, who, merged.source)
    rule.name = merged.name
    _assign_source(rule, merged.source)
    rule.target_kind = merged.target_kind
    rule.target_tag_key = merged.target_tag_key
    rule.method = merged.method
    rule.splits = _store_splits(merged.splits)
    rule.priority = merged.priority
    rule.active = merged.active
    rule.updated_at = clock.now()
    try:
        async with db.begin_nested():
            await db.flush()
    except IntegrityError as exc:
        raise _conflict(merged.name) from exc
    await audit.record(
        db,
        "allocation_rule.updated",
        who=who,
        target=rule,
        details={"changes": sorted(data.model_dump(exclude_unset=True))},
    )
    return rule


async def delete_rule(db: AsyncSession, who: Principal, rule_id: uuid.UUID) -> None:
    rule = await get_in_org(db, AllocationRule, rule_id, who, for_update=True)
    await audit.record(db, "allocation_rule.deleted", who=who, target=rule)
    await db.delete(rule)


def _full_month(through: date) -> tuple[date, date]:
    """The last calendar month that ends on or before ``through``."""
    if (through + timedelta(days=1)).day != 1:
        through = through.replace(day=1) - timedelta(days=1)
    return through.replace(day=1), through


async def last_full_month(db: AsyncSession, who: Scope) -> tuple[date, date]:
    """The last calendar month complete in the data (``costs.query.data_through``; without
    data, the month before today's)."""
    return _full_month(await query.data_through(db, who) or clock.now().date() - timedelta(days=1))


async def _allocations(
    db: AsyncSession,
    who: Principal,
    data: AllocationRuleCreate,
    before_rules: Sequence[ShareRule],
    after_rules: Sequence[ShareRule],
) -> tuple[date, date, str | None, Allocation, Allocation]:
    """The last full month's allocation by ``data``'s target with the rules before and after,
    over the cloud's cost or (a cluster source) that cluster's."""
    cluster_id = data.source.cluster_id
    if cluster_id is None:
        assert data.target_tag_key is not None  # check_target
        start, end = await last_full_month(db, who)
        q = CostQuery(start=start, end=end, group_by=(TagKey(data.target_tag_key),))
        before = await allocate.allocate(db, who, q, before_rules)
        after = await allocate.allocate(db, who, q, after_rules)
        return start, end, await costs.answer_currency(db, who, None), before, after
    cluster = await cluster_query.cluster_info(db, who, cluster_id)
    # The cluster's last month complete in its own data (without data, the month before).
    start, end = _full_month(cluster.data_through or clock.now().date() - timedelta(days=1))
    dim: cluster_query.ClusterGroupBy = (
        cluster_query.ClusterDim.NAMESPACE
        if data.target_tag_key is None
        else cluster_query.parse_group_by(
            cluster_query.LABEL_PREFIX + data.target_tag_key, "target_tag_key"
        )
    )
    before = await cluster_query.allocate(db, who, cluster, start, end, (dim,), before_rules)
    after = await cluster_query.allocate(db, who, cluster, start, end, (dim,), after_rules)
    return start, end, cluster.currency, before, after


async def preview(
    db: AsyncSession,
    who: Principal,
    data: AllocationRuleCreate,
    replacing: uuid.UUID | None = None,
) -> PreviewOut:
    """What saving ``data`` (a new rule, or rule ``replacing`` changed) would move over the
    last full month, value by value of its target (for a cluster rule: the cluster's last full
    month, by namespace or label value). Saves nothing."""
    await _check_source(db, who, data.source)
    current = await share_rules(db, who)
    candidate = share_rule(_new_rule(who, data))
    if replacing is not None:
        candidate = replace(candidate, id=replacing)
    after_rules = [r for r in current if r.id != replacing]
    if data.active:
        after_rules.append(candidate)
    start, end, currency, before, after = await _allocations(db, who, data, current, after_rules)
    before_items, _ = costs.allocated_items(before.groups, currency)
    after_items, _ = costs.allocated_items(after.groups, currency)
    was = {item.key: item.cost for item in before_items}
    now = {item.key: item for item in after_items}
    values = [
        PreviewValue(
            key=item.key,
            name=item.name,
            cost_before=was.get(item.key, ZERO),
            cost_after=item.cost,
            change=item.cost - was.get(item.key, ZERO),
            direct=item.direct or ZERO,
            allocated=item.allocated or ZERO,
        )
        for item in after_items
    ]
    values.extend(  # groups that disappear (a shared source itself)
        PreviewValue(
            key=item.key,
            name=item.name,
            cost_before=item.cost,
            cost_after=ZERO,
            change=-item.cost,
            direct=ZERO,
            allocated=ZERO,
        )
        for item in before_items
        if item.key not in now
    )
    moved = after.moved.get(candidate.id, {}).get(currency or "", ZERO) if data.active else ZERO
    return PreviewOut(
        start_date=start,
        end_date=end,
        target_kind=data.target_kind,
        target_tag_key=data.target_tag_key,
        currency=currency,
        moved=money.round_money(moved, currency) if currency else ZERO,
        values=values,
    )


async def preview_update(
    db: AsyncSession, who: Principal, rule_id: uuid.UUID, data: AllocationRuleUpdate
) -> PreviewOut:
    rule = await get_in_org(db, AllocationRule, rule_id, who)
    return await preview(db, who, _merged(rule, data), replacing=rule.id)
