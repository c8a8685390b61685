"""Login sessions (refresh-token families): start one, issue a token pair in it, end them.

Below the services that log people in or end their sessions (``auth.service``,
``auth.lifecycle_service``, ``users.service``), so none of them needs another.
"""

import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from xplorr.auth.models import AuthSession, RefreshToken
from xplorr.auth.schemas import TokenPair, UserOut
from xplorr.core import clock, context, security
from xplorr.core.deps import AuthKit
from xplorr.users.models import User


@dataclass(frozen=True, slots=True)
class Issued:
    pair: TokenPair
    session: AuthSession


async def start_session(db: AsyncSession, kit: AuthKit, user: User) -> Issued:
    """A new refresh family for ``user`` and its first token pair."""
    now = clock.now()
    ctx = context.get()
    session = AuthSession(
        id=uuid.uuid4(),
        org_id=user.org_id,
        user_id=user.id,
        expires_at=now + timedelta(days=kit.settings.refresh_token_ttl_days),
        last_used_at=now,
        ip=ctx.ip if ctx else None,
        user_agent=(ctx.user_agent or "")[:300] if ctx else None,
    )
    db.add(session)
    return Issued(pair=await issue_pair(db, kit, user, session, parent_id=None), session=session)


async def issue_pair(
    db: AsyncSession, kit: AuthKit, user: User, session: AuthSession, parent_id: uuid.UUID | None
) -> TokenPair:
    now = clock.now()
    raw = security.new_opaque_token()
    idle = now + timedelta(days=kit.settings.refresh_token_idle_days)
    db.add(
        RefreshToken(
            session_id=session.id,
            parent_id=parent_id,
            token_sha256=security.sha256_hex(raw),
            issued_at=now,
            expires_at=min(idle, session.expires_at),
        )
    )
    await db.flush()
    access = security.issue_access_token(
        kit.jwt, user_id=user.id, org_id=user.org_id, session_id=session.id
    )
    return TokenPair(
        access_token=access,
        refresh_token=raw,
        expires_in=kit.settings.access_token_ttl_seconds,
        user=UserOut.model_validate(user),
    )


async def revoke_sessions(
    db: AsyncSession, user_id: uuid.UUID, *, reason: str, keep: uuid.UUID | None = None
) -> None:
    stmt = (
        update(AuthSession)
        .where(AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None))
        .values(revoked_at=clock.now(), revoke_reason=reason)
    )
    if keep is not None:
        stmt = stmt.where(AuthSession.id != keep)
    await db.execute(stmt)
