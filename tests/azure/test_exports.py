"""Cost Management exports in Azurite, synced by the real job: FocusCost runs read through their
manifests (the service principal's OAuth token, or a SAS URL), the newest run of a billing
period imported to the cent, the days 1-5 re-run replacing its month, unchanged runs skipped;
ActualCost/AmortizedCost mapped to FOCUS; denied reads are partial syncs with warnings."""

import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from azure.storage.blob import (
    BlobServiceClient,
    ContainerClient,
    ContainerSasPermissions,
    generate_container_sas,
)
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from tests.aws.billing_data import sync
from tests.azure.doubles import ACCOUNT, ACCOUNT_KEY, SECRET, SUB, Azurite, Tls, credentials
from tests.azure.exports_data import (
    DETAILS_COLUMNS,
    FOCUS_COLUMNS,
    csv_bytes,
    details_row,
    focus_row,
    gz,
    parquet_bytes,
    put_run,
    total,
)
from tests.conftest import ClientFor
from tests.factories.cloud_accounts import make_account
from tests.sync.conftest import cents, stored_sums
from xplorr.cloud_accounts.models import CloudAccount, Provider
from xplorr.core.jobs.runner import Worker
from xplorr.core.settings import Settings
from xplorr.costs.models import CostRecord
from xplorr.orgs.models import Org
from xplorr.users.models import User

ROOT = "exports/cost"
SEPT, AUG, JULY = date(2024, 9, 1), date(2024, 8, 1), date(2024, 7, 1)


@pytest.fixture
def worker(settings: Settings, engine: AsyncEngine) -> Worker:
    return Worker(settings, engine)


@pytest.fixture
def container(azurite: Azurite, azure_tls: Tls) -> Iterator[ContainerClient]:
    service = BlobServiceClient.from_connection_string(
        azurite.connection_string, connection_verify=str(azure_tls.ca)
    )
    client = service.create_container(f"costs-{uuid.uuid4().hex[:12]}")
    yield client
    client.delete_container()
    service.close()


def _sas(azurite: Azurite, container: ContainerClient, **permissions: bool) -> str:
    token = generate_container_sas(
        ACCOUNT,
        container.container_name,
        account_key=ACCOUNT_KEY,
        permission=ContainerSasPermissions(**permissions),
        expiry=datetime.now(UTC) + timedelta(hours=1),
    )
    return f"{azurite.blob_url}/{container.container_name}?{token}"


async def _account(db: AsyncSession, org: Org, **extra: Any) -> CloudAccount:
    return await make_account(
        db, org, provider=Provider.AZURE, provider_account_id=SUB, credentials=credentials(**extra)
    )


def _days(period: date, count: int, cost: str, **values: Any) -> list[dict[str, Any]]:
    return [focus_row(period + timedelta(days=i), cost, **values) for i in range(count)]


