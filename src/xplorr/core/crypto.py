"""Envelope encryption of secrets at rest (cloud-account credentials).

Three layers:

- **Master key (KEK)**: HKDF-SHA256 of ``XPLORR_SECRET_KEY`` with a fixed label. It is never
  stored; ``kek_id`` (a short fingerprint) names it in the rows it wrapped. Old secret keys in
  ``XPLORR_PREVIOUS_SECRET_KEYS`` still unwrap the data keys they wrapped.
- **Data key (DEK)**: 256 random bits per organization and version, stored only wrapped
  (AES-256-GCM under the master key, bound to the org id and the version) in ``org_data_keys``.
  Created on first use.
- **Ciphertext**: the credentials (JSON) under the org's DEK with AES-256-GCM, a fresh 96-bit
  random nonce each time, and associated data binding org id, account id and key version: a
  ciphertext copied onto another account or into another org does not decrypt.

Rotation (``rotate_org_key``) creates a new DEK version, re-seals every secret of the org under
it (every column the areas registered in ``core.secrets``: cloud-account credentials, TOTP
seeds...) and retires the older versions (their rows stay, so a credential written by a request
that raced the rotation still decrypts). ``rewrap_data_keys`` moves DEKs wrapped under a previous
master key to the current one. ``xplorr keys rotate`` does both.

Nothing here logs key material or plaintext; errors name the key version, never a value.
"""

import hashlib
import json
import os
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import ForeignKey, LargeBinary, Select, String, UniqueConstraint, select, union
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from xplorr.core import clock, secrets
from xplorr.core.models import Base, IdMixin
from xplorr.core.settings import Settings

KEK_INFO = b"xplorr/master-key/credentials/v1"
KEY_BYTES = 32  # AES-256
NONCE_BYTES = 12  # 96-bit GCM nonce, random per encryption
FORMAT_V1 = b"\x01"  # first byte of every blob: room for another layout later
_WRAP_AAD = b"xplorr/org-data-key/v1"
_CREDENTIALS_AAD = b"xplorr/cloud-account-credentials/v1"
_SECRET_AAD = b"xplorr/secret/v1"


class OrgDataKey(IdMixin, Base):
    """An organization's data-encryption key, wrapped by the master key derived from
    ``XPLORR_SECRET_KEY`` (envelope encryption: rotating either never needs the other's
    plaintext stored anywhere)."""

    __tablename__ = "org_data_keys"
    __table_args__ = (UniqueConstraint("org_id", "version"),)
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("orgs.id", ondelete="CASCADE"))
    version: Mapped[int]
    wrapped_key: Mapped[bytes] = mapped_column(LargeBinary)
    kek_id: Mapped[str] = mapped_column(String(16))  # fingerprint of the master key that wrapped it
    created_at: Mapped[datetime]
    retired_at: Mapped[datetime | None]


class CryptoError(Exception):
    """A ciphertext or wrapped key did not open: tampered, bound to another org/account, or
    under a key this installation no longer has. The message never carries secret material."""


@dataclass(frozen=True, slots=True)
class MasterKey:
    kek_id: str
    key: bytes = field(repr=False)


def derive_master_key(secret: str) -> MasterKey:
    """HKDF-SHA256 (RFC 5869) of a secret key; the id is a fingerprint of the derived key."""
    key = HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=KEK_INFO).derive(
        secret.encode()
    )
    kek_id = hashlib.sha256(b"xplorr/kek-id/v1" + key).hexdigest()[:16]
    return MasterKey(kek_id=kek_id, key=key)


@dataclass(frozen=True, slots=True)
class Keyring:
    """The current master key and the previous ones that may still unwrap data keys."""

    current: MasterKey
    previous: tuple[MasterKey, ...] = ()

    def find(self, kek_id: str) -> MasterKey | None:
        for key in (self.current, *self.previous):
            if key.kek_id == kek_id:
                return key
        return None


@lru_cache(maxsize=16)
def _keyring(current: str, previous: tuple[str, ...]) -> Keyring:
    return Keyring(
        current=derive_master_key(current),
        previous=tuple(derive_master_key(p) for p in previous if p and p != current),
    )


def keyring_for(settings: Settings) -> Keyring:
    """The keyring of ``XPLORR_SECRET_KEY`` and ``XPLORR_PREVIOUS_SECRET_KEYS``."""
    previous = tuple(k.get_secret_value() for k in settings.previous_secret_keys)
    return _keyring(settings.signing_key, previous)


# -- primitives --------------------------------------------------------------------------------


