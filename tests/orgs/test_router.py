"""/organizations: read, rename, stats, the 2FA flag, and closing an organization (every row of
it gone through the foreign-key cascade, other organizations untouched, one audit record kept)."""

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import ForeignKey, Table, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import ClientFor
from tests.factories.cloud_accounts import grant, make_account
from tests.factories.costs import add_costs
from tests.factories.sso import make_sso_config, org_domain
from tests.factories.twofa import enable_totp
from tests.factories.users import DEFAULT_PASSWORD, make_user
from tests.mail import run_jobs
from tests.sso.idp import TestIdp
from xplorr.auth.models import Invitation
from xplorr.core import clock, security
from xplorr.core.audit import AuditEntry
from xplorr.core.settings import Settings
from xplorr.core.tenancy import Role
from xplorr.models_registry import Base
from xplorr.orgs.models import Org
from xplorr.sso.models import SamlRequest, SsoConfig, SsoDomain
from xplorr.tokens.models import ApiToken
from xplorr.users.models import User

CLOSE = {"x-confirm-close": "DELETE_MY_ORGANIZATION"}


class TestCurrent:
    async def test_read_and_rename(
        self, client_for: ClientFor, admin: User, member: User, org: Org, db: AsyncSession
    ) -> None:
        r = await client_for(member).get("/organizations/current")
        assert r.json()["name"] == "Acme"
        assert r.json()["require_2fa"] is False
        r = await client_for(admin).patch("/organizations/current", json={"name": " Acme Corp "})
        assert (r.status_code, r.json()["name"], r.json()["slug"]) == (200, "Acme Corp", org.slug)
        r = await client_for(member).patch("/organizations/current", json={"name": "Mine"})
        assert r.status_code == 403
        assert (await client_for(None).get("/organizations/current")).status_code == 401
        assert await db.scalar(select(AuditEntry.id).where(AuditEntry.action == "org.updated"))

    @pytest.mark.parametrize(
        "body", [{}, {"name": ""}, {"name": "  "}, {"name": "a\x00"}, {"name": "x", "slug": "y"}]
    )
    async def test_bad_rename(self, client_for: ClientFor, admin: User, body) -> None:
        r = await client_for(admin).patch("/organizations/current", json=body)
        assert (r.status_code, r.json()["error"]["code"]) == (422, "VALIDATION_ERROR")

    async def test_require_2fa_flag(
        self,
        client_for: ClientFor,
        admin: User,
        viewer: User,
        db: AsyncSession,
        org: Org,
        settings: Settings,
    ) -> None:
        r = await client_for(viewer).patch("/organizations/require-2fa", json={"required": True})
        assert r.status_code == 403
        r = await client_for(admin).patch("/organizations/require-2fa", json={"required": "yes"})
        assert r.status_code == 422
        r = await client_for(admin).patch("/organizations/require-2fa", json={"required": True})
        assert (r.status_code, r.json()["error"]["code"]) == (400, "2FA_NOT_ENABLED")
        await enable_totp(db, admin, settings)
        r = await client_for(admin).patch("/organizations/require-2fa", json={"required": True})
        assert (r.status_code, r.json()["require_2fa"]) == (200, True)
        db.expire_all()
        assert (await db.get_one(Org, org.id)).require_2fa is True


class TestStats:
    async def test_counts_and_last_sync(
        self,
        client_for: ClientFor,
        admin: User,
        member: User,
        org: Org,
        other_org: Org,
        db: AsyncSession,
    ) -> None:
        prod = await make_account(db, org, name="prod")
        await make_account(db, org, name="dev")
        await make_account(db, other_org, name="theirs")
        synced = clock.now() - timedelta(hours=2)
        prod.last_synced_at = synced
        await db.commit()
        await client_for(admin).post("/auth/invite", json={"email": "n@acme.io", "role": "viewer"})
        r = await client_for(admin).get("/organizations/stats")
        assert r.status_code == 200
        body = r.json()
        assert (body["users"], body["active_users"], body["cloud_accounts"]) == (2, 2, 2)
        assert body["pending_invitations"] == 1
        assert body["last_sync_at"].startswith(synced.isoformat()[:19])
        assert body["month_to_date_spend"] is None  # no cost data yet
        assert body["month_to_date_spend_by_currency"] == []
        today = clock.now().date()
        last_month = today.replace(day=1) - timedelta(days=1)
        await add_costs(
            db,
            prod,
            [
                {"usage_date": today.replace(day=1), "billed_cost": "100.005"},
                {"usage_date": today, "billed_cost": "-0.10"},  # a credit
                {"usage_date": last_month, "billed_cost": "999"},  # not this month
            ],
        )
        theirs = await make_account(db, other_org, name="theirs2")
        await add_costs(db, theirs, [{"usage_date": today, "billed_cost": "5"}])
        body = (await client_for(admin).get("/organizations/stats")).json()
        assert Decimal(str(body["month_to_date_spend"])) == Decimal("99.91")
        assert body["currency"] == "USD"
        await add_costs(db, prod, [{"usage_date": today, "billed_cost": "7", "currency": "EUR"}])
        body = (await client_for(admin).get("/organizations/stats")).json()
        # Two currencies are never added up: the spend is in the default currency (USD: the
        # one account bills in both, USD in more months), each currency listed beside it.
        assert (body["month_to_date_spend"], body["currency"]) == (99.91, "USD")
        assert body["month_to_date_spend_by_currency"] == [
            {"currency": "EUR", "amount": 7.0},
            {"currency": "USD", "amount": 99.91},
        ]
        assert (await client_for(member).get("/organizations/stats")).status_code == 403


