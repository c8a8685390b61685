"""Sync outcomes and joining notify through the hub: a failed sync emails the users who may
see the account (sync_failed is on by default), a successful one only those who turned
sync_complete on; an invited user who joins is welcomed."""

from datetime import timedelta
from pathlib import Path

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import ClientFor
from tests.factories.cloud_accounts import grant, make_account
from tests.mail import Mailbox, run_jobs, text_of
from tests.sync.conftest import FOCUS_10, copy_samples
from xplorr.auth.models import Invitation
from xplorr.cloud_accounts.models import Provider
from xplorr.core import clock, security
from xplorr.core.settings import Settings
from xplorr.notifications.models import NotificationDelivery
from xplorr.orgs.models import Org
from xplorr.users.models import User


async def test_a_failed_sync_emails_who_may_see_the_account_once(
    client_for: ClientFor,
    db: AsyncSession,
    settings: Settings,
    mailbox: Mailbox,
    org: Org,
    admin: User,
    member: User,
) -> None:
    root = settings.focus_root_dirs[0]
    root.mkdir(parents=True, exist_ok=True)
    broken = await make_account(
        db, org, provider=Provider.FOCUS, name="Broken", credentials={"path": str(root / "gone")}
    )
    await grant(db, member, await make_account(db, org, name="Other"))
    r = await client_for(admin).post(f"/sync/{broken.id}")
    assert r.status_code == 202, r.text
    await run_jobs(settings)
    assert [m["To"] for m in mailbox.messages] == [admin.email]  # not the member
    msg = mailbox.last_to(admin.email)
    assert msg["Subject"] == "[Xplorr] Sync failed: Broken"
    assert f"http://127.0.0.1:8000/cloud-accounts/{broken.id}" in text_of(msg)
    rows = (await db.scalars(select(NotificationDelivery))).all()
    assert [(d.event_type, d.target) for d in rows] == [("sync_failed", admin.email)]


async def test_sync_complete_only_for_who_asked(
    client_for: ClientFor,
    db: AsyncSession,
    settings: Settings,
    mailbox: Mailbox,
    org: Org,
    admin: User,
    viewer: User,
) -> None:
    folder = copy_samples(Path(settings.focus_root_dirs[0]) / "acme", FOCUS_10)
    account = await make_account(
        db, org, provider=Provider.FOCUS, name="Acme FOCUS", credentials={"path": str(folder)}
    )
    on = await client_for(viewer).patch(
        "/users/notification-preferences", json={"sync_complete": True}
    )
    assert on.json()["sync_complete"] is True
    assert (await client_for(admin).post(f"/sync/{account.id}")).status_code == 202
    await run_jobs(settings)
    assert [m["To"] for m in mailbox.messages] == [viewer.email]
    text = text_of(mailbox.last_to(viewer.email))
    assert "Sync complete: Acme FOCUS" in text
    assert "rows" in text


async def test_an_invited_user_who_joins_is_welcomed_once(
    anon: httpx.AsyncClient,
    db: AsyncSession,
    settings: Settings,
    mailbox: Mailbox,
    org: Org,
    admin: User,
) -> None:
    token = security.new_opaque_token()
    db.add(
        Invitation(
            org_id=org.id,
            email="newbie@acme.example.com",
            role="member",
            account_ids=[],
            invited_by_user_id=admin.id,
            token_sha256=security.sha256_hex(token),
            expires_at=clock.now() + timedelta(days=7),
        )
    )
    await db.commit()
    r = await anon.post(
        "/auth/accept-invitation",
        json={"token": token, "name": "New Bie", "password": "a long passphrase 4 tests"},
    )
    assert r.status_code == 201, r.text
    await run_jobs(settings)
    msg = mailbox.last_to("newbie@acme.example.com")
    assert msg["Subject"] == "[Xplorr] Welcome to Acme on Xplorr"
    assert "Hello New Bie" in text_of(msg)
    assert [m["To"] for m in mailbox.messages] == ["newbie@acme.example.com"]
