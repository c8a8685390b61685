"""Domain claims: refused where another organization has users, pending until a DNS TXT record
proves them (a real DNS server on loopback, tests/sso/dns_server.py), and until then governing
nothing: no routing, no enforcement, no just-in-time users."""

from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, inspect, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import ClientFor
from tests.factories.sso import make_sso_config, org_domain
from tests.factories.users import DEFAULT_PASSWORD, make_org, make_user
from tests.mail import run_jobs
from tests.sso.dns_server import TestDns
from tests.sso.idp import TestIdp
from xplorr.core import clock
from xplorr.core.audit import AuditEntry
from xplorr.core.jobs import queue
from xplorr.core.jobs.models import Job, JobStatus
from xplorr.core.settings import Settings
from xplorr.core.tenancy import Role
from xplorr.orgs.models import Org
from xplorr.sso.models import SsoConfig, SsoDomain
from xplorr.users.models import User, UserStatus

VERIFY = "/auth/sso/domains/verify"


def _config_body(idp: TestIdp, *domains: str, **extra: object) -> dict[str, object]:
    return {
        "idp_entity_id": idp.entity_id,
        "sso_url": idp.sso_url,
        "x509_cert": idp.cert_pem,
        "email_domains": list(domains),
        **extra,
    }


async def _verified_user(db: AsyncSession, org: Org, email: str) -> User:
    user = await make_user(db, org, email=email)
    user.email_verified_at = clock.now()
    await db.commit()
    return user


async def _audit(db: AsyncSession, action: str) -> list[AuditEntry]:
    await db.rollback()
    rows = await db.scalars(
        select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
    )
    return list(rows.all())


async def _claim(db: AsyncSession, org: Org, domain: str) -> SsoDomain:
    org_id = inspect(org).identity[0]  # the rollback expires ``org``: no lazy load here
    await db.rollback()
    claim = await db.scalar(
        select(SsoDomain)
        .where(SsoDomain.org_id == org_id, SsoDomain.domain == domain)
        .execution_options(populate_existing=True)
    )
    assert claim is not None
    return claim


def _claims(body: dict[str, object]) -> dict[str, dict[str, object]]:
    return {c["domain"]: c for c in body["domain_claims"]}  # type: ignore[attr-defined,index]


async def _login(anon: httpx.AsyncClient, email: str) -> httpx.Response:
    return await anon.post("/auth/login", json={"email": email, "password": DEFAULT_PASSWORD})


