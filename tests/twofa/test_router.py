"""/auth/2fa: setup, confirm, the login's second step and disable, with real pyotp codes.

Codes are computed with ``pyotp.TOTP(secret).at(time)`` at step offsets (``code_at``), away from
a step boundary so the server sees the same offset."""

import asyncio
import base64
import re
from datetime import timedelta
from typing import Any

import pyotp
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import AppWith, ClientFor, asgi_client
from tests.factories.twofa import enable_totp
from tests.factories.users import DEFAULT_PASSWORD, make_user
from tests.twofa.conftest import authenticate, challenge, code_at, login
from xplorr.core import clock, security
from xplorr.core.audit import AuditEntry
from xplorr.core.crypto import OrgCipher
from xplorr.core.settings import Settings
from xplorr.orgs.models import Org
from xplorr.passkeys.models import WebAuthnCredential
from xplorr.twofa.models import LoginChallenge, RecoveryCode, TotpFactor
from xplorr.twofa.service import PURPOSE
from xplorr.users.models import User

RECOVERY_SHAPE = re.compile(r"[a-z2-7]{5}(-[a-z2-7]{5}){3}")


async def _actions(db: AsyncSession) -> list[str]:
    db.expire_all()
    return list((await db.scalars(select(AuditEntry.action).order_by(AuditEntry.created_at))).all())


async def _enable_via_api(client) -> tuple[str, list[str], str]:
    """Setup and confirm through the API: (secret, recovery codes, the code used to confirm)."""
    r = await client.post("/auth/2fa/setup")
    assert r.status_code == 200, r.text
    secret = r.json()["secret"]
    code = await code_at(secret)
    r = await client.post("/auth/2fa/confirm", json={"code": code})
    assert r.status_code == 200, r.text
    return secret, r.json()["recovery_codes"], code


