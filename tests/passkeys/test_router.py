"""The /auth/webauthn HTTP contract, driven by real ceremonies: a software authenticator signs
with its own P-256 key and py_webauthn verifies on the server (security guide 1.5 and plan
item 15: reused challenge, challenge of the other ceremony, wrong origin or RP id, counter that
went back, 0/0 counter)."""

import asyncio
import hashlib
from datetime import timedelta
from typing import Any

import httpx
import pyotp
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from webauthn.helpers import base64url_to_bytes

from tests.conftest import AppWith, ClientFor, asgi_client
from tests.factories.passkeys import make_passkey
from tests.factories.twofa import enable_totp
from tests.factories.users import DEFAULT_PASSWORD, token_for
from tests.passkeys.authenticator import RP_ID, SoftwareAuthenticator, b64
from xplorr.core import clock, security
from xplorr.core.audit import AuditEntry
from xplorr.orgs.models import Org
from xplorr.passkeys.models import WebAuthnChallenge, WebAuthnCredential
from xplorr.sso.models import SsoConfig, SsoDomain
from xplorr.tokens.models import ApiToken
from xplorr.twofa.models import TotpFactor
from xplorr.users.models import User, UserStatus

REG_OPTIONS = "/auth/webauthn/register/options"
REG_VERIFY = "/auth/webauthn/register/verify"
AUTH_OPTIONS = "/auth/webauthn/authenticate/options"
AUTH_VERIFY = "/auth/webauthn/authenticate/verify"
CREDENTIALS = "/auth/webauthn/credentials"
DEEP_JSON = b64(b"[" * 3000 + b"]" * 3000)  # json.loads: RecursionError, within the field limit


async def _register(
    client: httpx.AsyncClient,
    authenticator: SoftwareAuthenticator | None = None,
    *,
    name: str | None = None,
    **tamper: Any,
) -> tuple[httpx.Response, SoftwareAuthenticator]:
    a = authenticator or SoftwareAuthenticator()
    options = await client.get(REG_OPTIONS)
    assert options.status_code == 200, options.text
    body: dict[str, Any] = {"credential": a.create(options.json(), **tamper)}
    if name is not None:
        body["name"] = name
    return await client.post(REG_VERIFY, json=body), a


async def _login(
    client: httpx.AsyncClient, a: SoftwareAuthenticator, **tamper: Any
) -> httpx.Response:
    options = await client.get(AUTH_OPTIONS)
    assert options.status_code == 200, options.text
    return await client.post(AUTH_VERIFY, json={"credential": a.get(options.json(), **tamper)})


async def _actions(db: AsyncSession) -> list[str]:
    db.expire_all()
    stmt = select(AuditEntry.action).order_by(AuditEntry.created_at)
    return list((await db.scalars(stmt)).all())


async def _audit(db: AsyncSession, action: str) -> list[AuditEntry]:
    db.expire_all()
    return list((await db.scalars(select(AuditEntry).where(AuditEntry.action == action))).all())


async def _passkeys(db: AsyncSession) -> list[WebAuthnCredential]:
    db.expire_all()
    return list((await db.scalars(select(WebAuthnCredential))).all())


async def _require_2fa(db: AsyncSession, org: Org) -> None:
    await db.execute(update(Org).where(Org.id == org.id).values(require_2fa=True))
    await db.commit()


async def _api_token(db: AsyncSession, user: User) -> str:
    raw = security.new_api_token()
    db.add(
        ApiToken(
            org_id=user.org_id,
            user_id=user.id,
            name="ci",
            prefix=security.api_token_display_prefix(raw),
            token_sha256=security.sha256_hex(raw),
            created_at=clock.now(),
        )
    )
    await db.commit()
    return raw


def _rate_limited(r: httpx.Response, window: int) -> None:
    assert r.status_code == 429
    assert r.json()["error"]["code"] == "RATE_LIMITED"
    assert 1 <= int(r.headers["retry-after"]) <= window


