"""Every column that holds a secret sealed under an organization's data key, registered by the
area that owns it, next to its model:

    secrets.register(SealedColumn(TotpFactor, "secret_encrypted", "key_version", purpose="totp",
                                  label="authenticator_apps"))

``xplorr keys rotate`` (``core.crypto.rotate_org_key``) re-seals every registered column, so a
new area's secret cannot be forgotten by a hand-kept list; a sealed column left out of the
registry is caught by ``tests/core/test_secret_registry.py``, which requires every column named
``*_encrypted`` to be registered.

``purpose`` is bound into each ciphertext (``crypto.secret_aad``); ``CREDENTIALS`` is the
cloud-account credentials' own binding (org, account, version), which predates purposes.
"""

from dataclasses import dataclass

from xplorr.core import areas, audit
from xplorr.core.models import OrgOwned

CREDENTIALS = "cloud_account_credentials"


@dataclass(frozen=True, slots=True)
class SealedColumn:
    """``model.<ciphertext>`` is sealed under the data-key version in ``model.<key_version>``,
    bound to the row's org, its id and ``purpose``. ``label`` names the count in the rotation
    report and its audit record."""

    model: type[OrgOwned]
    ciphertext: str
    key_version: str
    purpose: str
    label: str

    @property
    def name(self) -> str:
        return f"{getattr(self.model, '__tablename__', self.model.__name__)}.{self.ciphertext}"


SEALED_COLUMNS: dict[str, SealedColumn] = {}


def register(column: SealedColumn) -> SealedColumn:
    """Add ``column`` (once; registering a different one under its name is an error)."""
    for attr in (column.ciphertext, column.key_version):
        if not hasattr(column.model, attr):
            raise ValueError(f"{column.model.__name__} has no column {attr!r}")
    if audit.is_secret_key(column.label):
        # The label counts re-sealed rows in the `keys.rotated` audit entry, whose redaction
        # would hide a count named like a secret ("tokens", "keys").
        raise ValueError(f"sealed column label {column.label!r} reads as a secret name")
    existing = SEALED_COLUMNS.get(column.name)
    if existing is not None and existing != column:
        raise ValueError(f"sealed column {column.name} is already registered")
    SEALED_COLUMNS[column.name] = column
    return column


def registered() -> list[SealedColumn]:
    """Every sealed column of the installation, in a stable order (all models imported)."""
    areas.import_models()  # the areas register their columns on import
    return [SEALED_COLUMNS[name] for name in sorted(SEALED_COLUMNS)]
