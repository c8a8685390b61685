"""The /auth HTTP contract: signup, login, refresh rotation, logout, me, change-password."""

import asyncio
import base64
import json
from datetime import timedelta

import jwt
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import TEST_SECRET, AppWith, ClientFor, asgi_client
from tests.factories.users import DEFAULT_PASSWORD, make_user
from xplorr.auth.models import AuthSession, RefreshToken
from xplorr.core import clock
from xplorr.core.audit import AuditEntry
from xplorr.core.tenancy import Role
from xplorr.orgs.models import Org
from xplorr.users.models import User, UserStatus

SIGNUP = {
    "email": "Founder@Initech.io",
    "password": "a long and unusual passphrase",
    "name": "Peter Gibbons",
    "organization_name": "Initech",
}


async def _login(client, email: str, password: str = DEFAULT_PASSWORD):
    return await client.post("/auth/login", json={"email": email, "password": password})


async def _audit_actions(db: AsyncSession) -> list[str]:
    db.expire_all()
    return list((await db.scalars(select(AuditEntry.action).order_by(AuditEntry.created_at))).all())


class TestSignup:
    async def test_creates_org_with_owner_and_logs_in(self, anon, db: AsyncSession) -> None:
        r = await anon.post("/auth/signup", json=SIGNUP)
        assert r.status_code == 201
        body = r.json()
        assert body["token_type"] == "Bearer"
        assert body["expires_in"] == 900
        assert body["user"]["email"] == "founder@initech.io"
        assert body["user"]["role"] == "owner"
        assert body["user"]["email_verified"] is False
        assert "password" not in json.dumps(body).lower().replace("password_", "")
        me = await anon.get("/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"})
        assert me.status_code == 200
        assert me.json()["organization"]["name"] == "Initech"
        assert me.json()["organization"]["slug"] == "initech"
        assert me.json()["email_verified"] is False
        org = await db.scalar(select(Org).where(Org.slug == "initech"))
        assert org is not None
        user = await db.scalar(select(User).where(User.email == "founder@initech.io"))
        assert user is not None
        assert user.role == Role.OWNER
        assert user.org_id == org.id
        assert user.password_hash is not None
        assert user.password_hash.startswith("$argon2id$")
        assert "user.signed_up" in await _audit_actions(db)

    async def test_second_org_with_same_name_gets_its_own_slug(self, anon) -> None:
        await anon.post("/auth/signup", json=SIGNUP)
        r = await anon.post("/auth/signup", json={**SIGNUP, "email": "bill@initech2.io"})
        assert r.status_code == 201
        me = await anon.get(
            "/auth/me", headers={"Authorization": f"Bearer {r.json()['access_token']}"}
        )
        assert me.json()["organization"]["slug"].startswith("initech-")

    @pytest.mark.parametrize("email", ["someone@gmail.com", "x@Outlook.com", "y@proton.me"])
    async def test_free_mail_is_refused(self, anon, db: AsyncSession, email: str) -> None:
        r = await anon.post("/auth/signup", json={**SIGNUP, "email": email})
        assert r.status_code == 422
        assert r.json()["error"]["code"] == "BUSINESS_EMAIL_REQUIRED"
        assert await db.scalar(select(func.count()).select_from(Org)) == 0

    async def test_free_mail_is_accepted_when_the_operator_allows_it(
        self, app_with: AppWith, db: AsyncSession
    ) -> None:
        async with asgi_client(app_with(allow_free_email_domains=True)) as client:
            r = await client.post("/auth/signup", json={**SIGNUP, "email": "someone@gmail.com"})
        assert r.status_code == 201, r.text
        assert r.json()["user"]["email"] == "someone@gmail.com"
        assert await db.scalar(select(func.count()).select_from(Org)) == 1

    @pytest.mark.parametrize(
        ("password", "why"),
        [
            ("short pass", "at least 12"),
            ("qwerty123456", "too common"),
            ("1qaz2wsx3edc", "too common"),
            ("aaaaaaaaaaaaaaaa", "too common"),
            ("x" * 129, "at most 128"),
            ("founder-founder-42", "email"),
        ],
    )
    async def test_password_policy(self, anon, password: str, why: str) -> None:
        r = await anon.post("/auth/signup", json={**SIGNUP, "password": password})
        assert r.status_code == 422
        err = r.json()["error"]
        assert err["code"] == "VALIDATION_ERROR"
        assert why in err["message"]
        assert err["details"][0]["field"] == "password"
        assert password not in r.text  # never echoed

    async def test_long_unicode_password_round_trips_without_composition_rules(self, anon) -> None:
        password = "correct horse 🐴 battery staple " * 2 + "éàü ünïcödé"  # 70+ chars
        assert len(password) >= 64
        r = await anon.post("/auth/signup", json={**SIGNUP, "password": password})
        assert r.status_code == 201
        assert (await _login(anon, SIGNUP["email"], password)).status_code == 200
        assert (await _login(anon, SIGNUP["email"], password[:-1])).status_code == 401

    async def test_taken_email_is_conflict(self, anon, db: AsyncSession) -> None:
        assert (await anon.post("/auth/signup", json=SIGNUP)).status_code == 201
        r = await anon.post("/auth/signup", json={**SIGNUP, "organization_name": "Other"})
        assert r.status_code == 409
        assert r.json()["error"]["code"] == "EMAIL_TAKEN"
        assert await db.scalar(select(func.count()).select_from(Org)) == 1  # nothing half-made

    async def test_validation_envelope_names_fields_without_values(self, anon) -> None:
        r = await anon.post(
            "/auth/signup",
            json={"email": "not-an-email", "password": "hunter2-secret", "extra": 1},
        )
        assert r.status_code == 422
        err = r.json()["error"]
        fields = {d["field"] for d in err["details"]}
        assert {"email", "name", "organization_name", "extra"} <= fields
        assert "hunter2-secret" not in r.text
        assert "not-an-email" not in r.text

    async def test_rate_limited_per_ip(self, anon) -> None:
        for _ in range(20):
            assert (await anon.post("/auth/signup", json={})).status_code == 422
        r = await anon.post("/auth/signup", json=SIGNUP)
        assert r.status_code == 429
        assert r.json()["error"]["code"] == "RATE_LIMITED"
        assert 1 <= int(r.headers["Retry-After"]) <= 900