class TestRegistrationOptions:
    async def test_options_for_a_new_passkey(
        self, client_for: ClientFor, member: User, db: AsyncSession
    ) -> None:
        r = await client_for(member).get(REG_OPTIONS)
        assert r.status_code == 200
        o = r.json()
        assert o["rp"] == {"id": RP_ID, "name": "Xplorr"}
        handle = base64url_to_bytes(o["user"]["id"])
        assert len(handle) == 64
        assert member.email.encode() not in handle  # random, no PII
        assert o["user"]["name"] == member.email
        assert len(base64url_to_bytes(o["challenge"])) == 32
        assert o["attestation"] == "none"
        assert o["authenticatorSelection"]["residentKey"] == "preferred"
        assert o["authenticatorSelection"]["userVerification"] == "preferred"
        assert o["excludeCredentials"] == []
        assert o["timeout"] == 300_000
        assert {p["alg"] for p in o["pubKeyCredParams"]} >= {-7, -8, -257}
        db.expire_all()
        assert (await db.get_one(User, member.id)).webauthn_user_handle == handle
        row = await db.scalar(select(WebAuthnChallenge))
        assert row is not None
        assert (row.ceremony, row.user_id, row.org_id) == ("registration", member.id, member.org_id)
        assert row.challenge_sha256 == hashlib.sha256(row.challenge).hexdigest()
        assert row.expires_at - clock.now() <= timedelta(minutes=5)

    async def test_same_handle_and_existing_passkeys_are_excluded(
        self, client_for: ClientFor, member: User, db: AsyncSession
    ) -> None:
        client = client_for(member)
        first = (await client.get(REG_OPTIONS)).json()
        r, a = await _register(client)
        assert r.status_code == 201
        second = (await client.get(REG_OPTIONS)).json()
        assert second["user"]["id"] == first["user"]["id"]
        assert second["challenge"] != first["challenge"]
        excluded = second["excludeCredentials"]
        assert [e["id"] for e in excluded] == [b64(a.credential_id)]
        assert excluded[0]["type"] == "public-key"
        assert excluded[0]["transports"] == ["internal", "hybrid"]

    async def test_401_without_token(self, anon: httpx.AsyncClient) -> None:
        r = await anon.get(REG_OPTIONS)
        assert (r.status_code, r.json()["error"]["code"]) == (401, "UNAUTHORIZED")

    async def test_api_token_is_refused(
        self, client_for: ClientFor, member: User, db: AsyncSession
    ) -> None:
        client = client_for(token=await _api_token(db, member))
        r = await client.get(REG_OPTIONS)
        assert (r.status_code, r.json()["error"]["code"]) == (403, "SESSION_REQUIRED")

    async def test_rate_limited(self, app_with: AppWith, member: User) -> None:
        app = app_with(rate_limit_read="2/minute")
        async with asgi_client(app) as c:
            c.headers["Authorization"] = f"Bearer {token_for(app, member)}"
            assert [(await c.get(REG_OPTIONS)).status_code for _ in range(2)] == [200, 200]
            _rate_limited(await c.get(REG_OPTIONS), 60)


