"""The org's base AWS keys in /settings: sealed under the org's data key, answered masked,
re-sealed by ``xplorr keys rotate``, set or cleared only as a pair (a half pair or a bad shape
is a 422 that changes nothing), audited redacted, admins only."""

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import ClientFor
from xplorr.core import crypto
from xplorr.core.audit import AuditEntry
from xplorr.core.settings import Settings
from xplorr.orgs.models import Org
from xplorr.settings import service
from xplorr.settings.models import AWS_BASE_KEYS, OrgSetting
from xplorr.users.models import User

KEY_ID = "AKIAIOSFODNN7EXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKY"  # 40 characters
PAIR = {"aws_base_access_key_id": KEY_ID, "aws_base_secret_access_key": SECRET}


async def _row(db: AsyncSession, org: Org) -> OrgSetting:
    db.expire_all()
    row = await db.scalar(select(OrgSetting).where(OrgSetting.org_id == org.id))
    assert row is not None
    return row


async def test_base_keys_round_trip_masked_sealed_rotated_and_cleared(
    client_for: ClientFor,
    admin: User,
    viewer: User,
    org: Org,
    db: AsyncSession,
    settings: Settings,
) -> None:
    r = await client_for(admin).patch("/settings", json=PAIR)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["aws_base_access_key_id"] == "AKIA…MPLE"
    assert out["aws_base_secret_access_key"] == "********"
    assert out["aws_base_keys_changed_at"] is not None
    assert KEY_ID not in r.text
    assert SECRET not in r.text
    seen = await client_for(viewer).get("/settings")
    assert seen.json() == out

    row = await _row(db, org)
    assert row.aws_base_keys_encrypted is not None
    assert SECRET.encode() not in row.aws_base_keys_encrypted
    assert KEY_ID.encode() not in row.aws_base_keys_encrypted
    assert await service.aws_base_keys(db, settings, org.id) == (KEY_ID, SECRET)
    assert (await service.get_org_settings(db, org.id)).has_aws_base_keys is True

    entry = await db.scalar(select(AuditEntry).where(AuditEntry.action == "settings.updated"))
    assert entry is not None
    assert entry.details["changes"] == {
        "aws_base_access_key_id": "[REDACTED]",
        "aws_base_secret_access_key": "[REDACTED]",
    }
    assert SECRET not in str(entry.details)

    # Viewers read, never write; a half pair, a null half or a bad shape is a 422 naming the
    # field, and the stored pair stays as it was.
    refused = await client_for(viewer).patch("/settings", json={**PAIR, "timezone": "UTC"})
    assert refused.status_code == 403
    other = {
        "aws_base_access_key_id": "AKIAOTHERKEY00000001",
        "aws_base_secret_access_key": "x" * 40,
    }
    cases = [
        ({"aws_base_access_key_id": KEY_ID}, "aws_base_secret_access_key"),
        ({"aws_base_secret_access_key": SECRET}, "aws_base_access_key_id"),
        ({**other, "aws_base_secret_access_key": None}, "aws_base_secret_access_key"),
        ({**other, "aws_base_access_key_id": None}, "aws_base_access_key_id"),
        ({**other, "aws_base_access_key_id": "ASIAIOSFODNN7EXAMPLE"}, "aws_base_access_key_id"),
        ({**other, "aws_base_access_key_id": "akia-lowercase-0001"}, "aws_base_access_key_id"),
        ({**other, "aws_base_secret_access_key": "y" * 39}, "aws_base_secret_access_key"),
        ({**other, "aws_base_secret_access_key": "z" * 39 + " "}, "aws_base_secret_access_key"),
    ]
    for body, field in cases:
        bad = await client_for(admin).patch("/settings", json={**body, "timezone": "Asia/Tokyo"})
        assert bad.status_code == 422, (body, bad.text)
        assert field in bad.text, (body, bad.text)
        assert SECRET not in bad.text
    assert await service.aws_base_keys(db, settings, org.id) == (KEY_ID, SECRET)
    assert (await _row(db, org)).timezone == "UTC"

    # `xplorr keys rotate` re-seals the pair under the new data key; it still opens.
    before = (await _row(db, org)).aws_base_key_version
    rotation = await crypto.rotate_org_key(db, settings, org.id)
    await db.commit()
    assert rotation.resealed[AWS_BASE_KEYS.label] == 1
    row = await _row(db, org)
    assert row.aws_base_key_version == rotation.version != before
    assert await service.aws_base_keys(db, settings, org.id) == (KEY_ID, SECRET)

    # Both null clear the pair.
    cleared = await client_for(admin).patch(
        "/settings", json={"aws_base_access_key_id": None, "aws_base_secret_access_key": None}
    )
    assert cleared.status_code == 200, cleared.text
    assert cleared.json()["aws_base_access_key_id"] is None
    assert cleared.json()["aws_base_secret_access_key"] is None
    assert cleared.json()["aws_base_keys_changed_at"] >= out["aws_base_keys_changed_at"]
    row = await _row(db, org)
    assert (row.aws_base_keys_encrypted, row.aws_base_key_version) == (None, None)
    assert await service.aws_base_keys(db, settings, org.id) is None
