"""SAML login end to end: /auth/saml/init -> the test IdP signs a real assertion -> POST
/auth/saml/acs -> the tokens work. Then the attacks of the security guide 1.6, each refused with
the rows checked: nothing linked, no session, no user, the failure audited."""

import base64
import datetime as dt
import uuid
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import ClientFor
from tests.factories.sso import make_sso_config, org_domain
from tests.factories.users import make_user
from tests.sso.idp import PERSISTENT_FORMAT, TestIdp, authn_request, authn_request_id, encode
from xplorr.auth import browser as browser_login
from xplorr.auth.models import AuthSession
from xplorr.core.audit import AuditEntry
from xplorr.core.tenancy import Role
from xplorr.orgs.models import Org
from xplorr.sso import saml
from xplorr.sso.models import SamlReplay, SamlRequest, SsoConfig, SsoDomain, SsoIdentity
from xplorr.users.models import User, UserStatus

JSON = {"Accept": "application/json"}


@dataclass
class Sp:
    """Org A's service provider as its IdP sees it, and a browser (anonymous client)."""

    client: httpx.AsyncClient
    org: Org
    idp: TestIdp
    urls: saml.SpUrls

    async def start(self, org: Org | None = None, redirect_to: str | None = "/dashboard") -> str:
        params = {"org_slug": (org or self.org).slug}
        if redirect_to is not None:
            params["redirect_to"] = redirect_to
        r = await self.client.get("/auth/saml/init", params=params)
        assert r.status_code == 303, r.text
        return authn_request_id(r.headers["location"])

    def response(self, request_id: str | None, name_id: str, **knobs: object) -> str:
        idp: TestIdp = knobs.pop("idp", self.idp)  # type: ignore[assignment]
        values: dict[str, object] = {"acs_url": self.urls.acs_url, "audience": self.urls.entity_id}
        values.update(knobs)
        return idp.response(name_id=name_id, in_response_to=request_id, **values)  # type: ignore[arg-type]

    async def post(self, saml_response: str, *, as_json: bool = True) -> httpx.Response:
        return await self.client.post(
            "/auth/saml/acs",
            data={"SAMLResponse": saml_response, "RelayState": "https://evil.example/"},
            headers=JSON if as_json else {},
        )

    async def login(self, name_id: str, **knobs: object) -> httpx.Response:
        return await self.post(self.response(await self.start(), name_id, **knobs))


@pytest.fixture
async def sp(app: FastAPI, db: AsyncSession, org: Org, idp: TestIdp, client_for: ClientFor) -> Sp:
    await make_sso_config(db, org, idp)
    return Sp(browser(client_for), org, idp, saml.sp_urls(app.state.settings, org.slug))


def browser(client_for: ClientFor) -> httpx.AsyncClient:
    """An anonymous client that keeps cookies as a browser does: over https, so the Secure
    browser-binding cookie of /auth/saml/init comes back to the ACS."""
    client = client_for(None)
    client.base_url = httpx.URL("https://testserver/api/v1")
    return client


def email(org: Org, local: str = "") -> str:
    return f"{local or 'sso-' + uuid.uuid4().hex[:8]}@{org_domain(org)}"


async def state(db: AsyncSession, org: Org) -> dict[str, int]:
    """What a refused response must not have changed (and what an accepted one did)."""
    await db.rollback()

    async def count(model: type, *where: object) -> int:
        stmt = select(func.count()).select_from(model).where(*where)  # type: ignore[arg-type]
        return int(await db.scalar(stmt) or 0)

    return {
        "users": await count(User, User.org_id == org.id),
        "identities": await count(SsoIdentity, SsoIdentity.org_id == org.id),
        "sessions": await count(AuthSession, AuthSession.org_id == org.id),
        "replays": await count(SamlReplay, SamlReplay.org_id == org.id),
        "used_requests": await count(
            SamlRequest, SamlRequest.org_id == org.id, SamlRequest.used_at.is_not(None)
        ),
        "logins": await count(AuditEntry, AuditEntry.action == "sso_login"),
    }


async def failures(db: AsyncSession) -> list[str]:
    await db.rollback()
    rows = await db.scalars(
        select(AuditEntry).where(AuditEntry.action == "sso_login_failed").order_by(AuditEntry.id)
    )
    return [str(row.details.get("reason")) for row in rows]


