"""The resource inventory: what collectors saw (``apply_snapshot``) and what callers list.

Costs are read per page from the cost store through ``costs.query`` (BilledCost of the last 30
days by ResourceId; a resource is matched by its id and by its ARN when it has one, since AWS
bills some resources by bare id and others by ARN). Rows of accounts a member was not granted
never show (``org_select`` on ``cloud_account_id``).
"""

import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Final, Protocol

from sqlalchemy import Select, delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from xplorr.cloud_accounts.models import CloudAccount
from xplorr.core import clock, csvexport, money
from xplorr.core.db import advisory_xact_lock, rowcount
from xplorr.core.errors import NotFound
from xplorr.core.jobs.registry import JobContext
from xplorr.core.pagination import Page, PageParams
from xplorr.core.tenancy import Principal, Scope, get_in_org, org_scope, org_select
from xplorr.costs import query
from xplorr.costs.query import CostQuery, Dim
from xplorr.inventory import types
from xplorr.inventory.models import InventoryRefresh, InventoryResource
from xplorr.inventory.schemas import FilterValue, InventoryFiltersOut, InventoryItemOut

COST_DAYS: Final = 30
KEEP_DELETED: Final = timedelta(days=30)
EXPORT_MAX_ROWS: Final = 50_000
ANY_REGION: Final = "*"  # a scope of every region: ("*", "AWS::S3::Bucket") for a global listing
DELETED_STATUS: Final = "Deleted"  # the status filter's value for resources gone from the cloud
CSV_HEADER: Final = (
    "provider",
    "account_id",
    "account_name",
    "region",
    "service",
    "type",
    "resource_id",
    "name",
    "status",
    "cost_30d",
    "currency",
    "tags",
    "first_seen_at",
    "last_seen_at",
    "deleted_at",
    "native_type",  # last: the columns before keep their places for existing readers
)


@dataclass(frozen=True, slots=True)
class InventoryFilter:
    account_id: uuid.UUID | None = None
    provider: str | None = None
    region: str | None = None
    type: str | None = None
    status: str | None = None
    search: str | None = None


class Found(Protocol):
    """A resource as a connector reports it, in its provider's own type (``resource_type``:
    ``AWS::EC2::Volume``, an ARM type, a Cloud Asset type)."""

    @property
    def provider(self) -> str: ...
    @property
    def region(self) -> str | None: ...
    @property
    def service(self) -> str: ...
    @property
    def resource_type(self) -> str: ...
    @property
    def resource_id(self) -> str: ...
    @property
    def name(self) -> str | None: ...
    @property
    def status(self) -> str | None: ...
    @property
    def tags(self) -> dict[str, str]: ...
    @property
    def attributes(self) -> dict[str, Any]: ...


@dataclass(frozen=True, slots=True)
class Observed:
    """One resource as a collector saw it: ``resource_type`` the inventory's type,
    ``native_type`` the provider's (``inventory.types``)."""

    provider: str
    region: str | None
    service: str
    resource_type: str
    resource_id: str
    name: str | None = None
    status: str | None = None
    tags: dict[str, Any] = field(default_factory=dict)
    attributes: dict[str, Any] = field(default_factory=dict)
    native_type: str = ""  # empty: the same as resource_type

    @classmethod
    def typed(cls, provider: str, provider_type: str, **fields: Any) -> "Observed":
        """A resource of the provider's type ``provider_type`` (an API type or a bill's
        spelling) under the inventory's type, the provider's kept (``inventory.types``)."""
        typed = types.observed_type(provider, provider_type)
        return cls(
            provider=provider,
            resource_type=typed.resource_type,
            native_type=typed.native_type,
            **fields,
        )

    @classmethod
    def of(cls, found: Found) -> "Observed":
        """A connector's resource (in its provider's type) under the inventory's type."""
        return cls.typed(
            found.provider,
            found.resource_type,
            region=found.region,
            service=found.service,
            resource_id=found.resource_id,
            name=found.name,
            status=found.status,
            tags=dict(found.tags),
            attributes=dict(found.attributes),
        )


def native_scopes(
    provider: str, scopes: Iterable[tuple[str | None, str]]
) -> set[tuple[str | None, str]]:
    """A connector's (region, provider type) scopes with each type spelt as stored."""
    return {(region, types.native_type(provider, name)) for region, name in scopes}


@dataclass(frozen=True, slots=True)
class SnapshotResult:
    added: int
    updated: int
    gone: int
    purged: int