class TestRegister:
    async def test_register_then_log_in_with_the_passkey(
        self, client_for: ClientFor, anon: httpx.AsyncClient, member: User, db: AsyncSession
    ) -> None:
        r, a = await _register(client_for(member), name="  YubiKey 5  ")
        assert r.status_code == 201, r.text
        body = r.json()
        assert set(body) == {"id", "name", "created_at", "last_used_at", "transports", "backed_up"}
        assert body["name"] == "YubiKey 5"
        assert body["transports"] == ["internal", "hybrid"]
        assert (body["backed_up"], body["last_used_at"]) == (False, None)
        [row] = await _passkeys(db)
        assert str(row.id) == body["id"]
        assert (row.user_id, row.org_id, row.sign_count) == (member.id, member.org_id, 1)
        assert row.credential_id == b64(a.credential_id)
        assert row.aaguid == "ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4"
        assert row.public_key == a.cose_key()
        assert await db.scalar(select(func.count()).select_from(WebAuthnChallenge)) == 0
        assert (await db.get_one(User, member.id)).two_factor_enabled is True
        [reg] = await _audit(db, "user.webauthn_registered")
        assert (reg.actor_user_id, reg.resource_id, reg.resource_name) == (
            member.id,
            body["id"],
            "YubiKey 5",
        )

        r = await _login(anon, a)
        assert r.status_code == 200, r.text
        tokens = r.json()
        assert tokens["user"]["id"] == str(member.id)
        me = await anon.get(
            "/auth/me", headers={"Authorization": f"Bearer {tokens['access_token']}"}
        )
        assert (me.status_code, me.json()["email"]) == (200, member.email)
        refreshed = await anon.post(
            "/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
        )
        assert refreshed.status_code == 200
        [login] = await _audit(db, "user.login_webauthn")
        assert login.actor_user_id == member.id
        assert login.details == {"method": "webauthn"}
        [row] = await _passkeys(db)
        assert row.sign_count == 2
        assert row.last_used_at is not None
        assert (await db.get_one(User, member.id)).last_login_at is not None

    async def test_default_name_and_backed_up_passkey(
        self, client_for: ClientFor, member: User, db: AsyncSession
    ) -> None:
        r, _ = await _register(client_for(member), SoftwareAuthenticator(backup=True))
        assert r.status_code == 201
        assert (r.json()["name"], r.json()["backed_up"]) == ("Passkey", True)

    async def test_allowed_while_the_org_2fa_requirement_is_pending(
        self, client_for: ClientFor, org: Org, member: User, db: AsyncSession
    ) -> None:
        await _require_2fa(db, org)
        client = client_for(member)
        r = await client.get(CREDENTIALS)
        assert (r.status_code, r.json()["error"]["code"]) == (403, "2FA_SETUP_REQUIRED")
        r, _ = await _register(client)
        assert r.status_code == 201
        assert (await client.get(CREDENTIALS)).status_code == 200
        assert (await client.get("/auth/me")).json()["two_factor_setup_required"] is False

    @pytest.mark.parametrize(
        "tamper",
        [
            {"origin": "https://evil.example.com"},
            {"rp_id": "evil.example.com"},
            {"kind": "webauthn.get"},
        ],
        ids=["wrong-origin", "wrong-rp-id", "wrong-type"],
    )
    async def test_refused_and_the_challenge_is_burnt(
        self, client_for: ClientFor, member: User, db: AsyncSession, tamper: dict[str, str]
    ) -> None:
        client = client_for(member)
        a = SoftwareAuthenticator()
        options = (await client.get(REG_OPTIONS)).json()
        r = await client.post(REG_VERIFY, json={"credential": a.create(options, **tamper)})
        assert (r.status_code, r.json()["error"]["code"]) == (400, "WEBAUTHN_VERIFICATION_FAILED")
        assert r.json()["error"]["message"] == "The passkey could not be verified."
        assert await _passkeys(db) == []
        [failed] = await _audit(db, "user.webauthn_registration_failed")
        assert failed.details["reason"] == "verification"
        assert options["challenge"] not in str(failed.details)
        # The failed attempt used the challenge up: the honest response with it is refused too.
        r = await client.post(REG_VERIFY, json={"credential": a.create(options)})
        assert (r.status_code, r.json()["error"]["code"]) == (400, "INVALID_WEBAUTHN_CHALLENGE")

    async def test_replayed_response_is_refused(
        self, client_for: ClientFor, member: User, db: AsyncSession
    ) -> None:
        client = client_for(member)
        a = SoftwareAuthenticator()
        credential = a.create((await client.get(REG_OPTIONS)).json())
        assert (await client.post(REG_VERIFY, json={"credential": credential})).status_code == 201
        r = await client.post(REG_VERIFY, json={"credential": credential})
        assert (r.status_code, r.json()["error"]["code"]) == (400, "INVALID_WEBAUTHN_CHALLENGE")
        assert len(await _passkeys(db)) == 1

    async def test_concurrent_use_of_one_challenge_registers_once(
        self, client_for: ClientFor, member: User, db: AsyncSession
    ) -> None:
        import asyncio

        client = client_for(member)
        options = (await client.get(REG_OPTIONS)).json()
        creds = [SoftwareAuthenticator().create(options) for _ in range(2)]
        codes = await asyncio.gather(
            *(client.post(REG_VERIFY, json={"credential": c}) for c in creds)
        )
        assert sorted(r.status_code for r in codes) == [201, 400]
        assert len(await _passkeys(db)) == 1

    async def test_authentication_challenge_is_refused(
        self, client_for: ClientFor, anon: httpx.AsyncClient, member: User, db: AsyncSession
    ) -> None:
        client = client_for(member)
        reg_options = (await client.get(REG_OPTIONS)).json()
        login_challenge = (await anon.get(AUTH_OPTIONS)).json()["challenge"]
        cred = SoftwareAuthenticator().create(reg_options, challenge=login_challenge)
        r = await client.post(REG_VERIFY, json={"credential": cred})
        assert (r.status_code, r.json()["error"]["code"]) == (400, "INVALID_WEBAUTHN_CHALLENGE")
        assert await _passkeys(db) == []

    async def test_another_users_challenge_is_refused(
        self, client_for: ClientFor, member: User, admin: User, db: AsyncSession
    ) -> None:
        theirs = (await client_for(admin).get(REG_OPTIONS)).json()
        cred = SoftwareAuthenticator().create(theirs)
        r = await client_for(member).post(REG_VERIFY, json={"credential": cred})
        assert (r.status_code, r.json()["error"]["code"]) == (400, "INVALID_WEBAUTHN_CHALLENGE")
        assert await _passkeys(db) == []

    async def test_expired_challenge_is_refused(
        self, client_for: ClientFor, member: User, db: AsyncSession
    ) -> None:
        client = client_for(member)
        options = (await client.get(REG_OPTIONS)).json()
        await db.execute(
            update(WebAuthnChallenge).values(expires_at=clock.now() - timedelta(seconds=1))
        )
        await db.commit()
        r = await client.post(
            REG_VERIFY, json={"credential": SoftwareAuthenticator().create(options)}
        )
        assert (r.status_code, r.json()["error"]["code"]) == (400, "INVALID_WEBAUTHN_CHALLENGE")
        assert await _passkeys(db) == []

    async def test_unknown_challenge_is_refused(self, client_for: ClientFor, member: User) -> None:
        client = client_for(member)
        options = (await client.get(REG_OPTIONS)).json()
        made_up = SoftwareAuthenticator().create(options, challenge="AAAAAAAAAAAAAAAAAAAAAA")
        r = await client.post(REG_VERIFY, json={"credential": made_up})
        assert (r.status_code, r.json()["error"]["code"]) == (400, "INVALID_WEBAUTHN_CHALLENGE")

    async def test_credential_registered_to_anyone_is_409(
        self,
        client_for: ClientFor,
        member: User,
        other_admin: User,
        db: AsyncSession,
    ) -> None:
        r, a = await _register(client_for(member))
        assert r.status_code == 201
        again, _ = await _register(client_for(member), a)
        assert (again.status_code, again.json()["error"]["code"]) == (
            409,
            "CREDENTIAL_ALREADY_REGISTERED",
        )
        theirs, _ = await _register(client_for(other_admin), a)
        assert (theirs.status_code, theirs.json()["error"]["code"]) == (
            409,
            "CREDENTIAL_ALREADY_REGISTERED",
        )
        [row] = await _passkeys(db)
        assert row.user_id == member.id
        assert (await db.get_one(User, other_admin.id)).two_factor_enabled is False

    @pytest.mark.parametrize(
        "client_data",
        ["bm90IGpzb24", "0w", DEEP_JSON],
        ids=["not-json", "not-utf8", "nested-3000-deep"],
    )
    async def test_malformed_client_data_is_400(
        self, client_for: ClientFor, member: User, db: AsyncSession, client_data: str
    ) -> None:
        client = client_for(member)
        cred = SoftwareAuthenticator().create((await client.get(REG_OPTIONS)).json())
        cred["response"]["clientDataJSON"] = client_data
        r = await client.post(REG_VERIFY, json={"credential": cred})
        assert (r.status_code, r.json()["error"]["code"]) == (400, "WEBAUTHN_VERIFICATION_FAILED")
        [failed] = await _audit(db, "user.webauthn_registration_failed")
        assert failed.details["reason"] == "malformed"

    @pytest.mark.parametrize("length", [1024, 32], ids=["over-1023-bytes", "not-the-raw-id"])
    async def test_attested_credential_id_must_be_the_raw_id_and_short(
        self, client_for: ClientFor, member: User, db: AsyncSession, length: int
    ) -> None:
        """py_webauthn takes the id from the signed authenticator data and checks neither its
        length nor that it is the ``rawId`` the client names."""
        client = client_for(member)
        a = SoftwareAuthenticator(credential_id=b"\x01" * length)
        cred = a.create((await client.get(REG_OPTIONS)).json())
        cred["id"] = cred["rawId"] = b64(b"\x02" * 32)
        r = await client.post(REG_VERIFY, json={"credential": cred})
        assert (r.status_code, r.json()["error"]["code"]) == (400, "WEBAUTHN_VERIFICATION_FAILED")
        assert await _passkeys(db) == []
        [failed] = await _audit(db, "user.webauthn_registration_failed")
        assert failed.details["reason"] == "credential_id"

    @pytest.mark.parametrize(
        "body",
        [
            {},
            {"credential": {}},
            {"credential": {"id": "x", "rawId": "x", "type": "public-key"}},
            {"credential": {"id": "x", "rawId": "x", "type": "other", "response": {}}},
            "EXTRA",
            "NAME",
        ],
    )
    async def test_bad_body_is_422(
        self, client_for: ClientFor, member: User, body: dict[str, Any] | str
    ) -> None:
        client = client_for(member)
        if isinstance(body, str):
            cred = SoftwareAuthenticator().create((await client.get(REG_OPTIONS)).json())
            body = (
                {"credential": cred, "org_id": "x"}
                if body == "EXTRA"
                else {"credential": cred, "name": "n" * 101}
            )
        r = await client.post(REG_VERIFY, json=body)
        assert (r.status_code, r.json()["error"]["code"]) == (422, "VALIDATION_ERROR")

    async def test_401_without_token(self, anon: httpx.AsyncClient) -> None:
        r = await anon.post(REG_VERIFY, json={})
        assert (r.status_code, r.json()["error"]["code"]) == (401, "UNAUTHORIZED")

    async def test_api_token_is_refused(
        self, client_for: ClientFor, member: User, db: AsyncSession
    ) -> None:
        options = (await client_for(member).get(REG_OPTIONS)).json()
        client = client_for(token=await _api_token(db, member))
        cred = SoftwareAuthenticator().create(options)
        r = await client.post(REG_VERIFY, json={"credential": cred})
        assert (r.status_code, r.json()["error"]["code"]) == (403, "SESSION_REQUIRED")
        assert await _passkeys(db) == []

    async def test_rate_limited(self, app_with: AppWith, member: User) -> None:
        app = app_with(rate_limit_write="2/minute")
        async with asgi_client(app) as c:
            c.headers["Authorization"] = f"Bearer {token_for(app, member)}"
            assert [(await c.post(REG_VERIFY, json={})).status_code for _ in range(2)] == [422] * 2
            _rate_limited(await c.post(REG_VERIFY, json={}), 60)


