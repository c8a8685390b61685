"""The /tokens HTTP contract: create (shown once), list, revoke, use as bearer, exchange."""

import hashlib
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import ClientFor
from xplorr.core import clock, security
from xplorr.core.audit import AuditEntry
from xplorr.tokens.models import ApiToken
from xplorr.users.models import User


async def _create(client, name: str = "CI/CD pipeline", **extra) -> dict:
    r = await client.post("/tokens", json={"name": name, **extra})
    assert r.status_code == 201, r.text
    return r.json()


class TestCreateToken:
    async def test_token_is_shown_once_and_stored_hashed(
        self, client_for: ClientFor, member: User, db: AsyncSession
    ) -> None:
        client = client_for(member)
        created = await _create(client)
        raw = created["token"]
        assert raw.startswith("xplorr_")
        assert len(raw) - len("xplorr_") >= 32
        assert security.api_token_well_formed(raw)
        assert created["prefix"] == raw[:13]
        assert created["user_id"] == str(member.id)
        row = await db.get_one(ApiToken, uuid.UUID(created["id"]))
        assert row.token_sha256 == hashlib.sha256(raw.encode()).hexdigest()
        listed = (await client.get("/tokens")).json()
        assert listed["total"] == 1
        assert "token" not in listed["data"][0]
        assert raw not in str(listed)
        audit = (
            await db.scalars(select(AuditEntry).where(AuditEntry.action == "token.created"))
        ).one()
        assert audit.actor_user_id == member.id
        assert raw not in str(audit.details)

    async def test_viewer_may_create_a_read_only_token_for_themselves(
        self, client_for: ClientFor, viewer: User
    ) -> None:
        created = await _create(client_for(viewer))
        me = await client_for(None, token=created["token"]).get("/auth/me")
        assert me.json()["role"] == "viewer"

    async def test_without_token_is_401(self, anon) -> None:
        assert (await anon.post("/tokens", json={"name": "x"})).status_code == 401

    @pytest.mark.parametrize(
        "body",
        [
            {},
            {"name": ""},
            {"name": "x" * 101},
            {"name": "ok", "org_id": "00000000-0000-0000-0000-000000000000"},
            {"name": "ok", "expires_at": "2020-01-01T00:00:00Z"},
            {"name": "ok", "expires_at": "2099-01-01T00:00:00"},  # naive: refused
            {"name": "ok", "expires_at": "9999-12-31T23:59:59-05:00"},  # no UTC form: was a 500
            {"name": "ok", "expires_at": "2099-01-01T00:00:00Z"},  # over 10 years away
            {"name": "a\x00b"},
        ],
    )
    async def test_bad_input_is_422(self, client_for: ClientFor, member: User, body) -> None:
        r = await client_for(member).post("/tokens", json=body)
        assert r.status_code == 422
        assert r.json()["error"]["code"] == "VALIDATION_ERROR"

    async def test_rate_limited_as_a_write(self, client_for: ClientFor, member: User) -> None:
        client = client_for(member)
        for _ in range(30):
            await client.post("/tokens", json={})
        r = await client.post("/tokens", json={"name": "x"})
        assert r.status_code == 429


class TestUseToken:
    async def test_token_works_as_bearer_and_marks_last_used(
        self, client_for: ClientFor, member: User, db: AsyncSession
    ) -> None:
        created = await _create(client_for(member))
        r = await client_for(None, token=created["token"]).get("/auth/me")
        assert r.status_code == 200
        assert r.json()["id"] == str(member.id)
        db.expire_all()
        assert (await db.get_one(ApiToken, uuid.UUID(created["id"]))).last_used_at is not None

    async def test_bad_checksum_unknown_and_expired_tokens_are_401(
        self, client_for: ClientFor, member: User, db: AsyncSession
    ) -> None:
        created = await _create(client_for(member))
        raw = created["token"]
        tampered = raw[:-1] + ("A" if raw[-1] != "A" else "B")
        forged = security.new_api_token()  # well formed, never issued
        for token in (tampered, forged, "xplorr_short"):
            assert (await client_for(None, token=token).get("/auth/me")).status_code == 401
        row = await db.get_one(ApiToken, uuid.UUID(created["id"]))
        row.expires_at = clock.now() - timedelta(seconds=1)
        await db.commit()
        assert (await client_for(None, token=raw).get("/auth/me")).status_code == 401


