"""Which second factors a user has, and the login challenge that asks for one.

Shared by login (auth), TOTP (twofa) and passkeys: ``refresh_two_factor`` must run after any
change to a user's factors so ``users.two_factor_enabled`` (read on every request to enforce an
organization's 2FA requirement) stays equal to what the factor tables say.
"""

from datetime import timedelta

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from xplorr.core import clock, security
from xplorr.core.errors import Unauthorized
from xplorr.core.tenancy import Principal, org_select, require_session
from xplorr.passkeys.models import WebAuthnCredential
from xplorr.twofa.models import LoginChallenge, TotpFactor
from xplorr.users.models import User

TOTP, RECOVERY_CODE, WEBAUTHN = "totp", "recovery_code", "webauthn"
CHALLENGE_TTL = timedelta(minutes=5)


async def methods_for(db: AsyncSession, user: User) -> list[str]:
    """The second factors ``user`` can complete a login with, in display order."""
    methods: list[str] = []
    has_totp = await db.scalar(
        select(exists().where(TotpFactor.user_id == user.id, TotpFactor.confirmed_at.is_not(None)))
    )
    if has_totp:
        methods += [TOTP, RECOVERY_CODE]
    if await db.scalar(select(exists().where(WebAuthnCredential.user_id == user.id))):
        methods.append(WEBAUTHN)
    return methods


def refuse_api_tokens(who: Principal) -> None:
    """Factors are managed from a signed-in session, never with an API token: a leaked token
    must not be able to enrol a factor (locking the owner out, or adding a way to log in that
    outlives the token) or remove one."""
    require_session(
        who, "Second factors are managed from a signed-in session, not with an API token."
    )


async def lock_user(db: AsyncSession, who: Principal) -> User:
    """The caller's own user row, locked (``SELECT ... FOR UPDATE``; SQLite's one writer serialises
    anyway) and re-read. Every change to a user's factors takes this lock first, so two changes
    at once (removing the authenticator app while removing the last passkey) run one after the
    other: each sees what the other left, and ``two_factor_enabled`` ends equal to the tables."""
    user = await db.scalar(
        org_select(User, who)
        .where(User.id == who.user_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if user is None:  # the principal was resolved from this very row
        raise Unauthorized("Invalid or expired token.")
    return user


async def refresh_two_factor(db: AsyncSession, user: User) -> None:
    await db.flush()
    user.two_factor_enabled = bool(await methods_for(db, user))


async def issue_login_challenge(db: AsyncSession, user: User, methods: list[str]) -> str:
    """A new challenge token for ``user``'s second step; only its SHA-256 is stored."""
    raw = security.new_opaque_token()
    db.add(
        LoginChallenge(
            org_id=user.org_id,
            user_id=user.id,
            token_sha256=security.sha256_hex(raw),
            methods=methods,
            expires_at=clock.now() + CHALLENGE_TTL,
        )
    )
    await db.flush()
    return raw
