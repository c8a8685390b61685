"""/security (2FA, password, the organization's 2FA requirement and SSO), /tokens (shown once),
/settings and /settings/notifications, and /audit (filters, pages, CSV): each page's happy
path, its role rules and an error in words; the rich paths in Chromium."""

from pathlib import Path

import pyotp
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession
from tests.factories.cloud_accounts import make_account
from tests.factories.twofa import enable_totp
from tests.factories.users import DEFAULT_PASSWORD
from tests.sso.idp import TestIdp
from tests.twofa.conftest import code_at

from xplorr.auth import browser
from xplorr.orgs.models import Org
from xplorr.users.models import User

NEW_PASSWORD = "a brand new passphrase 31"

# --- /security -------------------------------------------------------------------------------


async def test_member_security_page_and_wrong_codes_and_passwords(
    console_for, member: User
) -> None:
    client = console_for(member)
    page = await client.get("/security")
    assert page.status_code == 200
    assert "Set up an authenticator app" in page.text
    assert "Two-factor authentication for everyone" not in page.text  # admins only
    assert "Single sign-on" not in page.text
    setup = await client.submit("/security/2fa/setup")
    assert setup.status_code == 200
    assert 'src="data:image/svg+xml' in setup.text
    bad = await client.submit(
        "/security/2fa/confirm", {"code": "000000", "secret": "X", "otpauth_uri": "", "qr_code": ""}
    )
    assert bad.status_code == 400
    assert 'role="alert"' in bad.text
    wrong = await client.submit(
        "/security/password",
        {
            "current_password": "not my password!",
            "new_password": NEW_PASSWORD,
            "confirm_password": NEW_PASSWORD,
        },
    )
    assert wrong.status_code == 400
    assert "current password is not correct" in wrong.text
    refused = await client.submit("/security/require-2fa", {"required": "true"})
    assert refused.status_code == 403  # a member may not, and is told


async def test_password_change_ends_the_login(console_for, app: FastAPI, member: User) -> None:
    client = console_for(member)
    done = await client.submit(
        "/security/password",
        {
            "current_password": DEFAULT_PASSWORD,
            "new_password": NEW_PASSWORD,
            "confirm_password": NEW_PASSWORD,
        },
    )
    assert (done.status_code, done.headers["location"]) == (303, "/login")
    cleared = [h for h in done.headers.get_list("set-cookie") if h.startswith("xplorr_session=")]
    assert cleared
    assert "Max-Age=0" in cleared[0]
    # The login itself is over, not only the cookie: the old cookie opens nothing.
    assert (await console_for(member).get("/security")).status_code == 303


async def test_required_2fa_sends_a_member_to_security_which_works_without_navigation(
    console_for, db: AsyncSession, admin: User, member: User
) -> None:
    off = await console_for(admin).submit("/security/require-2fa", {"required": "true"})
    assert off.status_code == 400  # the admin has no second factor yet: said in words
    assert 'role="alert"' in off.text
    await enable_totp(db, admin)
    on = await console_for(admin).submit("/security/require-2fa", {"required": "true"})
    assert (on.status_code, on.headers["location"]) == (303, "/security")

    client = console_for(member)
    sent = await client.get("/")
    assert (sent.status_code, sent.headers["location"]) == (303, "/security")
    page = await client.get("/security")
    assert page.status_code == 200
    assert "requires two-factor authentication" in page.text
    assert 'class="side"' not in page.text  # no navigation to pages that would refuse
    assert "Sign out" in page.text
    setup = await client.submit("/security/2fa/setup")
    secret = setup.text.split('data-testid="totp-secret">', 1)[1].split("<", 1)[0]
    confirmed = await client.submit(
        "/security/2fa/confirm",
        {"code": await code_at(secret), "secret": secret, "otpauth_uri": "", "qr_code": ""},
    )
    assert confirmed.status_code == 200
    assert 'data-testid="recovery-codes"' in confirmed.text
    assert 'class="side"' in confirmed.text  # the requirement is met: the navigation is back
    assert (await client.get("/")).status_code == 200


