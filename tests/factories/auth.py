"""Typed factories for invitations (add, commit, return)."""

import uuid
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from xplorr.auth.models import Invitation
from xplorr.core import clock, security
from xplorr.orgs.models import Org
from xplorr.users.models import User


async def make_invitation(db: AsyncSession, org: Org, user: User) -> uuid.UUID:
    """A pending invitation to org A sent by ``user``; its token is not kept."""
    inv = Invitation(
        org_id=org.id,
        email=f"invitee-{uuid.uuid4().hex[:6]}@a.example.com",
        role="member",
        account_ids=[],
        invited_by_user_id=user.id,
        token_sha256=security.sha256_hex(security.new_opaque_token()),
        expires_at=clock.now() + timedelta(days=7),
    )
    db.add(inv)
    await db.commit()
    return inv.id


TENANT_FACTORIES = {Invitation: make_invitation}
