"""Typed factories for allocation rules (add, commit, return)."""

import uuid
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from xplorr.allocation.models import AllocationMethod, AllocationRule
from xplorr.core import clock
from xplorr.orgs.models import Org
from xplorr.users.models import User


async def make_rule(
    db: AsyncSession,
    org: Org,
    *,
    name: str = "EKS shared",
    source_service: str | None = "Amazon Elastic Kubernetes Service",
    source_tag_key: str | None = None,
    source_tag_value: str | None = None,
    target_tag_key: str = "team",
    method: AllocationMethod = AllocationMethod.PROPORTIONAL,
    splits: dict[str, Decimal] | None = None,
    priority: int = 1,
    active: bool = True,
) -> AllocationRule:
    now = clock.now()
    rule = AllocationRule(
        org_id=org.id,
        name=name,
        source_service=source_service,
        source_tag_key=source_tag_key,
        source_tag_value=source_tag_value,
        target_tag_key=target_tag_key,
        method=method,
        splits=None if splits is None else {k: str(v) for k, v in splits.items()},
        priority=priority,
        active=active,
        created_at=now,
        updated_at=now,
    )
    db.add(rule)
    await db.commit()
    return rule


async def _tenant_rule(db: AsyncSession, org: Org, _user: User) -> uuid.UUID:
    return (await make_rule(db, org)).id


TENANT_FACTORIES = {AllocationRule: _tenant_rule}