class TestSetup:
    async def test_answers_secret_uri_and_qr_and_seals_the_secret(
        self,
        client_for: ClientFor,
        member: User,
        db: AsyncSession,
        settings: Settings,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        r = await client_for(member).post("/auth/2fa/setup")
        assert r.status_code == 200
        body = r.json()
        assert set(body) == {"secret", "otpauth_uri", "qr_code"}
        secret = body["secret"]
        assert re.fullmatch(r"[A-Z2-7]{32}", secret)  # 160 bits
        parsed = pyotp.parse_uri(body["otpauth_uri"])
        assert isinstance(parsed, pyotp.TOTP)
        assert (parsed.secret, parsed.issuer, parsed.name) == (secret, "Xplorr", member.email)
        assert body["otpauth_uri"].startswith("otpauth://totp/Xplorr:")
        prefix = "data:image/svg+xml;base64,"
        assert body["qr_code"].startswith(prefix)
        assert b"<svg" in base64.b64decode(body["qr_code"].removeprefix(prefix))
        factor = (await db.scalars(select(TotpFactor))).one()
        assert factor.user_id == member.id
        assert factor.confirmed_at is None
        assert secret.encode() not in factor.secret_encrypted
        cipher = await OrgCipher.load(db, settings, member.org_id)
        opened = cipher.open_secret(PURPOSE, factor.id, factor.secret_encrypted, factor.key_version)
        assert opened == secret.encode()
        assert not member.two_factor_enabled
        # Never logged, never in the audit trail.
        assert secret not in capsys.readouterr().err
        details = (await db.scalars(select(AuditEntry.details))).all()
        assert secret not in repr(details)

    async def test_restart_replaces_the_pending_secret(
        self, client_for: ClientFor, member: User, db: AsyncSession
    ) -> None:
        client = client_for(member)
        first = (await client.post("/auth/2fa/setup")).json()["secret"]
        second = (await client.post("/auth/2fa/setup")).json()["secret"]
        assert first != second
        assert await db.scalar(select(func.count()).select_from(TotpFactor)) == 1
        r = await client.post("/auth/2fa/confirm", json={"code": await code_at(first)})
        assert (r.status_code, r.json()["error"]["code"]) == (400, "INVALID_2FA_CODE")
        r = await client.post("/auth/2fa/confirm", json={"code": await code_at(second)})
        assert r.status_code == 200

    async def test_already_enabled_is_409(self, client_for: ClientFor, member: User, db) -> None:
        await enable_totp(db, member)
        r = await client_for(member).post("/auth/2fa/setup")
        assert (r.status_code, r.json()["error"]["code"]) == (409, "2FA_ALREADY_ENABLED")
        assert await db.scalar(select(func.count()).select_from(TotpFactor)) == 1


class TestConfirm:
    async def test_enables_and_answers_recovery_codes_once(
        self, client_for: ClientFor, member: User, db: AsyncSession
    ) -> None:
        client = client_for(member)
        _secret, codes, _code = await _enable_via_api(client)
        assert len(codes) == len(set(codes)) == 10
        assert all(RECOVERY_SHAPE.fullmatch(c) for c in codes)  # 20 base32 chars: 100 bits
        stored = set((await db.scalars(select(RecoveryCode.code_sha256))).all())
        assert stored == {security.sha256_hex(c.replace("-", "")) for c in codes}
        db.expire_all()
        assert (await db.get_one(User, member.id)).two_factor_enabled is True
        factor = (await db.scalars(select(TotpFactor))).one()
        assert factor.confirmed_at is not None
        assert "user.2fa_enabled" in await _actions(db)
        me = (await client.get("/auth/me")).json()
        assert me["two_factor_enabled"] is True
        r = await client.post("/auth/2fa/confirm", json={"code": "123456"})
        assert (r.status_code, r.json()["error"]["code"]) == (409, "2FA_ALREADY_ENABLED")

    async def test_wrong_code_keeps_it_pending(
        self, client_for: ClientFor, member: User, db: AsyncSession
    ) -> None:
        client = client_for(member)
        secret = (await client.post("/auth/2fa/setup")).json()["secret"]
        good = await code_at(secret)
        wrong = f"{(int(good) + 1) % 1_000_000:06d}"
        for bad in (wrong, "abcdef", await code_at(secret, -2)):
            r = await client.post("/auth/2fa/confirm", json={"code": bad})
            assert (r.status_code, r.json()["error"]["code"]) == (400, "INVALID_2FA_CODE")
        assert (await db.scalars(select(TotpFactor))).one().confirmed_at is None
        db.expire_all()
        assert (await db.get_one(User, member.id)).two_factor_enabled is False

    async def test_without_setup_is_409(self, client_for: ClientFor, member: User) -> None:
        r = await client_for(member).post("/auth/2fa/confirm", json={"code": "123456"})
        assert (r.status_code, r.json()["error"]["code"]) == (409, "2FA_SETUP_NOT_STARTED")


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/auth/2fa/setup", None),
        ("/auth/2fa/confirm", {"code": "123456"}),
        ("/auth/2fa/disable", {"password": DEFAULT_PASSWORD, "code": "123456"}),
    ],
)
async def test_without_token_is_401(anon, path: str, body: Any) -> None:
    r = await anon.post(path, json=body)
    assert (r.status_code, r.json()["error"]["code"]) == (401, "UNAUTHORIZED")


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/auth/2fa/confirm", {}, "code"),
        ("/auth/2fa/confirm", {"code": 123456}, "code"),
        ("/auth/2fa/confirm", {"code": "123456", "extra": 1}, "extra"),
        ("/auth/2fa/authenticate", {"code": "123456"}, "challenge_token"),
        ("/auth/2fa/authenticate", {"challenge_token": "x", "code": "1"}, "code"),
        ("/auth/2fa/disable", {"code": "123456"}, "password"),
        ("/auth/2fa/disable", {"password": "x", "code": "x" * 65}, "code"),
    ],
)
async def test_bad_bodies_are_422(
    client_for: ClientFor, member: User, path: str, body: dict, field: str
) -> None:
    r = await client_for(member).post(path, json=body)
    assert (r.status_code, r.json()["error"]["code"]) == (422, "VALIDATION_ERROR")
    assert field in {d["field"] for d in r.json()["error"]["details"]}
    assert "x" * 65 not in r.text


