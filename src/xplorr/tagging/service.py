"""Tagging policies and their violations.

The resources checked are the union of two sources, so violations work for every account:

- the live inventory (``inventory.service.live_resources``: every resource a collector saw and
  that is not gone), with its current tags: this covers AWS accounts billed through Cost
  Explorer (whose cost rows name no resource) and resources that cost nothing in the window
  (a new untagged instance). Its cost is what the cost store bills under its id, ARN or bill
  id in the window; none (null) when the bill names it nowhere;
- the cost store's resources no live inventory row claims (``costs.query.billed_resources``:
  every ``ResourceId`` with cost in the window, with the tags of its newest day): FOCUS
  imports, providers without an inventory collector, resources deleted since.

Which resources a policy's ``applies_to`` reaches: ``APPLIES_TO`` below (the README's "Cost
ownership" section prints it). A resource is reached when its inventory type (the
provider-neutral ``inventory.types.ResourceType``; the providers' own types map onto it) is in
the policy's types, or when its cost rows match the policy's provider and ServiceName or FOCUS
ServiceCategory. ``all`` reaches every resource; ``ec2``, ``rds``, ``s3`` AWS's virtual
machines, managed databases and buckets (and AWS cost rows of that service); ``compute`` and
``storage`` those types on every cloud (and cost rows of ServiceCategory Compute / Storage).

Tag keys compare as the providers do: AWS tag keys and GCP label keys are case-sensitive
(``Team`` is not ``team``); Azure tag names are not (``Team`` satisfies ``team``). Values are
always compared exactly. An empty value counts as missing for a required key.

The window is the last 30 days of data: ending at the last complete day of the caller's
visible accounts (``costs.query.data_through``), else yesterday.
"""

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Final, Literal

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from xplorr.cloud_accounts.models import CloudAccount
from xplorr.core import audit, clock, money
from xplorr.core.errors import Conflict
from xplorr.core.pagination import Page, PageParams, paginate
from xplorr.core.tenancy import Principal, get_in_org, org_select
from xplorr.costs import query
from xplorr.costs.query import BilledResource, CostQuery
from xplorr.inventory import service as inventory
from xplorr.inventory.service import LiveResource
from xplorr.inventory.types import ResourceType
from xplorr.tagging.models import AppliesTo, TaggingPolicy
from xplorr.tagging.schemas import (
    PolicyCompliance,
    PolicyWithoutCost,
    TaggingPolicyCreate,
    TaggingPolicyOut,
    ViolatedPolicy,
    ViolatingResource,
    ViolationOut,
    ViolationsPage,
)

MAX_VIOLATIONS: Final = 200
WINDOW_DAYS: Final = 30
ZERO: Final = Decimal(0)


@dataclass(frozen=True, slots=True)
class Checked:
    """One resource the policies check. ``inventory_type`` is None for a resource known only
    from cost data; ``billed`` the cost-store resources it is (none: no cost in the window);
    ``costs`` their cost per currency (never added up across currencies)."""

    cloud_account_id: uuid.UUID
    resource_id: str
    name: str | None
    type: str | None
    provider: str
    service: str
    region: str | None
    tags: dict[str, str]
    inventory_type: str | None
    billed: tuple[BilledResource, ...]
    costs: dict[str, Decimal]


def resources_to_check(
    live: Sequence[LiveResource], billed: Sequence[BilledResource]
) -> list[Checked]:
    """The live inventory's resources, each with the cost-store resources its id, ARN or bill
    id names, then the cost-store resources no live resource claimed (module docstring)."""
    by_key = {(b.cloud_account_id, b.resource_id): b for b in billed}
    claimed: set[tuple[uuid.UUID, str]] = set()
    out: list[Checked] = []
    for r in live:
        mine: list[BilledResource] = []
        for key in ((r.cloud_account_id, k) for k in r.cost_keys):
            if key in by_key and key not in claimed:
                claimed.add(key)
                mine.append(by_key[key])
        costs: dict[str, Decimal] = {}
        for b in mine:
            for currency, cost in b.costs.items():
                costs[currency] = costs.get(currency, ZERO) + cost
        out.append(
            Checked(
                cloud_account_id=r.cloud_account_id,
                resource_id=r.resource_id,
                name=r.name,
                type=r.resource_type,
                provider=r.provider,
                service=r.service,
                region=r.region,
                tags=r.tags,
                inventory_type=r.resource_type,
                billed=tuple(mine),
                costs=dict(sorted(costs.items())),
            )
        )
    for b in billed:
        if (b.cloud_account_id, b.resource_id) in claimed:
            continue
        out.append(
            Checked(
                cloud_account_id=b.cloud_account_id,
                resource_id=b.resource_id,
                name=b.resource_name,
                type=b.resource_type,
                provider=b.provider,
                service=b.service,
                region=b.region,
                tags=b.tags,
                inventory_type=None,
                billed=(b,),
                costs=b.costs,
            )
        )
    return out