# --- collectors' side -----------------------------------------------------------------------


async def apply_snapshot(
    db: AsyncSession,
    account: CloudAccount,
    observed: Iterable[Observed],
    *,
    source: str,
    scopes: Iterable[tuple[str | None, str]] | None = None,
    now: datetime | None = None,
) -> SnapshotResult:
    """Record a complete snapshot of ``account``'s resources of ``source``: of every
    (region, native type) in ``scopes`` when given (what a collector could read; a region or
    type it could not read keeps its rows as they were), else of everything.

    Seen resources are inserted or updated (a deleted one seen again comes back); rows of the
    covered scope not seen are marked deleted, never removed; deleted rows older than 30 days
    are purged. Idempotent: the same snapshot twice changes only ``last_seen_at``."""
    now = now or clock.now()
    covered = None if scopes is None else set(scopes)
    stmt = org_select(InventoryResource, org_scope(account.org_id)).where(
        InventoryResource.cloud_account_id == account.id
    )
    existing = {r.resource_id: r for r in (await db.scalars(stmt)).all()}
    added = updated = gone = 0
    seen: set[str] = set()
    for o in observed:
        if o.resource_id in seen:
            continue
        seen.add(o.resource_id)
        row = existing.get(o.resource_id)
        if row is None:
            db.add(
                InventoryResource(
                    org_id=account.org_id,
                    cloud_account_id=account.id,
                    provider=o.provider,
                    region=o.region,
                    service=o.service,
                    resource_type=o.resource_type,
                    native_type=o.native_type or o.resource_type,
                    resource_id=o.resource_id,
                    name=o.name,
                    status=o.status,
                    tags=dict(o.tags),
                    attributes=dict(o.attributes),
                    source=source,
                    first_seen_at=now,
                    last_seen_at=now,
                    deleted_at=None,
                )
            )
            added += 1
            continue
        row.provider, row.region, row.service = o.provider, o.region, o.service
        row.resource_type, row.name, row.status = o.resource_type, o.name, o.status
        row.native_type = o.native_type or o.resource_type
        row.tags, row.attributes, row.source = dict(o.tags), dict(o.attributes), source
        row.last_seen_at, row.deleted_at = now, None
        updated += 1
    for resource_id, row in existing.items():
        if resource_id in seen or row.deleted_at is not None or row.source != source:
            continue
        if covered is not None and not (
            (row.region, row.native_type) in covered or (ANY_REGION, row.native_type) in covered
        ):
            continue
        row.deleted_at = now
        gone += 1
    purged = await db.execute(
        delete(InventoryResource).where(
            InventoryResource.org_id == account.org_id,
            InventoryResource.cloud_account_id == account.id,
            InventoryResource.deleted_at.is_not(None),
            InventoryResource.deleted_at < now - KEEP_DELETED,
        )
    )
    await db.flush()
    return SnapshotResult(added, updated, gone, rowcount(purged))


async def record_scan(
    ctx: JobContext,
    account_id: uuid.UUID,
    found: Iterable[Found],
    *,
    provider: str,
    scopes: Iterable[tuple[str | None, str]],
    now: datetime,
    source: str = "api",
) -> tuple[CloudAccount, SnapshotResult] | None:
    """What a cloud collector does after its scan (its connection released meanwhile): the
    account read again (None: disconnected meanwhile, nothing recorded), then the snapshot of
    the connector's resources under the inventory's types (``Observed.of``) and of its scopes
    (provider types, ``native_scopes``), started at ``now``."""
    if ctx.org_id is None:
        return None
    account = await ctx.db.scalar(
        org_select(CloudAccount, org_scope(ctx.org_id)).where(CloudAccount.id == account_id)
    )
    if account is None:
        return None
    result = await apply_snapshot(
        ctx.db,
        account,
        (Observed.of(r) for r in found),
        source=source,
        scopes=native_scopes(provider, scopes),
        now=now,
    )
    return account, result


async def record_refresh(
    db: AsyncSession, account: CloudAccount, *, warnings: Sequence[str], at: datetime
) -> InventoryRefresh:
    """Keep ``account``'s newest refresh (started ``at``) and its warnings, replacing the one
    before: an empty list says everything was read this time."""
    await advisory_xact_lock(db, f"inventory-refresh:{account.id}")  # one row per account
    row = await db.scalar(
        org_select(InventoryRefresh, org_scope(account.org_id)).where(
            InventoryRefresh.cloud_account_id == account.id
        )
    )
    if row is None:
        row = InventoryRefresh(org_id=account.org_id, cloud_account_id=account.id)
        db.add(row)
    row.refreshed_at, row.warnings = at, list(warnings)
    await db.flush()
    return row