class TestLoginFlow:
    async def test_setup_confirm_logout_login_authenticate(
        self, anon, bearer, member: User, db: AsyncSession
    ) -> None:
        tokens = await login(anon, member.email)
        client_headers = bearer(tokens["access_token"])
        r = await anon.post("/auth/2fa/setup", headers=client_headers)
        secret = r.json()["secret"]
        confirm_code = await code_at(secret)
        r = await anon.post(
            "/auth/2fa/confirm", json={"code": confirm_code}, headers=client_headers
        )
        assert r.status_code == 200
        assert (
            await anon.post("/auth/logout", json={"refresh_token": tokens["refresh_token"]})
        ).status_code == 204
        body = await login(anon, member.email)
        assert set(body) == {"requires_2fa", "challenge_token", "methods", "expires_in"}
        assert body["methods"] == ["totp", "recovery_code"]
        token = body["challenge_token"]
        # The challenge is no bearer token.
        r = await anon.get("/auth/me", headers=bearer(token))
        assert (r.status_code, r.json()["error"]["code"]) == (401, "UNAUTHORIZED")
        # The code that confirmed setup was used: refused here (no replay across endpoints).
        r = await authenticate(anon, token, confirm_code)
        assert (r.status_code, r.json()["error"]["code"]) == (401, "INVALID_2FA_CODE")
        next_code = await code_at(secret, 1)
        r = await authenticate(anon, token, next_code[:3] + " " + next_code[3:])
        assert r.status_code == 200, r.text
        pair = r.json()
        assert set(pair) == {"access_token", "refresh_token", "token_type", "expires_in", "user"}
        me = await anon.get("/auth/me", headers=bearer(pair["access_token"]))
        assert (me.status_code, me.json()["id"]) == (200, str(member.id))
        refreshed = await anon.post("/auth/refresh", json={"refresh_token": pair["refresh_token"]})
        assert refreshed.status_code == 200
        # The same code on a new challenge: a replay.
        r = await authenticate(anon, await challenge(anon, member.email), next_code)
        assert (r.status_code, r.json()["error"]["code"]) == (401, "INVALID_2FA_CODE")
        actions = await _actions(db)
        assert actions.count("user.login_2fa") == 1
        assert actions.count("user.login_2fa_failed") == 2
        assert not await db.scalar(
            select(LoginChallenge.id).where(LoginChallenge.token_sha256 == token)
        )
        assert await db.scalar(
            select(AuditEntry.details).where(AuditEntry.action == "user.login_2fa")
        ) == {"method": "totp"}

    async def test_one_step_of_drift_is_accepted_two_are_not(
        self, anon, member: User, db: AsyncSession
    ) -> None:
        secret = await enable_totp(db, member)
        for steps in (-2, 2):
            token = await challenge(anon, member.email)
            r = await authenticate(anon, token, await code_at(secret, steps))
            assert (r.status_code, r.json()["error"]["code"]) == (401, "INVALID_2FA_CODE")
        for steps in (-1, 0, 1):  # each a later step than the one before
            token = await challenge(anon, member.email)
            r = await authenticate(anon, token, await code_at(secret, steps))
            assert r.status_code == 200, (steps, r.text)

    async def test_recovery_code_works_once(self, anon, member: User, db: AsyncSession) -> None:
        codes = ["abcde-fghij-klmno-pqrs2", "22222-33333-44444-55555"]
        await enable_totp(db, member, recovery_codes=codes)
        token = await challenge(anon, member.email)
        r = await authenticate(anon, token, "ABCDEFGHIJKLMNOPQRS2")  # case and dashes ignored
        assert r.status_code == 200
        r = await authenticate(anon, await challenge(anon, member.email), codes[0])
        assert (r.status_code, r.json()["error"]["code"]) == (401, "INVALID_2FA_CODE")
        r = await authenticate(anon, await challenge(anon, member.email), codes[1])
        assert r.status_code == 200
        used = (await db.scalars(select(RecoveryCode.used_at))).all()
        assert all(u is not None for u in used)
        details = (
            await db.scalars(
                select(AuditEntry.details).where(AuditEntry.action == "user.login_2fa")
            )
        ).all()
        assert details == [{"method": "recovery_code"}] * 2

    async def test_concurrent_requests_with_one_code_succeed_once(
        self, anon, member: User, db: AsyncSession
    ) -> None:
        secret = await enable_totp(db, member)
        tokens = [await challenge(anon, member.email) for _ in range(2)]
        code = await code_at(secret)
        results = await asyncio.gather(*(authenticate(anon, t, code) for t in tokens))
        assert sorted(r.status_code for r in results) == [200, 401]
        # One challenge, two valid codes at once: one login.
        token = await challenge(anon, member.email)
        codes = [await code_at(secret, 1), "22222-33333-44444-55555"]
        db.add(
            RecoveryCode(
                org_id=member.org_id,
                user_id=member.id,
                code_sha256=security.sha256_hex("22222333334444455555"),
            )
        )
        await db.commit()
        results = await asyncio.gather(*(authenticate(anon, token, c) for c in codes))
        assert sorted(r.status_code for r in results) == [200, 401]
        assert sum(a == "user.login_2fa" for a in await _actions(db)) == 2


