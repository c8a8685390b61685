"""Email verification, password reset and invitations, end to end through a real SMTP server:
each test reads the message from the server, follows the link's token and completes the flow."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import ClientFor
from tests.factories.cloud_accounts import make_account
from tests.factories.users import DEFAULT_PASSWORD, make_user, session_of
from tests.mail import Mailbox, run_jobs, text_of, token_in
from xplorr.auth.models import AuthSession, Invitation, OneTimeToken, TokenPurpose
from xplorr.cloud_accounts.models import AccountGrant
from xplorr.core import clock, security
from xplorr.core.audit import AuditEntry
from xplorr.core.settings import Settings
from xplorr.core.tenancy import Role
from xplorr.orgs.models import Org
from xplorr.users.models import User

SIGNUP = {
    "email": "founder@initech.io",
    "password": "a long and unusual passphrase",
    "name": "Peter Gibbons",
    "organization_name": "Initech",
}
NEW_PASSWORD = "another quite long passphrase 7"


async def _actions(db: AsyncSession) -> list[str]:
    db.expire_all()
    return list((await db.scalars(select(AuditEntry.action))).all())


class TestVerifyEmail:
    async def test_signup_mail_link_verifies(
        self, anon, settings: Settings, mailbox: Mailbox, db: AsyncSession
    ) -> None:
        r = await anon.post("/auth/signup", json=SIGNUP)
        assert r.status_code == 201
        access = r.json()["access_token"]
        await run_jobs(settings)
        msg = mailbox.last_to("founder@initech.io")
        assert msg["Subject"] == "Verify your email address"
        token = token_in(msg, "/verify-email")
        assert len(token) >= 43  # 256 bits, base64url
        stored = await db.scalar(select(OneTimeToken.token_sha256))
        assert stored == security.sha256_hex(token)  # only the hash is kept
        r = await anon.post("/auth/verify-email", json={"token": token})
        assert (r.status_code, r.json()) == (200, {"email_verified": True})
        me = await anon.get("/auth/me", headers={"Authorization": f"Bearer {access}"})
        assert me.json()["email_verified"] is True
        assert me.json()["email_verified_at"] is not None
        assert "user.email_verified" in await _actions(db)
        again = await anon.post("/auth/verify-email", json={"token": token})
        assert again.status_code == 400  # single use
        assert again.json()["error"]["code"] == "INVALID_OR_EXPIRED_TOKEN"

    async def test_resend_answers_the_same_for_unknown_addresses(
        self, anon, settings: Settings, mailbox: Mailbox, owner: User, db: AsyncSession
    ) -> None:
        known = await anon.post("/auth/resend-verification", json={"email": owner.email})
        unknown = await anon.post("/auth/resend-verification", json={"email": "no@one.io"})
        assert known.status_code == unknown.status_code == 202
        assert known.json() == unknown.json()
        await run_jobs(settings)
        assert [m["To"] for m in mailbox.messages] == [owner.email]
        token = token_in(mailbox.last_to(owner.email), "/verify-email")
        assert (await anon.post("/auth/verify-email", json={"token": token})).status_code == 200
        # Verified now: a new request sends nothing, with the same answer.
        r = await anon.post("/auth/resend-verification", json={"email": owner.email.upper()})
        assert (r.status_code, r.json()) == (202, known.json())
        await run_jobs(settings)
        assert len(mailbox.messages) == 1

    async def test_expired_token_is_refused(
        self, anon, settings: Settings, mailbox: Mailbox, owner: User, db: AsyncSession
    ) -> None:
        r = await anon.post("/auth/resend-verification", json={"email": owner.email})
        assert r.status_code == 202
        await run_jobs(settings)
        token = token_in(mailbox.last_to(owner.email), "/verify-email")
        await db.execute(update(OneTimeToken).values(expires_at=clock.now() - timedelta(seconds=1)))
        await db.commit()
        r = await anon.post("/auth/verify-email", json={"token": token})
        assert r.status_code == 400

    @pytest.mark.parametrize("body", [{}, {"token": ""}, {"token": "x", "extra": 1}])
    async def test_bad_input_is_422(self, anon, body: dict[str, object]) -> None:
        r = await anon.post("/auth/verify-email", json=body)
        assert (r.status_code, r.json()["error"]["code"]) == (422, "VALIDATION_ERROR")

    async def test_resend_is_rate_limited(self, anon) -> None:
        for _ in range(20):
            r = await anon.post("/auth/resend-verification", json={"email": "a@b.io"})
            assert r.status_code == 202
        r = await anon.post("/auth/resend-verification", json={"email": "a@b.io"})
        assert r.status_code == 429
        assert int(r.headers["retry-after"]) >= 1


class TestPasswordReset:
    async def test_reset_by_email_link_ends_every_session(
        self,
        anon,
        client_for: ClientFor,
        settings: Settings,
        mailbox: Mailbox,
        member: User,
        db: AsyncSession,
    ) -> None:
        assert (await client_for(member).get("/auth/me")).status_code == 200
        r = await anon.post("/auth/forgot-password", json={"email": member.email})
        assert r.status_code == 202
        await run_jobs(settings)
        msg = mailbox.last_to(member.email)
        assert msg["Subject"] == "Reset your Xplorr password"
        assert "60 minutes" in text_of(msg)
        token = token_in(msg, "/reset-password")
        r = await anon.post(
            "/auth/reset-password", json={"token": token, "new_password": NEW_PASSWORD}
        )
        assert r.status_code == 204
        # Every session ended, the old password is gone, the new one works.
        assert (await client_for(member).get("/auth/me")).status_code == 401
        session = await db.get(AuthSession, session_of(member), populate_existing=True)
        assert session is not None
        assert session.revoke_reason == "password_reset"
        login = {"email": member.email, "password": DEFAULT_PASSWORD}
        assert (await anon.post("/auth/login", json=login)).status_code == 401
        login["password"] = NEW_PASSWORD
        assert (await anon.post("/auth/login", json=login)).status_code == 200
        # Single use.
        r = await anon.post(
            "/auth/reset-password", json={"token": token, "new_password": NEW_PASSWORD + "x"}
        )
        assert r.status_code == 400
        actions = await _actions(db)
        assert "user.password_reset_requested" in actions
        assert "user.password_changed" in actions

    async def test_unknown_address_gets_the_identical_answer_and_no_mail(
        self, anon, settings: Settings, mailbox: Mailbox, member: User
    ) -> None:
        a = await anon.post("/auth/forgot-password", json={"email": member.email})
        b = await anon.post("/auth/forgot-password", json={"email": "ghost@nowhere.io"})
        assert (a.status_code, a.json(), a.headers.get("content-length")) == (
            b.status_code,
            b.json(),
            b.headers.get("content-length"),
        )
        await run_jobs(settings)
        assert [m["To"] for m in mailbox.messages] == [member.email]

    async def test_outstanding_links_die_when_the_password_changes(
        self,
        anon,
        client_for: ClientFor,
        settings: Settings,
        mailbox: Mailbox,
        member: User,
        db: AsyncSession,
    ) -> None:
        await anon.post("/auth/forgot-password", json={"email": member.email})
        await anon.post("/auth/forgot-password", json={"email": member.email})
        await run_jobs(settings)
        first, second = (token_in(m, "/reset-password") for m in mailbox.to(member.email))
        assert first != second
        r = await anon.post(
            "/auth/reset-password", json={"token": second, "new_password": NEW_PASSWORD}
        )
        assert r.status_code == 204
        r = await anon.post(
            "/auth/reset-password", json={"token": first, "new_password": NEW_PASSWORD + "!"}
        )
        assert r.status_code == 400  # the other link died with the change
        # And a change through change-password kills a fresh link too.
        await anon.post("/auth/forgot-password", json={"email": member.email})
        await run_jobs(settings)
        third = token_in(mailbox.last_to(member.email), "/reset-password")
        me = await make_user(db, (await db.get_one(Org, member.org_id)), role=Role.MEMBER)
        del me
        login = await anon.post(
            "/auth/login", json={"email": member.email, "password": NEW_PASSWORD}
        )
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        r = await anon.post(
            "/auth/change-password",
            json={"current_password": NEW_PASSWORD, "new_password": NEW_PASSWORD + "?"},
            headers=headers,
        )
        assert r.status_code == 204
        r = await anon.post(
            "/auth/reset-password", json={"token": third, "new_password": NEW_PASSWORD + "#"}
        )
        assert r.status_code == 400

    async def test_expired_link_and_weak_password_are_refused(
        self, anon, settings: Settings, mailbox: Mailbox, member: User, db: AsyncSession
    ) -> None:
        await anon.post("/auth/forgot-password", json={"email": member.email})
        await run_jobs(settings)
        token = token_in(mailbox.last_to(member.email), "/reset-password")
        r = await anon.post(
            "/auth/reset-password", json={"token": token, "new_password": "qwerty123456"}
        )
        assert (r.status_code, r.json()["error"]["code"]) == (422, "VALIDATION_ERROR")
        # The refused attempt did not spend the token; an hour later it is dead.
        row = await db.scalar(
            select(OneTimeToken).where(OneTimeToken.purpose == TokenPurpose.RESET_PASSWORD)
        )
        assert row is not None
        assert row.used_at is None
        assert abs(row.expires_at - row.created_at - timedelta(hours=1)) < timedelta(seconds=5)
        await db.execute(update(OneTimeToken).values(expires_at=clock.now() - timedelta(seconds=1)))
        await db.commit()
        r = await anon.post(
            "/auth/reset-password", json={"token": token, "new_password": NEW_PASSWORD}
        )
        assert r.status_code == 400

    async def test_reset_is_rate_limited_5_per_30_minutes(self, anon) -> None:
        body = {"token": "nope", "new_password": NEW_PASSWORD}
        for _ in range(5):
            assert (await anon.post("/auth/reset-password", json=body)).status_code == 400
        r = await anon.post("/auth/reset-password", json=body)
        assert r.status_code == 429

    async def test_forgot_is_rate_limited(self, anon) -> None:
        for _ in range(20):
            await anon.post("/auth/forgot-password", json={"email": "a@b.io"})
        assert (
            await anon.post("/auth/forgot-password", json={"email": "a@b.io"})
        ).status_code == 429


class TestInvitations:
    async def test_invite_then_accept_by_email_link(
        self,
        anon,
        client_for: ClientFor,
        settings: Settings,
        mailbox: Mailbox,
        admin: User,
        org: Org,
        db: AsyncSession,
    ) -> None:
        prod = await make_account(db, org, name="prod")
        await make_account(db, org, name="dev")
        r = await client_for(admin).post(
            "/auth/invite",
            json={
                "email": "Newbie@Acme.example.com",
                "role": "member",
                "account_ids": [str(prod.id)],
            },
        )
        assert r.status_code == 201, r.text
        body = r.json()
        assert (body["email"], body["role"], body["status"], body["resent"]) == (
            "newbie@acme.example.com",
            "member",
            "pending",
            False,
        )
        await run_jobs(settings)
        msg = mailbox.last_to("newbie@acme.example.com")
        assert "Acme" in msg["Subject"]
        token = token_in(msg, "/accept-invitation")
        info = await anon.get(f"/auth/invitation/{token}")
        assert info.json() == {
            "status": "pending",
            "inviter_name": admin.name,
            "organization_name": "Acme",
            "email": "newbie@acme.example.com",
            "role": "member",
        }
        r = await anon.post(
            "/auth/accept-invitation",
            json={"token": token, "name": "New Bie", "password": NEW_PASSWORD},
        )
        assert r.status_code == 201, r.text
        pair = r.json()
        assert pair["user"]["org_id"] == str(org.id)
        assert pair["user"]["role"] == "member"
        assert pair["user"]["email_verified"] is True
        me = await anon.get("/auth/me", headers={"Authorization": f"Bearer {pair['access_token']}"})
        assert me.status_code == 200
        grants = (await db.scalars(select(AccountGrant.cloud_account_id))).all()
        assert grants == [prod.id]
        assert (await anon.get(f"/auth/invitation/{token}")).json()["status"] == "accepted"
        again = await anon.post(
            "/auth/accept-invitation",
            json={"token": token, "name": "Twice", "password": NEW_PASSWORD},
        )
        assert again.status_code == 400
        actions = await _actions(db)
        assert "user.invite_sent" in actions
        assert "user.joined" in actions

    async def test_reinviting_a_pending_address_resends(
        self, client_for: ClientFor, settings: Settings, mailbox: Mailbox, admin: User, db
    ) -> None:
        c = client_for(admin)
        first = await c.post("/auth/invite", json={"email": "x@acme.example.com", "role": "viewer"})
        second = await c.post(
            "/auth/invite", json={"email": "x@acme.example.com", "role": "member"}
        )
        assert second.status_code == 201
        assert second.json()["resent"] is True
        assert second.json()["id"] == first.json()["id"]
        assert await db.scalar(select(func.count()).select_from(Invitation)) == 1
        await run_jobs(settings)
        old, new = (token_in(m, "/accept-invitation") for m in mailbox.to("x@acme.example.com"))
        listed = await c.get("/users/invitations/list")
        assert listed.status_code == 200
        assert [i["role"] for i in listed.json()["data"]] == ["member"]
        assert listed.json()["total"] == 1
        anon = client_for(None)
        assert (await anon.get(f"/auth/invitation/{old}")).status_code == 404  # link replaced
        assert (await anon.get(f"/auth/invitation/{new}")).json()["status"] == "pending"

    async def test_expired_invitation(
        self, client_for: ClientFor, settings: Settings, mailbox: Mailbox, admin: User, db
    ) -> None:
        await client_for(admin).post(
            "/auth/invite", json={"email": "late@acme.example.com", "role": "viewer"}
        )
        await run_jobs(settings)
        token = token_in(mailbox.last_to("late@acme.example.com"), "/accept-invitation")
        await db.execute(update(Invitation).values(expires_at=clock.now() - timedelta(days=1)))
        await db.commit()
        anon = client_for(None)
        assert (await anon.get(f"/auth/invitation/{token}")).json()["status"] == "expired"
        r = await anon.post(
            "/auth/accept-invitation", json={"token": token, "name": "L", "password": NEW_PASSWORD}
        )
        assert r.status_code == 400
        assert (await client_for(admin).get("/users/invitations/list")).json()["total"] == 0

    async def test_admin_cannot_invite_an_owner_but_the_owner_can(
        self, client_for: ClientFor, admin: User, owner: User
    ) -> None:
        body = {"email": "boss@acme.example.com", "role": "owner"}
        r = await client_for(admin).post("/auth/invite", json=body)
        assert (r.status_code, r.json()["error"]["code"]) == (403, "FORBIDDEN")
        assert (await client_for(owner).post("/auth/invite", json=body)).status_code == 201

    async def test_invitations_die_with_the_inviters_right_to_send_them(
        self,
        client_for: ClientFor,
        settings: Settings,
        mailbox: Mailbox,
        org: Org,
        owner: User,
        admin: User,
        db: AsyncSession,
    ) -> None:
        """An admin who is deactivated or demoted must not be able to bring someone in
        afterwards through an invitation sent before; a demoted owner's owner invitations go,
        their admin-level ones stay."""
        second_owner = await make_user(db, org, role=Role.OWNER)
        sent = {
            "by-admin@acme.example.com": (admin, "admin"),
            "owner-level@acme.example.com": (second_owner, "owner"),
            "member-level@acme.example.com": (second_owner, "member"),
        }
        for address, (inviter, role) in sent.items():
            r = await client_for(inviter).post(
                "/auth/invite", json={"email": address, "role": role}
            )
            assert r.status_code == 201, r.text
        await run_jobs(settings)
        tokens = {a: token_in(mailbox.last_to(a), "/accept-invitation") for a in sent}
        assert (await client_for(owner).delete(f"/users/{admin.id}")).status_code == 204
        r = await client_for(owner).patch(f"/users/{second_owner.id}", json={"role": "admin"})
        assert r.status_code == 200
        anon = client_for(None)
        status = {
            a: (await anon.get(f"/auth/invitation/{t}")).json()["status"] for a, t in tokens.items()
        }
        assert status == {
            "by-admin@acme.example.com": "revoked",
            "owner-level@acme.example.com": "revoked",
            "member-level@acme.example.com": "pending",
        }
        body = {"token": tokens["by-admin@acme.example.com"], "name": "A", "password": NEW_PASSWORD}
        r = await anon.post("/auth/accept-invitation", json=body)
        assert (r.status_code, r.json()["error"]["code"]) == (400, "INVALID_OR_EXPIRED_TOKEN")

    async def test_roles_and_auth(self, client_for: ClientFor, member: User, viewer: User) -> None:
        body = {"email": "y@acme.example.com", "role": "viewer"}
        assert (await client_for(None).post("/auth/invite", json=body)).status_code == 401
        for user in (member, viewer):
            assert (await client_for(user).post("/auth/invite", json=body)).status_code == 403
            r = await client_for(user).get("/users/invitations/list")
            assert r.status_code == 403

    async def test_foreign_account_id_is_404(
        self, client_for: ClientFor, admin: User, other_org: Org, db: AsyncSession
    ) -> None:
        foreign = await make_account(db, other_org)
        r = await client_for(admin).post(
            "/auth/invite",
            json={
                "email": "z@acme.example.com",
                "role": "member",
                "account_ids": [str(foreign.id)],
            },
        )
        assert (r.status_code, r.json()["error"]["code"]) == (404, "CLOUD_ACCOUNT_NOT_FOUND")
        assert await db.scalar(select(func.count()).select_from(Invitation)) == 0

    @pytest.mark.parametrize(
        "body",
        [
            {"email": "not-an-email", "role": "member"},
            {"email": "a@acme.example.com", "role": "god"},
            {"email": "a@acme.example.com", "role": "member", "org_id": "x"},
        ],
    )
    async def test_bad_input_is_422(self, client_for: ClientFor, admin: User, body) -> None:
        r = await client_for(admin).post("/auth/invite", json=body)
        assert (r.status_code, r.json()["error"]["code"]) == (422, "VALIDATION_ERROR")

    async def test_existing_member_is_conflict(
        self, client_for: ClientFor, admin: User, member: User
    ) -> None:
        r = await client_for(admin).post(
            "/auth/invite", json={"email": member.email, "role": "viewer"}
        )
        assert (r.status_code, r.json()["error"]["code"]) == (409, "EMAIL_TAKEN")

    async def test_unknown_token_is_404_and_accept_is_rate_limited(self, anon) -> None:
        r = await anon.get("/auth/invitation/not-a-token")
        assert (r.status_code, r.json()["error"]["code"]) == (404, "INVITATION_NOT_FOUND")
        body = {"token": "nope", "name": "N", "password": NEW_PASSWORD}
        for _ in range(20):
            assert (await anon.post("/auth/accept-invitation", json=body)).status_code == 400
        assert (await anon.post("/auth/accept-invitation", json=body)).status_code == 429
