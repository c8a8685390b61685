"""The SSO endpoints' contract: domain check, init, metadata, the admin configuration, rate
limits, and SSO_REQUIRED on password login."""

import base64

import httpx
import pytest
from fastapi import FastAPI
from lxml import etree
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import AppWith, ClientFor, asgi_client
from tests.factories.sso import make_sso_config, org_domain
from tests.factories.users import DEFAULT_PASSWORD, make_user, token_for
from tests.sso.idp import TestIdp
from xplorr.core.audit import AuditEntry
from xplorr.core.tenancy import Role
from xplorr.orgs.models import Org
from xplorr.sso import saml
from xplorr.sso.models import SamlRequest, SsoConfig, SsoDomain, SsoIdentity
from xplorr.users.models import User

MD = "{urn:oasis:names:tc:SAML:2.0:metadata}"


OPEN_REDIRECTS = [
    "https://evil.example/",
    "//evil.example/x",
    "/\\evil.example",
    "\\\\evil.example",
    "evil.example",
    "javascript:alert(1)",
    "/ok\r\nSet-Cookie: x=1",
]
BAD_CONFIGS: list[tuple[dict[str, object], str]] = [
    ({"idp_entity_id": None}, "idp_entity_id"),
    ({"sso_url": None}, "sso_url"),
    ({"x509_cert": None}, "x509_cert"),
    ({"email_domains": None}, "email_domains"),
    (
        {"x509_cert": "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----"},
        "x509_cert",
    ),
    ({"x509_cert": "not a certificate"}, "x509_cert"),
    ({"sso_url": "http://idp.example.com/sso"}, "sso_url"),
    ({"sso_url": "ftp://idp.example.com/sso"}, "sso_url"),
    ({"sso_url": "https://user:pw@idp.example.com/sso"}, "sso_url"),
    ({"email_domains": []}, "email_domains"),
    ({"email_domains": ["gmail.com"]}, "email_domains"),
    ({"email_domains": ["not a domain"]}, "email_domains"),
    ({"email_domains": ["localhost"]}, "email_domains"),
    ({"email_domains": ["-bad-.example.com"]}, "email_domains"),
    ({"default_role": "owner"}, "default_role"),
    ({"enforce": "sometimes"}, "enforce"),
    ({"org_id": "x"}, "org_id"),
]


def _config_body(idp: TestIdp, *domains: str, **extra: object) -> dict[str, object]:
    return {
        "idp_entity_id": idp.entity_id,
        "sso_url": idp.sso_url,
        "x509_cert": idp.cert_pem,
        "email_domains": list(domains),
        **extra,
    }


async def _audit_actions(db: AsyncSession, action: str) -> list[AuditEntry]:
    await db.rollback()
    return list((await db.scalars(select(AuditEntry).where(AuditEntry.action == action))).all())


async def _hammer(client: httpx.AsyncClient, method: str, url: str, n: int, **kw: object) -> None:
    for _ in range(n):
        r = await client.request(method, url, **kw)  # type: ignore[arg-type]
        assert r.status_code != 429
    r = await client.request(method, url, **kw)  # type: ignore[arg-type]
    assert r.status_code == 429
    assert r.json()["error"]["code"] == "RATE_LIMITED"
    assert int(r.headers["retry-after"]) >= 1