class TestFocusCost:
    async def test_newest_run_per_period_to_the_cent_reruns_replace_and_unchanged_skip(
        self,
        container: ContainerClient,
        db: AsyncSession,
        org: Org,
        admin: User,
        client_for: ClientFor,
        worker: Worker,
    ) -> None:
        # September: an older run, then the newer one (two gzip parts) that counts.
        put_run(
            container,
            ROOT,
            "focus-daily",
            "FocusCost",
            SEPT,
            datetime(2024, 9, 10, 6, tzinfo=UTC),
            [("part_0_0001.csv.gz", gz(csv_bytes(_days(SEPT, 9, "9.99"), FOCUS_COLUMNS)))],
        )
        sept = _days(SEPT, 19, "3.1415926535") + _days(
            SEPT,
            19,
            "0.0000001",
            ServiceName="Storage",
            ChargeCategory="Usage",
            EffectiveCost="0",
            ResourceId="",
            Tags="",
        )
        put_run(
            container,
            ROOT,
            "focus-daily",
            "FocusCost",
            SEPT,
            datetime(2024, 9, 20, 6, tzinfo=UTC),
            [
                ("part_0_0001.csv.gz", gz(csv_bytes(sept[:20], FOCUS_COLUMNS))),
                ("part_1_0001.csv.gz", gz(csv_bytes(sept[20:], FOCUS_COLUMNS))),
            ],
            export_time=True,
        )
        # August: 1.2-preview, Parquet, with a purchase and a credit.
        aug = [
            *_days(AUG, 31, "12.345678901"),
            focus_row(
                date(2024, 8, 5),
                "300",
                ChargeCategory="Purchase",
                EffectiveCost="0",
                ChargeFrequency="One-Time",
                ConsumedQuantity="",
                ConsumedUnit="",
            ),
            focus_row(date(2024, 8, 6), "-50.5", ChargeCategory="Credit", EffectiveCost="-50.5"),
        ]
        put_run(
            container,
            ROOT,
            "focus-monthly",
            "FocusCost",
            AUG,
            datetime(2024, 9, 2, 6, tzinfo=UTC),
            [("part_0_0001.snappy.parquet", parquet_bytes(aug, FOCUS_COLUMNS))],
            version="1.2-preview",
        )
        # July: FocusCost 1.0 (the first version), plain CSV.
        july = _days(JULY, 3, "7.77")
        put_run(
            container,
            ROOT,
            "focus-v1",
            "FocusCost",
            JULY,
            datetime(2024, 8, 3, 6, tzinfo=UTC),
            [("part_0_0001.csv", csv_bytes(july, FOCUS_COLUMNS))],
            version="1.0",
        )
        put_run(  # not cost data: skipped by name
            container,
            ROOT,
            "prices",
            "PriceSheet",
            AUG,
            datetime(2024, 9, 2, 6, tzinfo=UTC),
            [("part_0_0001.csv", b"MeterId,UnitPrice\r\nm,1\r\n")],
            version=None,
        )
        account = await _account(
            db,
            org,
            exportStorageAccount=ACCOUNT,
            exportContainer=container.container_name,
            exportPath=ROOT,
        )

        run = await sync(client_for, admin, account, worker)
        assert run["state"] == "succeeded", run
        detail = run["detail"]
        assert detail["periodsImported"] == ["2024-07", "2024-08", "2024-09"]
        assert detail["warnings"] == []  # 1.0, 1.0r2 and 1.2-preview are all known versions
        expected = {
            JULY: Decimal("23.31"),
            AUG: total(aug, "BilledCost"),
            SEPT: total(sept, "BilledCost"),
        }
        assert cents(await stored_sums(db, account, "billing_period")) == cents(expected)
        assert Decimal(detail["totals"]["USD"]) == sum(expected.values(), Decimal(0))  # exact
        rows = (
            await db.scalars(select(CostRecord).where(CostRecord.cloud_account_id == account.id))
        ).all()
        vm = next(r for r in rows if r.service_name == "Virtual Machines")
        assert (vm.provider, vm.region, vm.resource_id, vm.tags) == (
            "azure",
            "eastus",
            f"/subscriptions/{SUB}/resourcegroups/rg-app/providers/"
            "microsoft.compute/virtualmachines/web-1",
            {"env": "prod", "team": "web"},
        )
        categories = {r.charge_category for r in rows if r.billing_period == AUG}
        assert categories == {"Usage", "Purchase", "Credit"}

        # A second sync with nothing new changes nothing.
        again = await sync(client_for, admin, account, worker)
        assert again["state"] == "succeeded", again
        assert again["detail"]["periodsImported"] == []
        assert {p["reason"] for p in again["detail"]["periodsSkipped"]} == {"unchanged"}
        assert cents(await stored_sums(db, account, "billing_period")) == cents(expected)

        # October 3rd: the daily export re-runs September (days 1-5): the month is replaced.
        rerun = [*sept, *_days(date(2024, 9, 20), 11, "2.5")]
        put_run(
            container,
            ROOT,
            "focus-daily",
            "FocusCost",
            SEPT,
            datetime(2024, 10, 3, 6, tzinfo=UTC),
            [("part_0_0001.csv.gz", gz(csv_bytes(rerun, FOCUS_COLUMNS)))],
        )
        third = await sync(client_for, admin, account, worker)
        assert third["state"] == "succeeded", third
        assert third["detail"]["periodsImported"] == ["2024-09"]
        expected[SEPT] = total(rerun, "BilledCost")
        assert cents(await stored_sums(db, account, "billing_period")) == cents(expected)


