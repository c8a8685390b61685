"""/team: the list as each role may see it, invitations, role changes, deactivation and
per-user account access; what a viewer may not press is not shown, and refused if posted."""

import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession
from tests.factories.cloud_accounts import make_account

from xplorr.orgs.models import Org
from xplorr.users.models import User


async def test_admin_sees_everyone_invites_and_is_told_what_is_wrong(
    console_for, admin: User, member: User, viewer: User
) -> None:
    client = console_for(admin)
    page = await client.get("/team")
    assert page.status_code == 200
    for user in (admin, member, viewer):
        assert user.email in page.text
    assert "Send the invitation" in page.text
    assert "No invitation is waiting" in page.text
    assert '<option value="owner"' not in page.text  # only an owner hands out the owner role

    bad = await client.submit("/team/invite", {"email": "not an address", "role": "member"})
    assert bad.status_code == 422
    assert 'id="e-email"' in bad.text
    assert 'value="not an address"' in bad.text  # the input is kept

    sent = await client.submit("/team/invite", {"email": "new.hire@acme.io", "role": "viewer"})
    assert (sent.status_code, sent.headers["location"]) == (303, "/team")
    page = await client.get("/team")
    assert "new.hire@acme.io" in page.text.split("Pending invitations", 1)[1]


async def test_admin_changes_a_role_and_deactivates(
    console_for, app: FastAPI, admin: User, member: User, owner: User
) -> None:
    client = console_for(admin)
    changed = await client.submit(f"/team/{member.id}/role", {"role": "viewer"})
    assert changed.status_code == 303
    assert f'id="role-{member.id}"' in (await client.get("/team")).text
    # Only the owner may touch the owner: the API says no, in words.
    refused = await client.submit(f"/team/{owner.id}/role", {"role": "member"})
    assert refused.status_code == 403
    assert 'role="alert"' in refused.text
    gone = await client.submit(f"/team/{member.id}/deactivate")
    assert gone.status_code == 303
    assert "deactivated" in (await console_for(admin).get("/team")).text
    # The deactivated user's browser is signed out at once.
    assert (await console_for(member).get("/team")).status_code == 303


async def test_viewer_sees_only_themselves_and_no_button(
    console_for, viewer: User, admin: User, member: User
) -> None:
    client = console_for(viewer)
    page = await client.get("/team")
    assert page.status_code == 200
    assert viewer.email in page.text
    assert admin.email not in page.text
    assert "Only owners and admins see the whole team." in page.text
    for button in ("Send the invitation", "Deactivate", "Account access", "<select"):
        assert button not in page.text
    refused = await client.submit("/team/invite", {"email": "x@acme.io", "role": "member"})
    assert refused.status_code == 403
    assert 'role="alert"' in refused.text
    refused = await client.submit(f"/team/{member.id}/deactivate")
    assert refused.status_code == 403


async def test_account_access_grant_and_revoke(
    console_for, db: AsyncSession, org: Org, admin: User, member: User
) -> None:
    prod = await make_account(db, org, name="Production")
    await make_account(db, org, name="Staging", provider_account_id="staging-1")
    client = console_for(admin)
    page = await client.get(f"/team/{member.id}/access")
    assert page.status_code == 200
    assert "Every cloud account of the organization" in page.text
    empty = await client.submit(f"/team/{member.id}/access", {})
    assert empty.status_code == 422
    granted = await client.submit(f"/team/{member.id}/access", {"account_ids": str(prod.id)})
    assert granted.status_code == 303
    page = await client.get(f"/team/{member.id}/access")
    assert "Revoke" in page.text
    assert "Production" in page.text.split("Can see", 1)[1].split("Grant access", 1)[0]
    revoked = await client.submit(f"/team/{member.id}/access/{prod.id}/revoke")
    assert revoked.status_code == 303
    assert "Every cloud account" in (await client.get(f"/team/{member.id}/access")).text
    # A member may not open it: the API's refusal, as a page.
    refused = await console_for(member).get(f"/team/{admin.id}/access")
    assert refused.status_code == 403
    assert 'role="alert"' in refused.text


@pytest.mark.browser
async def test_team_in_chromium_on_a_phone(
    browse, db: AsyncSession, org: Org, admin: User, member: User
) -> None:
    await make_account(db, org, name="Production")
    page = await browse.page(admin, width=390, height=844)
    await page.goto("/team")
    await page.get_by_label(f"Role of {member.name}").select_option("viewer")
    await page.get_by_role("button", name=f"Save role of {member.name}").click()
    await page.get_by_text(f"{member.name} is now viewer.").wait_for()
    assert await browse.axe(page) == []
    await page.get_by_role("link", name=f"Account access of {member.name}").click()
    await page.get_by_label("Production").check()
    await page.get_by_role("button", name="Grant").click()
    await page.get_by_text("Access granted.").wait_for()
    assert await browse.axe(page) == []
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390