class TestAuthenticationOptions:
    async def test_usernameless_options(self, anon: httpx.AsyncClient, db: AsyncSession) -> None:
        r = await anon.get(AUTH_OPTIONS)
        assert r.status_code == 200
        o = r.json()
        assert o["rpId"] == RP_ID
        assert o["allowCredentials"] == []
        assert o["userVerification"] == "required"
        assert len(base64url_to_bytes(o["challenge"])) == 32
        row = await db.scalar(select(WebAuthnChallenge))
        assert row is not None
        assert (row.ceremony, row.user_id, row.org_id) == ("authentication", None, None)

    async def test_expired_challenges_are_swept(
        self, anon: httpx.AsyncClient, db: AsyncSession
    ) -> None:
        await anon.get(AUTH_OPTIONS)
        await db.execute(
            update(WebAuthnChallenge).values(expires_at=clock.now() - timedelta(seconds=1))
        )
        await db.commit()
        await anon.get(AUTH_OPTIONS)
        db.expire_all()
        assert await db.scalar(select(func.count()).select_from(WebAuthnChallenge)) == 1

    async def test_rate_limited_per_ip(self, client_for: ClientFor) -> None:
        anon = client_for(None, client=("203.0.113.40", 5000))
        for _ in range(20):
            assert (await anon.get(AUTH_OPTIONS)).status_code == 200
        _rate_limited(await anon.get(AUTH_OPTIONS), 900)
        other = client_for(None, client=("203.0.113.41", 5000))
        assert (await other.get(AUTH_OPTIONS)).status_code == 200