class TestCostDetails:
    async def test_actual_and_amortized_exports_map_to_focus_and_denied_reads_are_partial(
        self,
        azurite: Azurite,
        container: ContainerClient,
        db: AsyncSession,
        org: Org,
        admin: User,
        client_for: ClientFor,
        worker: Worker,
    ) -> None:
        july = [details_row(date(2024, 7, d), "1.005") for d in range(1, 11)] + [
            details_row(
                date(2024, 7, 2),
                "199.99",
                chargeType="Purchase",
                frequency="OneTime",
                pricingModel="Reservation",
                benefitId="/providers/ri/1",
                resourceId="",
                resourceLocation="",
                tags="",
            ),
            details_row(
                date(2024, 7, 3),
                "-20",
                chargeType="Refund",
                frequency="OneTime",
                tags='{"env": "prod"}',
            ),
        ]
        put_run(
            container,
            ROOT,
            "actual",
            "ActualCost",
            JULY,
            datetime(2024, 8, 4, 6, tzinfo=UTC),
            [("part_0_0001.csv", csv_bytes(july, DETAILS_COLUMNS))],
            version="2023-05-01",
        )
        aug = [details_row(date(2024, 8, d), "0.333333333", pricingModel="Spot") for d in (1, 2, 3)]
        put_run(
            container,
            ROOT,
            "amortized",
            "AmortizedCost",
            AUG,
            datetime(2024, 9, 4, 6, tzinfo=UTC),
            [("part_0_0001.snappy.parquet", parquet_bytes(aug, DETAILS_COLUMNS))],
            version="2023-05-01",
        )
        account = await _account(
            db, org, exportSasUrl=_sas(azurite, container, read=True, list=True), exportPath=ROOT
        )
        run = await sync(client_for, admin, account, worker)
        assert run["state"] == "succeeded", run
        assert run["detail"]["periodsImported"] == ["2024-07", "2024-08"]
        assert [w[:44] for w in run["detail"]["warnings"]] == [
            "Billing period 2024-08 came from an Amortize"
        ]
        expected = {JULY: total(july, "costInBillingCurrency"), AUG: Decimal("0.999999999")}
        assert cents(await stored_sums(db, account, "billing_period")) == cents(expected)
        rows = (
            await db.scalars(
                select(CostRecord)
                .where(CostRecord.cloud_account_id == account.id)
                .order_by(CostRecord.usage_date, CostRecord.charge_category)
            )
        ).all()
        purchase = next(r for r in rows if r.charge_category == "Purchase")
        assert (purchase.commitment_discount_id, purchase.pricing_category, purchase.region) == (
            "/providers/ri/1",
            "Committed",
            None,
        )
        usage = next(r for r in rows if r.charge_category == "Usage")
        assert (usage.usage_date, usage.region, usage.service_category, usage.tags) == (
            date(2024, 7, 1),
            "eastus",
            "Compute",
            {"env": "prod", "team": "web"},
        )
        assert usage.resource_id == usage.resource_id.lower()
        assert usage.sub_account_id == SUB
        assert {r.charge_category for r in rows} == {"Usage", "Purchase", "Credit"}
        assert {r.pricing_category for r in rows if r.billing_period == AUG} == {"Dynamic"}

        # The SAS now only lists: the manifests cannot be read, so the sync says so and reads
        # the Query API instead (a partial sync); the imported months stay as they were, and
        # the SAS's signature is in no message.
        list_only = _sas(azurite, container, list=True)
        r = await client_for(admin).patch(
            f"/cloud-accounts/{account.id}",
            json={"credentials": credentials(exportSasUrl=list_only, exportPath=ROOT)},
        )
        assert r.status_code == 200, r.text
        partial = await sync(client_for, admin, account, worker)
        assert partial["state"] == "succeeded", partial
        warning = partial["detail"]["warnings"][0]
        assert warning.startswith(
            f"The Cost Management export {azurite.blob_url}/{container.container_name}/{ROOT} "
            "could not be read (Microsoft.Storage/blobs/read failed: AuthorizationPermission"
        ), warning
        assert warning.endswith("the bill was read from the Cost Management Query API instead.")
        assert "sig=" not in str(partial)
        assert SECRET not in str(partial)
        assert cents(await stored_sums(db, account, "billing_period")) == cents(expected)
