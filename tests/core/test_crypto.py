"""Envelope encryption of credentials (core.crypto): round trip, binding to org and account,
tamper detection, data-key rotation, master-key change with previous keys, the CLI."""

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import TEST_SECRET, make_settings
from tests.factories.cloud_accounts import make_account
from tests.factories.users import make_org
from xplorr.cloud_accounts.credentials import decrypt_credentials
from xplorr.cloud_accounts.models import CloudAccount, Provider
from xplorr.core import crypto, secrets
from xplorr.core.audit import AuditEntry
from xplorr.core.crypto import OrgDataKey
from xplorr.core.settings import Settings
from xplorr.orgs.models import Org


def _none_resealed() -> dict[str, int]:
    """Every registered sealed column's label at 0 (each area adds its own)."""
    return {column.label: 0 for column in secrets.registered()}


SECRETS = {
    "clientId": "11111111-2222-3333-4444-555555555555",
    "tenantId": "66666666-7777-8888-9999-000000000000",
    "clientSecret": "very-secret-azure-value-Q8~x",
    "subscriptionId": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
}


def _settings(db_url: str, tmp_path: Path, secret: str, *previous: str) -> Settings:
    return make_settings(db_url, tmp_path, secret_key=secret, previous_secret_keys=list(previous))


async def _reload(db: AsyncSession, account: CloudAccount | uuid.UUID) -> CloudAccount:
    ident = account if isinstance(account, uuid.UUID) else account.id
    row = await db.get(CloudAccount, ident, populate_existing=True)
    assert row is not None
    return row


async def _keys(db: AsyncSession, org: Org) -> list[OrgDataKey]:
    stmt = select(OrgDataKey).where(OrgDataKey.org_id == org.id).order_by(OrgDataKey.version)
    return list((await db.scalars(stmt.execution_options(populate_existing=True))).all())


def test_master_key_is_hkdf_of_the_secret_with_a_stable_fingerprint() -> None:
    a, b = crypto.derive_master_key("secret one"), crypto.derive_master_key("secret two")
    assert len(a.key) == 32
    assert a == crypto.derive_master_key("secret one")
    assert a.kek_id != b.kek_id
    assert len(a.kek_id) == 16
    assert "secret one" not in repr(a)
    assert a.key.hex() not in repr(a)


def test_seal_uses_a_fresh_nonce_and_binds_the_associated_data() -> None:
    key = os.urandom(32)
    org, acct = uuid.uuid4(), uuid.uuid4()
    aad = crypto.credentials_aad(org, acct, 1)
    one, two = crypto.seal(key, b"payload", aad), crypto.seal(key, b"payload", aad)
    assert one[1:13] != two[1:13]  # nonce
    assert crypto.unseal(key, one, aad) == b"payload"
    for other in (
        crypto.credentials_aad(uuid.uuid4(), acct, 1),  # another org, same data key
        crypto.credentials_aad(org, uuid.uuid4(), 1),  # another account
        crypto.credentials_aad(org, acct, 2),  # another key version
    ):
        with pytest.raises(crypto.CryptoError):
            crypto.unseal(key, one, other)
    with pytest.raises(crypto.CryptoError):
        crypto.unseal(key, one[:5], aad)


async def test_round_trip_with_one_data_key_per_org(
    db: AsyncSession, org: Org, settings: Settings
) -> None:
    first = await make_account(db, org, provider=Provider.AZURE, credentials=SECRETS)
    second = await make_account(db, org, provider=Provider.DEMO, credentials={"seed": 7})
    assert await decrypt_credentials(db, settings, first) == SECRETS
    assert await decrypt_credentials(db, settings, second) == {"seed": 7}
    assert b"very-secret" not in first.credentials_encrypted
    keys = await _keys(db, org)
    assert [(k.version, k.retired_at) for k in keys] == [(1, None)]
    assert keys[0].kek_id == crypto.derive_master_key(TEST_SECRET).kek_id
    assert first.credentials_key_version == second.credentials_key_version == 1