@dataclass(frozen=True, slots=True)
class Reach:
    """What one ``applies_to`` value reaches (module docstring's table)."""

    types: frozenset[ResourceType] | None  # the inventory's types; None: every type
    provider: str | None = None
    services: frozenset[str] | None = None  # cost rows' ServiceName
    categories: frozenset[str] | None = None  # cost rows' FOCUS ServiceCategory

    def reaches_type(self, provider: str, resource_type: str) -> bool:
        if self.provider is not None and provider != self.provider:
            return False
        return self.types is None or resource_type in self.types

    def reaches_billed(self, r: BilledResource) -> bool:
        if self.provider is not None and r.provider != self.provider:
            return False
        if self.services is not None and r.service not in self.services:
            return False
        return self.categories is None or r.service_category in self.categories

    def covers(self, r: Checked) -> bool:
        if r.inventory_type is not None and self.reaches_type(r.provider, r.inventory_type):
            return True
        return any(self.reaches_billed(b) for b in r.billed)


T = ResourceType
APPLIES_TO: Final[dict[AppliesTo, Reach]] = {
    AppliesTo.ALL: Reach(None),
    AppliesTo.EC2: Reach(
        frozenset({T.VIRTUAL_MACHINE}),
        "aws",
        frozenset({"Amazon Elastic Compute Cloud", "AmazonEC2"}),
    ),
    AppliesTo.RDS: Reach(
        frozenset({T.MANAGED_DATABASE}),
        "aws",
        frozenset({"Amazon Relational Database Service", "AmazonRDS"}),
    ),
    AppliesTo.S3: Reach(
        frozenset({T.OBJECT_STORAGE}),
        "aws",
        frozenset({"Amazon Simple Storage Service", "AmazonS3"}),
    ),
    AppliesTo.COMPUTE: Reach(
        frozenset({T.VIRTUAL_MACHINE, T.SERVERLESS_FUNCTION}),
        categories=frozenset({"Compute"}),
    ),
    # Snapshots too: FOCUS bills them under ServiceCategory Storage, so both columns agree.
    AppliesTo.STORAGE: Reach(
        frozenset({T.OBJECT_STORAGE, T.DISK, T.DISK_SNAPSHOT}),
        categories=frozenset({"Storage"}),
    ),
}

Kind = Literal["missing", "value_not_allowed"]


def find_tag(provider: str, tags: dict[str, str], key: str) -> str | None:
    """The value of ``key`` in ``tags`` as ``provider`` compares keys (None: absent)."""
    if key in tags:
        return tags[key]
    if provider == "azure":
        folded = key.casefold()
        for k in sorted(tags):
            if k.casefold() == folded:
                return tags[k]
    return None


def check(policy: TaggingPolicy, r: Checked) -> tuple[Kind, str | None] | None:
    """The violation of ``policy`` by ``r`` (kind, value found), or None when it complies."""
    value = find_tag(r.provider, r.tags, policy.tag_key)
    if value is None or value == "":
        return ("missing", value) if policy.required else None
    if policy.allowed_values and value not in policy.allowed_values:
        return "value_not_allowed", value
    return None


async def list_policies(
    db: AsyncSession, who: Principal, page: PageParams
) -> Page[TaggingPolicyOut]:
    stmt = org_select(TaggingPolicy, who).order_by(TaggingPolicy.created_at, TaggingPolicy.id)
    return await paginate(db, stmt, page, TaggingPolicyOut.model_validate)


async def create_policy(
    db: AsyncSession, who: Principal, data: TaggingPolicyCreate
) -> TaggingPolicy:
    policy = TaggingPolicy(
        org_id=who.org_id,
        tag_key=data.tag_key,
        required=data.required,
        allowed_values=data.allowed_values or None,
        applies_to=data.applies_to,
        created_at=clock.now(),
    )
    try:
        async with db.begin_nested():
            db.add(policy)
    except IntegrityError as exc:
        raise Conflict(
            f"A tagging policy for '{data.tag_key}' on '{data.applies_to.value}' already exists.",
            code="TAGGING_POLICY_EXISTS",
        ) from exc
    await audit.record(db, "tagging_policy.created", who=who, target=policy)
    return policy


