"""Account grants in the principal and in ``org_select``: a member or viewer with grants sees only
those accounts; no grant means every account; owners and admins always see every account, at
no extra query."""

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi import FastAPI
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import ClientFor
from tests.factories.cloud_accounts import grant, make_account
from tests.factories.users import make_user, token_for
from xplorr.auth.service import resolve_principal
from xplorr.cloud_accounts.models import AccountGrant, CloudAccount
from xplorr.core import security
from xplorr.core.tenancy import Principal, Role, org_select
from xplorr.orgs.models import Org
from xplorr.sync.models import SyncRun
from xplorr.tokens.models import ApiToken
from xplorr.users.models import User


@contextmanager
def statements(app: FastAPI) -> Iterator[list[str]]:
    """Every SQL statement the app runs inside the block (reads and writes: on SQLite they
    have engines of their own)."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    engines = {app.state.engine.sync_engine, app.state.read_engine.sync_engine}
    for engine in engines:
        event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", record)


async def test_principal_carries_the_grants_of_members_and_viewers(
    app: FastAPI, db: AsyncSession, org: Org
) -> None:
    a, b, c = await make_account(db, org), await make_account(db, org), await make_account(db, org)
    member = await make_user(db, org, role=Role.MEMBER)
    viewer = await make_user(db, org, role=Role.VIEWER)
    free = await make_user(db, org, role=Role.MEMBER)
    admin = await make_user(db, org, role=Role.ADMIN)
    for user, account in ((member, a), (member, b), (viewer, c), (admin, a)):
        await grant(db, user, account)
    kit = app.state.kit

    async def who(user: User) -> Principal:
        principal = await resolve_principal(db, kit, token_for(app, user))
        assert principal is not None
        return principal

    assert (await who(member)).account_ids == frozenset({a.id, b.id})
    assert (await who(viewer)).account_ids == frozenset({c.id})
    assert (await who(free)).account_ids is None
    assert (await who(admin)).account_ids is None  # owners and admins: always every account


async def test_api_tokens_carry_the_grants_too(
    app: FastAPI, db: AsyncSession, org: Org, member: User
) -> None:
    account = await make_account(db, org)
    await grant(db, member, account)
    raw = security.new_api_token()
    db.add(
        ApiToken(
            org_id=org.id,
            user_id=member.id,
            name="ci",
            prefix=security.api_token_display_prefix(raw),
            token_sha256=security.sha256_hex(raw),
        )
    )
    await db.commit()
    principal = await resolve_principal(db, app.state.kit, raw)
    assert principal is not None
    assert principal.token_id is not None
    assert principal.account_ids == frozenset({account.id})


async def test_admin_hot_path_pays_no_grant_query(
    app: FastAPI, client_for: ClientFor, db: AsyncSession, org: Org, admin: User, member: User
) -> None:
    account = await make_account(db, org)
    await grant(db, member, account)
    await grant(db, admin, account)  # ignored for admins, and never even read
    client_admin, client_member = client_for(admin), client_for(member)
    with statements(app) as admin_sql:
        assert (await client_admin.get("/auth/me")).status_code == 200
    with statements(app) as member_sql:
        assert (await client_member.get("/auth/me")).status_code == 200
    grant_reads = [s for s in member_sql if "user_account_grants" in s]
    assert len(grant_reads) == 1
    assert not [s for s in admin_sql if "user_account_grants" in s]
    assert len(member_sql) == len(admin_sql) + 1


def test_org_select_filters_every_account_owned_model() -> None:
    account = uuid.uuid4()
    limited = Principal(
        user_id=uuid.uuid4(),
        org_id=uuid.uuid4(),
        role=Role.MEMBER,
        email="m@acme.example.com",
        account_ids=frozenset({account}),
    )
    everything = Principal(
        user_id=limited.user_id, org_id=limited.org_id, role=Role.MEMBER, email=limited.email
    )

    def where(model: type, who: Principal) -> str:
        return str(org_select(model, who).whereclause)  # type: ignore[arg-type]

    assert "cloud_accounts.id IN" in where(CloudAccount, limited)
    assert "sync_runs.cloud_account_id IN" in where(SyncRun, limited)
    assert "user_account_grants.cloud_account_id IN" in where(AccountGrant, limited)
    assert " IN " not in where(ApiToken, limited)  # no account column: org filter only
    for model in (CloudAccount, SyncRun, AccountGrant):
        assert " IN " not in where(model, everything)


async def test_a_grant_in_another_org_counts_for_nothing(
    client_for: ClientFor, db: AsyncSession, org: Org, other_org: Org, member: User
) -> None:
    """Grant rows carry the account's org: one pointing into another org (which no API can
    make) would not leak that org's account to the member."""
    mine = await make_account(db, org)
    foreign = await make_account(db, other_org)
    await grant(db, member, mine)
    db.add(AccountGrant(org_id=other_org.id, user_id=member.id, cloud_account_id=foreign.id))
    await db.commit()
    r = await client_for(member).get(f"/cloud-accounts/{foreign.id}")
    assert r.status_code == 404
    listed = (await client_for(member).get("/cloud-accounts")).json()
    assert [x["id"] for x in listed["data"]] == [str(mine.id)]