class TestAuthenticate:
    async def test_password_login_offers_the_passkey_as_second_factor(
        self, anon: httpx.AsyncClient, member: User, db: AsyncSession
    ) -> None:
        await make_passkey(db, member)
        r = await anon.post(
            "/auth/login", json={"email": member.email, "password": DEFAULT_PASSWORD}
        )
        assert r.status_code == 200
        body = r.json()
        assert body["requires_2fa"] is True
        assert body["methods"] == ["webauthn"]
        assert "access_token" not in body

    async def test_passkey_login_satisfies_the_org_2fa_requirement(
        self, anon: httpx.AsyncClient, org: Org, member: User, db: AsyncSession
    ) -> None:
        _, a = await make_passkey(db, member)
        await _require_2fa(db, org)
        r = await _login(anon, a)
        assert r.status_code == 200, r.text
        auth = {"Authorization": f"Bearer {r.json()['access_token']}"}
        listed = await anon.get(CREDENTIALS, headers=auth)
        assert listed.status_code == 200
        assert listed.json()["total"] == 1
        assert "user.login_webauthn" in await _actions(db)

    async def test_synced_passkey_counter_0_0_passes_twice(
        self, anon: httpx.AsyncClient, member: User, db: AsyncSession
    ) -> None:
        _, a = await make_passkey(db, member, authenticator=SoftwareAuthenticator(counting=False))
        assert (await _login(anon, a)).status_code == 200
        assert (await _login(anon, a)).status_code == 200
        [row] = await _passkeys(db)
        assert row.sign_count == 0

    async def test_counter_that_went_back_is_refused_as_a_clone(
        self, anon: httpx.AsyncClient, member: User, db: AsyncSession
    ) -> None:
        _, a = await make_passkey(db, member, authenticator=SoftwareAuthenticator(sign_count=5))
        r = await _login(anon, a, counter=3)
        assert (r.status_code, r.json()["error"]["code"]) == (401, "INVALID_PASSKEY")
        [clone] = await _audit(db, "user.webauthn_clone_suspected")
        assert clone.actor_user_id == member.id
        assert clone.details == {"stored_sign_count": 5, "new_sign_count": 3}
        r = await _login(anon, a, counter=5)  # equal is not an increase either
        assert r.status_code == 401
        [row] = await _passkeys(db)
        assert (row.sign_count, row.last_used_at) == (5, None)
        assert await _audit(db, "user.login_webauthn") == []
        assert (await _login(anon, a, counter=6)).status_code == 200

    async def test_forged_assertion_with_old_counter_is_no_clone_alarm(
        self, anon: httpx.AsyncClient, member: User, db: AsyncSession
    ) -> None:
        _, a = await make_passkey(db, member, authenticator=SoftwareAuthenticator(sign_count=5))
        options = (await anon.get(AUTH_OPTIONS)).json()
        forged = a.get(options, counter=3)
        forged["response"]["signature"] = SoftwareAuthenticator().get(options)["response"][
            "signature"
        ]
        r = await anon.post(AUTH_VERIFY, json={"credential": forged})
        assert (r.status_code, r.json()["error"]["code"]) == (401, "INVALID_PASSKEY")
        assert await _audit(db, "user.webauthn_clone_suspected") == []
        [failed] = await _audit(db, "user.login_failed")
        assert failed.details["reason"] == "verification"

    @pytest.mark.parametrize(
        ("tamper", "why"),
        [
            ({"origin": "https://evil.example.com"}, "origin"),
            ({"rp_id": "evil.example.com"}, "RP ID"),
            ({"uv": False}, "verification is required"),
            ({"kind": "webauthn.create"}, "client data type"),
        ],
        ids=["wrong-origin", "wrong-rp-id", "no-user-verification", "wrong-type"],
    )
    async def test_tampered_assertion_is_refused(
        self,
        anon: httpx.AsyncClient,
        member: User,
        db: AsyncSession,
        tamper: dict[str, Any],
        why: str,
    ) -> None:
        _, a = await make_passkey(db, member)
        r = await _login(anon, a, **tamper)
        assert (r.status_code, r.json()["error"]["code"]) == (401, "INVALID_PASSKEY")
        assert r.json()["error"]["message"] == "This passkey cannot be used to sign in."
        [failed] = await _audit(db, "user.login_failed")
        assert (failed.actor_user_id, failed.details["reason"]) == (member.id, "verification")
        assert why in failed.details["why"]
        assert await _audit(db, "user.login_webauthn") == []

    async def test_replayed_assertion_is_refused(
        self, anon: httpx.AsyncClient, member: User, db: AsyncSession
    ) -> None:
        _, a = await make_passkey(db, member, authenticator=SoftwareAuthenticator(counting=False))
        cred = a.get((await anon.get(AUTH_OPTIONS)).json())
        assert (await anon.post(AUTH_VERIFY, json={"credential": cred})).status_code == 200
        r = await anon.post(AUTH_VERIFY, json={"credential": cred})
        assert (r.status_code, r.json()["error"]["code"]) == (401, "INVALID_WEBAUTHN_CHALLENGE")
        assert len(await _audit(db, "user.login_webauthn")) == 1

    async def test_registration_challenge_is_refused(
        self, client_for: ClientFor, anon: httpx.AsyncClient, member: User, db: AsyncSession
    ) -> None:
        _, a = await make_passkey(db, member)
        reg = (await client_for(member).get(REG_OPTIONS)).json()
        options = (await anon.get(AUTH_OPTIONS)).json()
        cred = a.get(options, challenge=reg["challenge"])
        r = await anon.post(AUTH_VERIFY, json={"credential": cred})
        assert (r.status_code, r.json()["error"]["code"]) == (401, "INVALID_WEBAUTHN_CHALLENGE")
        assert await _audit(db, "user.login_webauthn") == []

    async def test_expired_challenge_is_refused(
        self, anon: httpx.AsyncClient, member: User, db: AsyncSession
    ) -> None:
        _, a = await make_passkey(db, member)
        options = (await anon.get(AUTH_OPTIONS)).json()
        await db.execute(
            update(WebAuthnChallenge).values(expires_at=clock.now() - timedelta(seconds=1))
        )
        await db.commit()
        r = await anon.post(AUTH_VERIFY, json={"credential": a.get(options)})
        assert (r.status_code, r.json()["error"]["code"]) == (401, "INVALID_WEBAUTHN_CHALLENGE")

    async def test_unknown_credential_is_refused(
        self, anon: httpx.AsyncClient, member: User, db: AsyncSession
    ) -> None:
        await make_passkey(db, member)
        stranger = SoftwareAuthenticator(user_handle=member.webauthn_user_handle)
        r = await _login(anon, stranger)
        assert (r.status_code, r.json()["error"]["code"]) == (401, "INVALID_PASSKEY")
        [failed] = await _audit(db, "user.login_failed")
        assert (failed.actor_user_id, failed.details["reason"]) == (None, "unknown_credential")

    async def test_user_handle_of_someone_else_is_refused(
        self, anon: httpx.AsyncClient, member: User, admin: User, db: AsyncSession
    ) -> None:
        _, a = await make_passkey(db, member)
        await make_passkey(db, admin)
        r = await _login(anon, a, user_handle=admin.webauthn_user_handle)
        assert (r.status_code, r.json()["error"]["code"]) == (401, "INVALID_PASSKEY")
        [failed] = await _audit(db, "user.login_failed")
        assert failed.details["reason"] == "user_handle_mismatch"

    async def test_assertion_without_user_handle_is_accepted(
        self, anon: httpx.AsyncClient, member: User, db: AsyncSession
    ) -> None:
        _, a = await make_passkey(db, member)
        assert (await _login(anon, a, send_user_handle=False)).status_code == 200

    async def test_deactivated_user_is_refused(
        self, anon: httpx.AsyncClient, member: User, db: AsyncSession
    ) -> None:
        _, a = await make_passkey(db, member)
        await db.execute(
            update(User).where(User.id == member.id).values(status=UserStatus.DEACTIVATED)
        )
        await db.commit()
        r = await _login(anon, a)
        assert (r.status_code, r.json()["error"]["code"]) == (401, "INVALID_PASSKEY")
        [failed] = await _audit(db, "user.login_failed")
        assert failed.details["reason"] == "inactive"

    async def test_sso_enforced_org_refuses_members_but_not_the_owner(
        self, anon: httpx.AsyncClient, org: Org, member: User, owner: User, db: AsyncSession
    ) -> None:
        _, a = await make_passkey(db, member)
        _, b = await make_passkey(db, owner)
        db.add(
            SsoConfig(
                org_id=org.id,
                idp_entity_id="https://idp.example.com",
                sso_url="https://idp.example.com/sso",
                x509_cert="MIIB",
                enforce=True,
            )
        )
        db.add(
            SsoDomain(
                org_id=org.id,
                domain=member.email.rsplit("@", 1)[1],
                verification_token=security.new_opaque_token(),
                verified_at=clock.now(),  # only a DNS-verified claim is enforced
            )
        )
        await db.commit()
        r = await _login(anon, a)
        assert (r.status_code, r.json()["error"]["code"]) == (403, "SSO_REQUIRED")
        assert (await _login(anon, b)).status_code == 200

    @pytest.mark.parametrize(
        "client_data",
        ["bm90IGpzb24", "0w", DEEP_JSON],
        ids=["not-json", "not-utf8", "nested-3000-deep"],
    )
    async def test_malformed_client_data_is_401(
        self, anon: httpx.AsyncClient, member: User, db: AsyncSession, client_data: str
    ) -> None:
        _, a = await make_passkey(db, member)
        cred = a.get((await anon.get(AUTH_OPTIONS)).json())
        cred["response"]["clientDataJSON"] = client_data
        r = await anon.post(AUTH_VERIFY, json={"credential": cred})
        assert (r.status_code, r.json()["error"]["code"]) == (401, "INVALID_PASSKEY")
        [failed] = await _audit(db, "user.login_failed")
        assert failed.details["reason"] == "malformed"

    @pytest.mark.parametrize(
        "body",
        [
            {},
            {"credential": {}},
            {"credential": {"id": "x", "rawId": "x", "type": "public-key", "response": {}}},
            {"credential": {"id": "a b", "rawId": "x", "type": "public-key", "response": {}}},
        ],
    )
    async def test_bad_body_is_422(self, anon: httpx.AsyncClient, body: dict[str, Any]) -> None:
        r = await anon.post(AUTH_VERIFY, json=body)
        assert (r.status_code, r.json()["error"]["code"]) == (422, "VALIDATION_ERROR")

    async def test_rate_limited_per_ip(self, client_for: ClientFor) -> None:
        anon = client_for(None, client=("203.0.113.50", 5000))
        for _ in range(20):
            assert (await anon.post(AUTH_VERIFY, json={})).status_code == 422
        _rate_limited(await anon.post(AUTH_VERIFY, json={}), 900)