async def _org_rows(db: AsyncSession, org_id) -> dict[str, int]:
    """Rows of every table with an ``org_id`` column that belong to ``org_id``."""
    counts = {}
    for table in Base.metadata.sorted_tables:
        if "org_id" in table.c:
            n = await db.scalar(
                select(func.count()).select_from(table).where(table.c.org_id == org_id)
            )
            counts[table.name] = int(n or 0)
    return counts


def _cascades_from_orgs(table: Table) -> bool:
    """Deleting an ``orgs`` row deletes every row of ``table`` that hangs off it: through a
    NOT NULL foreign key with ON DELETE CASCADE, followed up to ``orgs``."""
    if table.name == "orgs":
        return True
    return any(
        fk.ondelete == "CASCADE" and not fk.parent.nullable and _cascades_from_orgs(fk.column.table)
        for fk in table.foreign_keys
    )


def test_every_foreign_key_cascades_or_nulls() -> None:
    """Deleting the ``orgs`` row must take every tenant row with it: each foreign key either
    cascades or sets NULL, and every table with an ``org_id`` either cascades from ``orgs`` on
    that column or hangs off a table that does (the cost tables hang off ``cloud_accounts``)."""
    for table in Base.metadata.sorted_tables:
        for fk in table.foreign_keys:
            assert isinstance(fk, ForeignKey)
            assert fk.ondelete in {"CASCADE", "SET NULL"}, f"{table.name}.{fk.parent.name}"
        if "org_id" in table.c:
            direct = [
                fk
                for fk in table.c.org_id.foreign_keys
                if fk.column.table.name == "orgs" and fk.ondelete == "CASCADE"
            ]
            assert direct or _cascades_from_orgs(table), table.name


