"""Personal API tokens (``xplorr_...``): created, listed, revoked, exchanged for a short JWT.

Members and viewers see and revoke their own tokens; owners and admins see and revoke every token
of the organization (a leaked token must be revocable by an admin).
"""

import uuid
from datetime import timedelta

from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession

from xplorr.cloud_accounts.models import CloudAccount
from xplorr.core import audit, clock, security
from xplorr.core.deps import AuthKit
from xplorr.core.errors import NotFound, Unauthorized, ValidationFailed
from xplorr.core.pagination import Page, PageParams, paginate
from xplorr.core.tenancy import Principal, org_select, require_session
from xplorr.tokens.models import ApiToken
from xplorr.tokens.schemas import ApiTokenCreate, ApiTokenCreated, ApiTokenOut, TokenExchangeOut

MAX_LIFETIME = timedelta(days=3653)  # 10 years; an unbounded date also overflows UTC conversion
# A token created without an expiry stops after this (a forgotten token must not live forever);
# the caller asks for none with an explicit ``"expires_at": null``.
DEFAULT_LIFETIME = timedelta(days=90)


def _visible(who: Principal) -> Select[ApiToken]:
    stmt = org_select(ApiToken, who).where(ApiToken.revoked_at.is_(None))
    return stmt if who.is_admin else stmt.where(ApiToken.user_id == who.user_id)


async def list_tokens(db: AsyncSession, who: Principal, params: PageParams) -> Page[ApiTokenOut]:
    stmt = _visible(who).order_by(ApiToken.created_at.desc(), ApiToken.id)
    return await paginate(db, stmt, params, ApiTokenOut.model_validate)


async def create_token(db: AsyncSession, who: Principal, data: ApiTokenCreate) -> ApiTokenCreated:
    """A new token for the caller, created from a signed-in session only: a token (or its
    exchanged JWT) minting another would turn a leaked or short-lived token into a lasting one."""
    require_session(who, "API tokens are created from a signed-in session, not with an API token.")
    now = clock.now()
    if data.expires_at is not None and not now < data.expires_at <= now + MAX_LIFETIME:
        raise ValidationFailed.on(
            "expires_at",
            "Must be in the next 10 years.",
            summary="expires_at must be in the future, at most 10 years away.",
        )
    expires_at = data.expires_at
    if "expires_at" not in data.model_fields_set:
        expires_at = now + DEFAULT_LIFETIME
    account_ids = await _scoped_accounts(db, who, data.account_ids)
    raw = security.new_api_token()
    token = ApiToken(
        id=uuid.uuid4(),
        org_id=who.org_id,
        user_id=who.user_id,
        name=data.name,
        prefix=security.api_token_display_prefix(raw),
        token_sha256=security.sha256_hex(raw),
        expires_at=expires_at,
        scope=data.scope.value,
        account_ids=account_ids,
        created_at=clock.now(),
    )
    db.add(token)
    await db.flush()
    await audit.record(
        db,
        "token.created",
        who=who,
        target=token,
        details={
            "prefix": token.prefix,
            "expires_at": str(token.expires_at or ""),
            "scope": token.scope,
            "account_ids": token.account_ids,
        },
    )
    return ApiTokenCreated(**ApiTokenOut.model_validate(token).model_dump(), token=raw)


async def _scoped_accounts(
    db: AsyncSession, who: Principal, requested: list[uuid.UUID] | None
) -> list[str] | None:
    """The requested account limit as stored (sorted id strings), once every id is a cloud
    account of the organization that the caller sees; an unknown or hidden id is a 422 naming
    it (the same answer for both, so a member cannot probe for accounts outside their grants)."""
    if requested is None:
        return None
    wanted = set(requested)
    found = set(
        (
            await db.scalars(
                org_select(CloudAccount, who)
                .where(CloudAccount.id.in_(wanted))
                .with_only_columns(CloudAccount.id)
            )
        ).all()
    )
    missing = sorted(str(a) for a in wanted - found)
    if missing:
        raise ValidationFailed.on(
            "account_ids",
            f"Not a cloud account of this organization that you can see: {', '.join(missing)}.",
        )
    return sorted(str(a) for a in wanted)


async def revoke_token(db: AsyncSession, who: Principal, token_id: uuid.UUID) -> None:
    token = await db.scalar(_visible(who).where(ApiToken.id == token_id).with_for_update())
    if token is None:
        raise NotFound.of("ApiToken", token_id)
    token.revoked_at = clock.now()
    await audit.record(
        db,
        "token.revoked",
        who=who,
        target=token,
        details={"prefix": token.prefix, "owner_user_id": str(token.user_id)},
    )


def exchange(kit: AuthKit, who: Principal) -> TokenExchangeOut:
    """A short JWT for the API token the caller authenticated with (the MCP server's flow)."""
    if who.token_id is None:
        raise Unauthorized("Send an xplorr_ API token to exchange.", code="API_TOKEN_REQUIRED")
    jwt = security.issue_access_token(
        kit.jwt, user_id=who.user_id, org_id=who.org_id, api_token_id=who.token_id
    )
    return TokenExchangeOut(token=jwt, expires_in=kit.settings.access_token_ttl_seconds)