class TestChallenge:
    async def test_expired_reused_and_unknown_challenges(
        self, anon, member: User, db: AsyncSession
    ) -> None:
        secret = await enable_totp(db, member)
        token = await challenge(anon, member.email)
        await db.execute(
            update(LoginChallenge).values(expires_at=clock.now() - timedelta(seconds=1))
        )
        await db.commit()
        r = await authenticate(anon, token, await code_at(secret))
        assert (r.status_code, r.json()["error"]["code"]) == (401, "INVALID_CHALLENGE")
        token = await challenge(anon, member.email)
        assert (await authenticate(anon, token, await code_at(secret))).status_code == 200
        r = await authenticate(anon, token, await code_at(secret, 1))
        assert (r.status_code, r.json()["error"]["code"]) == (401, "INVALID_CHALLENGE")
        r = await authenticate(anon, security.new_opaque_token(), await code_at(secret, 1))
        assert (r.status_code, r.json()["error"]["code"]) == (401, "INVALID_CHALLENGE")

    async def test_dies_after_five_wrong_codes(
        self, app_with: AppWith, db: AsyncSession, org: Org
    ) -> None:
        user = await make_user(db, org)
        secret = await enable_totp(db, user)
        async with asgi_client(app_with(two_factor_failure_limit="100/hour")) as c:
            token = await challenge(c, user.email)
            for _ in range(5):
                r = await authenticate(c, token, "000000")
                assert (r.status_code, r.json()["error"]["code"]) == (401, "INVALID_2FA_CODE")
            r = await authenticate(c, token, await code_at(secret))
            assert (r.status_code, r.json()["error"]["code"]) == (401, "INVALID_CHALLENGE")
        db.expire_all()
        assert (await db.scalars(select(LoginChallenge.failed_attempts))).one() == 5
        assert (await _actions(db)).count("user.login_2fa_failed") == 5

    async def test_a_passkey_only_challenge_refuses_codes(
        self, anon, member: User, db: AsyncSession
    ) -> None:
        secret = await enable_totp(db, member)
        token = await challenge(anon, member.email)
        await db.execute(update(LoginChallenge).values(methods=["webauthn"]))
        await db.commit()
        r = await authenticate(anon, token, await code_at(secret))
        assert (r.status_code, r.json()["error"]["code"]) == (401, "INVALID_2FA_CODE")


