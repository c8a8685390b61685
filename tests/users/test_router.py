"""/users: listing by role, reading, editing (name, role, last owner, mass assignment),
deactivation (sessions and API tokens die at once), account grants, notification preferences."""

import asyncio
import uuid

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import ClientFor
from tests.factories.cloud_accounts import grant, make_account
from tests.factories.users import make_user
from xplorr.cloud_accounts.models import AccountGrant
from xplorr.core import clock, security
from xplorr.core.audit import AuditEntry
from xplorr.core.tenancy import Role
from xplorr.orgs.models import Org
from xplorr.tokens.models import ApiToken
from xplorr.users.models import User, UserStatus


async def _actions(db: AsyncSession) -> list[str]:
    db.expire_all()
    return list((await db.scalars(select(AuditEntry.action))).all())


class TestListAndRead:
    async def test_admin_sees_everyone_member_only_themselves(
        self, client_for: ClientFor, admin: User, member: User, viewer: User, other_admin: User
    ) -> None:
        r = await client_for(admin).get("/users")
        assert r.status_code == 200
        ids = {u["id"] for u in r.json()["data"]}
        assert ids == {str(admin.id), str(member.id), str(viewer.id)}  # not other org's admin
        assert r.json()["total"] == 3
        for user in (member, viewer):
            r = await client_for(user).get("/users")
            assert [u["id"] for u in r.json()["data"]] == [str(user.id)]
            assert (await client_for(user).get(f"/users/{user.id}")).status_code == 200
            r = await client_for(user).get(f"/users/{admin.id}")
            assert (r.status_code, r.json()["error"]["code"]) == (404, "USER_NOT_FOUND")
        r = await client_for(admin).get(f"/users/{member.id}")
        assert r.json()["email"] == member.email
        assert "password_hash" not in r.text

    async def test_paging_and_401(self, client_for: ClientFor, admin: User, member: User) -> None:
        r = await client_for(admin).get("/users", params={"limit": 1, "page": 2})
        assert (r.json()["page"], r.json()["limit"], len(r.json()["data"])) == (2, 1, 1)
        assert (await client_for(None).get("/users")).status_code == 401
        assert (await client_for(None).get(f"/users/{member.id}")).status_code == 401

    async def test_bad_page_is_422(self, client_for: ClientFor, admin: User) -> None:
        r = await client_for(admin).get("/users", params={"limit": 0})
        assert (r.status_code, r.json()["error"]["code"]) == (422, "VALIDATION_ERROR")


class TestUpdate:
    async def test_member_renames_themselves_only(
        self, client_for: ClientFor, member: User, viewer: User, db: AsyncSession
    ) -> None:
        r = await client_for(member).patch(f"/users/{member.id}", json={"name": "  Milton  "})
        assert (r.status_code, r.json()["name"]) == (200, "Milton")
        r = await client_for(member).patch(f"/users/{viewer.id}", json={"name": "X"})
        assert r.status_code == 404
        r = await client_for(member).patch(f"/users/{member.id}", json={"role": "admin"})
        assert (r.status_code, r.json()["error"]["code"]) == (403, "FORBIDDEN")
        assert "user.updated" in await _actions(db)

    async def test_two_owners_demoting_each_other_at_once_leave_one(
        self, client_for: ClientFor, org: Org, owner: User, db: AsyncSession
    ) -> None:
        """The owners are counted under lock (on PostgreSQL two requests would otherwise both
        see two owners and leave none)."""
        other = await make_user(db, org, role=Role.OWNER)
        results = await asyncio.gather(
            client_for(owner).patch(f"/users/{other.id}", json={"role": "admin"}),
            client_for(other).patch(f"/users/{owner.id}", json={"role": "admin"}),
        )
        # The loser is refused as no longer an owner (403: it ran after) or as the last owner
        # (409: it waited on the lock with the role it started with).
        codes = sorted(r.status_code for r in results)
        assert codes in ([200, 403], [200, 409]), [r.text for r in results]
        db.expire_all()
        roles = (await db.scalars(select(User.role).where(User.id.in_([owner.id, other.id])))).all()
        assert sorted(r.value for r in roles) == ["admin", "owner"]

    @pytest.mark.parametrize(
        "body",
        [
            {"email": "x@y.io"},
            {"org_id": str(uuid.uuid4())},
            {"status": "active"},
            {"email_verified": True},
            {"is_superuser": True},
            {"name": ""},
            {"name": "   "},  # blank once stripped
            {"name": "a\x00b"},  # PostgreSQL cannot store NUL
            {"name": "line\nbreak"},
            {"role": "super_admin"},
        ],
    )
    async def test_mass_assignment_is_422(
        self, client_for: ClientFor, member: User, body: dict[str, object]
    ) -> None:
        r = await client_for(member).patch(f"/users/{member.id}", json=body)
        assert (r.status_code, r.json()["error"]["code"]) == (422, "VALIDATION_ERROR")

    async def test_admin_changes_roles_but_not_owners(
        self, client_for: ClientFor, admin: User, owner: User, member: User, db: AsyncSession
    ) -> None:
        r = await client_for(admin).patch(f"/users/{member.id}", json={"role": "viewer"})
        assert (r.status_code, r.json()["role"]) == (200, "viewer")
        # Takes effect at once: the demoted user is a viewer on the next request.
        r = await client_for(member).post(
            "/auth/invite", json={"email": "a@a.io", "role": "viewer"}
        )
        assert r.status_code == 403
        r = await client_for(admin).patch(f"/users/{member.id}", json={"role": "owner"})
        assert r.status_code == 403
        r = await client_for(admin).patch(f"/users/{owner.id}", json={"role": "member"})
        assert r.status_code == 403
        entry = await db.scalar(select(AuditEntry).where(AuditEntry.action == "user.role_changed"))
        assert entry is not None
        assert entry.details == {"from": "member", "to": "viewer"}

    async def test_last_owner_cannot_be_demoted(
        self, client_for: ClientFor, owner: User, db: AsyncSession, org: Org
    ) -> None:
        r = await client_for(owner).patch(f"/users/{owner.id}", json={"role": "admin"})
        assert (r.status_code, r.json()["error"]["code"]) == (409, "LAST_OWNER")
        second = await make_user(db, org, role=Role.OWNER)
        r = await client_for(owner).patch(f"/users/{second.id}", json={"role": "admin"})
        assert r.status_code == 200
        second2 = await make_user(db, org, role=Role.OWNER)
        r = await client_for(owner).patch(f"/users/{owner.id}", json={"role": "admin"})
        assert r.status_code == 200  # another owner remains
        assert (await db.get_one(User, second2.id)).role == Role.OWNER


