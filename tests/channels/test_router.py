"""``/channels``: the routing configuration's API (roles and foreign ids: tests/contract)."""

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import ClientFor
from tests.factories.channels import make_slack_install
from tests.factories.cloud_accounts import make_account
from xplorr.channels.models import ChannelConfig
from xplorr.core.audit import AuditEntry
from xplorr.orgs.models import Org
from xplorr.users.models import User


async def test_channels_crud_with_one_default(
    client_for: ClientFor, admin: User, db: AsyncSession, org: Org, other_org: Org
) -> None:
    client = client_for(admin)
    body = {"provider": "slack", "channel_id": "CDATA", "channel_name": "#data-costs",
            "scope_type": "tags", "scope_values": ["team:data"]}  # fmt: skip
    r = await client.post("/channels", json=body)
    assert (r.status_code, r.json()["error"]["code"]) == (409, "CHANNEL_PROVIDER_NOT_INSTALLED")

    await make_slack_install(db, org)
    r = await client.post("/channels", json={**body, "notify": {"budgets": False}})
    assert r.status_code == 201, r.text
    data = r.json()
    assert data["scope_values"] == ["team:data"]
    assert data["notify"] == {"digest": True, "alerts": True, "anomalies": True,
                              "budgets": False, "recommendations": True}  # fmt: skip
    assert data["is_default"] is False
    assert data["timezone"] == "UTC"

    r = await client.post("/channels", json=body)
    assert (r.status_code, r.json()["error"]["code"]) == (409, "CHANNEL_EXISTS")

    first = await client.post("/channels", json={"provider": "slack", "channel_id": "CALL",
                              "channel_name": "#costs", "is_default": True})  # fmt: skip
    second = await client.post("/channels", json={"provider": "slack", "channel_id": "CALL2",
                               "channel_name": "#costs-2", "is_default": True})  # fmt: skip
    assert first.status_code == second.status_code == 201
    listed = (await client.get("/channels")).json()
    assert listed["total"] == 3
    assert [c["channel_id"] for c in listed["data"] if c["is_default"]] == ["CALL2"]

    r = await client.patch(f"/channels/{first.json()['id']}",
                           json={"is_default": True, "timezone": "Europe/Paris"})  # fmt: skip
    assert r.status_code == 200
    assert (r.json()["is_default"], r.json()["timezone"]) == (True, "Europe/Paris")
    listed = (await client.get("/channels")).json()
    assert [c["channel_id"] for c in listed["data"] if c["is_default"]] == ["CALL"]

    services = {"scope_type": "services", "scope_values": ["AmazonEC2"]}
    r = await client.patch(f"/channels/{data['id']}", json=services)
    assert (r.json()["scope_type"], r.json()["scope_values"]) == ("services", ["AmazonEC2"])

    r = await client.delete(f"/channels/{data['id']}")
    assert r.status_code == 204
    assert await db.get(ChannelConfig, uuid.UUID(data["id"])) is None
    actions = (await db.scalars(select(AuditEntry.action).where(
        AuditEntry.action.like("channel.%")))).all()  # fmt: skip
    assert sorted(set(actions)) == ["channel.created", "channel.deleted", "channel.updated"]


async def test_bad_scopes_are_422_and_foreign_accounts_404(
    client_for: ClientFor, admin: User, db: AsyncSession, org: Org, other_org: Org
) -> None:
    await make_slack_install(db, org)
    client = client_for(admin)
    mine = await make_account(db, org)
    theirs = await make_account(db, other_org)
    base = {"provider": "slack", "channel_id": "C1", "channel_name": "#x"}
    bad = [
        {"scope_type": "all", "scope_values": ["x"]},
        {"scope_type": "tags", "scope_values": []},
        {"scope_type": "tags", "scope_values": ["no-colon"]},
        {"scope_type": "tags", "scope_values": ['bad"key:v']},
        {"scope_type": "accounts", "scope_values": ["not-a-uuid"]},
        {"scope_type": "planets", "scope_values": []},
        {"timezone": "Mars/Olympus"},
        {"notify": {"digest": True, "weather": True}},
        {"channel_id": "has space"},
        {"org_id": str(org.id)},
        {"provider": "teams", "channel_id": "no-slash"},
    ]
    for extra in bad:
        r = await client.post("/channels", json={**base, **extra})
        assert r.status_code in (409, 422), (extra, r.text)
        if extra.get("provider") != "teams":
            assert r.status_code == 422, extra
    r = await client.post("/channels", json={**base, "scope_type": "accounts",
                                             "scope_values": [str(theirs.id)]})  # fmt: skip
    assert (r.status_code, r.json()["error"]["code"]) == (404, "CLOUD_ACCOUNT_NOT_FOUND")
    assert await db.scalar(select(ChannelConfig)) is None

    r = await client.post("/channels", json={**base, "scope_type": "accounts",
                                             "scope_values": [str(mine.id)]})  # fmt: skip
    assert r.status_code == 201
    r = await client.patch(f"/channels/{r.json()['id']}", json={"channel_name": None})
    assert r.status_code == 422
