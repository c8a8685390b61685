"""Read-only and account-scoped API tokens (issue 13 point 7), and the 90-day default expiry."""

import re
import uuid
from datetime import timedelta

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from tests import matrix
from tests.conftest import ClientFor
from tests.factories.cloud_accounts import grant, make_account
from tests.factories.costs import add_costs
from xplorr.cloud_accounts.models import AccountGrant, CloudAccount
from xplorr.core import clock
from xplorr.orgs.models import Org
from xplorr.tokens.models import ApiToken
from xplorr.users.models import User


async def _create(client, **body) -> dict:
    r = await client.post("/tokens", json={"name": "scoped", **body})
    assert r.status_code == 201, r.text
    return r.json()


async def test_expiry_defaults_to_90_days_and_null_means_never(
    client_for: ClientFor, member: User, db: AsyncSession
) -> None:
    client = client_for(member)
    before = clock.now()
    default = await _create(client)
    row = await db.get_one(ApiToken, uuid.UUID(default["id"]))
    assert row.expires_at is not None
    assert before + timedelta(days=90) <= row.expires_at <= clock.now() + timedelta(days=90)
    assert default["expires_at"] is not None
    assert default["scope"] == "write"
    assert default["account_ids"] is None
    never = await _create(client, expires_at=None)
    assert never["expires_at"] is None
    assert (await db.get_one(ApiToken, uuid.UUID(never["id"]))).expires_at is None


def _concrete(path: str) -> str:
    return re.sub(
        r"\{(\w+)\}",
        lambda m: "no-such-slug" if m.group(1) in {"org_slug", "token"} else str(uuid.uuid4()),
        path,
    )


# Non-GET routes a read-only token may call: the exchange writes nothing (its JWT stays
# read-only, tested below).
READ_SAFE_WRITES = {("POST", "/api/v1/tokens/exchange")}


async def test_read_token_gets_403_read_only_on_every_authenticated_write(
    client_for: ClientFor, owner: User, org: Org, db: AsyncSession
) -> None:
    """Walks every non-GET route of the role matrix that needs a caller."""
    account = await make_account(db, org)
    created = await _create(client_for(owner), scope="read")
    assert created["scope"] == "read"
    reader = client_for(None, token=created["token"])
    assert (await reader.get("/cloud-accounts")).status_code == 200
    assert (await reader.get("/auth/me")).status_code == 200
    writes = [
        (method, path)
        for (method, path), allowed in matrix.access().items()
        if method not in {"GET", "HEAD", "OPTIONS"}
        and allowed != matrix.PUBLIC
        and (method, path) not in READ_SAFE_WRITES
    ]
    assert len(writes) > 20
    for method, path in writes:
        url = _concrete(path).removeprefix("/api/v1")
        r = await reader.request(method, url, json={})
        assert r.status_code == 403, (method, path, r.text)
        error = r.json()["error"]
        assert error["code"] == "READ_ONLY_TOKEN", (method, path)
        assert error["status"] == 403
        assert "read-only" in error["message"]
    for method, url, body in (
        ("PATCH", f"/cloud-accounts/{account.id}", {"name": "renamed"}),
        ("DELETE", f"/tokens/{created['id']}", None),
    ):
        r = await reader.request(method, url, json=body)
        assert r.json()["error"]["code"] == "READ_ONLY_TOKEN"
    assert (await db.get_one(CloudAccount, account.id, populate_existing=True)).name != "renamed"
    assert (await db.get_one(ApiToken, uuid.UUID(created["id"]))).revoked_at is None


async def test_exchanged_jwt_of_a_read_token_is_read_only_too(
    client_for: ClientFor, owner: User, org: Org, db: AsyncSession
) -> None:
    account = await make_account(db, org)
    created = await _create(client_for(owner), scope="read")
    exchanged = await client_for(None, token=created["token"]).post("/tokens/exchange")
    assert exchanged.status_code == 200, exchanged.text
    jwt_client = client_for(None, token=exchanged.json()["token"])
    assert (await jwt_client.get("/cloud-accounts")).status_code == 200
    r = await jwt_client.delete(f"/cloud-accounts/{account.id}")
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "READ_ONLY_TOKEN"


async def test_write_token_still_writes(
    client_for: ClientFor, owner: User, org: Org, db: AsyncSession
) -> None:
    account = await make_account(db, org)
    created = await _create(client_for(owner), scope="write")
    writer = client_for(None, token=created["token"])
    r = await writer.patch(f"/cloud-accounts/{account.id}", json={"name": "renamed"})
    assert r.status_code == 200, r.text


async def test_account_scoped_token_sees_only_its_accounts(
    client_for: ClientFor, owner: User, org: Org, db: AsyncSession
) -> None:
    a, b = await make_account(db, org), await make_account(db, org)
    day = (clock.now() - timedelta(days=3)).date()
    await add_costs(db, a, [{"usage_date": day, "billed_cost": "10.00"}])
    await add_costs(db, b, [{"usage_date": day, "billed_cost": "5.00"}])
    created = await _create(client_for(owner), account_ids=[str(a.id)])
    assert created["account_ids"] == [str(a.id)]
    scoped = client_for(None, token=created["token"])
    listed = (await scoped.get("/cloud-accounts")).json()
    assert [row["id"] for row in listed["data"]] == [str(a.id)]
    assert (await scoped.get(f"/cloud-accounts/{b.id}")).status_code == 404
    costs = await scoped.get("/costs", params={"groupBy": "account"})
    assert costs.status_code == 200, costs.text
    assert costs.json()["totalCost"] == 10.0
    # The owner's session still sees both.
    everything = (await client_for(owner).get("/costs", params={"groupBy": "account"})).json()
    assert everything["totalCost"] == 15.0


async def test_account_scope_is_intersected_with_the_users_grants(
    client_for: ClientFor, member: User, org: Org, db: AsyncSession
) -> None:
    a, b = await make_account(db, org), await make_account(db, org)
    await grant(db, member, a)
    await grant(db, member, b)
    created = await _create(client_for(member), account_ids=[str(a.id), str(b.id)])
    # The grant on b is withdrawn afterwards: the token narrows with it at once.
    await db.execute(delete(AccountGrant).where(AccountGrant.cloud_account_id == b.id))
    await db.commit()
    scoped = client_for(None, token=created["token"])
    listed = (await scoped.get("/cloud-accounts")).json()
    assert [row["id"] for row in listed["data"]] == [str(a.id)]


async def test_account_ids_must_be_accounts_the_caller_sees(
    client_for: ClientFor,
    member: User,
    org: Org,
    other_org: Org,
    db: AsyncSession,
) -> None:
    mine, hidden = await make_account(db, org), await make_account(db, org)
    foreign = await make_account(db, other_org)
    await grant(db, member, mine)
    client = client_for(member)
    for bad in ([str(foreign.id)], [str(hidden.id)], [str(uuid.uuid4())], [], ["nope"]):
        r = await client.post("/tokens", json={"name": "x", "account_ids": bad})
        assert r.status_code == 422, (bad, r.text)
        assert r.json()["error"]["code"] == "VALIDATION_ERROR"
    r = await client.post("/tokens", json={"name": "x", "scope": "admin"})
    assert r.status_code == 422
    assert "read" in r.json()["error"]["message"] or "read" in str(r.json()["error"])
    ok = await _create(client, account_ids=[str(mine.id)], scope="read")
    assert ok["account_ids"] == [str(mine.id)]