class TestClaim:
    async def test_new_claim_is_pending_with_its_record(
        self, client_for: ClientFor, admin: User, db: AsyncSession, org: Org, idp: TestIdp
    ) -> None:
        c = client_for(admin)
        r = await c.patch("/auth/sso/config", json=_config_body(idp, "corp.example.com"))
        assert r.status_code == 200, r.text
        [claim] = r.json()["domain_claims"]
        row = await _claim(db, org, "corp.example.com")
        assert claim == {
            "domain": "corp.example.com",
            "status": "pending",
            "txt_record_name": "_xplorr-challenge.corp.example.com",
            "txt_record_value": f"xplorr-verification={row.verification_token}",
            "verified_at": None,
            "last_checked_at": None,
            "last_check_error": None,
        }
        assert len(row.verification_token) >= 43
        assert (await c.get("/auth/sso/config")).json()["domain_claims"] == [claim]
        # Saving again keeps the claim and its token; dropping it releases it.
        r = await c.patch("/auth/sso/config", json={"email_domains": ["corp.example.com"]})
        assert r.json()["domain_claims"] == [claim]
        r = await c.patch("/auth/sso/config", json={"email_domains": ["other.example.com"]})
        assert [d["domain"] for d in r.json()["domain_claims"]] == ["other.example.com"]
        claimed = await _audit(db, "sso.domain_claimed")
        assert sorted(e.details["domain"] for e in claimed) == [
            "corp.example.com",
            "other.example.com",
        ]
        [released] = await _audit(db, "sso.domain_released")
        assert released.details == {"domain": "corp.example.com", "was_verified": False}

    async def test_domain_where_another_org_has_users_is_409(
        self,
        client_for: ClientFor,
        admin: User,
        db: AsyncSession,
        org: Org,
        other_org: Org,
        idp: TestIdp,
    ) -> None:
        """Claiming it would route them to this org's IdP and, enforced, lock their org out."""
        await _verified_user(db, other_org, f"someone@{org_domain(other_org)}")
        r = await client_for(admin).patch(
            "/auth/sso/config",
            json=_config_body(idp, org_domain(org), org_domain(other_org).upper(), enforce=True),
        )
        assert (r.status_code, r.json()["error"]["code"]) == (409, "SSO_DOMAIN_IN_USE")
        assert org_domain(other_org) in r.json()["error"]["message"]
        await db.rollback()
        assert await db.scalar(select(func.count()).select_from(SsoConfig)) == 0
        assert await db.scalar(select(func.count()).select_from(SsoDomain)) == 0
        [refused] = await _audit(db, "sso.domain_claim_refused")
        assert (refused.org_id, refused.details) == (
            org.id,
            {"domain": org_domain(other_org), "reason": "SSO_DOMAIN_IN_USE"},
        )

    async def test_refused_on_update_too_and_the_config_is_untouched(
        self,
        client_for: ClientFor,
        admin: User,
        db: AsyncSession,
        org: Org,
        other_org: Org,
        idp: TestIdp,
    ) -> None:
        await make_sso_config(db, org, idp)
        await _verified_user(db, other_org, "x@theirs.example.com")
        r = await client_for(admin).patch(
            "/auth/sso/config",
            json={"email_domains": ["theirs.example.com"], "enforce": True},
        )
        assert (r.status_code, r.json()["error"]["code"]) == (409, "SSO_DOMAIN_IN_USE")
        await db.rollback()
        config = await db.scalar(select(SsoConfig))
        assert config is not None
        assert config.enforce is False
        domains = (await db.scalars(select(SsoDomain.domain))).all()
        assert domains == [org_domain(org)]

    async def test_unicode_address_of_another_org_blocks_the_idna_claim(
        self,
        client_for: ClientFor,
        admin: User,
        db: AsyncSession,
        other_org: Org,
        idp: TestIdp,
    ) -> None:
        await _verified_user(db, other_org, "a@bücher.example")
        r = await client_for(admin).patch(
            "/auth/sso/config", json=_config_body(idp, "xn--bcher-kva.example")
        )
        assert (r.status_code, r.json()["error"]["code"]) == (409, "SSO_DOMAIN_IN_USE")

    async def test_unproven_or_gone_users_of_another_org_do_not_block(
        self,
        client_for: ClientFor,
        admin: User,
        db: AsyncSession,
        other_org: Org,
        idp: TestIdp,
    ) -> None:
        """A sign-up with someone else's unverified address must not keep the domain's real
        owner from claiming it; a deactivated user is governed by nobody's SSO."""
        await make_user(db, other_org, email="unverified@squatted.example.com")
        gone = await _verified_user(db, other_org, "gone@left.example.com")
        gone.status = UserStatus.DEACTIVATED
        await db.commit()
        r = await client_for(admin).patch(
            "/auth/sso/config",
            json=_config_body(idp, "squatted.example.com", "left.example.com"),
        )
        assert r.status_code == 200, r.text

    async def test_another_orgs_pending_claim_does_not_block_but_a_verified_one_does(
        self,
        client_for: ClientFor,
        admin: User,
        db: AsyncSession,
        other_org: Org,
        idp: TestIdp,
        idp_b: TestIdp,
    ) -> None:
        await make_sso_config(
            db, other_org, idp_b, domains=["contested.example.com"], verified=False
        )
        c = client_for(admin)
        r = await c.patch("/auth/sso/config", json=_config_body(idp, "contested.example.com"))
        assert r.status_code == 200, r.text
        await db.execute(
            update(SsoDomain)
            .where(SsoDomain.org_id == other_org.id)
            .values(verified_at=clock.now())
        )
        await db.commit()
        r = await c.patch("/auth/sso/config", json={"email_domains": ["contested.example.com"]})
        assert r.status_code == 200  # held already: kept (pending), not re-judged here
        r = await c.patch("/auth/sso/config", json={"email_domains": ["new.example.com"]})
        r = await c.patch("/auth/sso/config", json={"email_domains": ["contested.example.com"]})
        assert (r.status_code, r.json()["error"]["code"]) == (409, "SSO_DOMAIN_TAKEN")

    async def test_domain_too_long_for_its_record_is_422(
        self, client_for: ClientFor, admin: User, idp: TestIdp
    ) -> None:
        domain = ".".join(["a" * 60] * 4) + ".example"  # 251 characters: a valid domain
        r = await client_for(admin).patch("/auth/sso/config", json=_config_body(idp, domain))
        assert r.status_code == 422
        assert r.json()["error"]["details"][0]["field"] == "email_domains"


