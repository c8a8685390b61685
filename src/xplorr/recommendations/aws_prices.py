"""AWS on-demand prices refreshed through the Pricing API, where the account allows it.

Before a recommendation refresh, for each AWS account (``read_accounts``): what its live
inventory needs priced (``wanted_for``: its instance types, the types its rules would
recommend, one size down and the current generation, and its EBS volume types, gp3 beside
gp2, each in its own region) minus what the organization read within ``MAX_AGE_DAYS``, at most
``MAX_LOOKUPS`` lookups an account and refresh, read through ``pricing:GetProducts``
(``connectors.aws.pricing``) with no database transaction open. ``record`` then keeps each
price in ``price_points`` (per organization: a list price belongs to no account) with the day
it was read and ``source`` ``pricing-api``, and how the read went in ``price_refreshes``.

The engine prices with ``price_book``: those prices where they were read (per region), the
shipped table elsewhere; each recommendation's evidence names the source and date of its
prices (``prices.PriceBook``).

A denied ``pricing:GetProducts`` (AccessDenied, or refused keys) is not retried: the account's
refresh goes on with the shipped table, a warning is logged and stored, and every
recommendation the shipped table priced for it says so (``price_warning``); the account is not
asked again for ``DENIED_RETRY_DAYS`` (a fixed policy is picked up within a week). AWS
unavailable leaves what was read so far; the rest is asked at the next refresh.
"""

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final, cast

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from xplorr.cloud_accounts.credentials import decrypt_credentials
from xplorr.cloud_accounts.models import CloudAccount, Provider
from xplorr.connectors.aws import session as aws
from xplorr.connectors.aws.pricing import Kind, PriceScan, Wanted, read_prices
from xplorr.core import clock, money
from xplorr.core.crypto import CryptoError
from xplorr.core.db import advisory_xact_lock
from xplorr.core.jobs.registry import JobContext
from xplorr.core.tenancy import org_scope, org_select
from xplorr.inventory import service as inventory
from xplorr.inventory.models import InventoryResource
from xplorr.recommendations import prices, rules
from xplorr.recommendations.models import PricePoint, PriceRefresh

log = structlog.get_logger("xplorr.recommendations")

MAX_AGE_DAYS: Final = 7  # AWS changes list prices rarely; a week-old read is fresh enough
DENIED_RETRY_DAYS: Final = 7
MAX_LOOKUPS: Final = 200  # one GetProducts each; the rest waits for the next refresh
SMALLER_SIZES_ASKED: Final = 2  # candidates for "one size down" (a size may not exist)

OK: Final = "ok"
PARTIAL: Final = "partial"
DENIED: Final = "denied"
UNAVAILABLE: Final = "unavailable"


def wanted_for(resources: Iterable[InventoryResource | rules.Resource]) -> list[Wanted]:
    """The prices the AWS rules would ask for these resources (see the module docstring)."""
    out: set[Wanted] = set()
    gp2_regions: set[str] = set()
    for r in resources:
        if r.provider != "aws" or not r.region:
            continue
        attributes = r.attributes or {}
        if r.resource_type == rules.INSTANCE and attributes.get("instance_type"):
            itype = str(attributes["instance_type"])
            successor = prices.successor_type(itype)
            candidates = [
                itype,
                *prices.smaller_sizes(itype)[:SMALLER_SIZES_ASKED],
                *([successor] if successor else []),
            ]
            out.update(Wanted("ec2", t, r.region) for t in candidates)
        elif r.resource_type == rules.VOLUME and attributes.get("volume_type"):
            vtype = str(attributes["volume_type"])
            out.add(Wanted("ebs", vtype, r.region))
            if vtype == "gp2":
                gp2_regions.add(r.region)
    out.update(Wanted("ebs", "gp3", region) for region in gp2_regions)
    return sorted(out, key=lambda w: (w.region, w.kind, w.item))


async def price_book(db: AsyncSession, account: CloudAccount) -> prices.PriceBook:
    """What ``account``'s rules price with: the organization's Pricing API prices, and the
    account's last refresh warning when it was denied."""
    who = org_scope(account.org_id)
    points = (await db.scalars(org_select(PricePoint, who))).all()
    fetched = {
        (p.kind, p.item, p.region): prices.Quote(
            money.quantize_store(p.price).normalize(),
            p.source,
            p.fetched_at.date().isoformat(),
            p.region,
        )
        for p in points
        if p.price is not None
    }
    status = await _status(db, account)
    warning = status.warning if status is not None and status.outcome == DENIED else None
    return prices.PriceBook(fetched, warning)


async def _status(db: AsyncSession, account: CloudAccount) -> PriceRefresh | None:
    return await db.scalar(
        org_select(PriceRefresh, org_scope(account.org_id)).where(
            PriceRefresh.cloud_account_id == account.id
        )
    )


@dataclass(frozen=True, slots=True)
class PriceRead:
    """One account's read: what was asked and what came back (``scan`` None: the account
    could not be reached at all, ``warning`` says why)."""

    asked: tuple[Wanted, ...]
    scan: PriceScan | None
    warning: str | None = None

    @property
    def outcome(self) -> str:
        if self.scan is None:
            return UNAVAILABLE
        if self.scan.denied:
            return DENIED
        return PARTIAL if self.scan.warnings else OK


@dataclass(frozen=True, slots=True)
class _Ticket:
    account_id: uuid.UUID
    provider_account_id: str
    credentials: dict[str, Any]
    base: aws.BaseKeys | None
    wanted: tuple[Wanted, ...]