class TestLogin:
    async def test_happy_path(self, anon, member: User, db: AsyncSession) -> None:
        r = await _login(anon, member.email.upper())  # emails are case-insensitive
        assert r.status_code == 200
        body = r.json()
        assert set(body) == {"access_token", "refresh_token", "token_type", "expires_in", "user"}
        assert body["user"]["id"] == str(member.id)
        assert len(base64.urlsafe_b64decode(body["refresh_token"] + "=")) >= 32  # >= 256 bits
        claims = jwt.decode(
            body["access_token"], TEST_SECRET, algorithms=["HS256"], audience="xplorr-api"
        )
        assert claims["typ"] == "access"
        assert claims["iss"] == "xplorr"
        assert claims["exp"] - claims["iat"] <= 900
        db.expire_all()
        refreshed = await db.get_one(User, member.id)
        assert refreshed.last_login_at is not None
        assert "user.login" in await _audit_actions(db)
        stored = (await db.scalars(select(RefreshToken.token_sha256))).all()
        assert body["refresh_token"] not in stored
        assert len(stored) == 1

    async def test_unknown_email_and_wrong_password_answer_identically(
        self, anon, member: User, db: AsyncSession
    ) -> None:
        wrong = await _login(anon, member.email, "not the right password")
        unknown = await _login(anon, "nobody@nowhere.example.com", "not the right password")
        assert wrong.status_code == unknown.status_code == 401
        assert wrong.json() == unknown.json()
        assert wrong.headers["www-authenticate"] == unknown.headers["www-authenticate"]
        actions = await _audit_actions(db)
        assert actions.count("user.login_failed") == 2  # kept although the request failed

    async def test_deactivated_user_cannot_log_in(
        self, anon, member: User, db: AsyncSession
    ) -> None:
        member.status = UserStatus.DEACTIVATED
        await db.commit()
        r = await _login(anon, member.email)
        assert r.status_code == 401
        assert r.json()["error"]["code"] == "INVALID_CREDENTIALS"

    async def test_missing_field_is_422(self, anon) -> None:
        r = await anon.post("/auth/login", json={"email": "a@b.io"})
        assert r.status_code == 422
        assert r.json()["error"]["details"] == [{"field": "password", "message": "Field required"}]

    async def test_malformed_json_is_422(self, anon) -> None:
        r = await anon.post(
            "/auth/login", content=b"{not json", headers={"content-type": "application/json"}
        )
        assert r.status_code == 422
        assert r.json()["error"]["code"] == "VALIDATION_ERROR"

    async def test_repeated_failures_on_one_account_are_throttled(
        self, app_with: AppWith, db: AsyncSession, org: Org
    ) -> None:
        """Per-account throttle on top of the per-IP limit: failures from many IPs still count;
        the correct password is refused while throttled; other accounts are unaffected."""
        app = app_with(login_failure_limit="3/hour")
        user = await make_user(db, org, role=Role.MEMBER)
        bystander = await make_user(db, org, role=Role.MEMBER)
        for i in range(3):
            async with asgi_client(app, peer=f"10.0.0.{i}") as c:
                assert (await _login(c, user.email, "wrong password!!")).status_code == 401
        async with asgi_client(app, peer="10.0.0.99") as c:
            r = await _login(c, user.email)
            assert r.status_code == 429
            assert r.json()["error"]["code"] == "RATE_LIMITED"
            assert int(r.headers["retry-after"]) >= 1
            assert (await _login(c, bystander.email)).status_code == 200

    async def test_success_resets_the_failure_count(
        self, app_with: AppWith, db: AsyncSession, org: Org
    ) -> None:
        app = app_with(login_failure_limit="2/hour")
        user = await make_user(db, org)
        async with asgi_client(app) as c:
            assert (await _login(c, user.email, "wrong password!!")).status_code == 401
            assert (await _login(c, user.email)).status_code == 200
            assert (await _login(c, user.email, "wrong password!!")).status_code == 401
            assert (await _login(c, user.email)).status_code == 200

    async def test_stale_hash_parameters_are_upgraded_on_login(
        self, app_with: AppWith, db: AsyncSession, org: Org
    ) -> None:
        user = await make_user(db, org)  # hashed with the cheap test profile
        old_hash = user.password_hash
        async with asgi_client(app_with(argon2_time_cost=2)) as c:
            assert (await _login(c, user.email)).status_code == 200
        uid = user.id
        db.expire_all()
        new_hash = (await db.get_one(User, uid)).password_hash
        assert new_hash != old_hash
        assert new_hash is not None
        assert ",t=2," in new_hash

    async def test_rate_limited_per_ip(self, anon, member: User) -> None:
        for _ in range(20):
            await _login(anon, member.email, "wrong password!!")
        r = await _login(anon, member.email)
        assert r.status_code == 429
        assert r.json()["error"]["code"] == "RATE_LIMITED"