class TestClose:
    async def _populate(self, db: AsyncSession, org: Org, owner: User) -> None:
        member = await make_user(db, org, role=Role.MEMBER)
        account = await make_account(db, org)
        await grant(db, member, account)
        await add_costs(db, account, [{"usage_date": clock.now().date(), "billed_cost": "3.5"}])
        raw = security.new_api_token()
        db.add(
            ApiToken(
                org_id=org.id,
                user_id=owner.id,
                name="ci",
                prefix=raw[:13],
                token_sha256=security.sha256_hex(raw),
                created_at=clock.now(),
            )
        )
        await db.commit()

    async def test_close_deletes_the_org_and_nothing_else(
        self,
        client_for: ClientFor,
        owner: User,
        org: Org,
        other_org: Org,
        other_admin: User,
        settings: Settings,
        db: AsyncSession,
    ) -> None:
        await self._populate(db, org, owner)
        await make_account(db, other_org, name="theirs")
        await client_for(owner).patch("/users/notification-preferences", json={"welcome": False})
        await client_for(owner).post("/auth/invite", json={"email": "i@acme.io", "role": "viewer"})
        other_before = await _org_rows(db, other_org.id)
        mine = await _org_rows(db, org.id)
        assert mine["users"] == 2
        assert mine["cloud_accounts"] == 1
        assert mine["user_account_grants"] == 1
        assert mine["api_tokens"] == 1
        assert mine["invitations"] == 1
        assert mine["cost_records"] == 1
        assert mine["cost_rollups"] >= 1
        r = await client_for(owner).request(
            "DELETE", "/organizations/close", json={"password": DEFAULT_PASSWORD}, headers=CLOSE
        )
        assert r.status_code == 202, r.text
        # Every login and token of the org is dead before the purge runs.
        assert (await client_for(owner).get("/auth/me")).status_code == 401
        login = await client_for(None).post(
            "/auth/login", json={"email": owner.email, "password": DEFAULT_PASSWORD}
        )
        assert login.status_code == 401
        await run_jobs(settings)
        db.expire_all()
        assert await db.get(Org, org.id) is None
        after = await _org_rows(db, org.id)
        assert not any(after.values()), after
        assert await _org_rows(db, other_org.id) == other_before
        assert (await client_for(other_admin).get("/users")).json()["total"] == 1
        kept = (
            await db.scalars(select(AuditEntry).where(AuditEntry.action == "platform.org_deleted"))
        ).all()
        assert len(kept) == 1
        assert kept[0].org_id is None
        assert kept[0].resource_id == str(org.id)
        assert kept[0].actor_email == owner.email
        # Repeating is harmless: the token is dead, the job finds nothing left.
        again = await client_for(owner).request(
            "DELETE", "/organizations/close", json={"password": DEFAULT_PASSWORD}, headers=CLOSE
        )
        assert again.status_code == 401
        await run_jobs(settings)

    async def test_nobody_joins_a_closing_org_before_the_purge(
        self, client_for: ClientFor, owner: User, org: Org, db: AsyncSession
    ) -> None:
        """Between the close and the purge job the org's SSO provisions no one and its
        invitations cannot be accepted; its email domains are free at once."""
        await make_sso_config(db, org, TestIdp("a"), enforce=True)
        r = await client_for(owner).post(
            "/auth/invite", json={"email": "i@acme.io", "role": "viewer"}
        )
        assert r.status_code == 201, r.text
        r = await client_for(owner).request(
            "DELETE", "/organizations/close", json={"password": DEFAULT_PASSWORD}, headers=CLOSE
        )
        assert r.status_code == 202
        check = await client_for(None).get(
            "/auth/sso/check", params={"email": f"new@{org_domain(org)}"}
        )
        assert check.json() == {"sso_enabled": False, "sso_required": False, "org_slug": None}
        r = await client_for(None).get("/auth/saml/init", params={"org_slug": org.slug})
        assert (r.status_code, r.json()["error"]["code"]) == (404, "SSO_NOT_CONFIGURED")
        await db.rollback()
        assert await db.get(Org, org.id) is not None  # not purged yet
        invitation = await db.scalar(select(Invitation).where(Invitation.org_id == org.id))
        assert invitation is not None
        assert invitation.revoked_at is not None
        for model in (SsoConfig, SsoDomain, SamlRequest):
            count = select(func.count()).select_from(model).where(model.org_id == org.id)
            assert await db.scalar(count) == 0

    async def test_refusals_leave_everything(
        self,
        client_for: ClientFor,
        owner: User,
        admin: User,
        org: Org,
        settings: Settings,
        db: AsyncSession,
    ) -> None:
        good = {"password": DEFAULT_PASSWORD}
        r = await client_for(owner).request("DELETE", "/organizations/close", json=good)
        assert (r.status_code, r.json()["error"]["code"]) == (400, "CONFIRMATION_REQUIRED")
        r = await client_for(owner).request(
            "DELETE", "/organizations/close", json=good, headers={"x-confirm-close": "yes"}
        )
        assert r.status_code == 400
        r = await client_for(owner).request(
            "DELETE", "/organizations/close", json={"password": "wrong one"}, headers=CLOSE
        )
        assert (r.status_code, r.json()["error"]["code"]) == (400, "INVALID_CURRENT_PASSWORD")
        r = await client_for(admin).request(
            "DELETE", "/organizations/close", json=good, headers=CLOSE
        )
        assert r.status_code == 403
        r = await client_for(owner).request(
            "DELETE", "/organizations/close", json={}, headers=CLOSE
        )
        assert r.status_code == 422
        assert (await client_for(None).delete("/organizations/close")).status_code == 401
        await run_jobs(settings)
        db.expire_all()
        assert await db.get(Org, org.id) is not None
        assert (await client_for(owner).get("/auth/me")).status_code == 200


async def test_sqlite_enforces_foreign_keys_in_the_worker(settings: Settings) -> None:
    """The purge relies on ON DELETE CASCADE; SQLite only honours it with foreign_keys=ON."""
    if not settings.is_sqlite:
        pytest.skip("SQLite only")
    from xplorr.core.db import make_engine

    engine = make_engine(settings.db_url)
    async with engine.connect() as conn:
        assert (await conn.execute(text("PRAGMA foreign_keys"))).scalar() == 1
    await engine.dispose()