class TestCheck:
    async def test_domain_with_sso(
        self, anon: httpx.AsyncClient, db: AsyncSession, org: Org, idp: TestIdp
    ) -> None:
        await make_sso_config(db, org, idp, enforce=True)
        r = await anon.get("/auth/sso/check", params={"email": f"Someone@{org_domain(org)}"})
        assert r.status_code == 200
        assert r.json() == {"sso_enabled": True, "sso_required": True, "org_slug": org.slug}

    async def test_not_enforced_and_unknown_domains(
        self, anon: httpx.AsyncClient, db: AsyncSession, org: Org, idp: TestIdp
    ) -> None:
        await make_sso_config(db, org, idp)
        r = await anon.get("/auth/sso/check", params={"email": f"a@{org_domain(org)}"})
        assert r.json() == {"sso_enabled": True, "sso_required": False, "org_slug": org.slug}
        r = await anon.get("/auth/sso/check", params={"email": "a@nowhere.example.net"})
        assert r.json() == {"sso_enabled": False, "sso_required": False, "org_slug": None}

    async def test_internationalised_domain_matches_its_claim(
        self, anon: httpx.AsyncClient, db: AsyncSession, org: Org, idp: TestIdp
    ) -> None:
        """Claimed domains are stored in IDNA form; an address typed in Unicode must still be
        governed by the claim (else enforcement could be sidestepped by spelling)."""
        await make_sso_config(db, org, idp, domains=["xn--bcher-kva.example"], enforce=True)
        r = await anon.get("/auth/sso/check", params={"email": "a@bücher.example"})
        assert r.json() == {"sso_enabled": True, "sso_required": True, "org_slug": org.slug}
        r = await anon.post(
            "/auth/login", json={"email": "a@bücher.example", "password": "whatever-password"}
        )
        assert (r.status_code, r.json()["error"]["code"]) == (403, "SSO_REQUIRED")

    @pytest.mark.parametrize("params", [{}, {"email": "not-an-email"}, {"email": "a@"}])
    async def test_bad_email_is_422(self, anon: httpx.AsyncClient, params: dict[str, str]) -> None:
        r = await anon.get("/auth/sso/check", params=params)
        assert r.status_code == 422
        assert r.json()["error"]["details"][0]["field"] == "email"

    async def test_rate_limited_per_ip(self, client_for: ClientFor) -> None:
        c = client_for(None, client=("203.0.113.40", 5000))
        await _hammer(c, "GET", "/auth/sso/check", 20, params={"email": "a@b.example.com"})
        other = client_for(None, client=("203.0.113.41", 5000))
        r = await other.get("/auth/sso/check", params={"email": "a@b.example.com"})
        assert r.status_code == 200


class TestInit:
    async def test_unknown_org_and_org_without_sso_are_404(
        self, anon: httpx.AsyncClient, org: Org
    ) -> None:
        for slug in ("no-such-org", org.slug):
            r = await anon.get("/auth/saml/init", params={"org_slug": slug})
            assert (r.status_code, r.json()["error"]["code"]) == (404, "SSO_NOT_CONFIGURED")

    async def test_open_redirects_are_422(
        self, anon: httpx.AsyncClient, db: AsyncSession, org: Org, idp: TestIdp
    ) -> None:
        await make_sso_config(db, org, idp)
        for redirect_to in OPEN_REDIRECTS:
            r = await anon.get(
                "/auth/saml/init", params={"org_slug": org.slug, "redirect_to": redirect_to}
            )
            assert r.status_code == 422, redirect_to
            assert r.json()["error"]["details"][0]["field"] == "redirect_to"
        await db.rollback()
        assert await db.scalar(select(func.count()).select_from(SamlRequest)) == 0

    async def test_missing_slug_is_422(self, anon: httpx.AsyncClient) -> None:
        r = await anon.get("/auth/saml/init")
        assert (r.status_code, r.json()["error"]["details"][0]["field"]) == (422, "org_slug")

    async def test_stores_the_request_with_relay_state(
        self, anon: httpx.AsyncClient, db: AsyncSession, org: Org, idp: TestIdp
    ) -> None:
        await make_sso_config(db, org, idp)
        r = await anon.get(
            "/auth/saml/init", params={"org_slug": org.slug, "redirect_to": "/budgets/1"}
        )
        assert r.status_code == 303
        assert r.headers["location"].startswith(idp.sso_url + "?SAMLRequest=")
        row = await db.scalar(select(SamlRequest))
        assert row is not None
        assert (row.org_id, row.relay_state, row.used_at) == (org.id, "/budgets/1", None)
        assert 590 <= (row.expires_at - row.created_at).total_seconds() <= 600

    async def test_rate_limited_per_ip(
        self, client_for: ClientFor, db: AsyncSession, org: Org, idp: TestIdp
    ) -> None:
        await make_sso_config(db, org, idp)
        c = client_for(None, client=("203.0.113.42", 5000))
        await _hammer(c, "GET", "/auth/saml/init", 20, params={"org_slug": org.slug})