async def refreshes(db: AsyncSession, who: Scope) -> dict[uuid.UUID, InventoryRefresh]:
    """The newest refresh of each cloud account ``who`` may see, by account id."""
    rows = (await db.scalars(org_select(InventoryRefresh, who))).all()
    return {row.cloud_account_id: row for row in rows}


async def last_refreshed(db: AsyncSession, account: CloudAccount) -> datetime | None:
    """When the newest snapshot of ``account`` started (its rows' newest ``last_seen_at``)."""
    stmt = org_select(InventoryResource, org_scope(account.org_id)).where(
        InventoryResource.cloud_account_id == account.id
    )
    latest: datetime | None = await db.scalar(
        stmt.with_only_columns(func.max(InventoryResource.last_seen_at))
    )
    return latest


async def resources_of(db: AsyncSession, who: Scope, ids: Iterable[str]) -> list[InventoryResource]:
    """Live or deleted rows whose id, or id as the bill names it (``attributes["bill_id"]``:
    GCP's instances and disks), is one of ``ids`` (network costs join on these)."""
    wanted = sorted(set(ids))
    if not wanted:
        return []
    rows = (
        await db.scalars(
            org_select(InventoryResource, who).where(
                or_(
                    InventoryResource.resource_id.in_(wanted),
                    InventoryResource.attributes["bill_id"].as_string().in_(wanted),
                )
            )
        )
    ).all()
    return list(rows)


async def account_resources(
    db: AsyncSession, who: Scope, account_id: uuid.UUID
) -> list[InventoryResource]:
    """The live (not deleted) resources of one cloud account, in id order (what the
    recommendation rules read)."""
    stmt = (
        org_select(InventoryResource, who)
        .where(
            InventoryResource.cloud_account_id == account_id,
            InventoryResource.deleted_at.is_(None),
        )
        .order_by(InventoryResource.resource_id)
    )
    return list((await db.scalars(stmt)).all())


@dataclass(frozen=True, slots=True)
class LiveResource:
    """A live resource as tagging policies check it: where it is, its inventory type, its
    current tags, and the ids its bill may name it by (``cost_keys``: its id, ARN, bill id)."""

    cloud_account_id: uuid.UUID
    resource_id: str
    provider: str
    region: str | None
    service: str
    resource_type: str
    name: str | None
    tags: dict[str, str]
    cost_keys: tuple[str, ...]


def _tag_text(value: Any) -> str:
    """Cloud APIs give string tags; anything else is kept as its text (None as "")."""
    return value if isinstance(value, str) else "" if value is None else str(value)


async def live_resources(db: AsyncSession, who: Scope) -> list[LiveResource]:
    """Every visible resource not gone from its cloud, in account and id order, without its
    (possibly large) ``attributes`` beyond the ids its bill may use."""
    arn = InventoryResource.attributes["arn"].as_string()
    bill_id = InventoryResource.attributes["bill_id"].as_string()
    stmt = (
        org_select(InventoryResource, who)
        .where(InventoryResource.deleted_at.is_(None))
        .with_only_columns(
            InventoryResource.cloud_account_id,
            InventoryResource.resource_id,
            InventoryResource.provider,
            InventoryResource.region,
            InventoryResource.service,
            InventoryResource.resource_type,
            InventoryResource.name,
            InventoryResource.tags,
            arn,
            bill_id,
        )
        .order_by(InventoryResource.cloud_account_id, InventoryResource.resource_id)
    )
    out: list[LiveResource] = []
    for row in (await db.execute(stmt)).all():
        keys = [row[1]]
        for other in (row[8], row[9]):  # ARN, bill id (GCP's numeric ids)
            if other and other not in keys:
                keys.append(other)
        raw_tags = row[7] if isinstance(row[7], dict) else {}
        out.append(
            LiveResource(
                cloud_account_id=row[0],
                resource_id=row[1],
                provider=row[2],
                region=row[3],
                service=row[4],
                resource_type=row[5],
                name=row[6],
                tags={str(k): _tag_text(v) for k, v in raw_tags.items()},
                cost_keys=tuple(keys),
            )
        )
    return out


# --- reads ----------------------------------------------------------------------------------


