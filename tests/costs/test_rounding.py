"""Totals that add up (issue 13, point 4): over the four FOCUS samples imported through the real
ingest, every groupBy (and a thenBy under each) gives groups whose rounded amounts add up
exactly to ``totalCost``, each within one cent of its exact sum; trend points add up too."""

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import ClientFor, make_settings
from tests.costs.conftest import principal
from tests.factories.cloud_accounts import make_account
from tests.ingest.conftest import AWS, AZURE, FINOPS, GCP, SAMPLES
from xplorr.cloud_accounts.models import Provider
from xplorr.core.settings import Settings
from xplorr.costs import query
from xplorr.costs.query import CostQuery, Metric
from xplorr.costs.service import GROUP_BYS, parse_group_by
from xplorr.ingest.pipeline import import_files
from xplorr.orgs.models import Org
from xplorr.users.models import User

CENT = Decimal("0.01")
RANGES = {
    "finops sample": (date(2024, 9, 1), date(2024, 9, 30)),
    "provider samples": (date(2026, 5, 1), date(2026, 5, 31)),
}
GROUPINGS = [*GROUP_BYS, "tag:Environment", "tag:environment", "tag:Owner"]


def _key(value: query.Key) -> str | None:
    if value is None:
        return None
    return value.isoformat() if isinstance(value, date) else str(value)


def cents(value: float | int) -> Decimal:
    return Decimal(str(value)).quantize(CENT)


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return make_settings(db_url, tmp_path, rate_limits_enabled=False)  # ~100 requests


async def _load(db: AsyncSession, org: Org) -> None:
    for name in (FINOPS, AWS, AZURE, GCP):
        account = await make_account(db, org, provider=Provider.FOCUS, name=name)
        await import_files(
            db,
            account,
            [SAMPLES / name],
            source=name,
            snapshot_at=datetime(2026, 6, 2, tzinfo=UTC),
            fingerprint=f"{name}-{uuid.uuid4().hex}",
        )
        await db.commit()


async def test_every_group_by_adds_up_over_the_focus_samples(
    client_for: ClientFor, admin: User, db: AsyncSession, org: Org
) -> None:
    await _load(db, org)
    client = client_for(admin)
    who = principal(org)
    checked = 0
    for label, (start, end) in RANGES.items():
        dates = {"startDate": start.isoformat(), "endDate": end.isoformat()}
        for metric in ("billed", "effective"):
            for group_by in GROUPINGS:
                r = await client.get(
                    "/costs", params={**dates, "groupBy": group_by, "metric": metric}
                )
                assert r.status_code == 200, r.text
                body = r.json()
                where = (label, metric, group_by)
                assert sum(cents(d["cost"]) for d in body["data"]) == cents(body["totalCost"]), (
                    where
                )
                exact = {
                    _key(g.key[0]): g.cost
                    for g in await query.aggregate(
                        db,
                        who,
                        CostQuery(
                            start=start,
                            end=end,
                            metric=Metric(metric),
                            group_by=(parse_group_by(group_by),),
                            currency="USD",
                        ),
                    )
                }
                for d in body["data"]:
                    assert abs(cents(d["cost"]) - exact[d["key"]]) < CENT, (where, d["key"])
                then_by = "service" if group_by != "service" else "region"
                nested = (
                    await client.get(
                        "/costs",
                        params={**dates, "groupBy": group_by, "thenBy": then_by, "metric": metric},
                    )
                ).json()
                assert sum(cents(d["cost"]) for d in nested["data"]) == cents(nested["totalCost"])
                for d in nested["data"]:
                    assert sum(cents(g["cost"]) for g in d["groups"]) == cents(d["cost"]), where
                checked += 1
            trend = (await client.get("/costs/trend", params={**dates, "metric": metric})).json()
            assert sum(cents(d["cost"]) for d in trend["data"]) == cents(trend["totalCost"])
    assert checked == 2 * 2 * len(GROUPINGS)


async def test_tag_keys_across_providers_by_case(
    client_for: ClientFor, viewer: User, db: AsyncSession, org: Org
) -> None:
    await _load(db, org)
    params = {"startDate": "2026-05-01", "endDate": "2026-05-31", "tagCase": "insensitive"}
    body = (await client_for(viewer).get("/costs/tags", params=params)).json()
    keys = {d["key"]: d["variants"] for d in body["data"]}
    assert keys["environment"] == ["Environment", "environment"]  # AWS/Azure and GCP spellings
    values = (await client_for(viewer).get("/costs/tags/environment/values", params=params)).json()
    assert sum(cents(d["cost"]) for d in values["data"]) == cents(values["totalCost"])
    assert "staging" in {d["key"] for d in values["data"]}