class TestRefresh:
    async def test_rotates_and_reuse_revokes_the_family(
        self, anon, member: User, db: AsyncSession
    ) -> None:
        first = (await _login(anon, member.email)).json()
        r = await anon.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
        assert r.status_code == 200
        second = r.json()
        assert second["refresh_token"] != first["refresh_token"]
        auth = {"Authorization": f"Bearer {second['access_token']}"}
        assert (await anon.get("/auth/me", headers=auth)).status_code == 200

        replay = await anon.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
        assert replay.status_code == 401
        # The whole family is gone: the newest refresh token and its access token too.
        r = await anon.post("/auth/refresh", json={"refresh_token": second["refresh_token"]})
        assert r.status_code == 401
        assert (await anon.get("/auth/me", headers=auth)).status_code == 401
        db.expire_all()
        session = (
            await db.scalars(
                select(AuthSession)
                .where(AuthSession.user_id == member.id)
                .where(AuthSession.revoke_reason.is_not(None))
            )
        ).one()
        assert session.revoke_reason == "refresh_token_reuse"
        assert "session.refresh_reuse_revoked" in await _audit_actions(db)

    async def test_concurrent_refreshes_with_one_token_succeed_once(
        self, anon, member: User
    ) -> None:
        token = (await _login(anon, member.email)).json()["refresh_token"]
        results = await asyncio.gather(
            *(anon.post("/auth/refresh", json={"refresh_token": token}) for _ in range(2))
        )
        assert sorted(r.status_code for r in results) == [200, 401]

    async def test_unknown_and_expired_tokens_are_401(
        self, anon, member: User, db: AsyncSession
    ) -> None:
        assert (
            await anon.post("/auth/refresh", json={"refresh_token": "made-up"})
        ).status_code == 401
        token = (await _login(anon, member.email)).json()["refresh_token"]
        for row in (await db.scalars(select(RefreshToken))).all():
            row.expires_at = clock.now() - timedelta(seconds=1)
        await db.commit()
        assert (await anon.post("/auth/refresh", json={"refresh_token": token})).status_code == 401

    async def test_deactivated_user_cannot_refresh(
        self, anon, member: User, db: AsyncSession
    ) -> None:
        token = (await _login(anon, member.email)).json()["refresh_token"]
        (await db.get_one(User, member.id)).status = UserStatus.DEACTIVATED
        await db.commit()
        assert (await anon.post("/auth/refresh", json={"refresh_token": token})).status_code == 401

    async def test_bad_body_is_422(self, anon) -> None:
        r = await anon.post("/auth/refresh", json={"refresh_token": ""})
        assert r.status_code == 422
        assert r.json()["error"]["details"][0]["field"] == "refresh_token"

    async def test_rate_limited(self, anon) -> None:
        for _ in range(30):
            await anon.post("/auth/refresh", json={"refresh_token": "x"})
        r = await anon.post("/auth/refresh", json={"refresh_token": "x"})
        assert r.status_code == 429


