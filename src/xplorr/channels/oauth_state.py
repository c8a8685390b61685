"""The one OAuth ``state`` mechanism of the chat apps (Slack and Teams installs).

``issue`` hands out 256 random bits bound to (provider, org, admin) and keeps only their
SHA-256; ``consume`` deletes the row it matches in one statement and answers whom it was bound
to, so a state works once (a replay, or two racing callbacks: one wins), only for the provider
that issued it, and only within ``TTL``. A callback proves nothing else about the browser:
``accept_callback`` re-checks the admin's role when the state is consumed, for every app.

An install may take two legs at the provider (Teams: the directory admin's consent, then the
authorization code). Each state is bound to the step it answers (``OAuthStep``): the first
leg's state brings back a grant and no code, and its callback issues the second leg's state,
bound to the same admin and to the tenant the grant was given in. A state presented for the
other step is refused (and spent), so the consent leg cannot be skipped.
"""

import hashlib
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlencode

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from xplorr.channels.models import ChatProvider, OAuthState, OAuthStep
from xplorr.core import clock
from xplorr.core.errors import BadRequest, Forbidden
from xplorr.core.tenancy import Principal
from xplorr.users.principals import principal_for_user

TTL = timedelta(minutes=10)
CONSOLE_PATH = "/settings/integrations"


class InvalidState(BadRequest):
    code = "OAUTH_STATE_INVALID"


class ConsentDenied(BadRequest):
    """The admin declined on the app's consent page (the callback's ``error``)."""

    code = "OAUTH_CONSENT_DENIED"


@dataclass(frozen=True, slots=True)
class StateOwner:
    org_id: uuid.UUID
    user_id: uuid.UUID
    step: OAuthStep
    tenant_id: str | None


@dataclass(frozen=True, slots=True)
class Callback:
    """An accepted code callback: the admin (still one), the authorization code, and the
    tenant the state was bound to when issued (None for a one-leg install)."""

    who: Principal
    code: str
    tenant_id: str | None


@dataclass(frozen=True, slots=True)
class NextLeg:
    """The install goes on at the provider: the browser is sent to ``url`` (Teams, once the
    directory admin consented: the authorize page that gives the code)."""

    url: str


def _digest(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


async def issue(
    db: AsyncSession,
    who: Principal,
    provider: ChatProvider,
    *,
    step: OAuthStep = OAuthStep.CODE,
    tenant_id: str | None = None,
) -> str:
    """A fresh state for ``who`` at ``step`` of ``provider``'s install (``tenant_id``: the
    directory an earlier leg was granted in); expired ones are swept."""
    now = clock.now()
    await db.execute(delete(OAuthState).where(OAuthState.expires_at < now))
    state = secrets.token_urlsafe(32)
    db.add(
        OAuthState(
            org_id=who.org_id,
            provider=provider,
            state_sha256=_digest(state),
            user_id=who.user_id,
            expires_at=now + TTL,
            step=step,
            tenant_id=tenant_id,
        )
    )
    await db.flush()
    return state


async def consume(db: AsyncSession, provider: ChatProvider, state: str | None) -> StateOwner:
    """Whom ``state`` was issued to, once; 400 ``OAUTH_STATE_INVALID`` if it is unknown, used,
    expired or another provider's."""
    if not state or len(state) > 200:
        raise InvalidState("The install link is invalid. Start the install again.")
    row = (
        await db.execute(
            delete(OAuthState)
            .where(OAuthState.state_sha256 == _digest(state), OAuthState.provider == provider)
            .returning(
                OAuthState.org_id,
                OAuthState.user_id,
                OAuthState.expires_at,
                OAuthState.step,
                OAuthState.tenant_id,
            )
        )
    ).first()
    if row is None:
        raise InvalidState(
            "The install link was already used or is unknown. Start the install again."
        )
    if row.expires_at <= clock.now():
        raise InvalidState("The install link expired (10 minutes). Start the install again.")
    return StateOwner(
        org_id=row.org_id, user_id=row.user_id, step=OAuthStep(row.step), tenant_id=row.tenant_id
    )


async def _accept(
    db: AsyncSession,
    provider: ChatProvider,
    step: OAuthStep,
    *,
    state: str | None,
    error: str | None,
    caller: Principal | None,
    code_check: Callable[[], None] | None = None,
) -> tuple[Principal, StateOwner]:
    owner = await consume(db, provider, state)
    if caller is not None and (caller.org_id, caller.user_id) != (owner.org_id, owner.user_id):
        raise Forbidden("This install was started by another user or organization.", commit=True)
    if error:
        raise ConsentDenied(
            f"The {provider.value.capitalize()} install was cancelled: consent was not given "
            f"({error[:60]}).",
            commit=True,
        )
    if owner.step != step:
        raise InvalidState(
            "The install link does not belong to this step of the install. Start the install "
            "again.",
            commit=True,
        )
    if code_check is not None:
        code_check()
    who = await principal_for_user(db, owner.user_id, org_id=owner.org_id)
    if who is None or not who.is_admin:
        raise Forbidden(
            "The admin who started this install is no longer an owner or admin of the "
            "organization.",
            commit=True,
        )
    return who, owner


async def accept_callback(
    db: AsyncSession,
    provider: ChatProvider,
    *,
    state: str | None,
    code: str | None,
    error: str | None,
    caller: Principal | None,
    max_code: int,
) -> Callback:
    """What an app's OAuth callback checks before it exchanges the code: the state (consumed),
    a signed-in caller being the admin it was issued to, the consent (``error``: declined, at
    any leg), a state issued for the code step (a first leg's state brought back with a code
    is refused: the consent leg cannot be skipped), a code of at most ``max_code`` characters,
    and that admin still an owner or admin. Each refusal keeps the state spent
    (``commit=True``)."""

    def check_code() -> None:
        if not code or len(code) > max_code:
            raise BadRequest("The callback carries no authorization code.", commit=True)

    who, owner = await _accept(
        db, provider, OAuthStep.CODE, state=state, error=error, caller=caller,
        code_check=check_code,
    )  # fmt: skip
    assert code is not None  # check_code refused it otherwise
    return Callback(who=who, code=code, tenant_id=owner.tenant_id)


async def accept_admin_consent(
    db: AsyncSession,
    provider: ChatProvider,
    *,
    state: str | None,
    error: str | None,
    caller: Principal | None,
) -> Principal:
    """The no-code mode of ``accept_callback``, for a first leg that brings back a directory
    admin's grant instead of a code: the same checks (state consumed and issued for
    ``OAuthStep.ADMIN_CONSENT``, the caller, the consent, the admin still one). The app
    then issues the second leg's state for the admin answered."""
    who, _ = await _accept(
        db, provider, OAuthStep.ADMIN_CONSENT, state=state, error=error, caller=caller
    )
    return who


def console_url(base_url: str, provider: str, result: str, reason: str | None = None) -> str:
    """Where an install's browser lands: the console's integrations page with the result."""
    query = {"provider": provider, "result": result}
    if reason:
        query["reason"] = reason
    return f"{base_url.rstrip('/')}{CONSOLE_PATH}?{urlencode(query)}"