class TestAcsLimit:
    async def test_rate_limited_per_ip(self, client_for: ClientFor) -> None:
        c = client_for(None, client=("203.0.113.43", 5000))
        await _hammer(c, "POST", "/auth/saml/acs", 30, data={"SAMLResponse": "eA=="})


class TestMetadata:
    async def test_metadata_before_any_idp_is_configured(
        self, anon: httpx.AsyncClient, app: FastAPI, org: Org
    ) -> None:
        r = await anon.get(f"/auth/saml/metadata/{org.slug}")
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("application/xml")
        urls = saml.sp_urls(app.state.settings, org.slug)
        root = etree.fromstring(r.content, parser=etree.XMLParser(resolve_entities=False))
        assert root.tag == f"{MD}EntityDescriptor"
        assert root.get("entityID") == urls.entity_id
        sp = root.find(f"{MD}SPSSODescriptor")
        assert sp is not None
        assert sp.get("WantAssertionsSigned") == "true"
        assert sp.get("AuthnRequestsSigned") == "false"
        acs = sp.find(f"{MD}AssertionConsumerService")
        assert acs is not None
        assert acs.get("Location") == urls.acs_url
        assert acs.get("Binding") == "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
        name_id = sp.find(f"{MD}NameIDFormat")
        assert name_id is not None
        assert name_id.text == "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"

    async def test_unknown_org_is_404(self, anon: httpx.AsyncClient) -> None:
        r = await anon.get("/auth/saml/metadata/no-such-org")
        assert (r.status_code, r.json()["error"]["code"]) == (404, "ORGANIZATION_NOT_FOUND")

    async def test_base_url_decides_the_urls(self, app_with: AppWith, org: Org) -> None:
        app = app_with(base_url="https://finops.example.com:8443/xplorr")
        async with asgi_client(app, base_url="http://attacker-host/api/v1") as c:
            r = await c.get(f"/auth/saml/metadata/{org.slug}", headers={"Host": "evil.example"})
        assert r.status_code == 200
        assert b"evil.example" not in r.content
        assert (
            b'Location="https://finops.example.com:8443/xplorr/api/v1/auth/saml/acs"' in r.content
        )
        # The browser-binding cookie is scoped to the ACS as the browser sees it.
        assert saml.browser_cookie_path(app.state.settings) == "/xplorr/api/v1/auth/saml"

    async def test_rate_limited_per_ip(self, client_for: ClientFor, org: Org) -> None:
        c = client_for(None, client=("203.0.113.44", 5000))
        await _hammer(c, "GET", f"/auth/saml/metadata/{org.slug}", 20)


