"""The Cost Management Query API (no export configured), through the real job and the real
CostManagementClient against the ARM double, which evaluates each query's groupings and
filters over its cost rows: the planned calls (at most two groupings each) cover the
subscription's cost exactly, to the cent, for 13 months then the last 14 days; nextLink pages
are followed; a 429's qpu-retry-after is waited out; a second run changes nothing; a refused
AmortizedCost query is a partial sync with a warning."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from tests.aws.billing_data import sync
from tests.azure.doubles import SUB, AzureFake, CostRow
from tests.conftest import ClientFor
from tests.factories.cloud_accounts import make_account
from tests.sync.conftest import cents, stored_sums
from xplorr.cloud_accounts.models import Provider
from xplorr.connectors.azure.query import chunks, sync_range
from xplorr.core import clock
from xplorr.core.jobs.runner import Worker
from xplorr.core.settings import Settings
from xplorr.costs.models import CostRecord
from xplorr.orgs.models import Org
from xplorr.users.models import User

D = Decimal


@pytest.fixture
def worker(settings: Settings, engine: AsyncEngine) -> Worker:
    return Worker(settings, engine)


def _costs(today: date) -> list[CostRow]:
    month = today.replace(day=1)
    last_month = (month - timedelta(days=1)).replace(day=1)
    year_ago = date(month.year - 1, month.month, 15)
    too_old = date(month.year - 1, month.month, 1) - timedelta(days=40)
    return [
        CostRow(too_old, "Virtual Machines", D("99"), D("99"), "rg-app", "East US"),
        CostRow(year_ago, "Virtual Machines", D("10.123456789"), D("9.5"), "rg-app", "East US"),
        *(
            CostRow(
                last_month + timedelta(days=i),
                "Virtual Machines",
                D("3.3333333333"),
                D("2.5"),
                "rg-app",
                "East US",
            )
            for i in range(10)
        ),
        CostRow(
            last_month + timedelta(days=4),
            "Storage",
            D("0.0049"),
            D("0.0049"),
            "RG-Data",
            "West Europe",
        ),
        CostRow(last_month + timedelta(days=4), "Bandwidth", D("1.25"), D("1.25"), "", ""),
        CostRow(
            last_month + timedelta(days=9), "Reservations", D("500"), D("0"), "", "", "Purchase"
        ),
        CostRow(
            last_month + timedelta(days=9),
            "Virtual Machines",
            D("-12.5"),
            D("-12.5"),
            "",
            "",
            "Refund",
        ),
        CostRow(month, "Virtual Machines", D("4.44"), D("3.33"), "rg-app", "East US"),
        CostRow(month, "Virtual Machines", D("1"), D("1"), "rg-app", "West US"),
    ]


def _sums(rows: list[CostRow], start: date, field: str) -> dict[date, Decimal]:
    out: dict[date, Decimal] = {}
    for r in rows:
        if r.day >= start:
            period = r.day.replace(day=1)
            out[period] = out.get(period, D(0)) + getattr(r, field)
    return out


def test_the_range_is_13_months_then_14_days_in_chunks_of_a_year_at_most() -> None:
    assert sync_range(date(2026, 12, 3), True) == (date(2025, 12, 1), date(2026, 12, 3))
    assert sync_range(date(2026, 12, 3), False) == (date(2026, 11, 1), date(2026, 12, 3))
    assert sync_range(date(2026, 12, 20), False) == (date(2026, 12, 1), date(2026, 12, 20))
    assert chunks(date(2025, 12, 1), date(2026, 12, 3)) == [
        (date(2025, 12, 1), date(2026, 11, 30)),
        (date(2026, 12, 1), date(2026, 12, 3)),
    ]


async def test_planned_queries_paged_throttled_to_the_cent_and_a_rerun_changes_nothing(
    azure: AzureFake,
    db: AsyncSession,
    org: Org,
    admin: User,
    client_for: ClientFor,
    worker: Worker,
) -> None:
    today = clock.now().date()
    start, _end = sync_range(today, True)
    azure.costs = _costs(today)
    azure.throttle = ["1"]  # the first query answers 429: wait 1 s, then again
    account = await make_account(db, org, provider=Provider.AZURE, provider_account_id=SUB)

    run = await sync(client_for, admin, account, worker)
    assert run["state"] == "succeeded", run
    queries = [body for kind, body in azure.calls if kind == "query"]
    assert all(len(q["dataset"].get("grouping") or []) <= 2 for q in queries)
    assert run["detail"]["apiCalls"] == {"Microsoft.CostManagement/query": len(queries) - 1}
    assert len({q["type"] for q in queries}) == 2
    billed = _sums(azure.costs, start, "actual")
    assert cents(await stored_sums(db, account, "billing_period")) == cents(billed)
    effective = await db.execute(
        select(CostRecord.billing_period, CostRecord.effective_cost).where(
            CostRecord.cloud_account_id == account.id
        )
    )
    amortized: dict[date, Decimal] = {}
    for period, cost in effective.all():
        amortized[period] = amortized.get(period, D(0)) + cost
    assert cents(amortized) == cents(_sums(azure.costs, start, "amortized"))
    rows = (
        await db.scalars(select(CostRecord).where(CostRecord.cloud_account_id == account.id))
    ).all()
    last_month = (today.replace(day=1) - timedelta(days=1)).replace(day=1)
    storage = next(r for r in rows if r.service_name == "Storage")
    assert (storage.region, storage.resource_id, storage.resource_name) == (
        "westeurope",
        f"/subscriptions/{SUB}/resourcegroups/rg-data",
        "rg-data",
    )
    bandwidth = next(r for r in rows if r.service_name == "Bandwidth")
    assert (bandwidth.resource_id, bandwidth.charge_category) == (None, "Usage")
    kinds = {r.charge_category for r in rows if r.billing_period == last_month}
    assert kinds == {"Usage", "Purchase", "Credit"}
    assert {r.provider for r in rows} == {"azure"}

    # Later syncs read from the month holding today - 14 days: unchanged months are skipped.
    azure.calls.clear()
    again = await sync(client_for, admin, account, worker)
    assert again["state"] == "succeeded", again
    assert again["detail"]["periodsImported"] == []
    assert {p["reason"] for p in again["detail"]["periodsSkipped"]} == {"unchanged"}
    first = min(q["timePeriod"]["from"] for kind, q in azure.calls if kind == "query")
    assert first[:10] == sync_range(today, False)[0].isoformat()
    assert cents(await stored_sums(db, account, "billing_period")) == cents(billed)

    # AmortizedCost refused: a partial sync; EffectiveCost falls back to the billed cost.
    azure.denied = {"amortized"}
    partial = await sync(client_for, admin, account, worker)
    assert partial["state"] == "succeeded", partial
    assert partial["detail"]["warnings"][0].startswith("Amortized costs were not read (")
    assert cents(await stored_sums(db, account, "billing_period")) == cents(billed)


async def test_a_refused_query_or_sign_in_fails_the_sync_with_its_reason(
    azure: AzureFake,
    db: AsyncSession,
    org: Org,
    admin: User,
    client_for: ClientFor,
    worker: Worker,
) -> None:
    account = await make_account(db, org, provider=Provider.AZURE, provider_account_id=SUB)
    azure.denied = {"query"}
    run = await sync(client_for, admin, account, worker)
    assert run["state"] == "failed", run
    assert run["error"].startswith("Microsoft.CostManagement/query failed: RBACAccessDenied")
    azure.denied = set()
    azure.secret = "rotated"  # the stored secret expired
    run = await sync(client_for, admin, account, worker)
    assert run["state"] == "failed", run
    assert run["error"].startswith("Azure authentication failed (AADSTS7000215)")
