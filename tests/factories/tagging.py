"""Typed factories for tagging policies (add, commit, return)."""

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from xplorr.core import clock
from xplorr.orgs.models import Org
from xplorr.tagging.models import AppliesTo, TaggingPolicy
from xplorr.users.models import User


async def make_policy(
    db: AsyncSession,
    org: Org,
    *,
    tag_key: str = "team",
    required: bool = True,
    allowed_values: list[str] | None = None,
    applies_to: AppliesTo = AppliesTo.ALL,
) -> TaggingPolicy:
    policy = TaggingPolicy(
        org_id=org.id,
        tag_key=tag_key,
        required=required,
        allowed_values=allowed_values,
        applies_to=applies_to,
        created_at=clock.now(),
    )
    db.add(policy)
    await db.commit()
    return policy


async def _tenant_policy(db: AsyncSession, org: Org, _user: User) -> uuid.UUID:
    return (await make_policy(db, org)).id


TENANT_FACTORIES = {TaggingPolicy: _tenant_policy}