async def test_admin_configures_single_sign_on(console_for, admin: User, org: Org) -> None:
    client = console_for(admin)
    page = await client.get("/security")
    assert "Not set up." in page.text
    incomplete = await client.submit(
        "/security/sso", {"idp_entity_id": "https://idp.example.test/e", "email_domains": ""}
    )
    assert incomplete.status_code in (400, 422)
    assert 'value="https://idp.example.test/e"' in incomplete.text
    idp = TestIdp("a")
    saved = await client.submit(
        "/security/sso",
        {
            "idp_entity_id": idp.entity_id,
            "sso_url": idp.sso_url,
            "x509_cert": idp.cert_pem,
            "email_domains": "acme-console-sso.io",
            "default_role": "viewer",
        },
    )
    assert saved.status_code == 303, saved.text
    page = await client.get("/security")
    assert "acme-console-sso.io" in page.text
    assert "/api/v1/auth/saml/acs" in page.text
    assert "Check the DNS records" in page.text
    off = await client.submit("/security/sso/delete")
    assert off.status_code == 303
    assert "Not set up." in (await client.get("/security")).text


@pytest.mark.browser
async def test_security_in_chromium_turn_2fa_on_and_off(browse, member: User) -> None:
    page = await browse.page(member)
    await page.goto("/security")
    assert await browse.axe(page) == []
    await page.get_by_role("button", name="Set up an authenticator app").click()
    secret = (await page.get_by_test_id("totp-secret").inner_text()).strip()
    await page.get_by_label("Code from the app").fill(await code_at(secret))
    await page.get_by_role("button", name="Turn on two-factor authentication").click()
    codes = (await page.get_by_test_id("recovery-codes").inner_text()).split()
    assert len(codes) == 10
    await page.goto("/security")
    assert await page.get_by_test_id("recovery-codes").count() == 0  # shown once
    await page.get_by_text("Turn it off").click()
    await page.get_by_label("Your password").fill("wrong password 12")
    await page.get_by_label("Code from the app, or a recovery code").fill(codes[0])
    await page.get_by_role("button", name="Turn off two-factor authentication").click()
    await page.get_by_role("alert").wait_for()
    await page.get_by_label("Your password").fill(DEFAULT_PASSWORD)
    await page.get_by_label("Code from the app, or a recovery code").fill(codes[0])
    await page.get_by_role("button", name="Turn off two-factor authentication").click()
    await page.get_by_text("Two-factor authentication is off.").wait_for()
    assert pyotp.TOTP(secret).now()


# --- /tokens -----------------------------------------------------------------------------------


@pytest.mark.browser
async def test_token_is_shown_once_and_revoked(
    browse, db: AsyncSession, org: Org, member: User
) -> None:
    await make_account(db, org, name="Production")
    page = await browse.page(member)
    await page.goto("/tokens")
    await page.get_by_text("No token yet").wait_for()
    await page.get_by_label("Name").fill("nightly export")
    await page.get_by_label("Access").select_option("read")
    await page.get_by_label("Expires").select_option("30")
    await page.get_by_label("Production").check()
    await page.get_by_role("button", name="Create the token").click()
    value = await page.get_by_test_id("token-value").input_value()
    assert value.startswith("xplorr_")
    assert await browse.axe(page) == []
    await page.get_by_role("link", name="Done").click()
    listed = await page.locator("#live-h + table").inner_text()
    assert "nightly export" in listed
    assert "read only" in listed
    assert "Production" in listed
    assert value not in await page.content()  # never shown again
    assert await browse.axe(page) == []
    page.on("dialog", lambda dialog: dialog.accept())
    await page.get_by_role("button", name="Revoke nightly export").click()
    await page.get_by_text("The token is revoked").wait_for()


async def test_token_errors_in_words(console_for, viewer: User) -> None:
    client = console_for(viewer)
    page = await client.get("/tokens")
    assert page.status_code == 200
    refused = await client.submit("/tokens", {"name": "", "scope": "read", "expires": "90"})
    assert refused.status_code == 422
    assert 'id="e-name"' in refused.text
    made = await client.submit("/tokens", {"name": "ci", "scope": "read", "expires": "never"})
    assert made.status_code == 201
    assert "never expires" in made.text


# --- /settings -----------------------------------------------------------------------------


