"""``xplorr keys rotate``: new data keys and every sealed secret re-sealed, outside HTTP.

What is re-sealed is what the areas registered in ``core.secrets`` (cloud-account credentials,
TOTP seeds, and whatever a later area seals). One transaction per organization, so a failure in
one org leaves the others rotated and its own untouched. Data keys still wrapped by a previous
secret key are re-wrapped under the current one, after which the old key can leave
``XPLORR_PREVIOUS_SECRET_KEYS``.
"""

import uuid
from dataclasses import dataclass, field

from sqlalchemy import select

from xplorr.core import audit, crypto
from xplorr.core.db import make_engine, make_sessionmaker
from xplorr.core.errors import NotFound
from xplorr.core.settings import Settings
from xplorr.orgs.models import Org


@dataclass
class RotateReport:
    rotations: list[crypto.Rotation] = field(default_factory=list)
    rewrapped: int = 0
    unavailable: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)  # "<org id>: <reason>" (nothing changed there)


async def rotate_keys_cli(settings: Settings, org_slug: str | None = None) -> RotateReport:
    report = RotateReport()
    engine = make_engine(settings.db_url)
    try:
        sessions = make_sessionmaker(engine)
        async with sessions() as db:
            if org_slug is not None:
                org_id = await db.scalar(select(Org.id).where(Org.slug == org_slug))
                if org_id is None:
                    raise NotFound(f"No organization with slug '{org_slug}'.")
                org_ids: list[uuid.UUID] = [org_id]
            else:
                org_ids = await crypto.orgs_with_keys(db)
        for org_id in org_ids:
            async with sessions() as db:
                try:
                    rotation = await crypto.rotate_org_key(db, settings, org_id)
                except crypto.CryptoError as exc:
                    await db.rollback()
                    report.failed.append(f"{org_id}: {exc}")
                    continue
                rewrap = await crypto.rewrap_data_keys(db, settings, org_id)
                await audit.record(
                    db,
                    "cloud_account.keys_rotated",
                    org_id=org_id,
                    actor_email="cli",
                    resource_type="organization",
                    resource_id=org_id,
                    details={"version": rotation.version, **rotation.resealed},
                )
                await db.commit()
            report.rotations.append(rotation)
            report.rewrapped += rewrap.rewrapped
            report.unavailable += rewrap.unavailable
    finally:
        await engine.dispose()
    return report