def seal(key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """``FORMAT_V1 || nonce || AES-GCM(ciphertext || tag)``."""
    nonce = os.urandom(NONCE_BYTES)
    return FORMAT_V1 + nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def unseal(key: bytes, blob: bytes, aad: bytes) -> bytes:
    if len(blob) < 1 + NONCE_BYTES + 16 or blob[:1] != FORMAT_V1:
        raise CryptoError("Ciphertext is malformed.")
    nonce, body = blob[1 : 1 + NONCE_BYTES], blob[1 + NONCE_BYTES :]
    try:
        return AESGCM(key).decrypt(nonce, body, aad)
    except InvalidTag as exc:
        raise CryptoError("Ciphertext does not authenticate.") from exc


def _wrap_aad(org_id: uuid.UUID, version: int) -> bytes:
    return b"|".join((_WRAP_AAD, org_id.bytes, str(version).encode()))


def credentials_aad(org_id: uuid.UUID, account_id: uuid.UUID, version: int) -> bytes:
    """Binds a credentials ciphertext to its org, its account and the data-key version."""
    return b"|".join((_CREDENTIALS_AAD, org_id.bytes, account_id.bytes, str(version).encode()))


def secret_aad(org_id: uuid.UUID, purpose: str, subject_id: uuid.UUID, version: int) -> bytes:
    """Binds any other secret (a TOTP seed...) to its org, its purpose, the row it belongs to
    and the data-key version."""
    return b"|".join(
        (_SECRET_AAD, org_id.bytes, purpose.encode(), subject_id.bytes, str(version).encode())
    )


def wrap_data_key(master: MasterKey, org_id: uuid.UUID, version: int, dek: bytes) -> bytes:
    return seal(master.key, dek, _wrap_aad(org_id, version))


def unwrap_data_key(keyring: Keyring, row: OrgDataKey) -> bytes:
    master = keyring.find(row.kek_id)
    if master is None:
        raise CryptoError(
            f"Data key v{row.version} was wrapped by master key {row.kek_id}, which is neither "
            "XPLORR_SECRET_KEY nor in XPLORR_PREVIOUS_SECRET_KEYS."
        )
    try:
        return unseal(master.key, row.wrapped_key, _wrap_aad(row.org_id, row.version))
    except CryptoError as exc:
        raise CryptoError(f"Data key v{row.version} does not unwrap.") from exc


# -- per-organization data keys ---------------------------------------------------------------


def _org_keys(org_id: uuid.UUID) -> Any:
    return select(OrgDataKey).where(OrgDataKey.org_id == org_id)


async def _new_data_key(
    db: AsyncSession, keyring: Keyring, org_id: uuid.UUID, version: int
) -> OrgDataKey:
    dek = AESGCM.generate_key(bit_length=256)
    row = OrgDataKey(
        org_id=org_id,
        version=version,
        wrapped_key=wrap_data_key(keyring.current, org_id, version, dek),
        kek_id=keyring.current.kek_id,
        created_at=clock.now(),
        retired_at=None,
    )
    db.add(row)
    await db.flush()
    return row


class OrgCipher:
    """Encrypts and decrypts one organization's credentials; unwraps each data key once."""

    def __init__(self, keyring: Keyring, org_id: uuid.UUID, rows: Iterable[OrgDataKey]) -> None:
        self.keyring = keyring
        self.org_id = org_id
        self._rows = {row.version: row for row in rows}
        self._plain: dict[int, bytes] = {}

    @classmethod
    async def load(cls, db: AsyncSession, settings: Settings, org_id: uuid.UUID) -> "OrgCipher":
        rows = (await db.scalars(_org_keys(org_id))).all()
        return cls(keyring_for(settings), org_id, rows)

    def _key(self, version: int) -> bytes:
        if version not in self._plain:
            row = self._rows.get(version)
            if row is None:
                raise CryptoError(f"Data key v{version} of this organization does not exist.")
            self._plain[version] = unwrap_data_key(self.keyring, row)
        return self._plain[version]

    async def _current_version(self, db: AsyncSession) -> int:
        live = [v for v, row in self._rows.items() if row.retired_at is None]
        if live:
            return max(live)
        version = max(self._rows, default=0) + 1
        try:
            async with db.begin_nested():  # another process may create it at the same moment
                row = await _new_data_key(db, self.keyring, self.org_id, version)
        except IntegrityError:
            row = (
                await db.scalars(_org_keys(self.org_id).where(OrgDataKey.version == version))
            ).one()
        self._rows[row.version] = row
        return row.version

    async def encrypt(
        self, db: AsyncSession, account_id: uuid.UUID, data: Mapping[str, Any]
    ) -> tuple[bytes, int]:
        """The ciphertext of ``data`` for ``account_id`` and the data-key version used."""
        version = await self._current_version(db)
        plaintext = json.dumps(dict(data), separators=(",", ":"), sort_keys=True).encode()
        blob = seal(
            self._key(version), plaintext, credentials_aad(self.org_id, account_id, version)
        )
        return blob, version

    def decrypt(self, account_id: uuid.UUID, blob: bytes, version: int) -> dict[str, Any]:
        plaintext = unseal(
            self._key(version), blob, credentials_aad(self.org_id, account_id, version)
        )
        value = json.loads(plaintext)
        if not isinstance(value, dict):
            raise CryptoError("Decrypted credentials are not an object.")
        return value

    async def seal_secret(
        self, db: AsyncSession, purpose: str, subject_id: uuid.UUID, plaintext: bytes
    ) -> tuple[bytes, int]:
        """The ciphertext of a secret that belongs to ``subject_id`` (a row of this org), bound
        to ``purpose``, and the data-key version used."""
        version = await self._current_version(db)
        aad = secret_aad(self.org_id, purpose, subject_id, version)
        return seal(self._key(version), plaintext, aad), version

    def open_secret(self, purpose: str, subject_id: uuid.UUID, blob: bytes, version: int) -> bytes:
        return unseal(
            self._key(version), blob, secret_aad(self.org_id, purpose, subject_id, version)
        )

    def _column_aad(self, column: secrets.SealedColumn, row_id: uuid.UUID, version: int) -> bytes:
        if column.purpose == secrets.CREDENTIALS:
            return credentials_aad(self.org_id, row_id, version)
        return secret_aad(self.org_id, column.purpose, row_id, version)

    def open_column(self, column: secrets.SealedColumn, row: Any) -> bytes:
        """The plaintext of a registered sealed column of ``row`` (a row of this org)."""
        version = getattr(row, column.key_version)
        return unseal(
            self._key(version),
            getattr(row, column.ciphertext),
            self._column_aad(column, row.id, version),
        )

    async def seal_column(
        self, db: AsyncSession, column: secrets.SealedColumn, row: Any, plaintext: bytes
    ) -> None:
        """Seal ``plaintext`` into ``row``'s registered column under the current data key."""
        version = await self._current_version(db)
        blob = seal(self._key(version), plaintext, self._column_aad(column, row.id, version))
        setattr(row, column.ciphertext, blob)
        setattr(row, column.key_version, version)


# -- rotation ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Rotation:
    org_id: uuid.UUID
    version: int  # the new current data-key version
    # secrets re-sealed under it, per ``SealedColumn.label`` ("accounts", "authenticator_apps")
    resealed: dict[str, int] = field(default_factory=dict)


async def rotate_org_key(db: AsyncSession, settings: Settings, org_id: uuid.UUID) -> Rotation:
    """A new data-key version for the org, every registered sealed column (``core.secrets``)
    re-sealed under it (an optional secret left empty, NULL, is skipped), the older versions
    retired (no ciphertext needs them any more). One transaction (the caller's), rows locked:
    a failure leaves everything as it was."""
    keyring = keyring_for(settings)
    rows = (await db.scalars(_org_keys(org_id).with_for_update())).all()
    cipher = OrgCipher(keyring, org_id, rows)
    opened: list[tuple[secrets.SealedColumn, Any, bytes]] = []
    resealed: dict[str, int] = {}
    for column in secrets.registered():
        model = column.model
        found = (
            await db.scalars(
                select(model)
                .where(model.org_id == org_id, getattr(model, column.ciphertext).is_not(None))
                .order_by(model.id)
                .with_for_update()
            )
        ).all()
        resealed[column.label] = resealed.get(column.label, 0) + len(found)
        opened += [(column, row, cipher.open_column(column, row)) for row in found]
    now = clock.now()
    for row in rows:
        if row.retired_at is None:
            row.retired_at = now
    newest = max((row.version for row in rows), default=0)
    new = await _new_data_key(db, keyring, org_id, newest + 1)
    cipher = OrgCipher(keyring, org_id, [*rows, new])
    for column, row, plaintext in opened:
        await cipher.seal_column(db, column, row, plaintext)
    await db.flush()
    return Rotation(org_id=org_id, version=new.version, resealed=resealed)


@dataclass(frozen=True, slots=True)
class Rewrap:
    rewrapped: int  # data keys moved to the current master key
    unavailable: list[str]  # "org <id> v<n>": wrapped by a master key no longer configured


async def rewrap_data_keys(
    db: AsyncSession, settings: Settings, org_id: uuid.UUID | None = None
) -> Rewrap:
    """Re-wrap every data key (of one org, or all) not wrapped by the current master key."""
    keyring = keyring_for(settings)
    stmt = select(OrgDataKey).where(OrgDataKey.kek_id != keyring.current.kek_id)
    if org_id is not None:
        stmt = stmt.where(OrgDataKey.org_id == org_id)
    rewrapped, unavailable = 0, []
    for row in (await db.scalars(stmt.order_by(OrgDataKey.id).with_for_update())).all():
        try:
            dek = unwrap_data_key(keyring, row)
        except CryptoError:
            unavailable.append(f"org {row.org_id} v{row.version}")
            continue
        row.wrapped_key = wrap_data_key(keyring.current, row.org_id, row.version, dek)
        row.kek_id = keyring.current.kek_id
        rewrapped += 1
    await db.flush()
    return Rewrap(rewrapped=rewrapped, unavailable=unavailable)


async def orgs_with_keys(db: AsyncSession) -> list[uuid.UUID]:
    """Organizations that hold a data key or a row of a sealed column (what ``keys rotate``
    visits)."""
    holders: list[Select[uuid.UUID]] = [select(OrgDataKey.org_id)]
    holders += [select(column.model.org_id) for column in secrets.registered()]
    rows = await db.scalars(union(*holders))
    return sorted(rows.all())
