"""Every sealed column is registered for ``xplorr keys rotate`` (core.secrets): a new area's
secret column named ``*_encrypted`` that its area forgot to register fails here, instead of
being silently left under an old key."""

import pytest

from xplorr.core import secrets
from xplorr.models_registry import Base


def test_every_encrypted_column_is_registered_with_its_key_version() -> None:
    registered = {c.name: c for c in secrets.registered()}
    found = {
        f"{table.name}.{column.name}"
        for table in Base.metadata.sorted_tables
        for column in table.columns
        if column.name.endswith("_encrypted")
    }
    assert found == set(registered)
    assert found >= {"cloud_accounts.credentials_encrypted", "totp_factors.secret_encrypted"}
    for column in registered.values():
        assert column.key_version in column.model.__table__.columns  # type: ignore[attr-defined]


def test_a_column_is_registered_once() -> None:
    (totp,) = [c for c in secrets.registered() if c.label == "authenticator_apps"]
    assert secrets.register(totp) is totp  # the same registration again is harmless
    other = secrets.SealedColumn(totp.model, totp.ciphertext, totp.key_version, "x", "y")
    with pytest.raises(ValueError, match="already registered"):
        secrets.register(other)