async def _check_account(db: AsyncSession, who: Principal, account_id: uuid.UUID | None) -> None:
    """A foreign account, or one the caller was not granted, is not found (never forbidden)."""
    if account_id is None:
        return
    await get_in_org(db, CloudAccount, account_id, who)
    if who.account_ids is not None and account_id not in who.account_ids:
        raise NotFound.of("CloudAccount", account_id)


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _selected(who: Principal, f: InventoryFilter) -> Select[InventoryResource]:
    stmt = org_select(InventoryResource, who)
    if f.account_id is not None:
        stmt = stmt.where(InventoryResource.cloud_account_id == f.account_id)
    if f.provider is not None:
        stmt = stmt.where(InventoryResource.provider == f.provider)
    if f.region is not None:
        stmt = stmt.where(func.lower(InventoryResource.region) == f.region.lower())
    if f.type is not None:
        # The inventory's type, or a provider's own name for one (``EC2 Instance``,
        # ``AWS::EC2::Instance``, an ARM type...): inventory.types.
        natives = types.filter_names(f.type) | {f.type.lower()}
        stmt = stmt.where(
            or_(
                func.lower(InventoryResource.resource_type) == f.type.lower(),
                func.lower(InventoryResource.native_type).in_(sorted(natives)),
            )
        )
    if f.status is not None and f.status.lower() == DELETED_STATUS.lower():
        stmt = stmt.where(InventoryResource.deleted_at.is_not(None))
    else:
        stmt = stmt.where(InventoryResource.deleted_at.is_(None))
        if f.status is not None:
            stmt = stmt.where(func.lower(InventoryResource.status) == f.status.lower())
    if f.search:
        pattern = _like(f.search.lower())
        stmt = stmt.where(
            or_(
                func.lower(InventoryResource.name).like(pattern, escape="\\"),
                func.lower(InventoryResource.resource_id).like(pattern, escape="\\"),
            )
        )
    return stmt.order_by(
        InventoryResource.provider,
        InventoryResource.resource_type,
        InventoryResource.name,
        InventoryResource.resource_id,
        InventoryResource.id,
    )


def _cost_keys(row: InventoryResource) -> list[str]:
    keys = [row.resource_id]
    for name in ("arn", "bill_id"):  # bill_id: the bill's id where it differs (GCP)
        other = (row.attributes or {}).get(name)
        if isinstance(other, str) and other and other not in keys:
            keys.append(other)
    return keys


@dataclass(frozen=True, slots=True)
class ResourceCost:
    amount: Decimal
    currency: str


async def costs_of(
    db: AsyncSession,
    who: Scope,
    rows: Sequence[InventoryResource],
    *,
    today: date | None = None,
    all_resources: bool = False,
) -> dict[uuid.UUID, ResourceCost]:
    """BilledCost of the last ``COST_DAYS`` days per row (by its account and id or ARN), from
    ``costs.query``. A resource billed in several currencies shows its first by code (never
    added up). ``all_resources``: one query over every resource (exports) rather than an
    ``IN`` list of the rows' ids."""
    if not rows:
        return {}
    end = today or clock.now().date()
    keys = {k for r in rows for k in _cost_keys(r)}
    q = CostQuery(
        start=end - timedelta(days=COST_DAYS - 1),
        end=end,
        group_by=(Dim.ACCOUNT, Dim.RESOURCE),
        account_ids=frozenset(r.cloud_account_id for r in rows),
        resource_ids=None if all_resources else frozenset(keys),
    )
    sums: dict[tuple[uuid.UUID, str], dict[str, Decimal]] = {}
    for g in await query.aggregate(db, who, q):
        account, resource = g.key
        if isinstance(account, uuid.UUID) and isinstance(resource, str) and resource in keys:
            bucket = sums.setdefault((account, resource), {})
            bucket[g.currency] = bucket.get(g.currency, Decimal(0)) + g.cost
    out: dict[uuid.UUID, ResourceCost] = {}
    for r in rows:
        merged: dict[str, Decimal] = {}
        for key in _cost_keys(r):
            for cur, amount in sums.get((r.cloud_account_id, key), {}).items():
                merged[cur] = merged.get(cur, Decimal(0)) + amount
        if merged:
            cur = sorted(merged)[0]
            out[r.id] = ResourceCost(money.round_money(merged[cur], cur), cur)
    return out