async def test_tampered_or_moved_ciphertext_does_not_decrypt(
    db: AsyncSession, org: Org, other_org: Org, settings: Settings
) -> None:
    account = await make_account(db, org, provider=Provider.AZURE, credentials=SECRETS)
    ids = (account.id, (await make_account(db, org)).id, (await make_account(db, other_org)).id)

    blob = bytearray(account.credentials_encrypted)
    blob[-1] ^= 1
    account.credentials_encrypted = bytes(blob)
    with pytest.raises(crypto.CryptoError):
        await decrypt_credentials(db, settings, account)

    await db.rollback()  # the tampered value was autoflushed; put the stored one back
    account = await _reload(db, ids[0])
    for other in ids[1:]:  # same org's other account; another org
        target = await _reload(db, other)
        target.credentials_encrypted = account.credentials_encrypted
        target.credentials_key_version = account.credentials_key_version
        with pytest.raises(crypto.CryptoError):
            await decrypt_credentials(db, settings, target)
    assert await decrypt_credentials(db, settings, account) == SECRETS


async def test_rotation_reencrypts_every_credential_under_a_new_version(
    db: AsyncSession, org: Org, other_org: Org, settings: Settings
) -> None:
    accounts = [
        await make_account(db, org, provider=Provider.AZURE, credentials=SECRETS),
        await make_account(db, org, credentials={"path": "/data/exports"}),
    ]
    untouched = await make_account(db, other_org)
    before = {a.id: a.credentials_encrypted for a in accounts}

    rotation = await crypto.rotate_org_key(db, settings, org.id)
    await db.commit()
    assert (rotation.version, rotation.resealed) == (2, {**_none_resealed(), "accounts": 2})

    keys = await _keys(db, org)
    assert [k.version for k in keys] == [1, 2]
    assert keys[0].retired_at is not None
    assert keys[1].retired_at is None
    for original, expected in zip(accounts, [SECRETS, {"path": "/data/exports"}], strict=True):
        account = await _reload(db, original)
        assert account.credentials_key_version == 2
        assert account.credentials_encrypted != before[account.id]
        assert await decrypt_credentials(db, settings, account) == expected
    # New accounts use the new version; the other org is not touched.
    assert (await make_account(db, org)).credentials_key_version == 2
    assert (await _reload(db, untouched)).credentials_key_version == 1
    assert [k.version for k in await _keys(db, other_org)] == [1]

    assert (await crypto.rotate_org_key(db, settings, org.id)).version == 3


async def test_master_key_change_with_previous_keys_then_rewrap(
    db: AsyncSession, org: Org, db_url: str, tmp_path: Path
) -> None:
    old = _settings(db_url, tmp_path, "old-secret-key-" + "x" * 40)
    account = await make_account(
        db, org, provider=Provider.AZURE, credentials=SECRETS, settings=old
    )

    new_only = _settings(db_url, tmp_path, "new-secret-key-" + "y" * 40)
    with pytest.raises(crypto.CryptoError, match="XPLORR_PREVIOUS_SECRET_KEYS"):
        await decrypt_credentials(db, new_only, account)

    new_with_old = _settings(
        db_url, tmp_path, "new-secret-key-" + "y" * 40, "old-secret-key-" + "x" * 40
    )
    assert new_with_old.previous_secret_keys[0].get_secret_value().startswith("old-")
    assert await decrypt_credentials(db, new_with_old, account) == SECRETS

    result = await crypto.rewrap_data_keys(db, new_with_old)
    await db.commit()
    assert (result.rewrapped, result.unavailable) == (1, [])
    (key,) = await _keys(db, org)
    assert key.kek_id == crypto.derive_master_key("new-secret-key-" + "y" * 40).kek_id
    # Once re-wrapped, the old secret key is no longer needed, and the old one alone fails.
    assert await decrypt_credentials(db, new_only, await _reload(db, account)) == SECRETS
    with pytest.raises(crypto.CryptoError):
        await decrypt_credentials(db, old, account)


