"""The public account pages and the emailed links (reset, verify, invitation), single sign-on's
start and callback, and passkeys: registered on /security and used on /login in real Chromium
with a virtual authenticator (CDP ``WebAuthn``), which is real WebAuthn in a real browser."""

import html
import json
import re
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession
from tests.console.conftest import Browse
from tests.factories.sso import make_sso_config
from tests.mail import Mailbox, run_jobs, token_in
from tests.sso.idp import TestIdp

from xplorr.core.settings import Settings
from xplorr.orgs.models import Org
from xplorr.users.models import User

NEW_PASSWORD = "another long passphrase 99"


async def api_login(app: FastAPI, email: str, password: str) -> httpx.Response:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t/api/v1"
    ) as client:
        return await client.post("/auth/login", json={"email": email, "password": password})


async def test_forgotten_password_reset_from_the_emailed_link(
    console_for, app: FastAPI, settings: Settings, mailbox: Mailbox, member: User
) -> None:
    browser = console_for(None)
    sent = await browser.submit("/forgot-password", {"email": member.email})
    assert sent.status_code == 200
    assert "If an account exists" in sent.text or "link" in sent.text
    await run_jobs(settings)
    token = token_in(mailbox.last_to(member.email), "/reset-password")

    page = await browser.get(f"/reset-password?token={token}")
    assert page.status_code == 200
    assert 'name="new_password"' in page.text
    # Two different passwords: said next to the field, nothing changed.
    mismatch = await browser.submit(
        "/reset-password",
        {"token": token, "new_password": NEW_PASSWORD, "confirm_password": "something else 1"},
    )
    assert mismatch.status_code == 422
    assert "not the same" in mismatch.text
    # Too short: the API's 422 in words, next to the field.
    short = await browser.submit(
        "/reset-password", {"token": token, "new_password": "short", "confirm_password": "short"}
    )
    assert short.status_code == 422
    assert 'id="e-new_password"' in short.text
    done = await browser.submit(
        "/reset-password",
        {"token": token, "new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD},
    )
    assert (done.status_code, done.headers["location"]) == (303, "/login")
    assert (await api_login(app, member.email, NEW_PASSWORD)).status_code == 200
    # The link worked once.
    again = await browser.submit(
        "/reset-password",
        {"token": token, "new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD},
    )
    assert again.status_code in (400, 404)
    assert 'role="alert"' in again.text
    assert '"code":' not in again.text  # words, not the JSON envelope


async def test_verify_email_page_signed_in_offers_a_new_link_and_refuses_a_bad_token(
    console_for, settings: Settings, mailbox: Mailbox, member: User
) -> None:
    assert not member.email_verified
    client = console_for(member)
    page = await client.get("/verify-email")
    assert page.status_code == 200
    assert "Send a new link" in page.text
    resent = await client.submit("/verify-email/resend")
    assert (resent.status_code, resent.headers["location"]) == (303, "/verify-email")
    await run_jobs(settings)
    token = token_in(mailbox.last_to(member.email), "/verify-email")

    bad = await console_for(None).submit("/verify-email", {"token": "not-a-token"})
    assert bad.status_code in (400, 404)
    assert 'role="alert"' in bad.text

    page = await console_for(None).get(f"/verify-email?token={token}")
    assert "Verify my email" in page.text
    done = await client.submit("/verify-email", {"token": token})
    assert (done.status_code, done.headers["location"]) == (303, "/")
    assert "is verified" in (await client.get("/verify-email")).text


async def test_invitation_link_that_does_not_exist_is_said_in_words(console_for) -> None:
    page = await console_for(None).get("/accept-invitation?token=nope")
    assert page.status_code == 404
    assert "Ask the person who invited you" in page.text
    refused = await console_for(None).submit(
        "/accept-invitation",
        {"token": "nope", "name": "X", "password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD},
    )
    assert refused.status_code == 404


async def test_sso_start_hands_the_browser_binding_cookie_and_links_to_the_idp(
    console_for, db: AsyncSession, org: Org, member: User
) -> None:
    idp = TestIdp("a")
    await make_sso_config(db, org, idp)
    browser = console_for(None)
    unknown = await browser.submit("/login/sso", {"who": "no-such-org"})
    assert unknown.status_code == 404
    assert "single sign-on" in unknown.text.lower()
    no_sso = await browser.submit("/login/sso", {"who": "someone@initech-elsewhere.io"})
    assert no_sso.status_code == 404
    assert "Sign in with your password" in no_sso.text

    started = await browser.submit("/login/sso", {"who": member.email, "next": "/team"})
    assert started.status_code == 200, started.text
    assert "data-follow" in started.text
    found = re.search(r'href="(https://idp-a[^"]+)" data-follow', started.text)
    assert found
    link = html.unescape(found.group(1))
    assert link.startswith(idp.sso_url)
    assert "SAMLRequest=" in urlsplit(link).query
    binding = next(
        h for h in started.headers.get_list("set-cookie") if h.startswith("xplorr_saml_browser=")
    )
    assert "HttpOnly" in binding
    assert "SameSite=none" in binding or "samesite=none" in binding.lower()


async def test_sso_callback_sends_signed_in_home_and_others_to_login(
    console_for, member: User
) -> None:
    home = await console_for(member).get("/sso/callback")
    assert (home.status_code, home.headers["location"]) == (303, "/")
    lost = await console_for(None).get("/sso/callback")
    assert (lost.status_code, lost.headers["location"]) == (303, "/login")


async def test_passkey_login_with_a_forged_credential_is_refused_in_words(console_for) -> None:
    browser = console_for(None)
    empty = await browser.submit("/login/passkey", {"credential": ""})
    assert empty.status_code == 400
    assert "no passkey" in empty.text
    forged: dict[str, Any] = {
        "id": "AAAA",
        "rawId": "AAAA",
        "type": "public-key",
        "response": {"clientDataJSON": "AAAA", "authenticatorData": "AAAA", "signature": "AAAA"},
    }
    refused = await browser.submit("/login/passkey", {"credential": json.dumps(forged)})
    assert refused.status_code in (400, 401)
    assert 'role="alert"' in refused.text
    assert '"code"' not in refused.text
    options = await browser.get("/login/passkey/options")
    assert options.status_code == 200
    assert options.json()["challenge"]


@pytest.mark.browser
async def test_passkey_registered_on_security_signs_in_on_login(
    browse: Browse, app: FastAPI, member: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    # WebAuthn refuses an IP address as relying party: the browser uses "localhost" (same
    # server), and the API's relying party follows it.
    local = Browse(
        app=app, url=browse.url.replace("127.0.0.1", "localhost"), browser=browse.browser
    )
    monkeypatch.setattr(app.state.settings, "webauthn_rp_id", "localhost")
    monkeypatch.setattr(app.state.settings, "webauthn_origins", [local.url])
    try:
        page = await local.page(member)
        cdp = await page.context.new_cdp_session(page)
        await cdp.send("WebAuthn.enable")
        await cdp.send(
            "WebAuthn.addVirtualAuthenticator",
            {
                "options": {
                    "protocol": "ctap2",
                    "transport": "internal",
                    "hasResidentKey": True,
                    "hasUserVerification": True,
                    "isUserVerified": True,
                    "automaticPresenceSimulation": True,
                }
            },
        )
        await page.goto("/security")
        await page.get_by_label("Name of the new passkey").fill("Work laptop")
        await page.get_by_role("button", name="Add a passkey").click()
        await page.get_by_text("Passkey “Work laptop” added.").wait_for()
        assert "Work laptop" in await page.locator("#pk-h + p + table").inner_text()
        assert await local.axe(page) == []

        await page.get_by_role("button", name="Sign out").click()
        await page.get_by_text("You are signed out.").wait_for()
        await page.get_by_role("button", name="Use a passkey").click()
        await page.get_by_role("heading", name="Overview").wait_for()
        assert member.email in await page.locator(".who").inner_text()
    finally:
        for context in local.contexts:
            await context.close()
    assert local.outside == []
    assert local.problems == []
