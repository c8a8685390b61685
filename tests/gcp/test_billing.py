"""The BigQuery billing export through the real google-cloud-bigquery client against the local
Google (the SQL we send runs on DuckDB): a first sync imports 13 invoice months to the cent,
credits kept per type, labels as tags, tax and adjustments in their categories; a second sync
re-reads only the restated months and changes nothing; the detailed table replaces the
standard one for the months it holds; a FOCUS table is read as FOCUS; failures say what to fix
and denied parts give partial syncs."""

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from tests.aws.billing_data import sync
from tests.conftest import ClientFor
from tests.factories.cloud_accounts import make_account
from tests.gcp import billing_data as bd
from tests.gcp.conftest import PROJECT, credentials
from tests.gcp.google_fake import GoogleFake, service_account_key
from tests.sync.conftest import cents
from xplorr.cloud_accounts.models import CloudAccount, Provider
from xplorr.connectors.gcp.billing import BillPlan, fetch, sync_months
from xplorr.connectors.gcp.session import GcpCallError, open_session
from xplorr.core import clock
from xplorr.core.jobs.runner import Worker
from xplorr.core.models import Money
from xplorr.core.settings import Settings
from xplorr.costs.models import CostRecord
from xplorr.orgs.models import Org
from xplorr.users.models import User

DATASET = "billing_export"


@pytest.fixture
def worker(settings: Settings, engine: AsyncEngine) -> Worker:
    return Worker(settings, engine)


async def _account(db: AsyncSession, org: Org, keyfile: dict[str, Any], **extra: Any) -> Any:
    return await make_account(
        db,
        org,
        provider=Provider.GCP,
        provider_account_id=PROJECT,
        credentials=credentials(keyfile, **extra),
    )


async def _by_period(db: AsyncSession, account: CloudAccount) -> dict[str, Decimal]:
    await db.rollback()
    rows = await db.execute(
        select(CostRecord.billing_period, func.sum(CostRecord.billed_cost, type_=Money))
        .where(CostRecord.cloud_account_id == account.id)
        .group_by(CostRecord.billing_period)
    )
    return {p.strftime("%Y-%m"): total for p, total in rows.all()}


async def _rows(db: AsyncSession, account: CloudAccount) -> list[tuple[Any, ...]]:
    await db.rollback()
    return [
        tuple(r)
        for r in (
            await db.execute(
                select(
                    CostRecord.usage_date,
                    CostRecord.billing_period,
                    CostRecord.service_name,
                    CostRecord.charge_category,
                    CostRecord.commitment_discount_type,
                    CostRecord.resource_id,
                    CostRecord.region,
                    CostRecord.tags,
                    CostRecord.billed_cost,
                ).where(CostRecord.cloud_account_id == account.id)
            )
        ).all()
    ]


