"""Typed factories for API tokens (add, commit, return)."""

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from xplorr.core import clock, security
from xplorr.orgs.models import Org
from xplorr.tokens.models import ApiToken
from xplorr.users.models import User


async def make_api_token(db: AsyncSession, org: Org, user: User) -> uuid.UUID:
    raw = security.new_api_token()
    token = ApiToken(
        org_id=org.id,
        user_id=user.id,
        name="org A token",
        prefix=raw[:13],
        token_sha256=security.sha256_hex(raw),
        created_at=clock.now(),
    )
    db.add(token)
    await db.commit()
    return token.id


async def make_raw_api_token(db: AsyncSession, org: Org, user: User) -> str:
    """A live API token of ``user``; returns its value (to send as a bearer)."""
    raw = security.new_api_token()
    db.add(
        ApiToken(
            org_id=org.id,
            user_id=user.id,
            name="test token",
            prefix=security.api_token_display_prefix(raw),
            token_sha256=security.sha256_hex(raw),
            created_at=clock.now(),
        )
    )
    await db.commit()
    return raw


TENANT_FACTORIES = {ApiToken: make_api_token}
