"""Organizations: the tenants."""

import re
import secrets
import unicodedata
from typing import Any

from sqlalchemy import Select, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from xplorr.auth import lifecycle_service as lifecycle
from xplorr.auth.models import AuthSession, Invitation
from xplorr.cloud_accounts.models import CloudAccount
from xplorr.core import audit, clock, events, money, security
from xplorr.core.deps import AuthKit
from xplorr.core.errors import BadRequest
from xplorr.core.tenancy import Principal, get_in_org, org_select
from xplorr.costs import query as costs
from xplorr.costs.service import answer_currency
from xplorr.orgs.events import OrgClosing
from xplorr.orgs.models import Org
from xplorr.orgs.schemas import CurrencyAmount, OrgStats, OrgUpdate
from xplorr.sso.models import SamlRequest, SsoConfig, SsoDomain
from xplorr.tokens.models import ApiToken
from xplorr.users.models import User, UserStatus


def slugify(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:60]
    return slug or "org"


async def create_org(db: AsyncSession, name: str) -> Org:
    """A new org with a unique slug derived from its name (``acme``, then ``acme-x7k2``...)."""
    base = slugify(name)
    slug = base
    while await db.scalar(select(Org.id).where(Org.slug == slug)) is not None:
        slug = f"{base}-{secrets.token_hex(3)}"
    org = Org(name=name.strip(), slug=slug)
    db.add(org)
    await db.flush()
    return org


async def current(db: AsyncSession, who: Principal) -> Org:
    return await db.get_one(Org, who.org_id)


async def rename(db: AsyncSession, who: Principal, data: OrgUpdate) -> Org:
    org = await current(db, who)
    if data.name != org.name:
        old, org.name = org.name, data.name
        await audit.record(
            db,
            "org.updated",
            who=who,
            target=org,
            details={"field": "name", "from": old, "to": org.name},
        )
    await db.flush()
    return org


async def set_require_2fa(db: AsyncSession, who: Principal, required: bool) -> Org:
    """Set the flag (enforced on every request: ``auth.deps`` answers ``2FA_SETUP_REQUIRED``
    to a user without a second factor). Turning it on needs the caller's own second factor,
    or the admin would lock themselves out (``2FA_NOT_ENABLED``)."""
    org = await current(db, who)
    if required and not org.require_2fa:
        me = await get_in_org(db, User, who.user_id, who)
        if not me.two_factor_enabled:
            raise BadRequest(
                "Set up two-factor authentication for yourself before requiring it.",
                code="2FA_NOT_ENABLED",
            )
    if org.require_2fa != required:
        org.require_2fa = required
        await audit.record(
            db,
            "org.require_2fa_changed",
            who=who,
            target=org,
            details={"required": required},
        )
    await db.flush()
    return org


async def _count(db: AsyncSession, stmt: Select[Any]) -> int:
    return int(await db.scalar(select(func.count()).select_from(stmt.subquery())) or 0)


async def stats(db: AsyncSession, who: Principal) -> OrgStats:
    users = org_select(User, who).with_only_columns(User.id)
    accounts = org_select(CloudAccount, who)
    last_sync = await db.scalar(accounts.with_only_columns(func.max(CloudAccount.last_synced_at)))
    today = clock.now().date()
    totals = await costs.totals_by_currency(
        db, who, costs.CostQuery(start=today.replace(day=1), end=today, metric=costs.Metric.BILLED)
    )
    by_currency = [
        CurrencyAmount(currency=cur, amount=money.round_money(amount, cur))
        for cur, amount in sorted(totals.items())
    ]
    currency = await answer_currency(db, who, None)
    spend = None
    if currency is not None:
        spend = money.round_money(totals.get(currency, money.ZERO), currency)
    return OrgStats(
        users=await _count(db, users),
        active_users=await _count(db, users.where(User.status == UserStatus.ACTIVE)),
        pending_invitations=await lifecycle.count_pending_invitations(db, who),
        cloud_accounts=await _count(db, accounts.with_only_columns(CloudAccount.id)),
        last_sync_at=last_sync,
        month_to_date_spend=spend,
        currency=currency,
        month_to_date_spend_by_currency=by_currency,
    )


CONFIRM_HEADER = "x-confirm-close"
CONFIRM_VALUE = "DELETE_MY_ORGANIZATION"


async def close(
    db: AsyncSession, kit: AuthKit, who: Principal, confirm: str | None, password: str
) -> None:
    """Close the organization (owner): check the confirmation header and the owner's password,
    end every login and API token and deactivate every user at once, then announce
    ``OrgClosing``: its subscribers (the ``orgs.purge`` job among them) delete every row. One
    audit record outside the organization stays."""
    if confirm != CONFIRM_VALUE:
        raise BadRequest(
            f"Send the header {CONFIRM_HEADER}: {CONFIRM_VALUE} to close the organization.",
            code="CONFIRMATION_REQUIRED",
        )
    owner = await get_in_org(db, User, who.user_id, who)
    if not security.verify_password(kit.hasher, owner.password_hash, password):
        raise BadRequest("The current password is not correct.", code="INVALID_CURRENT_PASSWORD")
    org = await current(db, who)
    now = clock.now()
    await db.execute(
        update(AuthSession)
        .where(AuthSession.org_id == who.org_id, AuthSession.revoked_at.is_(None))
        .values(revoked_at=now, revoke_reason="org_closed")
    )
    await db.execute(
        update(ApiToken)
        .where(ApiToken.org_id == who.org_id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    await db.execute(
        update(User).where(User.org_id == who.org_id).values(status=UserStatus.DEACTIVATED)
    )
    # Nobody joins a closing org before the purge: no invitation accepted, no SSO user
    # provisioned just in time (its email domains are released at once, too).
    await db.execute(
        update(Invitation)
        .where(
            Invitation.org_id == who.org_id,
            Invitation.accepted_at.is_(None),
            Invitation.revoked_at.is_(None),
        )
        .values(revoked_at=now)
    )
    for sso_table in (SamlRequest, SsoDomain, SsoConfig):
        await db.execute(delete(sso_table).where(sso_table.org_id == who.org_id))
    # Outside the org (org_id NULL), so the purge's cascade keeps it.
    await audit.record(
        db,
        "platform.org_deleted",
        org_id=None,
        actor_user_id=None,
        actor_email=who.email,
        target=org,
        details={"org_slug": org.slug, "closed_by_user_id": str(who.user_id)},
    )
    await events.emit(db, OrgClosing(org_id=org.id))