class TestBigQueryExport:
    async def test_first_sync_to_the_cent_then_a_second_changes_nothing(
        self,
        google: GoogleFake,
        keyfile: dict[str, Any],
        db: AsyncSession,
        org: Org,
        admin: User,
        client_for: ClientFor,
        worker: Worker,
    ) -> None:
        today = clock.now().date()
        google.dataset(DATASET)
        google.export_table(DATASET, bd.STANDARD)
        rows, expected = bd.dataset(today)
        google.insert(DATASET, bd.STANDARD, rows)
        account = await _account(db, org, keyfile)

        run = await sync(client_for, admin, account, worker)
        assert run["state"] == "succeeded", run
        detail = run["detail"]
        assert detail["periodsImported"] == sorted(expected)
        assert detail["warnings"] == []
        # tables.list, then costs and credits of the standard table
        assert detail["apiCalls"] == {"bigquery:tables.list": 1, "bigquery:jobs.query": 2}
        assert detail["totals"] == {"USD": str(sum(expected.values()))}
        assert cents(await _by_period(db, account)) == cents(expected)

        stored = await _rows(db, account)
        this, last = bd.month(today, 0), bd.month(today, 1)
        credits = {(r[2], r[4]): r[8] for r in stored if r[3] == "Credit"}
        assert credits == {
            ("Compute Engine", "SUSTAINED_USAGE_DISCOUNT"): Decimal("-1.2345"),
            ("Compute Engine", "FREE_TIER"): Decimal("-0.5"),
            ("Compute Engine", "COMMITTED_USAGE_DISCOUNT"): Decimal("-0.75"),
            ("BigQuery", "PROMOTION"): Decimal("-1"),
        }
        categories = {(r[3], r[8]) for r in stored if r[3] in ("Tax", "Adjustment")}
        assert categories == {("Tax", Decimal("1.2")), ("Adjustment", Decimal("-0.5"))}
        late = [r for r in stored if r[3] == "Usage" and r[0] == this - timedelta(days=1)]
        assert [(r[1], r[8]) for r in late] == [(this, Decimal("4"))]  # its invoice month
        tagged = {r[8]: r[7] for r in stored if r[3] == "Usage" and r[1] == last}
        assert tagged[Decimal("12.345678")] == {"env": "prod", "team": "data"}
        storage = [r for r in stored if r[2] == "Cloud Storage"]
        assert [(r[6], r[8]) for r in storage] == [("us", Decimal("0.3"))]  # 0.1 + 0.2, exact
        categories_by_sku = dict(
            (
                await db.execute(
                    select(CostRecord.sku_id, CostRecord.service_category).where(
                        CostRecord.cloud_account_id == account.id,
                        CostRecord.charge_category == "Usage",
                    )
                )
            ).all()
        )
        assert categories_by_sku[bd.EGRESS] == "Networking"  # network spend of Compute Engine
        assert categories_by_sku["GCS-STD"] == "Storage"
        # The SQL sent reads whole days by usage_start_time, by invoice month, credits unnested
        assert all("t.usage_start_time >= TIMESTAMP(@start)" in q for q in google.queries)
        assert any("UNNEST(t.credits)" in q for q in google.queries)

        google.queries.clear()
        again = await sync(client_for, admin, account, worker)
        assert again["state"] == "succeeded", again
        restated = {m.strftime("%Y-%m") for m in sync_months(today, first_sync=False)}
        assert {p["period"] for p in again["detail"]["periodsSkipped"]} == restated
        assert {p["reason"] for p in again["detail"]["periodsSkipped"]} == {"unchanged"}
        assert again["detail"]["periodsImported"] == []
        assert await _rows(db, account) == stored
        assert len(google.queries) == 2

    async def test_detailed_table_gives_its_months_by_resource_without_doubling(
        self,
        google: GoogleFake,
        keyfile: dict[str, Any],
        db: AsyncSession,
        org: Org,
        admin: User,
        client_for: ClientFor,
        worker: Worker,
    ) -> None:
        today = clock.now().date()
        this, last = bd.month(today, 0), bd.month(today, 1)
        vm = "//compute.googleapis.com/projects/proj-123456/zones/us-central1-a/instances/42"
        google.dataset(DATASET)
        google.export_table(DATASET, bd.STANDARD)
        google.export_table(DATASET, bd.DETAILED, detailed=True)
        google.insert(
            DATASET, bd.STANDARD, [bd.row(last, "5.55"), bd.row(this, "2.50"), bd.row(this, "1")]
        )
        google.insert(
            DATASET,
            bd.DETAILED,
            [
                bd.row(this, "2.50", resource=("vm-1", vm)),
                bd.row(
                    this,
                    "1",
                    resource=("vm-2", vm[:-2] + "43"),
                    credits=[("SUSTAINED_USAGE_DISCOUNT", "-0.25")],
                ),
            ],
        )
        # The standard table's credits for this month must not be added either
        account = await _account(db, org, keyfile)
        run = await sync(client_for, admin, account, worker)
        assert run["state"] == "succeeded", run
        assert run["detail"]["apiCalls"]["bigquery:jobs.query"] == 4
        by_period = await _by_period(db, account)
        assert cents(by_period) == {
            last.strftime("%Y-%m"): Decimal("5.55"),
            this.strftime("%Y-%m"): Decimal("3.25"),
        }
        resources = {r[5]: r[8] for r in await _rows(db, account) if r[1] == this}
        assert resources[vm] == Decimal("2.5")

    async def test_detailed_table_gives_only_its_accounts_days(
        self,
        google: GoogleFake,
        keyfile: dict[str, Any],
        db: AsyncSession,
        org: Org,
        admin: User,
        client_for: ClientFor,
        worker: Worker,
    ) -> None:
        """One dataset, two billing accounts (wildcard billingTable): only the first exports
        the detailed table, switched on during last month's 12th. Nothing is dropped or
        counted twice: the other account's costs stay, the first account's days before the
        switch and the 12th itself (the detailed table holds part of it) come from its
        standard table, its later days from the detailed one, by resource."""
        today = clock.now().date()
        this, last = bd.month(today, 0), bd.month(today, 1)
        before, switched, after = (last + timedelta(days=n) for n in (1, 11, 19))
        vm = "//compute.googleapis.com/projects/proj-123456/zones/us-central1-a/instances/"
        other = bd.OTHER_ACCOUNT
        google.dataset(DATASET)
        for table in (bd.STANDARD, bd.standard(other)):
            google.export_table(DATASET, table)
        google.export_table(DATASET, bd.DETAILED, detailed=True)
        discount = [("SUSTAINED_USAGE_DISCOUNT", "-0.5")]
        google.insert(
            DATASET,
            bd.STANDARD,
            [
                bd.row(before, "10"),
                bd.row(switched, "2"),
                bd.row(switched, "3", sku="OTHER-SKU"),  # billed before the switch
                bd.row(after, "4", credits=discount),
                bd.row(this, "1.5"),
            ],
        )
        google.insert(
            DATASET,
            bd.DETAILED,
            [
                bd.row(switched, "2", resource=("vm-1", vm + "1")),
                bd.row(after, "4", resource=("vm-1", vm + "1"), credits=discount),
                bd.row(this, "1.5", resource=("vm-2", vm + "2")),
            ],
        )
        google.insert(
            DATASET,
            bd.standard(other),
            [
                bd.row(last + timedelta(days=4), "7", account=other),
                bd.row(this, "0.25", account=other),
            ],
        )
        account = await _account(db, org, keyfile)  # billingTable gcp_billing_export_v1_*

        run = await sync(client_for, admin, account, worker)
        assert run["state"] == "succeeded", run
        assert run["detail"]["warnings"] == []
        # tables.list, then costs and credits of each of the three tables
        assert run["detail"]["apiCalls"]["bigquery:jobs.query"] == 6
        assert cents(await _by_period(db, account)) == {
            last.strftime("%Y-%m"): Decimal("25.50"),  # 10 + 2 + 3 + 4 - 0.5 + 7
            this.strftime("%Y-%m"): Decimal("1.75"),  # 1.5 + 0.25
        }
        await db.rollback()
        stored = (
            await db.execute(
                select(
                    CostRecord.billing_account_id,
                    CostRecord.usage_date,
                    CostRecord.charge_category,
                    CostRecord.resource_id,
                    func.sum(CostRecord.billed_cost, type_=Money),
                )
                .where(CostRecord.cloud_account_id == account.id)
                .group_by(
                    CostRecord.billing_account_id,
                    CostRecord.usage_date,
                    CostRecord.charge_category,
                    CostRecord.resource_id,
                )
            )
        ).all()
        first = bd.BILLING_ACCOUNT
        assert sorted((tuple(r) for r in stored), key=str) == sorted(
            [
                (first, before, "Usage", None, Decimal("10")),
                (first, switched, "Usage", None, Decimal("5")),
                (first, after, "Usage", vm + "1", Decimal("4")),
                (first, after, "Credit", vm + "1", Decimal("-0.5")),
                (first, this, "Usage", vm + "2", Decimal("1.5")),
                (other, last + timedelta(days=4), "Usage", None, Decimal("7")),
                (other, this, "Usage", None, Decimal("0.25")),
            ],
            key=str,
        )

    async def test_focus_table(
        self,
        google: GoogleFake,
        keyfile: dict[str, Any],
        db: AsyncSession,
        org: Org,
        admin: User,
        client_for: ClientFor,
        worker: Worker,
    ) -> None:
        from datetime import UTC, datetime

        today = clock.now().date()
        this = bd.month(today, 0)
        table = "gcp_billing_export_focus_01A2B3_C4D5E6_F7A8B9"
        google.dataset(DATASET)
        google.focus_table(DATASET, table)
        base = {
            "BillingAccountId": "01A2B3-C4D5E6-F7A8B9",
            "SubAccountId": PROJECT,
            "SubAccountName": "Production",
            "ServiceName": "Compute Engine",
            "ServiceCategory": "Compute",
            "RegionId": "us-central1",
            "AvailabilityZone": None,
            "ResourceId": None,
            "ResourceName": None,
            "CommitmentDiscountType": None,
            "SkuId": "sku",
            "PricingUnit": "hour",
            "BillingCurrency": "USD",
            "BillingPeriodStart": datetime(this.year, this.month, 1, tzinfo=UTC),
            "ChargePeriodStart": datetime(this.year, this.month, 1, 5, tzinfo=UTC),
            "Tags": [{"key": "env", "value": "prod"}],
            "PricingQuantity": Decimal("1"),
        }
        google.insert(
            DATASET,
            table,
            [
                base
                | {
                    "ChargeCategory": "Usage",
                    "BilledCost": Decimal("10.123456789"),
                    "EffectiveCost": Decimal("9"),
                    "ListCost": Decimal("11"),
                },
                base
                | {
                    "ChargeCategory": "Credit",
                    "BilledCost": Decimal("-2.1"),
                    "EffectiveCost": Decimal("-2.1"),
                    "ListCost": Decimal("0"),
                },
            ],
        )
        account = await _account(db, org, keyfile, billingTable="gcp_billing_export_focus_*")
        run = await sync(client_for, admin, account, worker)
        assert run["state"] == "succeeded", run
        assert run["detail"]["totals"] == {"USD": "8.023456789"}
        stored = await _rows(db, account)
        assert {(r[3], r[8], str(r[7])) for r in stored} == {
            ("Usage", Decimal("10.123456789"), "{'env': 'prod'}"),
            ("Credit", Decimal("-2.1"), "{'env': 'prod'}"),
        }

    async def test_denied_bigquery_fails_the_sync_readably(
        self,
        google: GoogleFake,
        keyfile: dict[str, Any],
        db: AsyncSession,
        org: Org,
        admin: User,
        client_for: ClientFor,
        worker: Worker,
    ) -> None:
        google.dataset(DATASET)
        google.export_table(DATASET, bd.STANDARD)
        google.deny.add("bigquery")
        account = await _account(db, org, keyfile)
        run = await sync(client_for, admin, account, worker)
        assert run["state"] == "failed", run
        assert run["error"].startswith("GCP permission denied: bigquery:tables.list")
        assert "PRIVATE KEY" not in run["error"]