class TestThrottle:
    async def test_failures_per_user_across_challenges_and_addresses(
        self, app_with: AppWith, db: AsyncSession, org: Org
    ) -> None:
        app = app_with(two_factor_failure_limit="3/hour")
        user, bystander = await make_user(db, org), await make_user(db, org)
        secret = await enable_totp(db, user)
        other_secret = await enable_totp(db, bystander)
        for i in range(3):
            async with asgi_client(app, peer=f"10.0.0.{i}") as c:
                r = await authenticate(c, await challenge(c, user.email), "000000")
                assert r.status_code == 401
        async with asgi_client(app, peer="10.0.0.99") as c:
            token = await challenge(c, user.email)
            r = await authenticate(c, token, await code_at(secret))  # even the right code
            assert (r.status_code, r.json()["error"]["code"]) == (429, "RATE_LIMITED")
            assert 1 <= int(r.headers["retry-after"]) <= 3600
            r = await authenticate(
                c, await challenge(c, bystander.email), await code_at(other_secret)
            )
            assert r.status_code == 200
        # The refused attempt did not use up the code or the challenge.
        user_id = user.id
        db.expire_all()
        factor = await db.scalar(select(TotpFactor).where(TotpFactor.user_id == user_id))
        assert factor is not None
        assert factor.last_step is None

    async def test_concurrent_guesses_cannot_outrun_the_per_user_limit(
        self, app_with: AppWith, db: AsyncSession, org: Org
    ) -> None:
        """Each attempt is counted before its code is checked: eight wrong codes at once, on
        eight challenges, get three 401s (the limit) and five 429s, on PostgreSQL too."""
        user = await make_user(db, org)
        await enable_totp(db, user)
        async with asgi_client(app_with(two_factor_failure_limit="3/hour")) as c:
            tokens = [await challenge(c, user.email) for _ in range(8)]
            results = await asyncio.gather(*(authenticate(c, t, "000000") for t in tokens))
        assert sorted(r.status_code for r in results) == [401] * 3 + [429] * 5
        assert (await _actions(db)).count("user.login_2fa_failed") == 3

    async def test_concurrent_guesses_on_one_challenge_stop_at_five(
        self, app_with: AppWith, db: AsyncSession, org: Org
    ) -> None:
        user = await make_user(db, org)
        await enable_totp(db, user)
        async with asgi_client(app_with(two_factor_failure_limit="100/hour")) as c:
            token = await challenge(c, user.email)
            results = await asyncio.gather(*(authenticate(c, token, "000000") for _ in range(8)))
        errors = sorted(r.json()["error"]["code"] for r in results)
        assert errors == ["INVALID_2FA_CODE"] * 5 + ["INVALID_CHALLENGE"] * 3
        db.expire_all()
        assert (await db.scalars(select(LoginChallenge.failed_attempts))).one() == 5

    async def test_success_clears_the_count(
        self, app_with: AppWith, db: AsyncSession, org: Org
    ) -> None:
        user = await make_user(db, org)
        secret = await enable_totp(db, user)
        async with asgi_client(app_with(two_factor_failure_limit="2/hour")) as c:
            for steps in (-1, 0):
                assert (
                    await authenticate(c, await challenge(c, user.email), "000000")
                ).status_code == 401
                r = await authenticate(
                    c, await challenge(c, user.email), await code_at(secret, steps)
                )
                assert r.status_code == 200

    async def test_route_limit_10_per_15_minutes_per_ip(self, anon) -> None:
        for _ in range(10):
            assert (await anon.post("/auth/2fa/authenticate", json={})).status_code == 422
        r = await anon.post("/auth/2fa/authenticate", json={})
        assert (r.status_code, r.json()["error"]["code"]) == (429, "RATE_LIMITED")
        assert 1 <= int(r.headers["retry-after"]) <= 900