class TestLogout:
    async def test_revokes_the_session_and_its_access_tokens(
        self, anon, member: User, db: AsyncSession
    ) -> None:
        pair = (await _login(anon, member.email)).json()
        auth = {"Authorization": f"Bearer {pair['access_token']}"}
        r = await anon.post("/auth/logout", json={"refresh_token": pair["refresh_token"]})
        assert r.status_code == 204
        assert (await anon.get("/auth/me", headers=auth)).status_code == 401
        r = await anon.post("/auth/refresh", json={"refresh_token": pair["refresh_token"]})
        assert r.status_code == 401
        assert "user.logout" in await _audit_actions(db)

    async def test_unknown_token_is_a_quiet_no_op(self, anon) -> None:
        r = await anon.post("/auth/logout", json={"refresh_token": "never-issued"})
        assert r.status_code == 204

    async def test_bad_body_is_422(self, anon) -> None:
        assert (await anon.post("/auth/logout", json={})).status_code == 422

    async def test_rate_limited(self, anon) -> None:
        for _ in range(30):
            await anon.post("/auth/logout", json={"refresh_token": "x"})
        r = await anon.post("/auth/logout", json={"refresh_token": "x"})
        assert r.status_code == 429


def _forge(payload: dict, key: str = TEST_SECRET, alg: str = "HS256") -> str:
    return jwt.encode(payload, key, algorithm=alg)