def _fetch(settings: Settings, keyfile: dict[str, Any], **extra: Any) -> BillPlan:
    today = clock.now().date()
    months = sync_months(today, first_sync=False)
    plan = BillPlan(months[0], today + timedelta(days=1), months)
    return fetch(open_session(settings, credentials(keyfile, **extra)), plan)


def test_failures_name_what_to_fix(
    google: GoogleFake, keyfile: dict[str, Any], settings: Settings
) -> None:
    """Each failure of section 8, from the real client's answer (no sync needed)."""
    today = clock.now().date()
    google.dataset(DATASET, location="EU")
    google.export_table(DATASET, bd.STANDARD)
    google.export_table(DATASET, bd.DETAILED, detailed=True)
    google.insert(DATASET, bd.STANDARD, [bd.row(today, "1.5")])
    google.insert(DATASET, bd.DETAILED, [bd.row(today, "1.5", resource=("a", "b"))])
    revoked = service_account_key(google.endpoint, email="revoked@proj.iam.gserviceaccount.com")
    cases: list[tuple[dict[str, Any], dict[str, Any], str]] = [
        (
            keyfile,
            {"bigqueryLocation": "US"},
            f"Not found: Dataset {PROJECT}:{DATASET} in "
            "location US (check billingDataset and bigqueryLocation).",
        ),
        (
            keyfile,
            {"billingDataset": "nope", "bigqueryLocation": "EU"},
            f"Not found: Dataset {PROJECT}:nope (check billingDataset and projectId).",
        ),
        (
            keyfile,
            {"billingTable": "gcp_billing_export_v1_OTHER", "bigqueryLocation": "EU"},
            f"Not found: Table {PROJECT}:{DATASET}.gcp_billing_export_v1_OTHER (no table of the "
            "dataset matches billingTable).",
        ),
        (revoked, {"bigqueryLocation": "EU"}, "GCP authentication failed: bigquery:tables.list"),
    ]
    for key, extra, message in cases:
        with pytest.raises(GcpCallError) as caught:
            _fetch(settings, key, **extra)
        assert str(caught.value).startswith(message), (extra, str(caught.value))
        assert "PRIVATE KEY" not in str(caught.value)

    # The detailed table denied: a partial read, from the standard table, with a warning
    google.deny.add(f"table:{bd.DETAILED}")
    plan = _fetch(settings, keyfile, bigqueryLocation="EU")
    assert [w.split(" (")[0] for w in plan.warnings] == [
        f"The detailed export {bd.DETAILED} was not read"
    ]
    assert "GCP permission denied" in plan.warnings[0]
    assert set().union(*plan.sources.values()) == {bd.STANDARD}