class TestExchange:
    async def test_exchange_gives_a_15_minute_jwt_acting_as_the_user(
        self, client_for: ClientFor, member: User
    ) -> None:
        created = await _create(client_for(member))
        r = await client_for(None, token=created["token"]).post("/tokens/exchange")
        assert r.status_code == 200
        body = r.json()
        assert body["expires_in"] == 900
        assert set(body) == {"token", "expires_in"}
        me = await client_for(None, token=body["token"]).get("/auth/me")
        assert me.json()["id"] == str(member.id)

    async def test_a_token_cannot_mint_another(
        self, client_for: ClientFor, member: User, db: AsyncSession
    ) -> None:
        """A leaked or short-lived token must not turn itself into a lasting one."""
        created = await _create(client_for(member))
        jwt = (await client_for(None, token=created["token"]).post("/tokens/exchange")).json()
        for token in (created["token"], jwt["token"]):
            r = await client_for(None, token=token).post("/tokens", json={"name": "forever"})
            assert (r.status_code, r.json()["error"]["code"]) == (403, "SESSION_REQUIRED")
        assert len((await db.scalars(select(ApiToken))).all()) == 1

    async def test_revoking_kills_the_token_and_its_jwts_at_once(
        self, client_for: ClientFor, member: User
    ) -> None:
        client = client_for(member)
        created = await _create(client)
        jwt_token = (await client_for(None, token=created["token"]).post("/tokens/exchange")).json()
        assert (await client.delete(f"/tokens/{created['id']}")).status_code == 204
        assert (await client_for(None, token=created["token"]).get("/auth/me")).status_code == 401
        assert (await client_for(None, token=jwt_token["token"]).get("/auth/me")).status_code == 401

    async def test_exchange_needs_an_api_token(
        self, client_for: ClientFor, member: User, anon
    ) -> None:
        r = await client_for(member).post("/tokens/exchange")  # a login JWT, not an API token
        assert r.status_code == 401
        assert r.json()["error"]["code"] == "API_TOKEN_REQUIRED"
        assert (await anon.post("/tokens/exchange")).status_code == 401

    async def test_rate_limited_30_per_15_minutes(
        self, client_for: ClientFor, member: User
    ) -> None:
        created = await _create(client_for(member))
        client = client_for(None, token=created["token"])
        for _ in range(30):
            assert (await client.post("/tokens/exchange")).status_code == 200
        r = await client.post("/tokens/exchange")
        assert r.status_code == 429
        assert 1 <= int(r.headers["retry-after"]) <= 900


class TestListTokens:
    async def test_members_see_their_own_admins_see_all(
        self, client_for: ClientFor, member: User, admin: User, other_admin: User
    ) -> None:
        mine = await _create(client_for(member), "member token")
        admins = await _create(client_for(admin), "admin token")
        await _create(client_for(other_admin), "other org token")
        member_view = (await client_for(member).get("/tokens")).json()
        assert [t["id"] for t in member_view["data"]] == [mine["id"]]
        admin_view = (await client_for(admin).get("/tokens")).json()
        assert {t["id"] for t in admin_view["data"]} == {mine["id"], admins["id"]}
        assert admin_view["total"] == 2

    async def test_pagination_page_and_offset(self, client_for: ClientFor, member: User) -> None:
        client = client_for(member)
        ids = [(await _create(client, f"t{i}"))["id"] for i in range(5)]
        page2 = (await client.get("/tokens", params={"page": 2, "limit": 2})).json()
        assert (page2["total"], page2["page"], page2["limit"], len(page2["data"])) == (5, 2, 2, 2)
        by_offset = (await client.get("/tokens", params={"offset": 2, "limit": 2})).json()
        assert by_offset["data"] == page2["data"]
        everything = (await client.get("/tokens", params={"limit": 100})).json()
        assert {t["id"] for t in everything["data"]} == set(ids)

    @pytest.mark.parametrize(
        "params",
        [{"limit": 101}, {"limit": 0}, {"page": 0}, {"offset": -1}, {"page": 1, "offset": 0}],
    )
    async def test_bad_pagination_is_422(self, client_for: ClientFor, member: User, params) -> None:
        r = await client_for(member).get("/tokens", params=params)
        assert r.status_code == 422

    async def test_without_token_is_401(self, anon) -> None:
        assert (await anon.get("/tokens")).status_code == 401


class TestRevokeToken:
    async def test_member_cannot_touch_another_users_token(
        self, client_for: ClientFor, member: User, admin: User, db: AsyncSession
    ) -> None:
        admins = await _create(client_for(admin))
        r = await client_for(member).delete(f"/tokens/{admins['id']}")
        assert r.status_code == 404
        assert r.json()["error"]["code"] == "API_TOKEN_NOT_FOUND"
        assert (await db.get_one(ApiToken, uuid.UUID(admins["id"]))).revoked_at is None

    async def test_admin_can_revoke_a_members_leaked_token(
        self, client_for: ClientFor, member: User, admin: User, db: AsyncSession
    ) -> None:
        created = await _create(client_for(member))
        assert (await client_for(admin).delete(f"/tokens/{created['id']}")).status_code == 204
        db.expire_all()
        assert (await db.get_one(ApiToken, uuid.UUID(created["id"]))).revoked_at is not None
        actions = (await db.scalars(select(AuditEntry.action))).all()
        assert "token.revoked" in actions

    async def test_other_org_gets_404_and_token_survives(
        self, client_for: ClientFor, member: User, other_admin: User, db: AsyncSession
    ) -> None:
        created = await _create(client_for(member))
        r = await client_for(other_admin).delete(f"/tokens/{created['id']}")
        assert r.status_code == 404
        assert (await db.get_one(ApiToken, uuid.UUID(created["id"]))).revoked_at is None
        assert (await client_for(None, token=created["token"]).get("/auth/me")).status_code == 200

    async def test_revoking_twice_is_404(self, client_for: ClientFor, member: User) -> None:
        client = client_for(member)
        created = await _create(client)
        assert (await client.delete(f"/tokens/{created['id']}")).status_code == 204
        assert (await client.delete(f"/tokens/{created['id']}")).status_code == 404

    async def test_bad_id_is_422_and_no_token_is_401(
        self, client_for: ClientFor, member: User, anon
    ) -> None:
        r = await client_for(member).delete("/tokens/not-a-uuid")
        assert r.status_code == 422
        assert r.json()["error"]["details"][0]["field"] == "token_id"
        assert (
            await anon.delete("/tokens/00000000-0000-0000-0000-000000000000")
        ).status_code == 401