class TestConfig:
    async def test_create_read_update_delete(
        self,
        client_for: ClientFor,
        admin: User,
        db: AsyncSession,
        org: Org,
        app: FastAPI,
        idp: TestIdp,
    ) -> None:
        c = client_for(admin)
        assert (await c.get("/auth/sso/config")).json()["error"]["code"] == "SSO_NOT_CONFIGURED"
        domain = org_domain(org)
        r = await c.patch("/auth/sso/config", json=_config_body(idp, domain.upper() + "."))
        assert r.status_code == 200, r.text
        body = r.json()
        urls = saml.sp_urls(app.state.settings, org.slug)
        assert body["email_domains"] == [domain]
        assert body["x509_cert"] == idp.cert_b64  # PEM normalised to base64 DER
        assert (body["enforce"], body["default_role"]) == (False, "member")
        assert (body["sp_entity_id"], body["acs_url"], body["metadata_url"]) == (
            urls.entity_id,
            urls.acs_url,
            urls.metadata_url,
        )
        assert (await c.get("/auth/sso/config")).json() == body

        r = await c.patch(
            "/auth/sso/config",
            json={"enforce": True, "default_role": "viewer", "email_domains": ["b.example.org"]},
        )
        assert r.status_code == 200
        assert (r.json()["enforce"], r.json()["default_role"]) == (True, "viewer")
        assert r.json()["email_domains"] == ["b.example.org"]
        assert r.json()["idp_entity_id"] == idp.entity_id  # untouched
        domains = (await db.scalars(select(SsoDomain.domain))).all()
        assert domains == ["b.example.org"]
        configured = await _audit_actions(db, "sso.configured")
        assert [e.details["created"] for e in configured] == [True, False]
        assert all(idp.cert_b64[:40] not in str(e.details) for e in configured)

        assert (await c.delete("/auth/sso/config")).status_code == 204
        await db.rollback()
        assert await db.scalar(select(func.count()).select_from(SsoConfig)) == 0
        assert await db.scalar(select(func.count()).select_from(SsoDomain)) == 0
        assert len(await _audit_actions(db, "sso.disabled")) == 1
        r = await c.delete("/auth/sso/config")
        assert (r.status_code, r.json()["error"]["code"]) == (404, "SSO_NOT_CONFIGURED")

    async def test_delete_keeps_identities(
        self, client_for: ClientFor, admin: User, member: User, db: AsyncSession, org: Org, idp
    ) -> None:
        await make_sso_config(db, org, idp)
        db.add(
            SsoIdentity(org_id=org.id, user_id=member.id, idp_entity_id=idp.entity_id, name_id="n")
        )
        await db.commit()
        assert (await client_for(admin).delete("/auth/sso/config")).status_code == 204
        await db.rollback()
        assert await db.scalar(select(func.count()).select_from(SsoIdentity)) == 1

    async def test_bare_base64_der_certificate_is_accepted(
        self, client_for: ClientFor, owner: User, org: Org, idp: TestIdp
    ) -> None:
        r = await client_for(owner).patch(
            "/auth/sso/config",
            json={**_config_body(idp, org_domain(org)), "x509_cert": idp.cert_b64},
        )
        assert r.status_code == 200
        assert r.json()["x509_cert"] == idp.cert_b64

    async def test_bad_input_is_422_naming_the_field(
        self, client_for: ClientFor, admin: User, db: AsyncSession, org: Org, idp: TestIdp
    ) -> None:
        c = client_for(admin)
        for change, field in BAD_CONFIGS:
            body = {**_config_body(idp, org_domain(org)), **change}
            body = {k: v for k, v in body.items() if v is not None}
            r = await c.patch("/auth/sso/config", json=body)
            assert r.status_code == 422, (change, r.text)
            assert field in [d["field"].split(".")[0] for d in r.json()["error"]["details"]]
        await db.rollback()
        assert await db.scalar(select(func.count()).select_from(SsoConfig)) == 0

    async def test_certificate_with_an_unknown_key_algorithm_is_422(
        self, client_for: ClientFor, admin: User, org: Org, idp: TestIdp
    ) -> None:
        rsa_encryption = bytes.fromhex("06092a864886f70d010101")  # OID 1.2.840.113549.1.1.1
        der = base64.b64decode(idp.cert_b64)
        assert der.count(rsa_encryption) == 1
        unknown = der.replace(rsa_encryption, bytes.fromhex("06092a864886f70d010163"))
        body = {
            **_config_body(idp, org_domain(org)),
            "x509_cert": base64.b64encode(unknown).decode(),
        }
        r = await client_for(admin).patch("/auth/sso/config", json=body)
        assert r.status_code == 422, r.text
        assert [d["field"] for d in r.json()["error"]["details"]] == ["x509_cert"]

    async def test_http_sso_url_allowed_for_localhost(
        self, client_for: ClientFor, admin: User, org: Org, idp: TestIdp
    ) -> None:
        body = {**_config_body(idp, org_domain(org)), "sso_url": "http://127.0.0.1:9000/sso"}
        r = await client_for(admin).patch("/auth/sso/config", json=body)
        assert r.status_code == 200
        assert r.json()["sso_url"] == "http://127.0.0.1:9000/sso"

    async def test_domain_claimed_by_another_org_is_409(
        self,
        client_for: ClientFor,
        admin: User,
        db: AsyncSession,
        org: Org,
        other_org: Org,
        idp: TestIdp,
        idp_b: TestIdp,
    ) -> None:
        await make_sso_config(db, other_org, idp_b, domains=["shared.example.com"])
        r = await client_for(admin).patch(
            "/auth/sso/config", json=_config_body(idp, org_domain(org), "Shared.example.com")
        )
        assert (r.status_code, r.json()["error"]["code"]) == (409, "SSO_DOMAIN_TAKEN")
        await db.rollback()
        assert await db.scalar(select(func.count()).select_from(SsoConfig)) == 1  # B's only
        owner_of = await db.scalar(
            select(SsoDomain.org_id).where(SsoDomain.domain == "shared.example.com")
        )
        assert owner_of == other_org.id

    async def test_configs_are_per_org(
        self,
        client_for: ClientFor,
        other_admin: User,
        db: AsyncSession,
        org: Org,
        idp: TestIdp,
    ) -> None:
        await make_sso_config(db, org, idp)
        c = client_for(other_admin)
        assert (await c.get("/auth/sso/config")).status_code == 404
        assert (await c.delete("/auth/sso/config")).status_code == 404
        await db.rollback()
        assert await db.scalar(select(func.count()).select_from(SsoConfig)) == 1

    async def test_anonymous_is_401(self, anon: httpx.AsyncClient) -> None:
        for method in ("GET", "PATCH", "DELETE"):
            r = await anon.request(method, "/auth/sso/config", json={})
            assert (r.status_code, r.json()["error"]["code"]) == (401, "UNAUTHORIZED")

    @pytest.mark.parametrize("role", [Role.MEMBER, Role.VIEWER])
    async def test_members_and_viewers_are_403(
        self,
        client_for: ClientFor,
        db: AsyncSession,
        org: Org,
        idp: TestIdp,
        role: Role,
    ) -> None:
        await make_sso_config(db, org, idp)
        c = client_for(await make_user(db, org, role=role))
        for method in ("GET", "PATCH", "DELETE"):
            r = await c.request(method, "/auth/sso/config", json={"enforce": True})
            assert (r.status_code, r.json()["error"]["code"]) == (403, "FORBIDDEN")
        await db.rollback()
        config = await db.scalar(select(SsoConfig))
        assert config is not None
        assert config.enforce is False

    async def test_rate_limited(
        self, app_with: AppWith, db: AsyncSession, org: Org, idp: TestIdp
    ) -> None:
        app = app_with(rate_limit_read="3/minute", rate_limit_write="3/minute")
        admin = await make_user(db, org, role=Role.ADMIN)
        async with asgi_client(app) as c:
            c.headers["Authorization"] = f"Bearer {token_for(app, admin)}"
            await _hammer(c, "GET", "/auth/sso/config", 3)
            await _hammer(c, "PATCH", "/auth/sso/config", 3, json={"enforce": True})
            await _hammer(c, "DELETE", "/auth/sso/config", 3)