class TestDisable:
    async def test_with_password_and_code(
        self, client_for: ClientFor, anon, member: User, db: AsyncSession
    ) -> None:
        client = client_for(member)
        secret, _codes, _ = await _enable_via_api(client)
        r = await client.post(
            "/auth/2fa/disable",
            json={"password": DEFAULT_PASSWORD, "code": await code_at(secret, 1)},
        )
        assert r.status_code == 204
        assert await db.scalar(select(func.count()).select_from(TotpFactor)) == 0
        assert await db.scalar(select(func.count()).select_from(RecoveryCode)) == 0
        db.expire_all()
        assert (await db.get_one(User, member.id)).two_factor_enabled is False
        assert "user.2fa_disabled" in await _actions(db)
        assert "access_token" in await login(anon, member.email)  # no challenge any more

    async def test_with_a_recovery_code(
        self, client_for: ClientFor, member: User, db: AsyncSession
    ) -> None:
        await enable_totp(db, member, recovery_codes=["abcde-abcde-abcde-abcde"])
        r = await client_for(member).post(
            "/auth/2fa/disable",
            json={"password": DEFAULT_PASSWORD, "code": "abcde-abcde-abcde-abcde"},
        )
        assert r.status_code == 204
        assert await db.scalar(select(func.count()).select_from(TotpFactor)) == 0

    async def test_wrong_password_or_code_keeps_the_factor(
        self, client_for: ClientFor, member: User, db: AsyncSession
    ) -> None:
        secret = await enable_totp(db, member)
        client = client_for(member)
        r = await client.post(
            "/auth/2fa/disable", json={"password": "not my password", "code": await code_at(secret)}
        )
        assert (r.status_code, r.json()["error"]["code"]) == (400, "INVALID_PASSWORD")
        r = await client.post(
            "/auth/2fa/disable", json={"password": DEFAULT_PASSWORD, "code": "000000"}
        )
        assert (r.status_code, r.json()["error"]["code"]) == (400, "INVALID_2FA_CODE")
        assert await db.scalar(select(func.count()).select_from(TotpFactor)) == 1
        assert (await _actions(db)).count("user.2fa_disable_failed") == 2

    async def test_not_enabled_is_409(self, client_for: ClientFor, member: User) -> None:
        r = await client_for(member).post(
            "/auth/2fa/disable", json={"password": DEFAULT_PASSWORD, "code": "000000"}
        )
        assert (r.status_code, r.json()["error"]["code"]) == (409, "2FA_NOT_ENABLED")

    async def test_refused_when_the_org_requires_2fa_and_no_passkey_is_left(
        self, client_for: ClientFor, member: User, org: Org, db: AsyncSession
    ) -> None:
        secret = await enable_totp(db, member)
        await db.execute(update(Org).where(Org.id == org.id).values(require_2fa=True))
        await db.commit()
        client = client_for(member)
        body = {"password": DEFAULT_PASSWORD, "code": await code_at(secret)}
        r = await client.post("/auth/2fa/disable", json=body)
        assert (r.status_code, r.json()["error"]["code"]) == (409, "2FA_REQUIRED_BY_ORGANIZATION")
        db.add(
            WebAuthnCredential(
                org_id=org.id,
                user_id=member.id,
                credential_id="cred-1",
                public_key=b"k",
                name="YubiKey",
            )
        )
        await db.commit()
        assert (await client.post("/auth/2fa/disable", json=body)).status_code == 204
        db.expire_all()
        assert (await db.get_one(User, member.id)).two_factor_enabled is True  # the passkey

    async def test_failures_count_in_the_per_user_throttle(
        self, app_with: AppWith, db: AsyncSession, org: Org
    ) -> None:
        from tests.factories.users import token_for

        app = app_with(two_factor_failure_limit="2/hour")
        user = await make_user(db, org)
        secret = await enable_totp(db, user)
        async with asgi_client(app) as c:
            c.headers["Authorization"] = f"Bearer {token_for(app, user)}"
            for _ in range(2):
                r = await c.post(
                    "/auth/2fa/disable", json={"password": DEFAULT_PASSWORD, "code": "000000"}
                )
                assert r.status_code == 400
            del c.headers["Authorization"]
            r = await authenticate(c, await challenge(c, user.email), await code_at(secret))
            assert r.status_code == 429
            assert int(r.headers["retry-after"]) >= 1

    async def test_route_limit_5_per_15_minutes(self, client_for: ClientFor, member: User) -> None:
        client = client_for(member)
        for _ in range(5):
            assert (await client.post("/auth/2fa/disable", json={})).status_code == 422
        r = await client.post("/auth/2fa/disable", json={})
        assert (r.status_code, r.json()["error"]["code"]) == (429, "RATE_LIMITED")
        assert 1 <= int(r.headers["retry-after"]) <= 900