async def test_settings_admin_saves_and_is_told_about_a_bad_zone(console_for, admin: User) -> None:
    client = console_for(admin)
    page = await client.get("/settings")
    assert page.status_code == 200
    assert "Save settings" in page.text
    assert "Cloud accounts" in page.text  # the organization's numbers
    assert "Close the organization" not in page.text  # the owner's
    form = {
        "default_currency": "EUR",
        "timezone": "Mars/Olympus",
        "approval_threshold": "100",
        "anomaly_min_delta": "5",
        "digest_time": "08:30",
        "commitment_term": "one_year",
        "commitment_payment_option": "no_upfront",
    }
    bad = await client.submit("/settings", form)
    assert bad.status_code == 422
    assert 'id="e-timezone"' in bad.text
    assert 'value="Mars/Olympus"' in bad.text
    saved = await client.submit("/settings", {**form, "timezone": "Europe/Paris"})
    assert saved.status_code == 303
    page = await client.get("/settings")
    assert 'value="Europe/Paris"' in page.text
    assert 'value="EUR"' in page.text
    renamed = await client.submit("/settings/name", {"name": "Acme Europe"})
    assert renamed.status_code == 303
    assert "Acme Europe" in (await client.get("/settings")).text


async def test_settings_viewer_reads_only(console_for, viewer: User) -> None:
    client = console_for(viewer)
    page = await client.get("/settings")
    assert page.status_code == 200
    assert "Only owners and admins change these." in page.text
    assert "Save settings" not in page.text
    assert "Rename" not in page.text
    refused = await client.submit("/settings", {"timezone": "Europe/Paris"})
    assert refused.status_code == 403
    assert 'role="alert"' in refused.text


@pytest.mark.browser
async def test_owner_closes_the_organization_after_typing_its_name(
    browse, owner: User, org: Org, app: FastAPI
) -> None:
    page = await browse.page(owner)
    await page.goto("/settings")
    assert await browse.axe(page) == []
    await page.get_by_text(f"Close {org.name}…").click()
    await page.get_by_label("Type the organization's name to confirm").fill("not the name")
    await page.get_by_label("Your password").fill(DEFAULT_PASSWORD)
    await page.get_by_role("button", name="Close the organization and delete its data").click()
    await page.get_by_role("alert").wait_for()
    await page.get_by_label("Type the organization's name to confirm").fill(org.name)
    await page.get_by_label("Your password").fill(DEFAULT_PASSWORD)
    await page.get_by_role("button", name="Close the organization and delete its data").click()
    await page.get_by_text("is closed").wait_for()
    assert "/login" in page.url
    cookies = {c["name"] for c in await page.context.cookies()}
    assert browser.SESSION_COOKIE not in cookies


async def test_notification_preferences(console_for, viewer: User) -> None:
    client = console_for(viewer)
    page = await client.get("/settings/notifications")
    assert page.status_code == 200
    assert 'name="sync_complete">' in page.text  # off by default
    saved = await client.submit(
        "/settings/notifications", {"sync_complete": "on", "anomaly_detected": "on"}
    )
    assert saved.status_code == 303
    page = await client.get("/settings/notifications")
    assert 'name="sync_complete" checked' in page.text
    assert 'name="budget_alert" checked' not in page.text


# --- /audit --------------------------------------------------------------------------------


@pytest.mark.browser
async def test_audit_log_filters_and_csv(browse, console_for, admin: User, member: User) -> None:
    await console_for(admin).submit("/team/invite", {"email": "aud@acme.io", "role": "viewer"})
    await console_for(admin).submit("/settings/name", {"name": "Acme Audited"})
    page = await browse.page(admin)
    await page.goto("/audit")
    table = await page.locator("#entries-h ~ table").inner_text()
    assert "org.updated" in table or "organization" in table.lower()
    await page.get_by_label("Action").select_option(index=1)
    await page.get_by_role("button", name="Filter").click()
    await page.get_by_role("link", name="Clear").wait_for()
    assert await browse.axe(page) == []
    async with page.expect_download() as info:
        await page.get_by_role("link", name="Download CSV").click()
    download = await info.value
    assert download.suggested_filename.endswith(".csv")
    text = Path(await download.path()).read_text()  # noqa: ASYNC240 - a small local file
    assert text.splitlines()[0].startswith(("timestamp", "id", "Timestamp"))
    await page.goto("/audit?from=not-a-date")
    await page.get_by_role("alert").wait_for()


async def test_audit_is_for_admins(console_for, member: User) -> None:
    client = console_for(member)
    page = await client.get("/audit")
    assert page.status_code == 403
    assert 'role="alert"' in page.text
    assert 'href="/audit"' not in (await client.get("/settings")).text  # not in the nav
    assert (await client.get("/audit/export")).status_code == 403