class TestDeactivate:
    async def test_sessions_and_api_tokens_die_at_once(
        self, client_for: ClientFor, admin: User, member: User, db: AsyncSession
    ) -> None:
        raw = security.new_api_token()
        db.add(
            ApiToken(
                org_id=member.org_id,
                user_id=member.id,
                name="ci",
                prefix=raw[:13],
                token_sha256=security.sha256_hex(raw),
                created_at=clock.now(),
            )
        )
        await db.commit()
        assert (await client_for(None, token=raw).get("/auth/me")).status_code == 200
        assert (await client_for(member).get("/auth/me")).status_code == 200
        r = await client_for(admin).delete(f"/users/{member.id}")
        assert r.status_code == 204
        assert (await client_for(member).get("/auth/me")).status_code == 401
        assert (await client_for(None, token=raw).get("/auth/me")).status_code == 401
        db.expire_all()
        assert (await db.get_one(User, member.id)).status == UserStatus.DEACTIVATED
        token = await db.scalar(select(ApiToken).where(ApiToken.user_id == member.id))
        assert token is not None
        assert token.revoked_at is not None
        assert (await client_for(admin).delete(f"/users/{member.id}")).status_code == 204
        assert "user.deactivated" in await _actions(db)

    async def test_last_owner_and_owners_by_admins(
        self, client_for: ClientFor, admin: User, owner: User
    ) -> None:
        r = await client_for(admin).delete(f"/users/{owner.id}")
        assert r.status_code == 403
        r = await client_for(owner).delete(f"/users/{owner.id}")
        assert (r.status_code, r.json()["error"]["code"]) == (409, "LAST_OWNER")

    async def test_roles_and_bad_id(
        self, client_for: ClientFor, member: User, viewer: User, admin: User
    ) -> None:
        assert (await client_for(member).delete(f"/users/{viewer.id}")).status_code == 403
        assert (await client_for(None).delete(f"/users/{viewer.id}")).status_code == 401
        assert (await client_for(admin).delete(f"/users/{uuid.uuid4()}")).status_code == 404