class TestMe:
    async def test_happy_path(self, client_for: ClientFor, viewer: User) -> None:
        r = await client_for(viewer).get("/auth/me")
        assert r.status_code == 200
        body = r.json()
        assert body["id"] == str(viewer.id)
        assert body["role"] == "viewer"
        assert "password_hash" not in body

    async def test_without_token_is_401(self, anon) -> None:
        r = await anon.get("/auth/me")
        assert r.status_code == 401
        assert r.json()["error"]["code"] == "UNAUTHORIZED"
        assert r.headers["www-authenticate"] == "Bearer"

    @pytest.mark.parametrize(
        "mutate",
        [
            pytest.param(lambda c: {**c, "aud": "someone-else"}, id="wrong-aud"),
            pytest.param(lambda c: {**c, "iss": "evil"}, id="wrong-iss"),
            pytest.param(lambda c: {**c, "typ": "refresh"}, id="wrong-typ"),
            pytest.param(lambda c: {**c, "exp": c["iat"] - 60}, id="expired"),
            pytest.param(lambda c: {**c, "nbf": c["iat"] + 3600}, id="not-yet-valid"),
            pytest.param(lambda c: {k: v for k, v in c.items() if k != "sid"}, id="no-session"),
            pytest.param(
                lambda c: {**c, "org_id": "00000000-0000-0000-0000-000000000000"}, id="other-org"
            ),
        ],
    )
    async def test_bad_claims_are_401(
        self, anon, client_for: ClientFor, member: User, app: FastAPI, mutate
    ) -> None:
        good = client_for(member).headers["Authorization"].split()[1]
        claims = jwt.decode(good, TEST_SECRET, algorithms=["HS256"], audience="xplorr-api")
        r = await anon.get(
            "/auth/me", headers={"Authorization": f"Bearer {_forge(mutate(claims))}"}
        )
        assert r.status_code == 401

    async def test_alg_none_and_foreign_key_are_401(
        self, anon, client_for: ClientFor, member: User
    ) -> None:
        good = client_for(member).headers["Authorization"].split()[1]
        claims = jwt.decode(good, TEST_SECRET, algorithms=["HS256"], audience="xplorr-api")
        header = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').rstrip(b"=").decode()
        body = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
        for token in (f"{header}.{body}.", _forge(claims, key="another-key-of-sufficient-length!")):
            r = await anon.get("/auth/me", headers={"Authorization": f"Bearer {token}"})
            assert r.status_code == 401

    @pytest.mark.parametrize("header", ["Bearer", "Basic dXNlcjpwYXNz", "Bearer not.a.jwt", "xyz"])
    async def test_malformed_authorization_is_401(self, anon, header: str) -> None:
        assert (await anon.get("/auth/me", headers={"Authorization": header})).status_code == 401

    async def test_deactivated_user_is_refused_at_once(
        self, client_for: ClientFor, member: User, db: AsyncSession
    ) -> None:
        client = client_for(member)
        assert (await client.get("/auth/me")).status_code == 200
        (await db.get_one(User, member.id)).status = UserStatus.DEACTIVATED
        await db.commit()
        assert (await client.get("/auth/me")).status_code == 401

    async def test_unknown_query_params_are_ignored_and_bad_method_is_405(
        self, client_for: ClientFor, member: User
    ) -> None:
        r = await client_for(member).put("/auth/me")
        assert r.status_code == 405
        assert r.json()["error"]["code"] == "METHOD_NOT_ALLOWED"

    async def test_rate_limited_per_user(
        self, app_with: AppWith, db: AsyncSession, org: Org
    ) -> None:
        from tests.factories.users import token_for

        app = app_with(rate_limit_read="5/minute")
        a, b = await make_user(db, org), await make_user(db, org)
        async with asgi_client(app) as c:
            for _ in range(5):
                hdr = {"Authorization": f"Bearer {token_for(app, a)}"}
                assert (await c.get("/auth/me", headers=hdr)).status_code == 200
            r = await c.get("/auth/me", headers={"Authorization": f"Bearer {token_for(app, a)}"})
            assert r.status_code == 429
            assert int(r.headers["retry-after"]) >= 1
            hdr_b = {"Authorization": f"Bearer {token_for(app, b)}"}
            assert (await c.get("/auth/me", headers=hdr_b)).status_code == 200