class TestPendingClaimGovernsNothing:
    async def test_no_enforcement_no_routing(
        self,
        anon: httpx.AsyncClient,
        db: AsyncSession,
        org: Org,
        member: User,
        idp: TestIdp,
    ) -> None:
        await make_sso_config(db, org, idp, enforce=True, verified=False)
        r = await _login(anon, member.email)
        assert r.status_code == 200, r.text
        r = await anon.get("/auth/sso/check", params={"email": member.email})
        assert r.json() == {"sso_enabled": False, "sso_required": False, "org_slug": None}

    async def test_signup_with_a_pending_domain_is_allowed(
        self, anon: httpx.AsyncClient, db: AsyncSession, org: Org, idp: TestIdp
    ) -> None:
        await make_sso_config(db, org, idp, enforce=True, verified=False)
        body = {
            "email": f"newcomer@{org_domain(org)}",
            "password": "a long enough passphrase",
            "name": "Newcomer",
            "organization_name": "Newcomers",
        }
        assert (await anon.post("/auth/signup", json=body)).status_code == 201


class TestVerify:
    async def test_record_present_verifies_and_enforces(
        self,
        client_for: ClientFor,
        anon: httpx.AsyncClient,
        admin: User,
        member: User,
        db: AsyncSession,
        org: Org,
        idp: TestIdp,
        dns: TestDns,
    ) -> None:
        c = client_for(admin)
        body = _config_body(idp, org_domain(org), enforce=True)
        claim = _claims((await c.patch("/auth/sso/config", json=body)).json())[org_domain(org)]
        assert (await _login(anon, member.email)).status_code == 200  # pending: not enforced
        dns.publish(str(claim["txt_record_name"]), "v=spf1 -all", str(claim["txt_record_value"]))
        r = await c.post(VERIFY)
        assert r.status_code == 200, r.text
        verified = _claims(r.json())[org_domain(org)]
        assert verified["status"] == "verified"
        assert verified["verified_at"] is not None
        assert verified["last_check_error"] is None
        assert dns.queries == [f"_xplorr-challenge.{org_domain(org)}"]
        r = await _login(anon, member.email)
        assert (r.status_code, r.json()["error"]["code"]) == (403, "SSO_REQUIRED")
        r = await anon.get("/auth/sso/check", params={"email": member.email})
        assert r.json() == {"sso_enabled": True, "sso_required": True, "org_slug": org.slug}
        [entry] = await _audit(db, "sso.domain_verified")
        assert (entry.org_id, entry.details) == (org.id, {"domain": org_domain(org)})
        # Verified claims are not looked up again.
        assert (await c.post(VERIFY)).status_code == 200
        assert len(dns.queries) == 1

    async def test_wrong_value_or_no_record_stays_pending(
        self,
        client_for: ClientFor,
        admin: User,
        db: AsyncSession,
        org: Org,
        idp: TestIdp,
        dns: TestDns,
    ) -> None:
        c = client_for(admin)
        await c.patch("/auth/sso/config", json=_config_body(idp, "a.example.com", "b.example.com"))
        dns.publish("_xplorr-challenge.a.example.com", "xplorr-verification=not-the-token")
        r = await c.post(VERIFY)
        assert r.status_code == 200, r.text
        claims = _claims(r.json())
        assert claims["a.example.com"]["status"] == "pending"
        assert claims["a.example.com"]["last_check_error"] == (
            "The TXT records at _xplorr-challenge.a.example.com do not hold this "
            "organization's value."
        )
        assert claims["b.example.com"]["last_check_error"] == (
            "No TXT record found at _xplorr-challenge.b.example.com."
        )
        assert all(claim["last_checked_at"] is not None for claim in claims.values())
        assert (await _claim(db, org, "a.example.com")).verified_at is None
        failed = await _audit(db, "sso.domain_verification_failed")
        assert sorted(e.details["domain"] for e in failed) == ["a.example.com", "b.example.com"]
        assert await _audit(db, "sso.domain_verified") == []

    @pytest.mark.parametrize("outage", ["down", "servfail"])
    async def test_dns_without_answer_is_502_and_changes_nothing(
        self,
        client_for: ClientFor,
        admin: User,
        db: AsyncSession,
        org: Org,
        idp: TestIdp,
        dns: TestDns,
        outage: str,
    ) -> None:
        c = client_for(admin)
        body = _config_body(idp, org_domain(org))
        claim = _claims((await c.patch("/auth/sso/config", json=body)).json())[org_domain(org)]
        dns.publish(str(claim["txt_record_name"]), str(claim["txt_record_value"]))
        if outage == "down":
            dns.stop()
        else:
            dns.fail()
        r = await c.post(VERIFY)
        assert (r.status_code, r.json()["error"]["code"]) == (502, "SSO_DNS_UNAVAILABLE")
        row = await _claim(db, org, org_domain(org))
        assert (row.verified_at, row.last_checked_at, row.last_check_error) == (None, None, None)
        assert await _audit(db, "sso.domain_verified") == []
        assert await _audit(db, "sso.domain_verification_failed") == []

    async def test_another_orgs_record_does_not_verify_this_claim(
        self,
        client_for: ClientFor,
        admin: User,
        other_admin: User,
        db: AsyncSession,
        org: Org,
        other_org: Org,
        idp: TestIdp,
        idp_b: TestIdp,
        dns: TestDns,
    ) -> None:
        """Two orgs claim one domain; the record the domain's owner published names the first
        org's token: the second org's check finds it and stays pending."""
        mine = await client_for(admin).patch(
            "/auth/sso/config", json=_config_body(idp, "shared.example.com")
        )
        theirs = await client_for(other_admin).patch(
            "/auth/sso/config", json=_config_body(idp_b, "shared.example.com", enforce=True)
        )
        assert theirs.status_code == 200
        record = _claims(mine.json())["shared.example.com"]
        dns.publish(str(record["txt_record_name"]), str(record["txt_record_value"]))
        r = await client_for(other_admin).post(VERIFY)
        assert _claims(r.json())["shared.example.com"]["status"] == "pending"
        r = await client_for(admin).post(VERIFY)
        assert _claims(r.json())["shared.example.com"]["status"] == "verified"
        # Now the other org cannot verify it even with its own record published.
        their_record = _claims(theirs.json())["shared.example.com"]
        dns.publish(str(their_record["txt_record_name"]), str(their_record["txt_record_value"]))
        r = await client_for(other_admin).post(VERIFY)
        claim = _claims(r.json())["shared.example.com"]
        assert claim["status"] == "pending"
        assert claim["last_check_error"] == (
            "The domain 'shared.example.com' is already claimed by another organization."
        )
        owners = (
            await db.scalars(
                select(SsoDomain.org_id).where(
                    SsoDomain.domain == "shared.example.com", SsoDomain.verified_at.is_not(None)
                )
            )
        ).all()
        assert owners == [org.id]

    async def test_users_of_another_org_since_the_claim_refuse_verification(
        self,
        client_for: ClientFor,
        admin: User,
        db: AsyncSession,
        org: Org,
        other_org: Org,
        idp: TestIdp,
        dns: TestDns,
    ) -> None:
        c = client_for(admin)
        body = _config_body(idp, "late.example.com")
        claim = _claims((await c.patch("/auth/sso/config", json=body)).json())["late.example.com"]
        await _verified_user(db, other_org, "first@late.example.com")
        dns.publish(str(claim["txt_record_name"]), str(claim["txt_record_value"]))
        r = await c.post(VERIFY)
        result = _claims(r.json())["late.example.com"]
        assert result["status"] == "pending"
        assert "Users of another organization" in str(result["last_check_error"])

    async def test_check_never_routes_another_orgs_user(
        self,
        anon: httpx.AsyncClient,
        db: AsyncSession,
        org: Org,
        other_org: Org,
        idp: TestIdp,
    ) -> None:
        """A user of another org with an address at a domain verified later keeps their own
        login: neither routed to this org's IdP nor refused."""
        await make_sso_config(db, org, idp, enforce=True)
        outsider = await make_user(db, other_org, email=f"outsider@{org_domain(org)}")
        r = await anon.get("/auth/sso/check", params={"email": outsider.email})
        assert r.json() == {"sso_enabled": False, "sso_required": False, "org_slug": None}
        assert (await _login(anon, outsider.email)).status_code == 200
        r = await anon.get("/auth/sso/check", params={"email": f"nobody@{org_domain(org)}"})
        assert r.json() == {"sso_enabled": True, "sso_required": True, "org_slug": org.slug}

    async def test_without_configuration_is_404(
        self, client_for: ClientFor, admin: User, dns: TestDns
    ) -> None:
        r = await client_for(admin).post(VERIFY)
        assert (r.status_code, r.json()["error"]["code"]) == (404, "SSO_NOT_CONFIGURED")
        assert dns.queries == []

    async def test_anonymous_401_members_and_viewers_403(
        self, client_for: ClientFor, db: AsyncSession, org: Org, idp: TestIdp, dns: TestDns
    ) -> None:
        await make_sso_config(db, org, idp, verified=False)
        dns.publish(f"_xplorr-challenge.{org_domain(org)}", "anything")
        r = await client_for(None).post(VERIFY)
        assert (r.status_code, r.json()["error"]["code"]) == (401, "UNAUTHORIZED")
        for role in (Role.MEMBER, Role.VIEWER):
            r = await client_for(await make_user(db, org, role=role)).post(VERIFY)
            assert (r.status_code, r.json()["error"]["code"]) == (403, "FORBIDDEN")
        assert dns.queries == []

    async def test_other_orgs_claims_are_not_touched(
        self,
        client_for: ClientFor,
        other_admin: User,
        db: AsyncSession,
        org: Org,
        idp: TestIdp,
        idp_b: TestIdp,
        dns: TestDns,
    ) -> None:
        await make_sso_config(db, org, idp, verified=False)
        row = await _claim(db, org, org_domain(org))
        dns.publish(
            f"_xplorr-challenge.{org_domain(org)}", f"xplorr-verification={row.verification_token}"
        )
        await client_for(other_admin).patch(
            "/auth/sso/config", json=_config_body(idp_b, "b-corp.example.com")
        )
        r = await client_for(other_admin).post(VERIFY)
        assert r.status_code == 200
        assert dns.queries == ["_xplorr-challenge.b-corp.example.com"]
        row = await _claim(db, org, org_domain(org))
        assert (row.verified_at, row.last_checked_at) == (None, None)

    async def test_rate_limited(
        self, client_for: ClientFor, admin: User, db: AsyncSession, org: Org, idp: TestIdp
    ) -> None:
        await make_sso_config(db, org, idp)  # verified: no lookups
        c = client_for(admin)
        for _ in range(10):
            assert (await c.post(VERIFY)).status_code == 200
        r = await c.post(VERIFY)
        assert (r.status_code, r.json()["error"]["code"]) == (429, "RATE_LIMITED")
        assert int(r.headers["retry-after"]) >= 1