class TestSsoRequired:
    """Password login for a domain whose org enforces SSO (auth.service.login)."""

    async def _login(self, anon: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
        return await anon.post("/auth/login", json={"email": email, "password": password})

    async def test_enforced_domain_is_403_before_any_password_check(
        self, anon: httpx.AsyncClient, db: AsyncSession, org: Org, member: User, idp: TestIdp
    ) -> None:
        await make_sso_config(db, org, idp, enforce=True)
        for password in (DEFAULT_PASSWORD, "certainly the wrong password"):
            r = await self._login(anon, member.email, password)
            assert (r.status_code, r.json()["error"]["code"]) == (403, "SSO_REQUIRED")
            assert r.json()["error"]["details"] == [{"field": "org_slug", "message": org.slug}]
        # An unknown address of that domain answers the same (no account oracle).
        r = await self._login(anon, f"nobody@{org_domain(org)}", DEFAULT_PASSWORD)
        assert (r.status_code, r.json()["error"]["code"]) == (403, "SSO_REQUIRED")
        assert await _audit_actions(db, "user.login") == []

    async def test_signup_with_an_enforced_domain_is_403(
        self, anon: httpx.AsyncClient, db: AsyncSession, org: Org, idp: TestIdp
    ) -> None:
        """A password account made by signing up would sidestep the org's SSO and take the
        address from the person its IdP would provision."""
        await make_sso_config(db, org, idp, enforce=True)
        body = {
            "email": f"newcomer@{org_domain(org).upper()}",
            "password": "a long enough passphrase",
            "name": "Newcomer",
            "organization_name": "Squatters Inc",
        }
        r = await anon.post("/auth/signup", json=body)
        assert (r.status_code, r.json()["error"]["code"]) == (403, "SSO_REQUIRED")
        await db.rollback()
        assert await db.scalar(select(func.count()).select_from(Org)) == 1
        await db.execute(update(SsoConfig).values(enforce=False))
        await db.commit()
        assert (await anon.post("/auth/signup", json=body)).status_code == 201

    async def test_not_enforced_logs_in_normally(
        self, anon: httpx.AsyncClient, db: AsyncSession, org: Org, member: User, idp: TestIdp
    ) -> None:
        await make_sso_config(db, org, idp, enforce=False)
        r = await self._login(anon, member.email, DEFAULT_PASSWORD)
        assert r.status_code == 200
        assert "access_token" in r.json()

    async def test_owner_keeps_password_login(
        self, anon: httpx.AsyncClient, db: AsyncSession, org: Org, owner: User, idp: TestIdp
    ) -> None:
        await make_sso_config(db, org, idp, enforce=True)
        r = await self._login(anon, owner.email, DEFAULT_PASSWORD)
        assert r.status_code == 200
        r = await self._login(anon, owner.email, "certainly the wrong password")
        assert (r.status_code, r.json()["error"]["code"]) == (401, "INVALID_CREDENTIALS")

    async def test_another_orgs_user_with_that_domain_is_unaffected(
        self,
        anon: httpx.AsyncClient,
        db: AsyncSession,
        org: Org,
        other_org: Org,
        idp: TestIdp,
    ) -> None:
        await make_sso_config(db, org, idp, enforce=True)
        outsider = await make_user(db, other_org, email=f"outsider@{org_domain(org)}")
        r = await self._login(anon, outsider.email, DEFAULT_PASSWORD)
        assert r.status_code == 200
        assert r.json()["user"]["id"] == str(outsider.id)

    async def test_turning_sso_off_restores_password_login(
        self,
        anon: httpx.AsyncClient,
        client_for: ClientFor,
        admin: User,
        db: AsyncSession,
        org: Org,
        member: User,
        idp: TestIdp,
    ) -> None:
        await make_sso_config(db, org, idp, enforce=True)
        assert (await self._login(anon, member.email, DEFAULT_PASSWORD)).status_code == 403
        assert (await client_for(admin).delete("/auth/sso/config")).status_code == 204
        assert (await self._login(anon, member.email, DEFAULT_PASSWORD)).status_code == 200