def assert_refused(
    r: httpx.Response, status: int = 401, code: str = "SSO_INVALID_RESPONSE"
) -> None:
    assert (r.status_code, r.json()["error"]["code"]) == (status, code), r.text
    if code == "SSO_INVALID_RESPONSE":  # generic: no reason, no assertion content
        assert r.json()["error"]["message"] == (
            "The single sign-on response could not be accepted. Please sign in again."
        )


# --- the happy paths --------------------------------------------------------------------------


class TestLogin:
    async def test_jit_user_is_a_member_and_the_tokens_work(
        self, sp: Sp, db: AsyncSession, client_for: ClientFor
    ) -> None:
        before = await state(db, sp.org)
        address = email(sp.org)
        r = await sp.login(address.upper(), attributes={"displayName": "Ada Lovelace"})
        assert r.status_code == 200, r.text
        assert r.headers["cache-control"] == "no-store"
        pair = r.json()
        assert pair["user"]["email"] == address
        assert pair["user"]["role"] == "member"

        me = await client_for(token=pair["access_token"]).get("/auth/me")
        assert me.status_code == 200
        assert me.json()["email"] == address
        assert me.json()["email_verified"] is True

        user = await db.scalar(select(User).where(User.email == address))
        assert user is not None
        assert (user.org_id, user.role, user.name) == (sp.org.id, Role.MEMBER, "Ada Lovelace")
        assert user.password_hash is None  # IdP only
        identity = await db.scalar(select(SsoIdentity).where(SsoIdentity.user_id == user.id))
        assert identity is not None
        assert (identity.idp_entity_id, identity.name_id) == (sp.idp.entity_id, address.upper())
        after = await state(db, sp.org)
        assert after == {
            **before,
            "users": before["users"] + 1,
            "identities": 1,
            "sessions": before["sessions"] + 1,
            "replays": 1,
            "used_requests": 1,
            "logins": 1,
        }
        actions = set(await db.scalars(select(AuditEntry.action)))
        assert {"sso_login", "user.joined"} <= actions

        refreshed = await client_for(None).post(
            "/auth/refresh", json={"refresh_token": pair["refresh_token"]}
        )
        assert refreshed.status_code == 200

    async def test_second_login_reuses_the_identity(self, sp: Sp, db: AsyncSession) -> None:
        address = email(sp.org)
        first = await sp.login(address)
        second = await sp.login(address)
        assert first.status_code == second.status_code == 200
        assert first.json()["user"]["id"] == second.json()["user"]["id"]
        after = await state(db, sp.org)
        assert (after["identities"], after["used_requests"], after["logins"]) == (1, 2, 2)

    async def test_external_app_gets_a_redirect_with_tokens_in_the_fragment(
        self, sp: Sp, app: FastAPI, client_for: ClientFor, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(app.state.settings, "sso_redirect_url", "https://app.example/cb")
        rid = await sp.start(redirect_to="/costs?view=month")
        r = await sp.post(sp.response(rid, email(sp.org)), as_json=False)
        assert r.status_code == 303
        assert r.headers["cache-control"] == "no-store"
        location = r.headers["location"]
        assert location.startswith("https://app.example/cb#")
        parts = urlsplit(location)
        assert parts.query == ""  # nothing secret where servers log it
        fragment = {k: v[0] for k, v in parse_qs(parts.fragment).items()}
        # The stored relay state, not the posted one (https://evil.example/).
        assert fragment["redirect_to"] == "/costs?view=month"
        assert int(fragment["expires_in"]) > 0
        me = await client_for(token=fragment["access_token"]).get("/auth/me")
        assert me.status_code == 200
        assert browser_login.SESSION_COOKIE not in r.cookies  # the external app signs in

    async def test_external_app_without_redirect_to_the_fragment_has_none(
        self, sp: Sp, app: FastAPI, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(app.state.settings, "sso_redirect_url", "https://app.example/cb")
        rid = await sp.start(redirect_to=None)
        r = await sp.post(sp.response(rid, email(sp.org)), as_json=False)
        assert r.status_code == 303
        assert "redirect_to" not in parse_qs(urlsplit(r.headers["location"]).fragment)

    async def test_console_browser_is_signed_in_by_cookie_with_no_token_in_any_url(
        self, sp: Sp, app: FastAPI, db: AsyncSession
    ) -> None:
        """The default (the console is the callback): the ACS sets the console's login cookie
        and sends the browser to the stored path; the cookie opens console pages, and the
        console's sign-out revokes that login."""
        assert app.state.settings.sso_redirect_url is None
        address = email(sp.org)
        rid = await sp.start(redirect_to="/security")
        r = await sp.post(sp.response(rid, address), as_json=False)
        assert r.status_code == 303, r.text
        assert r.headers["location"] == "/security"  # the stored path, not the posted one
        assert r.headers["cache-control"] == "no-store"
        cookies = r.headers.get_list("set-cookie")
        session = next(c for c in cookies if c.startswith(browser_login.SESSION_COOKIE + "="))
        assert "HttpOnly" in session
        assert "samesite=lax" in session.lower()
        refresh = next(c for c in cookies if c.startswith(browser_login.REFRESH_COOKIE + "="))
        assert "Path=/logout" in refresh
        assert "HttpOnly" in refresh
        value = session.split(";", 1)[0].split("=", 1)[1]
        assert value.count(".") == 2  # a signed claim naming the session, not an access token
        login = browser_login.decode_login(app.state.kit, value)
        assert login is not None

        console = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://127.0.0.1",
            headers={"accept": "text/html"},
            cookies={browser_login.SESSION_COOKIE: value},
        )
        async with console:
            page = await console.get("/sso/callback")
            assert (page.status_code, page.headers["location"]) == (303, "/")
            page = await console.get("/security")
            assert page.status_code == 200, page.text
            assert address in page.text
            # Signing out in the console ends the SSO login (its refresh token revokes it).
            nonce = console.cookies[browser_login.CSRF_COOKIE]  # set by the pages above
            console.cookies.set(
                browser_login.REFRESH_COOKIE,
                refresh.split(";", 1)[0].split("=", 1)[1],
                path="/logout",
            )
            out = await console.post(
                "/logout",
                data={"csrf_token": browser_login.csrf_token(app.state.kit, nonce)},
            )
            assert out.status_code == 303
            console.cookies.set(browser_login.SESSION_COOKIE, value)
            again = await console.get("/security")
            assert again.status_code == 303
            assert again.headers["location"].startswith("/login")

    async def test_console_browser_without_redirect_to_lands_on_the_overview(self, sp: Sp) -> None:
        rid = await sp.start(redirect_to=None)
        r = await sp.post(sp.response(rid, email(sp.org)), as_json=False)
        assert (r.status_code, r.headers["location"]) == (303, "/")
        assert "access_token" not in r.headers["location"]

    async def test_existing_user_of_the_org_is_linked_not_duplicated(
        self, sp: Sp, db: AsyncSession, admin: User
    ) -> None:
        before = await state(db, sp.org)
        r = await sp.login(admin.email)
        assert r.status_code == 200
        assert r.json()["user"]["id"] == str(admin.id)
        assert r.json()["user"]["role"] == "admin"  # the link keeps the user's role
        after = await state(db, sp.org)
        assert (after["users"], after["identities"]) == (before["users"], 1)

    async def test_default_role_of_the_config_is_used(self, sp: Sp, db: AsyncSession) -> None:
        await db.execute(
            update(SsoConfig).where(SsoConfig.org_id == sp.org.id).values(default_role="viewer")
        )
        await db.commit()
        r = await sp.login(email(sp.org))
        assert r.status_code == 200
        assert r.json()["user"]["role"] == "viewer"

    async def test_persistent_nameid_with_an_email_attribute(
        self, sp: Sp, db: AsyncSession
    ) -> None:
        address = email(sp.org)
        subject = f"00u{uuid.uuid4().hex[:12]}"
        knobs = {"name_id_format": PERSISTENT_FORMAT, "attributes": {"email": address}}
        first = await sp.login(subject, **knobs)
        assert first.status_code == 200
        assert first.json()["user"]["email"] == address
        identity = await db.scalar(select(SsoIdentity).where(SsoIdentity.org_id == sp.org.id))
        assert identity is not None
        assert identity.name_id == subject
        # Keyed by NameID: the same subject with a changed email is still the same user.
        again = await sp.login(subject, **knobs)
        assert again.json()["user"]["id"] == first.json()["user"]["id"]

    async def test_deactivated_user_is_refused(
        self, sp: Sp, db: AsyncSession, member: User
    ) -> None:
        await db.execute(
            update(User).where(User.id == member.id).values(status=UserStatus.DEACTIVATED)
        )
        await db.commit()
        before = await state(db, sp.org)
        r = await sp.login(member.email)
        assert_refused(r)
        after = await state(db, sp.org)
        assert after == {**before, "replays": 1, "used_requests": 1}  # not linked, no session
        assert await failures(db) == ["user is deactivated"]

    async def test_deactivated_linked_user_is_refused(
        self, sp: Sp, db: AsyncSession, member: User
    ) -> None:
        assert (await sp.login(member.email)).status_code == 200
        await db.execute(
            update(User).where(User.id == member.id).values(status=UserStatus.DEACTIVATED)
        )
        await db.commit()
        before = await state(db, sp.org)
        assert_refused(await sp.login(member.email))
        after = await state(db, sp.org)
        assert (after["sessions"], after["logins"]) == (before["sessions"], 1)

    async def test_the_owner_is_never_signed_in_through_saml(
        self, sp: Sp, db: AsyncSession, owner: User, admin: User
    ) -> None:
        """An admin can point SSO at an IdP they control: signing in as the owner through it
        would hand them the organization. The owner keeps password login (break-glass)."""
        before = await state(db, sp.org)
        r = await sp.login(owner.email)
        assert_refused(r, 403, "SSO_OWNER_PASSWORD_LOGIN")
        after = await state(db, sp.org)
        assert after == {**before, "replays": 1, "used_requests": 1}  # not linked, no session
        assert await failures(db) == [
            "the organization owner signs in with a password, never through SAML"
        ]
        # An identity linked before the user became the owner is refused too.
        assert (await sp.login(admin.email)).status_code == 200
        await db.execute(update(User).where(User.id == admin.id).values(role=Role.OWNER))
        await db.commit()
        assert_refused(await sp.login(admin.email), 403, "SSO_OWNER_PASSWORD_LOGIN")

    async def test_init_binds_the_request_to_this_browser(self, sp: Sp) -> None:
        r = await sp.client.get("/auth/saml/init", params={"org_slug": sp.org.slug})
        cookie = r.headers["set-cookie"]
        attributes = {a.strip().split("=")[0].lower() for a in cookie.split(";")[1:]}
        assert cookie.startswith("xplorr_saml_browser=")
        assert attributes >= {"httponly", "secure", "samesite", "path", "max-age"}
        assert "samesite=none" in cookie.lower()
        assert "path=/api/v1/auth/saml;" in cookie.lower() + ";"
        assert "max-age=600" in cookie.lower()

    async def test_two_tabs_of_one_browser_share_the_binding(
        self, sp: Sp, db: AsyncSession
    ) -> None:
        first, second = await sp.start(), await sp.start()
        r = await sp.post(sp.response(second, email(sp.org)))
        assert r.status_code == 200, r.text
        r = await sp.post(sp.response(first, email(sp.org)))
        assert r.status_code == 200, r.text

    async def test_init_sends_a_request_for_this_sp(self, sp: Sp) -> None:
        r = await sp.client.get("/auth/saml/init", params={"org_slug": sp.org.slug})
        assert r.status_code == 303
        location = r.headers["location"]
        assert location.startswith(sp.idp.sso_url + "?")
        request = authn_request(location)
        assert request.get("AssertionConsumerServiceURL") == sp.urls.acs_url
        assert request.get("Destination") == sp.idp.sso_url
        issuer = request.find("{urn:oasis:names:tc:SAML:2.0:assertion}Issuer")
        assert issuer is not None
        assert issuer.text == sp.urls.entity_id

    async def test_init_answers_json_for_spa_clients(self, sp: Sp, db: AsyncSession) -> None:
        r = await sp.client.get("/auth/saml/init", params={"org_slug": sp.org.slug}, headers=JSON)
        assert r.status_code == 200
        rid = authn_request_id(r.json()["redirect_url"])
        await db.rollback()
        row = await db.scalar(select(SamlRequest).where(SamlRequest.request_id == rid))
        assert row is not None
        assert (row.org_id, row.used_at, row.relay_state) == (sp.org.id, None, None)


# --- attacks ----------------------------------------------------------------------------------


class TestAttacks:
    async def _refused(
        self, sp: Sp, db: AsyncSession, saml_response: str, *, reason: str | None = None
    ) -> dict[str, int]:
        before = await state(db, sp.org)
        r = await sp.post(saml_response)
        assert_refused(r)
        after = await state(db, sp.org)
        assert after == before  # no user, identity, session, replay row; request not used up
        reasons = await failures(db)
        assert reasons, "the refusal is audited"
        if reason is not None:
            assert reason in reasons[-1], reasons
        return after

    async def test_unsigned_assertion(self, sp: Sp, db: AsyncSession) -> None:
        rid = await sp.start()
        await self._refused(sp, db, sp.response(rid, email(sp.org), sign=False), reason="signed")

    async def test_assertion_modified_after_signing(self, sp: Sp, db: AsyncSession) -> None:
        rid = await sp.start()
        mallory, victim = email(sp.org, "mallory"), email(sp.org, "ceo")
        xml = base64.b64decode(sp.response(rid, mallory)).decode()
        await self._refused(sp, db, encode(xml.replace(mallory, victim)), reason="Signature")

    @pytest.mark.parametrize("placement", ["before", "after", "advice"])
    async def test_signature_wrapping(self, sp: Sp, db: AsyncSession, placement: str) -> None:
        """Mallory's genuinely signed assertion moved next to, or inside, an unsigned evil one
        naming the victim (USENIX 2012 "On Breaking SAML")."""
        rid = await sp.start()
        mallory, victim = email(sp.org, "mallory"), email(sp.org, "ceo")
        common = {
            "audience": sp.urls.entity_id,
            "recipient": sp.urls.acs_url,
            "in_response_to": rid,
        }
        signed = sp.idp.sign(sp.idp.assertion(name_id=mallory, **common))
        signed = signed.split("?>", 1)[-1]
        evil = sp.idp.assertion(name_id=victim, **common)
        if placement == "advice":
            head, tail = evil.split("<saml:AuthnStatement", 1)
            conditions_end = head.rindex("</saml:Conditions>") + len("</saml:Conditions>")
            evil = (
                head[:conditions_end]
                + f"<saml:Advice>{signed}</saml:Advice>"
                + head[conditions_end:]
                + "<saml:AuthnStatement"
                + tail
            )
            inner = evil
        else:
            inner = evil + signed if placement == "after" else signed + evil
        xml = sp.idp.envelope(inner, destination=sp.urls.acs_url, in_response_to=rid)
        await self._refused(sp, db, encode(xml), reason="must contain 1 assertion")
        assert await db.scalar(select(User).where(User.email == victim)) is None

    async def test_signature_of_one_assertion_transplanted_onto_another(
        self, sp: Sp, db: AsyncSession
    ) -> None:
        """The evil assertion carries the signed one's ID and Signature element."""
        rid = await sp.start()
        common = {"audience": sp.urls.entity_id, "recipient": sp.urls.acs_url}
        signed = sp.idp.sign(
            sp.idp.assertion(
                name_id=email(sp.org), in_response_to=rid, assertion_id="_x1", **common
            )
        )
        start = signed.index("<ds:Signature")
        signature = signed[start : signed.index("</ds:Signature>") + len("</ds:Signature>")]
        evil = sp.idp.assertion(
            name_id=email(sp.org, "ceo"), in_response_to=rid, assertion_id="_x1", **common
        )
        evil = evil.replace("</saml:Issuer>", "</saml:Issuer>" + signature, 1)
        xml = sp.idp.envelope(evil, destination=sp.urls.acs_url, in_response_to=rid)
        await self._refused(sp, db, encode(xml), reason="Signature")

    async def test_wrong_audience(self, sp: Sp, db: AsyncSession) -> None:
        rid = await sp.start()
        bad = sp.response(rid, email(sp.org), audience="https://other-sp.example/metadata")
        await self._refused(sp, db, bad, reason="audience")

    async def test_wrong_destination(self, sp: Sp, db: AsyncSession) -> None:
        rid = await sp.start()
        bad = sp.response(rid, email(sp.org), destination="https://other-sp.example/acs")
        await self._refused(sp, db, bad, reason="received at")

    async def test_wrong_recipient(self, sp: Sp, db: AsyncSession) -> None:
        rid = await sp.start()
        bad = sp.response(rid, email(sp.org), recipient="https://other-sp.example/acs")
        await self._refused(sp, db, bad, reason="SubjectConfirmation")

    async def test_expired(self, sp: Sp, db: AsyncSession) -> None:
        rid = await sp.start()
        now = dt.datetime.now(dt.UTC)
        bad = sp.response(
            rid,
            email(sp.org),
            not_before=now - dt.timedelta(minutes=30),
            not_on_or_after=now - dt.timedelta(minutes=10),  # past the 5 minutes of skew
        )
        await self._refused(sp, db, bad, reason="expired")

    async def test_not_yet_valid(self, sp: Sp, db: AsyncSession) -> None:
        rid = await sp.start()
        now = dt.datetime.now(dt.UTC)
        bad = sp.response(
            rid,
            email(sp.org),
            not_before=now + dt.timedelta(minutes=10),
            not_on_or_after=now + dt.timedelta(minutes=20),
        )
        await self._refused(sp, db, bad, reason="not yet valid")

    async def test_replayed_response(self, sp: Sp, db: AsyncSession) -> None:
        rid = await sp.start()
        good = sp.response(rid, email(sp.org))
        assert (await sp.post(good)).status_code == 200
        after_first = await self._refused(sp, db, good, reason="no outstanding request")
        assert (after_first["replays"], after_first["used_requests"], after_first["logins"]) == (
            1,
            1,
            1,
        )

    async def test_replayed_assertion_id_for_a_new_request(self, sp: Sp, db: AsyncSession) -> None:
        """The replay table on its own: the same assertion id answering a second request."""
        address = email(sp.org)
        first = await sp.post(sp.response(await sp.start(), address, assertion_id="_same"))
        assert first.status_code == 200
        rid = await sp.start()
        await self._refused(
            sp, db, sp.response(rid, address, assertion_id="_same"), reason="replay"
        )

    async def test_unknown_in_response_to(self, sp: Sp, db: AsyncSession) -> None:
        await sp.start()
        await self._refused(sp, db, sp.response("_unknown", email(sp.org)), reason="outstanding")

    async def test_idp_initiated_response_is_refused(self, sp: Sp, db: AsyncSession) -> None:
        await self._refused(sp, db, sp.response(None, email(sp.org)), reason="unsolicited")

    async def test_expired_request(self, sp: Sp, db: AsyncSession) -> None:
        rid = await sp.start()
        await db.execute(
            update(SamlRequest)
            .where(SamlRequest.request_id == rid)
            .values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
        )
        await db.commit()
        await self._refused(sp, db, sp.response(rid, email(sp.org)), reason="outstanding")

    async def test_response_posted_from_another_browser(
        self, sp: Sp, db: AsyncSession, client_for: ClientFor
    ) -> None:
        """Login CSRF: an attacker starts a login, gets their own valid response and makes a
        victim's browser post it; the victim would be signed in as the attacker. Refused, and
        the request is left for the browser that started it."""
        rid = await sp.start()
        attacker_response = sp.response(rid, email(sp.org))
        victim = browser(client_for)
        before = await state(db, sp.org)
        r = await victim.post(
            "/auth/saml/acs", data={"SAMLResponse": attacker_response}, headers=JSON
        )
        assert_refused(r)
        assert await state(db, sp.org) == before
        assert await failures(db) == [
            "posted from another browser than the one that started the login"
        ]
        victim.cookies.set("xplorr_saml_browser", "A" * 43, path="/api/v1/auth/saml")
        r = await victim.post(
            "/auth/saml/acs", data={"SAMLResponse": attacker_response}, headers=JSON
        )
        assert_refused(r)
        assert (await sp.post(attacker_response)).status_code == 200  # its own browser

    async def test_in_response_to_of_another_orgs_request(
        self, sp: Sp, db: AsyncSession, other_org: Org, idp_b: TestIdp, app: FastAPI
    ) -> None:
        """Org A's IdP answers org B's request: checked against B's certificate, refused, and
        B's request is still usable by B."""
        await make_sso_config(db, other_org, idp_b)
        rid_b = await sp.start(org=other_org)
        bad = sp.response(rid_b, email(sp.org))
        before_b = await state(db, other_org)
        await self._refused(sp, db, bad)
        assert await state(db, other_org) == before_b
        urls_b = saml.sp_urls(app.state.settings, other_org.slug)
        good_b = idp_b.response(
            name_id=email(other_org),
            in_response_to=rid_b,
            acs_url=urls_b.acs_url,
            audience=urls_b.entity_id,
        )
        assert (await sp.post(good_b)).status_code == 200

    async def test_assertion_signed_by_another_orgs_idp(
        self, sp: Sp, db: AsyncSession, other_org: Org, idp_b: TestIdp
    ) -> None:
        """Org B's IdP key, claiming to be org A's IdP: the pinned certificate refuses it."""
        await make_sso_config(db, other_org, idp_b)
        impostor = TestIdp("b", entity_id=sp.idp.entity_id)
        rid = await sp.start()
        bad = sp.response(rid, email(sp.org), idp=impostor)
        await self._refused(sp, db, bad, reason="Signature validation failed")

    async def test_another_orgs_idp_as_itself(
        self, sp: Sp, db: AsyncSession, other_org: Org, idp_b: TestIdp
    ) -> None:
        await make_sso_config(db, other_org, idp_b)
        rid = await sp.start()
        await self._refused(sp, db, sp.response(rid, email(sp.org), idp=idp_b), reason="issuer")

    async def test_xml_entities_are_not_expanded(self, sp: Sp, db: AsyncSession) -> None:
        rid = await sp.start()
        xml = base64.b64decode(sp.response(rid, email(sp.org))).decode()
        doctype = '<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        await self._refused(
            sp, db, encode(doctype + xml.replace("_s1", "&x;")), reason="unreadable"
        )

    async def test_email_outside_the_claimed_domains(self, sp: Sp, db: AsyncSession) -> None:
        before = await state(db, sp.org)
        r = await sp.login("someone@elsewhere.example.org")
        assert_refused(r, 403, "SSO_DOMAIN_NOT_ALLOWED")
        after = await state(db, sp.org)
        # The response itself was valid and is used up; nobody was created, linked or logged in.
        assert after == {**before, "replays": 1, "used_requests": 1}
        assert await db.scalar(select(User).where(User.email.like("someone@%"))) is None

    async def test_email_of_a_pending_domain_claim(self, sp: Sp, db: AsyncSession) -> None:
        """Until DNS proves the claim, the org's IdP may not mint users (or take addresses)
        there: the IdP is whatever the org's admin configured."""
        await db.execute(update(SsoDomain).values(verified_at=None))
        await db.commit()
        before = await state(db, sp.org)
        r = await sp.login(email(sp.org))
        assert_refused(r, 403, "SSO_DOMAIN_NOT_ALLOWED")
        assert await state(db, sp.org) == {**before, "replays": 1, "used_requests": 1}
        assert (await failures(db))[-1] == (
            "email missing or outside the organization's verified domains"
        )

    async def test_email_of_another_orgs_user_is_never_attached(
        self, sp: Sp, db: AsyncSession, other_org: Org
    ) -> None:
        outsider = await make_user(db, other_org, email=email(sp.org, "outsider"))
        before = await state(db, sp.org)
        r = await sp.login(outsider.email)
        assert_refused(r, 409, "SSO_ACCOUNT_CONFLICT")
        after = await state(db, sp.org)
        assert after == {**before, "replays": 1, "used_requests": 1}
        assert await db.scalar(select(User.org_id).where(User.id == outsider.id)) == other_org.id
        links = await db.scalar(
            select(func.count()).select_from(SsoIdentity).where(SsoIdentity.user_id == outsider.id)
        )
        assert links == 0
        sessions = await db.scalar(
            select(func.count()).select_from(AuthSession).where(AuthSession.user_id == outsider.id)
        )
        assert sessions == 1  # only the one make_user opened

    async def test_overlong_name_id_is_refused_not_a_500(self, sp: Sp, db: AsyncSession) -> None:
        knobs = {"name_id_format": PERSISTENT_FORMAT, "attributes": {"email": email(sp.org)}}
        before = await state(db, sp.org)
        assert_refused(await sp.login("s" * 600, **knobs))
        assert await failures(db) == ["assertion ID or NameID too long"]
        assert (await state(db, sp.org))["identities"] == before["identities"]

    async def test_garbage_and_missing_form(self, sp: Sp, db: AsyncSession) -> None:
        await self._refused(sp, db, "not base64 at all!")
        await self._refused(sp, db, encode("<not-saml/>"))
        r = await sp.client.post("/auth/saml/acs", data={"RelayState": "/"})
        assert (r.status_code, r.json()["error"]["details"][0]["field"]) == (422, "SAMLResponse")
        r = await sp.client.post("/auth/saml/acs", json={"SAMLResponse": "x"})
        assert r.status_code == 422

    async def test_response_after_sso_was_turned_off(
        self, sp: Sp, db: AsyncSession, admin: User, client_for: ClientFor
    ) -> None:
        rid = await sp.start()
        assert (await client_for(admin).delete("/auth/sso/config")).status_code == 204
        await self._refused(sp, db, sp.response(rid, email(sp.org)), reason="no longer configured")
