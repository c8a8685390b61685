"""Schedules and digests take the organization's settings as defaults: its time zone, and for
digests its digest time; a value given in the body wins."""

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import ClientFor
from tests.factories.settings import make_org_settings
from xplorr.core.jobs import cron
from xplorr.orgs.models import Org
from xplorr.users.models import User


def _local(out: dict[str, str], zone: str) -> tuple[int, int]:
    when = datetime.fromisoformat(out["next_run_at"]).astimezone(cron.zone(zone))
    return when.hour, when.minute


async def test_the_org_time_zone_and_digest_time_are_the_defaults(
    client_for: ClientFor, admin: User, org: Org, db: AsyncSession
) -> None:
    c = client_for(admin)
    # Never saved: UTC and 09:00, as before the settings existed.
    r = await c.post("/digest-settings", json={"recipients": ["a@example.com"]})
    assert r.status_code == 201, r.text
    assert (r.json()["timezone"], r.json()["hour"], r.json()["minute"]) == ("UTC", 9, 0)

    await make_org_settings(db, org, timezone="America/Sao_Paulo", digest_time="07:45")
    r = await c.post("/digest-settings", json={"recipients": ["a@example.com"]})
    out = r.json()
    assert (out["timezone"], out["hour"], out["minute"]) == ("America/Sao_Paulo", 7, 45)
    assert _local(out, "America/Sao_Paulo") == (7, 45)
    r = await c.post(
        "/digest-settings",
        json={"recipients": ["a@example.com"], "timezone": "Asia/Tokyo", "hour": 6},
    )
    assert (r.json()["timezone"], r.json()["hour"], r.json()["minute"]) == ("Asia/Tokyo", 6, 45)

    body = {"name": "Monthly", "frequency": "monthly", "recipients": ["cfo@example.com"]}
    r = await c.post("/scheduled-reports", json=body)
    assert r.status_code == 201, r.text
    assert (r.json()["timezone"], r.json()["hour"]) == ("America/Sao_Paulo", 8)
    assert _local(r.json(), "America/Sao_Paulo") == (8, 0)
    r = await c.post("/scheduled-reports", json={**body, "timezone": "Europe/Paris"})
    assert r.json()["timezone"] == "Europe/Paris"