class TestAccountGrants:
    async def test_grant_list_revoke(
        self, client_for: ClientFor, admin: User, member: User, org: Org, db: AsyncSession
    ) -> None:
        prod, dev = (
            await make_account(db, org, name="prod"),
            await make_account(db, org, name="dev"),
        )
        c = client_for(admin)
        available = await c.get("/users/available-accounts")
        assert {a["name"] for a in available.json()["data"]} == {"prod", "dev"}
        r = await c.get(f"/users/{member.id}/accounts")
        assert r.json() == {"user_id": str(member.id), "all_accounts": True, "accounts": []}
        r = await c.post(f"/users/{member.id}/accounts", json={"account_ids": [str(prod.id)]})
        assert r.status_code == 200
        assert (r.json()["all_accounts"], [a["name"] for a in r.json()["accounts"]]) == (
            False,
            ["prod"],
        )
        again = await c.post(f"/users/{member.id}/accounts", json={"account_ids": [str(prod.id)]})
        assert len(again.json()["accounts"]) == 1  # idempotent
        # The member's principal is limited at once.
        r = await c.delete(f"/users/{member.id}/accounts/{dev.id}")
        assert (r.status_code, r.json()["error"]["code"]) == (404, "ACCOUNT_GRANT_NOT_FOUND")
        assert (await c.delete(f"/users/{member.id}/accounts/{prod.id}")).status_code == 204
        assert (await c.get(f"/users/{member.id}/accounts")).json()["all_accounts"] is True
        actions = await _actions(db)
        assert "user.access_granted" in actions
        assert "user.access_revoked" in actions

    async def test_grants_limit_the_principal(
        self, app, member: User, org: Org, db: AsyncSession
    ) -> None:
        from xplorr.auth.service import resolve_principal
        from xplorr.core.db import make_sessionmaker

        prod = await make_account(db, org, name="prod")
        await grant(db, member, prod)
        from tests.factories.users import token_for

        async with make_sessionmaker(app.state.engine)() as s:
            who = await resolve_principal(s, app.state.kit, token_for(app, member))
        assert who is not None
        assert who.account_ids == frozenset({prod.id})

    async def test_foreign_account_and_roles(
        self,
        client_for: ClientFor,
        admin: User,
        member: User,
        other_org: Org,
        db: AsyncSession,
    ) -> None:
        foreign = await make_account(db, other_org)
        r = await client_for(admin).post(
            f"/users/{member.id}/accounts", json={"account_ids": [str(foreign.id)]}
        )
        assert (r.status_code, r.json()["error"]["code"]) == (404, "CLOUD_ACCOUNT_NOT_FOUND")
        assert await db.scalar(select(AccountGrant.id)) is None
        r = await client_for(admin).post(f"/users/{member.id}/accounts", json={"account_ids": []})
        assert r.status_code == 422
        r = await client_for(admin).post(
            f"/users/{member.id}/accounts", json={"account_ids": ["x"]}
        )
        assert r.status_code == 422
        for path in ("/users/available-accounts", f"/users/{member.id}/accounts"):
            assert (await client_for(member).get(path)).status_code == 403


class TestNotificationPreferences:
    async def test_defaults_then_partial_update(
        self, client_for: ClientFor, member: User, viewer: User
    ) -> None:
        r = await client_for(member).get("/users/notification-preferences")
        assert r.json() == {
            "welcome": True,
            "sync_complete": False,
            "sync_failed": True,
            "anomaly_detected": True,
            "budget_alert": True,
            "projected_overrun": True,
            "weekly_digest": True,
            "ri_sp_expiration": True,
        }
        r = await client_for(member).patch(
            "/users/notification-preferences", json={"weekly_digest": False, "sync_complete": True}
        )
        assert r.status_code == 200
        assert (r.json()["weekly_digest"], r.json()["sync_complete"], r.json()["budget_alert"]) == (
            False,
            True,
            True,
        )
        r = await client_for(member).patch(
            "/users/notification-preferences", json={"budget_alert": False}
        )
        assert r.json()["weekly_digest"] is False  # earlier changes stay
        # Per user: the viewer still has the defaults.
        r = await client_for(viewer).get("/users/notification-preferences")
        assert r.json()["weekly_digest"] is True

    @pytest.mark.parametrize("body", [{"nope": True}, {"weekly_digest": "yes"}, {"welcome": 1}])
    async def test_bad_input(self, client_for: ClientFor, member: User, body) -> None:
        r = await client_for(member).patch("/users/notification-preferences", json=body)
        assert (r.status_code, r.json()["error"]["code"]) == (422, "VALIDATION_ERROR")

    async def test_401(self, client_for: ClientFor) -> None:
        assert (await client_for(None).get("/users/notification-preferences")).status_code == 401


async def test_writes_are_rate_limited(client_for: ClientFor, member: User) -> None:
    c = client_for(member)
    for _ in range(30):
        r = await c.patch("/users/notification-preferences", json={"welcome": True})
        assert r.status_code == 200
    r = await c.patch("/users/notification-preferences", json={"welcome": True})
    assert r.status_code == 429
