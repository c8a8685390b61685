"""Every route with an id in its path, called by another organization's admin with an id of org A:
404 with a ``<RESOURCE>_NOT_FOUND`` code, and org A's row unchanged (ASVS 8.2.2 / 8.4.1).

A new route with a path id and no entry in ``CASES`` fails ``test_every_id_route_has_a_case``: add
a factory (make a row in org A, return its id) and a snapshot (read the row back) for it."""

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import ClientFor, collection_app
from tests.factories.cloud_accounts import make_account
from tests.factories.passkeys import make_passkey
from tests.factories.sso import make_sso_config
from tests.factories.users import make_user
from tests.sso.idp import TestIdp
from xplorr.auth.models import Invitation
from xplorr.cloud_accounts.models import AccountGrant, CloudAccount, Provider
from xplorr.core import clock, security
from xplorr.core.jobs.models import Job
from xplorr.core.tenancy import Role
from xplorr.orgs.models import Org
from xplorr.passkeys.models import WebAuthnCredential
from xplorr.sso.models import SsoConfig
from xplorr.sync.models import SyncRun
from xplorr.tokens.models import ApiToken
from xplorr.users.models import User

Make = Callable[[AsyncSession, Org, User], Awaitable[uuid.UUID]]
Snapshot = Callable[[AsyncSession, uuid.UUID], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class Case:
    make: Make
    snapshot: Snapshot


async def _make_api_token(db: AsyncSession, org: Org, user: User) -> uuid.UUID:
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


async def _make_cloud_account(db: AsyncSession, org: Org, _user: User) -> uuid.UUID:
    return (await make_account(db, org)).id


async def _row(model: type, db: AsyncSession, ident: uuid.UUID) -> dict[str, Any]:
    row = await db.get(model, ident, populate_existing=True)
    assert row is not None, f"{model.__name__} {ident} was deleted"
    return {c.key: getattr(row, c.key) for c in row.__table__.columns}


async def _account_and_syncs(db: AsyncSession, ident: uuid.UUID) -> dict[str, Any]:
    """The account row, and that no sync run or job was queued for it."""
    runs = select(func.count()).select_from(SyncRun).where(SyncRun.cloud_account_id == ident)
    jobs = select(func.count()).select_from(Job).where(Job.key == f"sync:{ident}")
    return {
        **(await _row(CloudAccount, db, ident)),
        "sync_runs": await db.scalar(runs),
        "sync_jobs": await db.scalar(jobs),
    }


async def _make_user(db: AsyncSession, org: Org, user: User) -> uuid.UUID:
    member = await make_user(db, org, role=Role.MEMBER)
    return member.id


async def _make_granted_user(db: AsyncSession, org: Org, user: User) -> uuid.UUID:
    """A member of org A with a grant; the route gets the member's id for every path id (the
    account id included), so org B reaches neither the user nor the grant."""
    member = await make_user(db, org, role=Role.MEMBER)
    account = CloudAccount(
        org_id=org.id,
        provider=Provider.AWS,
        name="org A account",
        provider_account_id=f"a-{uuid.uuid4().hex[:8]}",
        credentials_encrypted=b"x",
    )
    db.add(account)
    await db.flush()
    db.add(AccountGrant(org_id=org.id, user_id=member.id, cloud_account_id=account.id))
    await db.commit()
    return member.id


async def _user_with_grants(db: AsyncSession, ident: uuid.UUID) -> dict[str, Any]:
    row = await _row(User, db, ident)
    grants = (await db.scalars(select(AccountGrant.id).where(AccountGrant.user_id == ident))).all()
    return {**row, "grants": sorted(grants)}


async def _make_invitation(db: AsyncSession, org: Org, user: User) -> uuid.UUID:
    """The invitation route takes the emailed token, not an id: an invitation's id (what the
    matrix sends) must not work as its token."""
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


async def _make_passkey(db: AsyncSession, org: Org, user: User) -> uuid.UUID:
    return (await make_passkey(db, user))[0].id


async def _make_sso_config(db: AsyncSession, org: Org, _user: User) -> uuid.UUID:
    """The metadata route takes an org slug: org A's configuration id (what the matrix sends)
    names no organization."""
    return (await make_sso_config(db, org, TestIdp("a"))).id


CASES: dict[str, Case] = {
    "/api/v1/tokens/{token_id}": Case(_make_api_token, lambda db, i: _row(ApiToken, db, i)),
    "/api/v1/cloud-accounts/{account_id}": Case(
        _make_cloud_account, lambda db, i: _row(CloudAccount, db, i)
    ),
    "/api/v1/sync/{account_id}": Case(_make_cloud_account, _account_and_syncs),
    "/api/v1/users/{user_id}": Case(_make_user, lambda db, i: _row(User, db, i)),
    "/api/v1/users/{user_id}/accounts": Case(_make_granted_user, _user_with_grants),
    "/api/v1/users/{user_id}/accounts/{account_id}": Case(_make_granted_user, _user_with_grants),
    "/api/v1/auth/invitation/{token}": Case(
        _make_invitation, lambda db, i: _row(Invitation, db, i)
    ),
    "/api/v1/auth/webauthn/credentials/{credential_id}": Case(
        _make_passkey, lambda db, i: _row(WebAuthnCredential, db, i)
    ),
    "/api/v1/auth/saml/metadata/{org_slug}": Case(
        _make_sso_config, lambda db, i: _row(SsoConfig, db, i)
    ),
}

METHODS = ("get", "put", "patch", "delete", "post")


def _id_routes(app: FastAPI) -> list[tuple[str, str]]:
    return [
        (path, method)
        for path, item in app.openapi()["paths"].items()
        if "{" in path
        for method in item
        if method in METHODS
    ]


def _all_id_routes() -> list[tuple[str, str]]:
    return _id_routes(collection_app())


def test_every_id_route_has_a_case(app: FastAPI) -> None:
    missing = {path for path, _ in _id_routes(app)} - set(CASES)
    assert not missing, f"add tenancy cases for: {sorted(missing)}"


@pytest.mark.parametrize(("path", "method"), _all_id_routes())
async def test_foreign_org_gets_404_and_row_is_unchanged(
    path: str,
    method: str,
    db: AsyncSession,
    org: Org,
    owner: User,
    other_admin: User,
    client_for: ClientFor,
) -> None:
    case = CASES[path]
    ident = await case.make(db, org, owner)
    before = await case.snapshot(db, ident)
    url = path.replace("/api/v1", "", 1)
    url = url.format(**dict.fromkeys(_param_names(path), ident))
    r = await client_for(other_admin).request(method.upper(), url, json={})
    assert r.status_code == 404, (method, path, r.text)
    assert r.json()["error"]["code"].endswith("NOT_FOUND")
    assert await case.snapshot(db, ident) == before


def _param_names(path: str) -> list[str]:
    import re

    return re.findall(r"{(\w+)}", path)