@dataclass(slots=True)
class _Plan:
    tickets: list[_Ticket] = field(default_factory=list)
    claimed: set[Wanted] = field(default_factory=set)


async def _fresh(db: AsyncSession, org_id: uuid.UUID, now: datetime) -> set[Wanted]:
    since = now - timedelta(days=MAX_AGE_DAYS)
    rows = await db.scalars(
        org_select(PricePoint, org_scope(org_id)).where(PricePoint.fetched_at >= since)
    )
    return {Wanted(cast(Kind, p.kind), p.item, p.region) for p in rows}


async def _plan(ctx: JobContext, accounts: Sequence[CloudAccount], now: datetime) -> _Plan:
    plan = _Plan()
    fresh: dict[uuid.UUID, set[Wanted]] = {}
    for account in accounts:
        if account.provider is not Provider.AWS:
            continue
        status = await _status(ctx.db, account)
        if (
            status is not None
            and status.outcome == DENIED
            and status.attempted_at > now - timedelta(days=DENIED_RETRY_DAYS)
        ):
            continue  # denied lately: not asked again (module docstring)
        if account.org_id not in fresh:
            fresh[account.org_id] = await _fresh(ctx.db, account.org_id, now)
        resources = await inventory.account_resources(ctx.db, org_scope(account.org_id), account.id)
        wanted = [
            w
            for w in wanted_for(resources)
            if w not in fresh[account.org_id] and w not in plan.claimed
        ][:MAX_LOOKUPS]
        if not wanted:
            continue
        try:
            credentials = await decrypt_credentials(ctx.db, ctx.settings, account)
            base = await aws.org_base_keys(ctx.db, ctx.settings, account.org_id, credentials)
        except (CryptoError, aws.AwsCallError) as exc:
            log.warning("price_refresh_skipped", account=str(account.id), warning=str(exc))
            continue
        plan.claimed.update(wanted)
        plan.tickets.append(
            _Ticket(account.id, account.provider_account_id, credentials, base, tuple(wanted))
        )
    return plan


async def read_accounts(
    ctx: JobContext, accounts: Sequence[CloudAccount], *, now: datetime | None = None
) -> dict[uuid.UUID, PriceRead]:
    """The Pricing API's prices each AWS account of ``accounts`` needs (by account id; an
    account with nothing to ask is absent). Call it before the job writes: when the answer is
    not empty it ended the job's transaction so that no connection waits on AWS, and the
    accounts must be read again. Failures are logged warnings, never a failed refresh."""
    now = now or clock.now()
    plan = await _plan(ctx, accounts, now)
    if not plan.tickets:
        return {}
    await ctx.release_connection()
    out: dict[uuid.UUID, PriceRead] = {}
    for t in plan.tickets:
        try:
            session = await aws.connect(
                ctx.settings, t.provider_account_id, t.credentials, base=t.base, purpose="pricing"
            )
            scan = await aws.run(read_prices, session, t.wanted)
        except (aws.AwsCallError, aws.AwsUnavailable) as exc:
            out[t.account_id] = PriceRead(t.wanted, None, str(exc))
            log.warning("price_refresh_unavailable", account=str(t.account_id), warning=str(exc))
            continue
        for warning in scan.warnings:
            log.warning("price_refresh_unavailable", account=str(t.account_id), warning=warning)
        out[t.account_id] = PriceRead(t.wanted, scan)
    return out


def _warning(read: PriceRead) -> str | None:
    if read.scan is None:
        return read.warning
    if not read.scan.warnings:
        return None
    text = "; ".join(read.scan.warnings)
    if read.scan.denied:
        text += f" (prices from the shipped table of {prices.PRICES_AS_OF})"
    return text


async def record(
    db: AsyncSession,
    org_id: uuid.UUID,
    reads: Mapping[uuid.UUID, PriceRead],
    *,
    now: datetime | None = None,
) -> int:
    """Keep what ``read_accounts`` read: each price (the newest per kind, item and region)
    and each account's outcome. Returns how many prices were stored."""
    if not reads:
        return 0
    now = now or clock.now()
    who = org_scope(org_id)
    await advisory_xact_lock(db, f"price-points:{org_id}")
    existing = {
        (p.kind, p.item, p.region): p for p in (await db.scalars(org_select(PricePoint, who))).all()
    }
    statuses = {
        s.cloud_account_id: s for s in (await db.scalars(org_select(PriceRefresh, who))).all()
    }
    stored = 0
    for account_id, read in reads.items():
        found = read.scan.prices if read.scan is not None else []
        for f in found:
            key = (f.wanted.kind, f.wanted.item, f.wanted.region)
            row = existing.get(key)
            if row is None:
                row = PricePoint(
                    id=uuid.uuid4(), org_id=org_id, kind=key[0], item=key[1], region=key[2]
                )
                db.add(row)
                existing[key] = row
            row.price = None if f.price is None else money.quantize_store(f.price)
            row.currency, row.unit, row.sku = f.currency, f.unit, f.sku
            row.effective_date = f.effective_date
            row.source, row.fetched_at = prices.PRICING_API, now
            stored += 1
        status = statuses.get(account_id)
        if status is None:
            status = PriceRefresh(id=uuid.uuid4(), org_id=org_id, cloud_account_id=account_id)
            db.add(status)
            statuses[account_id] = status
        status.attempted_at, status.outcome = now, read.outcome
        status.warning = _warning(read)
        status.items_read = sum(1 for f in found if f.price is not None)
    await db.flush()
    return stored
