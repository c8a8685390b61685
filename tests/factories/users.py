"""Typed factories for orgs, users and logins (add, commit, return)."""

import uuid
from datetime import timedelta

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from xplorr.auth.models import AuthSession
from xplorr.core import clock, security
from xplorr.core.deps import AuthKit
from xplorr.core.tenancy import Role
from xplorr.orgs.models import Org
from xplorr.users.models import User

DEFAULT_PASSWORD = "correct horse battery staple 42"
_SESSIONS: dict[uuid.UUID, uuid.UUID] = {}


async def make_org(db: AsyncSession, name: str = "Acme") -> Org:
    org = Org(name=name, slug=f"{name.lower()}-{uuid.uuid4().hex[:8]}")
    db.add(org)
    await db.commit()
    return org


async def make_user(
    db: AsyncSession,
    org: Org,
    *,
    role: Role = Role.MEMBER,
    email: str | None = None,
    password: str = DEFAULT_PASSWORD,
    kit: AuthKit | None = None,
) -> User:
    from argon2 import PasswordHasher

    hasher = kit.hasher if kit else PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    user = User(
        org_id=org.id,
        email=email or f"{role.value}-{uuid.uuid4().hex[:8]}@{org.slug}.example.com",
        name=f"{role.value.title()} User",
        password_hash=hasher.hash(password),
        role=role,
    )
    session = AuthSession(
        id=uuid.uuid4(),
        org_id=org.id,
        user_id=user.id if user.id else uuid.uuid4(),
        expires_at=clock.now() + timedelta(days=365),  # .replace(year=...) fails on Feb 29
    )
    db.add(user)
    await db.flush()
    session.user_id = user.id
    db.add(session)
    await db.commit()
    _SESSIONS[user.id] = session.id
    return user


def token_for(app: FastAPI, user: User) -> str:
    """A real access JWT for the login session ``make_user`` opened for ``user``."""
    kit: AuthKit = app.state.kit
    return security.issue_access_token(
        kit.jwt, user_id=user.id, org_id=user.org_id, session_id=_SESSIONS[user.id]
    )


def session_of(user: User) -> uuid.UUID:
    return _SESSIONS[user.id]


async def _tenant_member(db: AsyncSession, org: Org, _user: User) -> uuid.UUID:
    return (await make_user(db, org, role=Role.MEMBER)).id


TENANT_FACTORIES = {User: _tenant_member}