class TestListCredentials:
    async def test_lists_only_your_own(
        self,
        client_for: ClientFor,
        member: User,
        admin: User,
        other_admin: User,
        db: AsyncSession,
    ) -> None:
        mine, _ = await make_passkey(db, member, name="Laptop")
        second, _ = await make_passkey(db, member, name="Phone")
        await make_passkey(db, admin, name="Admin key")
        await make_passkey(db, other_admin, name="Globex key")
        r = await client_for(member).get(CREDENTIALS)
        assert r.status_code == 200
        body = r.json()
        assert body["total"] == 2
        assert [c["id"] for c in body["data"]] == [str(mine.id), str(second.id)]
        assert [c["name"] for c in body["data"]] == ["Laptop", "Phone"]
        assert "public_key" not in r.text
        assert "credential_id" not in r.text
        r = await client_for(admin).get(CREDENTIALS)
        assert [c["name"] for c in r.json()["data"]] == ["Admin key"]

    async def test_401_without_token(self, anon: httpx.AsyncClient) -> None:
        assert (await anon.get(CREDENTIALS)).status_code == 401

    async def test_bad_paging_is_422(self, client_for: ClientFor, member: User) -> None:
        r = await client_for(member).get(CREDENTIALS, params={"limit": 0})
        assert (r.status_code, r.json()["error"]["code"]) == (422, "VALIDATION_ERROR")

    async def test_rate_limited(self, app_with: AppWith, member: User) -> None:
        app = app_with(rate_limit_read="2/minute")
        async with asgi_client(app) as c:
            c.headers["Authorization"] = f"Bearer {token_for(app, member)}"
            assert [(await c.get(CREDENTIALS)).status_code for _ in range(2)] == [200, 200]
            _rate_limited(await c.get(CREDENTIALS), 60)


