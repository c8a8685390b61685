"""A cloud account's credentials in clear, for the code that must use them (sync connectors).

Decrypted only in memory, on demand; never logged, never returned by the API (the API masks
them, ``cloud_accounts.service``). See ``core.crypto`` for the envelope scheme.
"""

from collections.abc import Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from xplorr.cloud_accounts.models import CloudAccount
from xplorr.core import crypto
from xplorr.core.jobs.registry import JobContext, PermanentJobError
from xplorr.core.settings import Settings


async def decrypt_credentials(
    db: AsyncSession, settings: Settings, account: CloudAccount
) -> dict[str, Any]:
    """The account's credentials as stored (the validated, normalised create/update shape).

    Raises ``core.crypto.CryptoError`` when they cannot be decrypted (secret key changed
    without ``XPLORR_PREVIOUS_SECRET_KEYS``, or the row was tampered with)."""
    cipher = await crypto.OrgCipher.load(db, settings, account.org_id)
    return cipher.decrypt(
        account.id, account.credentials_encrypted, account.credentials_key_version
    )


async def job_credentials(ctx: JobContext, account: CloudAccount) -> dict[str, Any]:
    """``decrypt_credentials`` for a job (a collector): undecryptable credentials fail the job at
    once (``PermanentJobError``: retrying cannot help), saying what to do."""
    try:
        return await decrypt_credentials(ctx.db, ctx.settings, account)
    except crypto.CryptoError as exc:
        raise PermanentJobError(
            "The account's stored credentials cannot be decrypted; update the credentials."
        ) from exc


async def store_credentials(
    db: AsyncSession, settings: Settings, account: CloudAccount, data: Mapping[str, Any]
) -> None:
    """Encrypt ``data`` onto ``account`` (its ``id`` and ``org_id`` must be set)."""
    cipher = await crypto.OrgCipher.load(db, settings, account.org_id)
    account.credentials_encrypted, account.credentials_key_version = await cipher.encrypt(
        db, account.id, data
    )