class TestBackgroundRecheck:
    """``sso.recheck_domains`` (hourly) fans out one ``sso.recheck_org_domains`` per org with a
    recent pending claim, run here by a real worker loop."""

    async def _run(self, db: AsyncSession, settings: Settings) -> None:
        await queue.enqueue(db, "sso.recheck_domains", {})
        await db.commit()
        await run_jobs(settings)

    async def test_a_published_record_is_found_without_asking(
        self,
        db: AsyncSession,
        org: Org,
        other_org: Org,
        idp: TestIdp,
        idp_b: TestIdp,
        dns: TestDns,
        settings: Settings,
    ) -> None:
        org_id = org.id
        await make_sso_config(db, org, idp, verified=False)
        await make_sso_config(db, other_org, idp_b, verified=False)
        mine = await _claim(db, org, org_domain(org))
        dns.publish(
            f"_xplorr-challenge.{org_domain(org)}",
            f"xplorr-verification={mine.verification_token}",
        )
        old = await make_sso_config(
            db,
            await make_org(db, "Dormant"),
            TestIdp("c"),
            domains=["old.example.com"],
            verified=False,
        )
        await db.execute(
            update(SsoDomain)
            .where(SsoDomain.org_id == old.org_id)
            .values(created_at=clock.now() - timedelta(days=31))
        )
        await db.commit()
        await self._run(db, settings)
        assert (await _claim(db, org, org_domain(org))).verified_at is not None
        theirs = await _claim(db, other_org, org_domain(other_org))
        assert theirs.verified_at is None
        assert str(theirs.last_check_error).startswith("No TXT record found")
        assert "_xplorr-challenge.old.example.com" not in dns.queries
        [verified] = await _audit(db, "sso.domain_verified")
        assert (verified.org_id, verified.actor_user_id) == (org_id, None)
        assert await _audit(db, "sso.domain_verification_failed") == []  # hourly: no noise

    async def test_dns_without_answer_fails_the_job_visibly_and_changes_nothing(
        self, db: AsyncSession, org: Org, idp: TestIdp, dns: TestDns, settings: Settings
    ) -> None:
        await make_sso_config(db, org, idp, verified=False)
        dns.fail()
        await self._run(db, settings)
        await db.rollback()
        job = await db.scalar(select(Job).where(Job.name == "sso.recheck_org_domains"))
        assert job is not None
        assert (job.status, job.attempts) == (JobStatus.DEAD, 1)
        assert "SSO domain claims not checked" in str(job.last_error)
        row = await _claim(db, org, org_domain(org))
        assert (row.verified_at, row.last_checked_at) == (None, None)


class TestOneVerifiedClaimPerDomain:
    async def test_the_database_refuses_a_second_verified_claim(
        self, db: AsyncSession, org: Org, other_org: Org, idp: TestIdp, idp_b: TestIdp
    ) -> None:
        """What decides two organizations verifying one domain at once (``_mark_verified``):
        pending claims may share a domain, verified ones may not."""
        await make_sso_config(db, org, idp, domains=["race.example.com"])
        await make_sso_config(db, other_org, idp_b, domains=["race.example.com"], verified=False)
        with pytest.raises(IntegrityError):
            await db.execute(
                update(SsoDomain)
                .where(SsoDomain.domain == "race.example.com", SsoDomain.verified_at.is_(None))
                .values(verified_at=clock.now())
            )
        await db.rollback()