async def test_rotation_after_a_master_key_change(
    db: AsyncSession, org: Org, db_url: str, tmp_path: Path
) -> None:
    old = _settings(db_url, tmp_path, "old-secret-key-" + "x" * 40)
    account = await make_account(
        db, org, provider=Provider.AZURE, credentials=SECRETS, settings=old
    )
    new = _settings(db_url, tmp_path, "new-secret-key-" + "y" * 40, "old-secret-key-" + "x" * 40)
    await crypto.rotate_org_key(db, new, org.id)
    await db.commit()
    new_only = _settings(db_url, tmp_path, "new-secret-key-" + "y" * 40)
    assert await decrypt_credentials(db, new_only, await _reload(db, account)) == SECRETS
    with pytest.raises(crypto.CryptoError):  # the old master key cannot read the new data key
        await decrypt_credentials(db, old, account)


async def test_first_use_creates_the_data_key_once(
    db: AsyncSession, settings: Settings, db_url: str
) -> None:
    org = await make_org(db, "Fresh")
    assert await _keys(db, org) == []
    cipher = await crypto.OrgCipher.load(db, settings, org.id)
    blob, version = await cipher.encrypt(db, uuid.uuid4(), {"a": 1})
    blob2, version2 = await cipher.encrypt(db, uuid.uuid4(), {"a": 1})
    await db.commit()
    assert version == version2 == 1
    assert blob != blob2
    # A second cipher that loaded before the key existed races into the same version: it
    # reuses the committed row instead of failing or creating another one.
    late = crypto.OrgCipher(crypto.keyring_for(settings), org.id, [])
    acct = uuid.uuid4()
    blob3, version3 = await late.encrypt(db, acct, {"b": 2})
    await db.commit()
    assert version3 == 1
    assert len(await _keys(db, org)) == 1
    assert cipher.decrypt(acct, blob3, version3) == {"b": 2}


@pytest.mark.slow
async def test_cli_keys_rotate(
    tmp_path: Path, db_url: str, db: AsyncSession, org: Org, other_org: Org
) -> None:
    """``xplorr keys rotate --org SLUG`` as an operator runs it, on this test's database, after
    the secret key changed (the old one in XPLORR_PREVIOUS_SECRET_KEYS)."""
    old_secret, new_secret = "cli-old-secret-" + "w" * 40, "cli-new-secret-" + "z" * 40
    old = _settings(db_url, tmp_path, old_secret)
    account = await make_account(db, org, credentials={"path": "/srv/exports"}, settings=old)
    untouched = await make_account(db, other_org, settings=old)
    env = {
        **os.environ,
        "XPLORR_DATA_DIR": str(tmp_path),
        "XPLORR_DATABASE_URL": db_url,
        "XPLORR_SECRET_KEY": new_secret,
        "XPLORR_PREVIOUS_SECRET_KEYS": old_secret,
    }

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "xplorr", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    done = cli("keys", "rotate", "--org", org.slug)
    assert done.returncode == 0, done.stderr
    said = " ".join(done.stderr.split())
    assert "data key v2, re-sealed " in said
    assert "1 accounts" in said
    assert "0 authenticator_apps" in said
    assert "1 data keys re-wrapped" in said
    assert old_secret not in said
    assert new_secret not in said

    new_only = _settings(db_url, tmp_path, new_secret)
    rotated = await _reload(db, account)
    assert rotated.credentials_key_version == 2
    assert await decrypt_credentials(db, new_only, rotated) == {"path": "/srv/exports"}
    # Another organization was not asked for: still under the old secret key.
    assert (await _reload(db, untouched)).credentials_key_version == 1
    assert (await _keys(db, other_org))[0].kek_id == crypto.derive_master_key(old_secret).kek_id
    (entry,) = (
        await db.scalars(
            select(AuditEntry).where(AuditEntry.action == "cloud_account.keys_rotated")
        )
    ).all()
    assert entry.org_id == org.id
    assert entry.details == {"version": 2, **_none_resealed(), "accounts": 1}

    unknown = cli("keys", "rotate", "--org", "no-such-org")
    assert unknown.returncode == 2
    assert "NOT_FOUND" in unknown.stderr
