"""The one OAuth ``state`` mechanism of the chat apps (Slack and Teams installs).

``issue`` hands out 256 random bits bound to (provider, org, admin) and keeps only their
SHA-256; ``consume`` deletes the row it matches in one statement and answers whom it was bound
to, so a state works once (a replay, or two racing callbacks: one wins), only for the provider
that issued it, and only within ``TTL``. A callback proves nothing else about the browser:
``accept_callback`` re-checks the admin's role when the state is consumed, for every app.
"""

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlencode

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from xplorr.channels.models import ChatProvider, OAuthState
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


def _digest(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


async def issue(db: AsyncSession, who: Principal, provider: ChatProvider) -> str:
    """A fresh state for ``who`` starting ``provider``'s install; expired ones are swept."""
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
            .returning(OAuthState.org_id, OAuthState.user_id, OAuthState.expires_at)
        )
    ).first()
    if row is None:
        raise InvalidState(
            "The install link was already used or is unknown. Start the install again."
        )
    if row.expires_at <= clock.now():
        raise InvalidState("The install link expired (10 minutes). Start the install again.")
    return StateOwner(org_id=row.org_id, user_id=row.user_id)


async def accept_callback(
    db: AsyncSession,
    provider: ChatProvider,
    *,
    state: str | None,
    code: str | None,
    error: str | None,
    caller: Principal | None,
    max_code: int,
) -> tuple[Principal, str]:
    """What an app's OAuth callback checks before it exchanges the code: the state (consumed),
    a signed-in caller being the admin it was issued to, the consent (``error``: declined), a
    code of at most ``max_code`` characters, and that admin still an owner or admin. Answers
    the admin and the code. Each refusal keeps the state spent (``commit=True``)."""
    owner = await consume(db, provider, state)
    if caller is not None and (caller.org_id, caller.user_id) != (owner.org_id, owner.user_id):
        raise Forbidden("This install was started by another user or organization.", commit=True)
    if error:
        raise ConsentDenied(
            f"The {provider.value.capitalize()} install was cancelled: consent was not given "
            f"({error[:60]}).",
            commit=True,
        )
    if not code or len(code) > max_code:
        raise BadRequest("The callback carries no authorization code.", commit=True)
    who = await principal_for_user(db, owner.user_id, org_id=owner.org_id)
    if who is None or not who.is_admin:
        raise Forbidden(
            "The admin who started this install is no longer an owner or admin of the "
            "organization.",
            commit=True,
        )
    return who, code


def console_url(base_url: str, provider: str, result: str, reason: str | None = None) -> str:
    """Where an install's browser lands: the console's integrations page with the result."""
    query = {"provider": provider, "result": result}
    if reason:
        query["reason"] = reason
    return f"{base_url.rstrip('/')}{CONSOLE_PATH}?{urlencode(query)}"
