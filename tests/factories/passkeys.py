"""Typed factories for passkeys: a stored credential whose key a ``SoftwareAuthenticator`` holds,
so a test can log in with it without a registration ceremony."""

import secrets
import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from tests.passkeys.authenticator import SoftwareAuthenticator, b64
from xplorr.orgs.models import Org
from xplorr.passkeys.models import WebAuthnCredential
from xplorr.users.models import User


async def make_passkey(
    db: AsyncSession,
    user: User,
    *,
    authenticator: SoftwareAuthenticator | None = None,
    name: str = "Laptop",
) -> tuple[WebAuthnCredential, SoftwareAuthenticator]:
    """A passkey of ``user`` (committed); the user's handle is set on first use, and the
    user's ``two_factor_enabled`` follows as ``refresh_two_factor`` would set it."""
    auth = authenticator or SoftwareAuthenticator()
    if user.webauthn_user_handle is None:
        user.webauthn_user_handle = secrets.token_bytes(64)
    auth.user_handle = user.webauthn_user_handle
    passkey = WebAuthnCredential(
        org_id=user.org_id,
        user_id=user.id,
        credential_id=b64(auth.credential_id),
        public_key=auth.cose_key(),
        sign_count=auth.sign_count,
        transports=["internal"],
        name=name,
        aaguid="ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4",
        backed_up=auth.backup,
    )
    db.add(passkey)
    user.two_factor_enabled = True
    db.add(user)
    await db.commit()
    return passkey, auth


async def _tenant_passkey(db: AsyncSession, _org: Org, user: User) -> uuid.UUID:
    return (await make_passkey(db, user))[0].id


TENANT_FACTORIES = {WebAuthnCredential: _tenant_passkey}
