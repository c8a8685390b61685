"""Typed factories for second factors (add, commit, return)."""

import tempfile
import uuid
from pathlib import Path

import pyotp
from sqlalchemy.ext.asyncio import AsyncSession

from xplorr.core import clock
from xplorr.core.crypto import OrgCipher
from xplorr.core.settings import Settings
from xplorr.twofa import factors
from xplorr.twofa.models import RecoveryCode, TotpFactor
from xplorr.twofa.service import PURPOSE, recovery_digest
from xplorr.users.models import User


def _default_settings() -> Settings:
    from tests.conftest import TEST_SECRET  # every test app runs with this secret key

    return Settings(secret_key=TEST_SECRET, data_dir=Path(tempfile.gettempdir()))  # type: ignore[arg-type]


async def enable_totp(
    db: AsyncSession,
    user: User,
    settings: Settings | None = None,
    *,
    recovery_codes: list[str] | None = None,
) -> str:
    """A confirmed TOTP factor for ``user`` (secret sealed as the app seals it, optional
    recovery codes stored hashed), ``two_factor_enabled`` refreshed; answers the base32 secret."""
    secret = pyotp.random_base32()
    cipher = await OrgCipher.load(db, settings or _default_settings(), user.org_id)
    factor = TotpFactor(id=uuid.uuid4(), org_id=user.org_id, user_id=user.id)
    factor.secret_encrypted, factor.key_version = await cipher.seal_secret(
        db, PURPOSE, factor.id, secret.encode()
    )
    factor.confirmed_at = clock.now()
    db.add(factor)
    db.add_all(
        RecoveryCode(org_id=user.org_id, user_id=user.id, code_sha256=recovery_digest(code))
        for code in recovery_codes or []
    )
    row = await db.get_one(User, user.id)  # ``user`` may be detached (client_for expunges)
    await factors.refresh_two_factor(db, row)
    await db.commit()
    user.two_factor_enabled = row.two_factor_enabled
    return secret
