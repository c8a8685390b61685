"""The organization's 2FA requirement, end to end: turning it on needs the admin's own factor; a
user without one is refused everywhere but ``GET /auth/me`` and the setup endpoints, with a JWT
or an API token, until a factor is confirmed. Also: a password reset does not skip the second
factor, and a key rotation re-seals TOTP secrets so retired data keys are not needed."""

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import ClientFor
from tests.factories.twofa import enable_totp
from tests.factories.users import make_user
from tests.mail import Mailbox, run_jobs, token_in
from tests.twofa.conftest import authenticate, challenge, code_at, login
from xplorr.core import crypto
from xplorr.core.crypto import OrgDataKey
from xplorr.core.settings import Settings
from xplorr.core.tenancy import Role
from xplorr.orgs.models import Org
from xplorr.twofa.models import TotpFactor
from xplorr.users.models import User

NEW_PASSWORD = "another quite long passphrase 7"


class TestRequire2fa:
    async def test_admin_without_a_factor_cannot_turn_it_on(
        self, client_for: ClientFor, admin: User, org: Org, db: AsyncSession
    ) -> None:
        r = await client_for(admin).patch("/organizations/require-2fa", json={"required": True})
        assert (r.status_code, r.json()["error"]["code"]) == (400, "2FA_NOT_ENABLED")
        db.expire_all()
        assert (await db.get_one(Org, org.id)).require_2fa is False
        # Turning it off never needs a factor.
        r = await client_for(admin).patch("/organizations/require-2fa", json={"required": False})
        assert r.status_code == 200

    async def test_user_without_2fa_is_refused_until_set_up(
        self, client_for: ClientFor, admin: User, member: User, org: Org, db: AsyncSession
    ) -> None:
        r = await client_for(member).post("/tokens", json={"name": "ci"})
        assert r.status_code == 201
        api_token = r.json()["token"]
        await enable_totp(db, admin)
        r = await client_for(admin).patch("/organizations/require-2fa", json={"required": True})
        assert (r.status_code, r.json()["require_2fa"]) == (200, True)
        assert (await client_for(admin).get("/users")).status_code == 200  # admin has a factor

        client = client_for(member)
        for path in ("/users", "/costs", "/organizations/current", "/tokens"):
            r = await client.get(path)
            assert (r.status_code, r.json()["error"]["code"]) == (403, "2FA_SETUP_REQUIRED"), path
        r = await client_for(token=api_token).get("/users")
        assert (r.status_code, r.json()["error"]["code"]) == (403, "2FA_SETUP_REQUIRED")
        r = await client.post("/auth/2fa/disable", json={"password": "x", "code": "000000"})
        assert r.json()["error"]["code"] == "2FA_SETUP_REQUIRED"
        me = await client.get("/auth/me")
        assert (me.status_code, me.json()["two_factor_setup_required"]) == (200, True)

        secret = (await client.post("/auth/2fa/setup")).json()["secret"]
        r = await client.post("/auth/2fa/confirm", json={"code": await code_at(secret)})
        assert r.status_code == 200

        assert (await client.get("/users")).status_code == 200
        assert (await client.get("/costs")).status_code == 200
        assert (await client_for(token=api_token).get("/users")).status_code == 200
        me = await client.get("/auth/me")
        assert (me.json()["two_factor_setup_required"], me.json()["two_factor_enabled"]) == (
            False,
            True,
        )


async def test_password_reset_does_not_skip_the_second_factor(
    anon, settings: Settings, mailbox: Mailbox, member: User, db: AsyncSession
) -> None:
    secret = await enable_totp(db, member, settings)
    assert (await anon.post("/auth/forgot-password", json={"email": member.email})).status_code
    await run_jobs(settings)
    token = token_in(mailbox.last_to(member.email), "/reset-password")
    r = await anon.post("/auth/reset-password", json={"token": token, "new_password": NEW_PASSWORD})
    assert r.status_code == 204
    body = await login(anon, member.email, NEW_PASSWORD)
    assert body["requires_2fa"] is True
    assert "access_token" not in body
    assert (
        await authenticate(anon, body["challenge_token"], await code_at(secret))
    ).status_code == 200


async def test_key_rotation_reseals_totp_secrets(
    anon, settings: Settings, org: Org, db: AsyncSession
) -> None:
    user = await make_user(db, org, role=Role.MEMBER)
    secret = await enable_totp(db, user, settings)
    email = user.email
    before = (await db.scalars(select(TotpFactor))).one()
    old_blob, old_version = before.secret_encrypted, before.key_version
    rotation = await crypto.rotate_org_key(db, settings, org.id)
    await db.commit()
    assert (rotation.version, rotation.resealed["authenticator_apps"]) == (old_version + 1, 1)
    db.expire_all()
    after = (await db.scalars(select(TotpFactor))).one()
    assert after.key_version == rotation.version
    assert after.secret_encrypted != old_blob
    # No ciphertext needs a retired key any more: drop them, and the factor still works.
    await db.execute(delete(OrgDataKey).where(OrgDataKey.version < rotation.version))
    await db.commit()
    r = await authenticate(anon, await challenge(anon, email), await code_at(secret))
    assert r.status_code == 200


async def test_api_token_cannot_manage_totp(
    client_for: ClientFor, member: User, db: AsyncSession
) -> None:
    """A leaked API token must not enrol a factor (locking the owner out) nor remove one."""
    r = await client_for(member).post("/tokens", json={"name": "ci"})
    token_client = client_for(token=r.json()["token"])
    for path, body in (
        ("/auth/2fa/setup", None),
        ("/auth/2fa/confirm", {"code": "123456"}),
        ("/auth/2fa/disable", {"password": "whatever-password", "code": "123456"}),
    ):
        r = await token_client.post(path, json=body)
        assert (r.status_code, r.json()["error"]["code"]) == (403, "SESSION_REQUIRED"), path
    assert await db.scalar(select(func.count()).select_from(TotpFactor)) == 0