class TestChangePassword:
    NEW = "an entirely new passphrase"

    async def test_changes_password_and_ends_other_sessions(
        self, anon, member: User, db: AsyncSession
    ) -> None:
        here = (await _login(anon, member.email)).json()
        elsewhere = (await _login(anon, member.email)).json()
        auth = {"Authorization": f"Bearer {here['access_token']}"}
        r = await anon.post(
            "/auth/change-password",
            json={"current_password": DEFAULT_PASSWORD, "new_password": self.NEW},
            headers=auth,
        )
        assert r.status_code == 204
        assert (await anon.get("/auth/me", headers=auth)).status_code == 200  # this one survives
        other = {"Authorization": f"Bearer {elsewhere['access_token']}"}
        assert (await anon.get("/auth/me", headers=other)).status_code == 401
        assert (
            await anon.post("/auth/refresh", json={"refresh_token": elsewhere["refresh_token"]})
        ).status_code == 401
        assert (await _login(anon, member.email)).status_code == 401
        assert (await _login(anon, member.email, self.NEW)).status_code == 200
        assert "user.password_changed" in await _audit_actions(db)

    async def test_end_this_session_ends_the_callers_login_too(self, anon, member: User) -> None:
        here = (await _login(anon, member.email)).json()
        auth = {"Authorization": f"Bearer {here['access_token']}"}
        r = await anon.post(
            "/auth/change-password",
            json={
                "current_password": DEFAULT_PASSWORD,
                "new_password": self.NEW,
                "end_this_session": True,
            },
            headers=auth,
        )
        assert r.status_code == 204
        assert (await anon.get("/auth/me", headers=auth)).status_code == 401
        assert (
            await anon.post("/auth/refresh", json={"refresh_token": here["refresh_token"]})
        ).status_code == 401

    async def test_wrong_current_password(
        self, client_for: ClientFor, member: User, db: AsyncSession
    ) -> None:
        r = await client_for(member).post(
            "/auth/change-password",
            json={"current_password": "not it at all!", "new_password": self.NEW},
        )
        assert r.status_code == 400
        assert r.json()["error"]["code"] == "INVALID_CURRENT_PASSWORD"
        assert "user.password_change_failed" in await _audit_actions(db)

    async def test_new_password_follows_the_policy(
        self, client_for: ClientFor, member: User
    ) -> None:
        r = await client_for(member).post(
            "/auth/change-password",
            json={"current_password": DEFAULT_PASSWORD, "new_password": "qwerty123456"},
        )
        assert r.status_code == 422
        assert r.json()["error"]["details"][0]["field"] == "new_password"

    async def test_without_token_is_401(self, anon) -> None:
        r = await anon.post(
            "/auth/change-password",
            json={"current_password": DEFAULT_PASSWORD, "new_password": self.NEW},
        )
        assert r.status_code == 401

    async def test_bad_body_is_422(self, client_for: ClientFor, member: User) -> None:
        r = await client_for(member).post("/auth/change-password", json={"new_password": 5})
        assert r.status_code == 422

    async def test_rate_limited(self, client_for: ClientFor, member: User) -> None:
        client = client_for(member)
        body = {"current_password": "wrong password!!", "new_password": self.NEW}
        for _ in range(20):
            await client.post("/auth/change-password", json=body)
        r = await client.post("/auth/change-password", json=body)
        assert r.status_code == 429