def to_out(row: InventoryResource, cost: ResourceCost | None) -> InventoryItemOut:
    return InventoryItemOut(
        id=row.id,
        cloud_account_id=row.cloud_account_id,
        provider=row.provider,
        region=row.region,
        service=row.service,
        type=row.resource_type,
        native_type=row.native_type,
        resource_id=row.resource_id,
        name=row.name,
        status=row.status,
        tags=row.tags or {},
        attributes=row.attributes or {},
        cost_30d=cost.amount if cost else None,
        currency=cost.currency if cost else None,
        source=row.source,
        first_seen_at=row.first_seen_at,
        last_seen_at=row.last_seen_at,
        deleted_at=row.deleted_at,
    )


async def list_resources(
    db: AsyncSession, who: Principal, f: InventoryFilter, page: PageParams
) -> Page[InventoryItemOut]:
    await _check_account(db, who, f.account_id)
    stmt = _selected(who, f)
    total = int(
        await db.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    )
    rows = (await db.scalars(stmt.limit(page.limit).offset(page.offset))).all()
    costs = await costs_of(db, who, rows)
    return Page(
        data=[to_out(r, costs.get(r.id)) for r in rows],
        total=total,
        page=page.page,
        limit=page.limit,
    )


async def filters(db: AsyncSession, who: Principal) -> InventoryFiltersOut:
    """Distinct values of each filter over the caller's live resources (statuses also count
    the deleted ones kept for 30 days, under ``Deleted``)."""
    base = org_select(InventoryResource, who)
    live = base.where(InventoryResource.deleted_at.is_(None)).subquery()

    async def counts(column: str) -> list[tuple[Any, int]]:
        col = live.c[column]
        stmt = select(col, func.count()).group_by(col).order_by(col)
        return [(v, int(n)) for v, n in (await db.execute(stmt)).all()]

    names = {
        a.id: a.name
        for a in (await db.scalars(org_select(CloudAccount, who))).all()  # visible accounts
    }
    deleted = int(
        await db.scalar(
            select(func.count()).select_from(
                base.where(InventoryResource.deleted_at.is_not(None)).subquery()
            )
        )
        or 0
    )
    statuses = [
        FilterValue(value=str(v), label=str(v), count=n)
        for v, n in await counts("status")
        if v is not None
    ]
    if deleted:
        statuses.append(FilterValue(value=DELETED_STATUS, label=DELETED_STATUS, count=deleted))
    return InventoryFiltersOut(
        providers=[
            FilterValue(value=v, label=query.provider_label(v), count=n)
            for v, n in await counts("provider")
        ],
        accounts=[
            FilterValue(value=str(v), label=names.get(v, str(v)), count=n)
            for v, n in await counts("cloud_account_id")
        ],
        regions=[
            FilterValue(value=v, label=v, count=n)
            for v, n in await counts("region")
            if v is not None
        ],
        types=[FilterValue(value=v, label=v, count=n) for v, n in await counts("resource_type")],
        statuses=statuses,
    )


Cells = list[csvexport.Cell]


async def export_rows(db: AsyncSession, who: Principal, f: InventoryFilter) -> list[Cells]:
    """At most ``EXPORT_MAX_ROWS`` resources of the filters as CSV cells (``CSV_HEADER``),
    with their cost and account name; plain values, read before the response is sent."""
    import json

    await _check_account(db, who, f.account_id)
    rows = (await db.scalars(_selected(who, f).limit(EXPORT_MAX_ROWS))).all()
    costs = await costs_of(db, who, rows, all_resources=len(rows) > 500)
    names = {a.id: a.name for a in (await db.scalars(org_select(CloudAccount, who))).all()}
    out: list[Cells] = []
    for r in rows:
        cost = costs.get(r.id)
        out.append(
            [
                r.provider,
                str(r.cloud_account_id),
                names.get(r.cloud_account_id, ""),
                r.region,
                r.service,
                r.resource_type,
                r.resource_id,
                r.name,
                r.status,
                cost.amount if cost else None,
                cost.currency if cost else None,
                json.dumps(r.tags or {}, sort_keys=True),
                r.first_seen_at,
                r.last_seen_at,
                r.deleted_at,
                r.native_type,
            ]
        )
    return out


def csv_chunks(rows: Sequence[Cells], chunk: int = 1000) -> Iterator[str]:
    """The export as CSV text in chunks of ``chunk`` rows (the header first); text cells a
    spreadsheet would evaluate are neutralised by ``core.csvexport``."""
    yield csvexport.to_csv(CSV_HEADER, ())
    for i in range(0, len(rows), chunk):
        yield csvexport.to_csv((), rows[i : i + chunk]).removeprefix("\r\n")
