"""Tagging policies and their violations.

Violations are checked against the resources the cost store knows
(``costs.query.billed_resources``: every ``ResourceId`` with cost in the window, with the tags of
its newest day; what the bill-derived inventory reads too), so they work for every account,
FOCUS imports included.

Which resources a policy's ``applies_to`` reaches (used for cost-store resources by ``provider``,
``ServiceName`` and ``ServiceCategory``, and for inventory resource types once inventory
exists).

``APPLIES_TO`` below is that table (the README's "Cost ownership" section prints it): ``all``
every resource; ``ec2``, ``rds``, ``s3`` the AWS service by its ServiceName (and the inventory
types AWS::EC2::Instance, AWS::RDS::DBInstance/DBCluster, AWS::S3::Bucket); ``compute`` and
``storage`` the FOCUS ServiceCategory Compute / Storage (and the inventory types listed).

Tag keys compare as the providers do: AWS tag keys and GCP label keys are case-sensitive
(``Team`` is not ``team``); Azure tag names are not (``Team`` satisfies ``team``). Values are
always compared exactly. An empty value counts as missing for a required key.

The window is the last 30 days of data: ending at the last complete day of the caller's
visible accounts (``costs.query.data_through``), else yesterday.
"""

import uuid
from collections import defaultdict
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
from xplorr.tagging.models import AppliesTo, TaggingPolicy
from xplorr.tagging.schemas import (
    PolicyCompliance,
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
class Reach:
    """What one ``applies_to`` value reaches (module docstring's table)."""

    inventory_types: frozenset[str] | None  # None: every type
    provider: str | None = None
    services: frozenset[str] | None = None
    categories: frozenset[str] | None = None

    def covers(self, r: BilledResource) -> bool:
        if self.provider is not None and r.provider != self.provider:
            return False
        if self.services is not None and r.service not in self.services:
            return False
        return self.categories is None or r.service_category in self.categories


APPLIES_TO: Final[dict[AppliesTo, Reach]] = {
    AppliesTo.ALL: Reach(None),
    AppliesTo.EC2: Reach(
        frozenset({"AWS::EC2::Instance"}),
        "aws",
        frozenset({"Amazon Elastic Compute Cloud", "AmazonEC2"}),
    ),
    AppliesTo.RDS: Reach(
        frozenset({"AWS::RDS::DBInstance", "AWS::RDS::DBCluster"}),
        "aws",
        frozenset({"Amazon Relational Database Service", "AmazonRDS"}),
    ),
    AppliesTo.S3: Reach(
        frozenset({"AWS::S3::Bucket"}),
        "aws",
        frozenset({"Amazon Simple Storage Service", "AmazonS3"}),
    ),
    AppliesTo.COMPUTE: Reach(
        frozenset(
            {
                "AWS::EC2::Instance",
                "AWS::Lambda::Function",
                "AWS::ECS::Service",
                "AWS::EKS::Cluster",
                "Microsoft.Compute/virtualMachines",
                "compute.googleapis.com/Instance",
            }
        ),
        categories=frozenset({"Compute"}),
    ),
    AppliesTo.STORAGE: Reach(
        frozenset(
            {
                "AWS::S3::Bucket",
                "AWS::EC2::Volume",
                "Microsoft.Storage/storageAccounts",
                "storage.googleapis.com/Bucket",
            }
        ),
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


def check(policy: TaggingPolicy, r: BilledResource) -> tuple[Kind, str | None] | None:
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
    """Every (resource, policy) that breaks a policy, costliest first, capped at 200; and
    per policy and currency the share of spend that complies."""
    start, end = await window(db, who)
    policies = list(
        (
            await db.scalars(
                org_select(TaggingPolicy, who).order_by(TaggingPolicy.created_at, TaggingPolicy.id)
            )
        ).all()
    )
    resources = await query.billed_resources(db, who, CostQuery(start=start, end=end))
    accounts = {
        row[0]: row[1]
        for row in (
            await db.execute(
                org_select(CloudAccount, who).with_only_columns(CloudAccount.id, CloudAccount.name)
            )
        ).all()
    }
    found: list[ViolationOut] = []
    costs: list[Decimal] = []
    stats: dict[tuple[int, str], list[Decimal | int]] = defaultdict(lambda: [ZERO, ZERO, 0, 0])
    for i, policy in enumerate(policies):
        reach = APPLIES_TO[policy.applies_to]
        for r in resources:
            if not reach.covers(r):
                continue
            broken = check(policy, r)
            for currency, cost in r.costs.items():
                s = stats[(i, currency)]
                s[0] += cost
                s[2] += 1
                if broken is None:
                    s[1] += cost
                    continue
                s[3] += 1
                kind, value = broken
                costs.append(cost)
                found.append(
                    ViolationOut(
                        resource=ViolatingResource(
                            id=r.resource_id,
                            name=r.resource_name,
                            type=r.resource_type,
                            provider=r.provider,
                            service=r.service,
                            account_id=r.cloud_account_id,
                            account_name=accounts.get(r.cloud_account_id),
                            region=r.region,
                        ),
                        policy=ViolatedPolicy(
                            id=policy.id, tag_key=policy.tag_key, applies_to=policy.applies_to
                        ),
                        kind=kind,
                        value=value,
                        cost=money.round_money(cost, currency),
                        currency=currency,
                    )
                )
    order = sorted(
        range(len(found)),
        key=lambda j: (-costs[j], found[j].resource.id, found[j].policy.tag_key),
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
    )