async def delete_policy(db: AsyncSession, who: Principal, policy_id: uuid.UUID) -> None:
    policy = await get_in_org(db, TaggingPolicy, policy_id, who, for_update=True)
    await audit.record(db, "tagging_policy.deleted", who=who, target=policy)
    await db.delete(policy)


async def window(db: AsyncSession, who: Principal) -> tuple[date, date]:
    """The last 30 days of data (module docstring)."""
    end = await query.data_through(db, who) or clock.now().date() - timedelta(days=1)
    return end - timedelta(days=WINDOW_DAYS - 1), end


def _percent(part: Decimal, whole: Decimal) -> Decimal:
    if whole == ZERO:
        return Decimal(100)
    return (part * 100 / whole).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


async def violations(db: AsyncSession, who: Principal, page: PageParams) -> ViolationsPage:
    """Every (resource, policy) that breaks a policy, costliest first (those without cost in
    the window last), capped at 200; per policy and currency the share of spend that complies;
    per policy the resources checked that had no cost in the window."""
    start, end = await window(db, who)
    policies = list(
        (
            await db.scalars(
                org_select(TaggingPolicy, who).order_by(TaggingPolicy.created_at, TaggingPolicy.id)
            )
        ).all()
    )
    resources = resources_to_check(
        await inventory.live_resources(db, who),
        await query.billed_resources(db, who, CostQuery(start=start, end=end)),
    )
    accounts = {
        row[0]: row[1]
        for row in (
            await db.execute(
                org_select(CloudAccount, who).with_only_columns(CloudAccount.id, CloudAccount.name)
            )
        ).all()
    }
    found: list[ViolationOut] = []
    order_keys: list[tuple[bool, Decimal]] = []  # (no cost, -cost)
    stats: dict[tuple[int, str], list[Decimal | int]] = defaultdict(lambda: [ZERO, ZERO, 0, 0])
    without_cost: dict[int, list[int]] = defaultdict(lambda: [0, 0])

    def violation(
        policy: TaggingPolicy, r: Checked, broken: tuple[Kind, str | None], currency: str | None
    ) -> ViolationOut:
        cost = None if currency is None else r.costs[currency]
        order_keys.append((cost is None, ZERO if cost is None else -cost))
        return ViolationOut(
            resource=ViolatingResource(
                id=r.resource_id,
                name=r.name,
                type=r.type,
                provider=r.provider,
                service=r.service,
                account_id=r.cloud_account_id,
                account_name=accounts.get(r.cloud_account_id),
                region=r.region,
            ),
            policy=ViolatedPolicy(
                id=policy.id, tag_key=policy.tag_key, applies_to=policy.applies_to
            ),
            kind=broken[0],
            value=broken[1],
            cost=None if cost is None or currency is None else money.round_money(cost, currency),
            currency=currency,
        )

    for i, policy in enumerate(policies):
        reach = APPLIES_TO[policy.applies_to]
        for r in resources:
            if not reach.covers(r):
                continue
            broken = check(policy, r)
            if not r.costs:
                counts = without_cost[i]
                counts[0] += 1
                if broken is not None:
                    counts[1] += 1
                    found.append(violation(policy, r, broken, None))
                continue
            for currency, cost in r.costs.items():
                s = stats[(i, currency)]
                s[0] += cost
                s[2] += 1
                if broken is None:
                    s[1] += cost
                    continue
                s[3] += 1
                found.append(violation(policy, r, broken, currency))
    order = sorted(
        range(len(found)),
        key=lambda j: (*order_keys[j], found[j].resource.id, found[j].policy.tag_key),
    )
    capped = [found[j] for j in order[:MAX_VIOLATIONS]]
    compliance = [
        PolicyCompliance(
            policy_id=policies[i].id,
            tag_key=policies[i].tag_key,
            applies_to=policies[i].applies_to,
            currency=cur,
            resources=int(s[2]),
            violating_resources=int(s[3]),
            total_cost=money.round_money(Decimal(s[0]), cur),
            compliant_cost=money.round_money(Decimal(s[1]), cur),
            compliant_percent=_percent(Decimal(s[1]), Decimal(s[0])),
        )
        for (i, cur), s in sorted(stats.items(), key=lambda item: item[0])
    ]
    return ViolationsPage(
        data=capped[page.offset : page.offset + page.limit],
        total=len(capped),
        page=page.page,
        limit=page.limit,
        total_violations=len(found),
        start_date=start,
        end_date=end,
        policies=compliance,
        without_cost=[
            PolicyWithoutCost(
                policy_id=policies[i].id,
                tag_key=policies[i].tag_key,
                applies_to=policies[i].applies_to,
                resources=n,
                violating_resources=bad,
            )
            for i, (n, bad) in sorted(without_cost.items())
        ],
    )