class TestDeleteCredential:
    async def test_delete_your_own(
        self, client_for: ClientFor, member: User, db: AsyncSession
    ) -> None:
        r, _ = await _register(client_for(member))
        ident = r.json()["id"]
        r = await client_for(member).delete(f"{CREDENTIALS}/{ident}")
        assert r.status_code == 204
        assert await _passkeys(db) == []
        assert (await db.get_one(User, member.id)).two_factor_enabled is False
        [removed] = await _audit(db, "user.webauthn_removed")
        assert (removed.actor_user_id, removed.resource_id) == (member.id, ident)
        r = await client_for(member).delete(f"{CREDENTIALS}/{ident}")
        assert (r.status_code, r.json()["error"]["code"]) == (404, "WEBAUTHN_CREDENTIAL_NOT_FOUND")

    @pytest.mark.parametrize("whose", ["same-org", "other-org"])
    async def test_someone_elses_is_404_and_untouched(
        self,
        client_for: ClientFor,
        member: User,
        admin: User,
        other_admin: User,
        db: AsyncSession,
        whose: str,
    ) -> None:
        victim = member if whose == "same-org" else other_admin
        passkey, _ = await make_passkey(db, victim)
        caller = admin if whose == "same-org" else member
        r = await client_for(caller).delete(f"{CREDENTIALS}/{passkey.id}")
        assert (r.status_code, r.json()["error"]["code"]) == (404, "WEBAUTHN_CREDENTIAL_NOT_FOUND")
        [row] = await _passkeys(db)
        assert (row.id, row.user_id, row.sign_count) == (passkey.id, victim.id, 0)
        assert await _audit(db, "user.webauthn_removed") == []

    async def test_last_factor_in_an_org_requiring_2fa_is_409(
        self, client_for: ClientFor, org: Org, member: User, db: AsyncSession
    ) -> None:
        first, _ = await make_passkey(db, member)
        second, _ = await make_passkey(db, member)
        await _require_2fa(db, org)
        client = client_for(member)
        assert (await client.delete(f"{CREDENTIALS}/{first.id}")).status_code == 204
        r = await client.delete(f"{CREDENTIALS}/{second.id}")
        assert (r.status_code, r.json()["error"]["code"]) == (409, "2FA_REQUIRED_BY_ORGANIZATION")
        assert [p.id for p in await _passkeys(db)] == [second.id]
        assert (await db.get_one(User, member.id)).two_factor_enabled is True

    async def test_removing_the_app_and_the_last_passkey_at_once_leaves_one(
        self, client_for: ClientFor, org: Org, member: User, db: AsyncSession
    ) -> None:
        """Each removal checks that another factor is left: without one lock per user, two at
        once (on PostgreSQL) would both see the other's factor and leave none."""
        secret = await enable_totp(db, member)
        passkey, _ = await make_passkey(db, member)
        await _require_2fa(db, org)
        client = client_for(member)
        code = pyotp.TOTP(secret).now()
        results = await asyncio.gather(
            client.post("/auth/2fa/disable", json={"password": DEFAULT_PASSWORD, "code": code}),
            client.delete(f"{CREDENTIALS}/{passkey.id}"),
        )
        codes = sorted(r.status_code for r in results)
        assert codes == [204, 409], [r.text for r in results]
        db.expire_all()
        totp = await db.scalar(select(func.count()).select_from(TotpFactor))
        passkeys = len(await _passkeys(db))
        assert totp + passkeys == 1
        assert (await db.get_one(User, member.id)).two_factor_enabled is True

    async def test_last_factor_may_go_when_2fa_is_not_required(
        self, client_for: ClientFor, member: User, db: AsyncSession
    ) -> None:
        passkey, _ = await make_passkey(db, member)
        assert (await client_for(member).delete(f"{CREDENTIALS}/{passkey.id}")).status_code == 204

    async def test_401_without_token(
        self, anon: httpx.AsyncClient, member: User, db: AsyncSession
    ) -> None:
        passkey, _ = await make_passkey(db, member)
        assert (await anon.delete(f"{CREDENTIALS}/{passkey.id}")).status_code == 401
        assert len(await _passkeys(db)) == 1

    async def test_api_token_is_refused(
        self, client_for: ClientFor, member: User, db: AsyncSession
    ) -> None:
        passkey, _ = await make_passkey(db, member)
        client = client_for(token=await _api_token(db, member))
        r = await client.delete(f"{CREDENTIALS}/{passkey.id}")
        assert (r.status_code, r.json()["error"]["code"]) == (403, "SESSION_REQUIRED")
        assert len(await _passkeys(db)) == 1

    async def test_bad_id_is_422(self, client_for: ClientFor, member: User) -> None:
        r = await client_for(member).delete(f"{CREDENTIALS}/not-a-uuid")
        assert (r.status_code, r.json()["error"]["code"]) == (422, "VALIDATION_ERROR")

    async def test_rate_limited(self, app_with: AppWith, member: User, db: AsyncSession) -> None:
        app = app_with(rate_limit_write="2/minute")
        async with asgi_client(app) as c:
            c.headers["Authorization"] = f"Bearer {token_for(app, member)}"
            url = f"{CREDENTIALS}/00000000-0000-0000-0000-000000000000"
            assert [(await c.delete(url)).status_code for _ in range(2)] == [404, 404]
            _rate_limited(await c.delete(url), 60)
