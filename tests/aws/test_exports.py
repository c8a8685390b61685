"""AWS Data Exports in moto's S3, synced by the real job: FOCUS and CUR 2.0 (CSV.gz and
Parquet), the newest run per billing period, unchanged runs skipped, stored to the cent; a
denied period is a partial sync with a warning; bad data names the S3 key, row and column."""

import gzip
import io
import json
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from tests.aws.billing_data import (
    CUR_BILLED,
    CUR_EFFECTIVE,
    csv_gz,
    cur_line,
    cur_lines,
    cur_parquet,
    manifest,
    put,
    sync,
)
from tests.aws.moto_server import MotoAws
from tests.conftest import ClientFor
from tests.factories.cloud_accounts import make_account
from tests.ingest.focus_rows import hourly, row, to_csv
from tests.sync.conftest import cents, stored_sums
from xplorr.cloud_accounts.models import CloudAccount, Provider
from xplorr.core.jobs.runner import Worker
from xplorr.core.models import Money
from xplorr.core.settings import Settings
from xplorr.costs.models import CostRecord
from xplorr.orgs.models import Org
from xplorr.users.models import User

BUCKET = "acme-billing"
PREFIX = "exports/focus"


@pytest.fixture
def worker(settings: Settings, engine: AsyncEngine) -> Worker:
    return Worker(settings, engine)


async def _account(
    db: AsyncSession, org: Org, moto: MotoAws, prefix: str = PREFIX, **extra: Any
) -> CloudAccount:
    creds = moto.key_credentials(exportBucket=BUCKET, exportPrefix=prefix, **extra)
    return await make_account(
        db, org, provider=Provider.AWS, provider_account_id=moto.account_id, credentials=creds
    )


def _focus_gz(rows: list[dict[str, Any]]) -> bytes:
    return gzip.compress(to_csv(rows).encode())


def _focus_parquet(rows: list[dict[str, Any]]) -> bytes:
    """FOCUS as a Parquet export has it: typed columns (doubles, timestamps), Tags a map."""
    table = pacsv.read_csv(io.BytesIO(to_csv(rows).encode()))
    tags = pa.array(
        [list(json.loads(t).items()) if t else None for t in table.column("Tags").to_pylist()],
        pa.map_(pa.string(), pa.string()),
    )
    table = table.set_column(table.schema.get_field_index("Tags"), "Tags", tags)
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="snappy")
    return sink.getvalue()


FOCUS_WRITERS = {"csv.gz": _focus_gz, "snappy.parquet": _focus_parquet}


async def _sums(db: AsyncSession, account: CloudAccount, column: str) -> dict[str, Decimal]:
    await db.rollback()
    total = select(getattr(CostRecord, column), CostRecord.billed_cost)
    out: dict[str, Decimal] = {}
    for key, cost in (
        await db.execute(total.where(CostRecord.cloud_account_id == account.id))
    ).all():
        out[key] = out.get(key, Decimal(0)) + cost
    return out


class TestFocusExport:
    @pytest.mark.parametrize("fmt", list(FOCUS_WRITERS))
    async def test_newest_run_per_period_is_imported_to_the_cent_and_reruns_skip(
        self,
        fmt: str,
        moto: MotoAws,
        db: AsyncSession,
        org: Org,
        admin: User,
        client_for: ClientFor,
        worker: Worker,
    ) -> None:
        write = FOCUS_WRITERS[fmt]
        moto.client("s3").create_bucket(Bucket=BUCKET)
        data = f"{PREFIX}/acme/data"
        old = hourly(BilledCost="1.00")  # 24.00: an older run of 2024-09, superseded
        new = [*hourly(BilledCost="1.25"), row(BilledCost="0.025", ServiceName="Amazon S3")]
        october = [
            row(
                BillingPeriodStart="2024-10-01T00:00:00Z",
                ChargePeriodStart="2024-10-02T00:00:00Z",
                BilledCost="7.77",
            )
        ]
        put(
            moto,
            BUCKET,
            f"{data}/BILLING_PERIOD=2024-09/2024-09-18T06:00:00Z-a/acme-00001.{fmt}",
            write(old),
        )
        put(
            moto,
            BUCKET,
            f"{data}/BILLING_PERIOD=2024-09/2024-09-19T06:00:00Z-b/acme-00001.{fmt}",
            write(new[:10]),
        )
        put(
            moto,
            BUCKET,
            f"{data}/BILLING_PERIOD=2024-09/2024-09-19T06:00:00Z-b/acme-00002.{fmt}",
            write(new[10:]),
        )
        put(
            moto,
            BUCKET,
            f"{data}/BILLING_PERIOD=2024-10/2024-10-03T06:00:00Z-c/acme-00001.{fmt}",
            write(october),
        )
        account = await _account(db, org, moto)

        run = await sync(client_for, admin, account, worker)
        assert run["state"] == "succeeded", run
        detail = run["detail"]
        assert detail["periodsImported"] == ["2024-09", "2024-10"]
        assert detail["warnings"] == []
        assert detail["files"] == 3
        assert cents(await stored_sums(db, account)) == {"": Decimal("37.80")}  # 30.025 + 7.77
        assert cents(await _sums(db, account, "service_name")) == {
            "Amazon EC2": Decimal("37.77"),
            "Amazon S3": Decimal("0.02"),  # 0.025, half-even
        }
        assert detail["totals"] == {"USD": "37.795"}

        again = await sync(client_for, admin, account, worker)
        assert again["state"] == "succeeded"
        assert again["detail"]["periodsImported"] == []
        assert {p["reason"] for p in again["detail"]["periodsSkipped"]} == {"unchanged"}
        assert cents(await stored_sums(db, account)) == {"": Decimal("37.80")}

    async def test_a_newer_run_arriving_after_a_sync_replaces_its_period_to_the_cent(
        self,
        moto: MotoAws,
        db: AsyncSession,
        org: Org,
        admin: User,
        client_for: ClientFor,
        worker: Worker,
    ) -> None:
        moto.client("s3").create_bucket(Bucket=BUCKET)
        data = f"{PREFIX}/acme/data"
        september = f"{data}/BILLING_PERIOD=2024-09"
        october = [
            row(
                BillingPeriodStart="2024-10-01T00:00:00Z",
                ChargePeriodStart="2024-10-02T00:00:00Z",
                BilledCost="7.77",
            )
        ]
        put(
            moto,
            BUCKET,
            f"{september}/2024-09-18T06:00:00Z-a/acme-00001.csv.gz",
            _focus_gz([*hourly(BilledCost="1.00"), row(BilledCost="3.33", ServiceName="AWS Glue")]),
        )
        put(
            moto,
            BUCKET,
            f"{data}/BILLING_PERIOD=2024-10/2024-10-03T06:00:00Z-c/acme-00001.csv.gz",
            _focus_gz(october),
        )
        account = await _account(db, org, moto)
        first = await sync(client_for, admin, account, worker)
        assert first["state"] == "succeeded", first
        assert cents(await _sums(db, account, "service_name")) == {
            "Amazon EC2": Decimal("31.77"),  # 24.00 + 7.77
            "AWS Glue": Decimal("3.33"),
        }

        # AWS delivers the next daily run of September: the whole month again, restated.
        put(
            moto,
            BUCKET,
            f"{september}/2024-09-19T06:00:00Z-b/acme-00001.csv.gz",
            _focus_gz(
                [*hourly(BilledCost="1.25"), row(BilledCost="0.025", ServiceName="Amazon S3")]
            ),
        )
        second = await sync(client_for, admin, account, worker)
        assert second["state"] == "succeeded", second
        assert second["detail"]["periodsImported"] == ["2024-09"]
        assert {p["reason"] for p in second["detail"]["periodsSkipped"]} == {"unchanged"}  # October
        # The first run's rows are gone (Glue too), not added to: 30.025 + 7.77.
        assert cents(await _sums(db, account, "service_name")) == {
            "Amazon EC2": Decimal("37.77"),
            "Amazon S3": Decimal("0.02"),  # 0.025, half-even
        }
        assert cents(await stored_sums(db, account)) == {"": Decimal("37.80")}

    async def test_a_manifest_names_the_files_of_its_period(
        self,
        moto: MotoAws,
        db: AsyncSession,
        org: Org,
        admin: User,
        client_for: ClientFor,
        worker: Worker,
    ) -> None:
        moto.client("s3").create_bucket(Bucket=BUCKET)
        base = f"{PREFIX}/acme"
        listed = f"{base}/data/BILLING_PERIOD=2024-09/acme-00001.csv.gz"
        stray = f"{base}/data/BILLING_PERIOD=2024-09/acme-00002.csv.gz"  # being delivered
        put(moto, BUCKET, listed, _focus_gz(hourly(BilledCost="2")))
        put(moto, BUCKET, stray, _focus_gz(hourly(BilledCost="100")))
        put(
            moto,
            BUCKET,
            f"{base}/metadata/BILLING_PERIOD=2024-09/acme-Manifest.json",
            manifest(BUCKET, [listed]),
        )
        account = await _account(db, org, moto)
        run = await sync(client_for, admin, account, worker)
        assert run["state"] == "succeeded", run
        assert cents(await stored_sums(db, account)) == {"": Decimal("48.00")}

    async def test_bad_data_names_the_key_row_and_column(
        self,
        moto: MotoAws,
        db: AsyncSession,
        org: Org,
        admin: User,
        client_for: ClientFor,
        worker: Worker,
    ) -> None:
        moto.client("s3").create_bucket(Bucket=BUCKET)
        key = f"{PREFIX}/x/data/BILLING_PERIOD=2024-09/x-00001.csv.gz"
        put(moto, BUCKET, key, _focus_gz([row(), row(BilledCost="twelve")]))
        account = await _account(db, org, moto)
        run = await sync(client_for, admin, account, worker)
        assert run["state"] == "failed"
        assert f"s3://{BUCKET}/{key}" in run["error"]
        assert "data row 2" in run["error"]
        assert "BilledCost" in run["error"]


class TestCurExport:
    @pytest.mark.parametrize("fmt", ["csv.gz", "snappy.parquet"])
    async def test_cur2_lines_map_to_focus_to_the_cent(
        self,
        fmt: str,
        moto: MotoAws,
        db: AsyncSession,
        org: Org,
        admin: User,
        client_for: ClientFor,
        worker: Worker,
    ) -> None:
        moto.client("s3").create_bucket(Bucket=BUCKET)
        body = csv_gz(cur_lines()) if fmt == "csv.gz" else cur_parquet(cur_lines())
        put(moto, BUCKET, f"cur/acme/data/BILLING_PERIOD=2024-09/acme-00001.{fmt}", body)
        account = await _account(db, org, moto, prefix="cur")
        run = await sync(client_for, admin, account, worker)
        assert run["state"] == "succeeded", run
        assert run["detail"]["totals"] == {"USD": str(CUR_BILLED)}
        assert cents(await stored_sums(db, account)) == {"": CUR_BILLED.quantize(Decimal("0.01"))}
        await db.rollback()
        effective = await db.scalar(
            select(func.sum(CostRecord.effective_cost, type_=Money)).where(
                CostRecord.cloud_account_id == account.id
            )
        )
        assert effective == CUR_EFFECTIVE
        by_category = await _sums(db, account, "charge_category")
        assert by_category == {
            "Usage": Decimal("10.123456789") + Decimal("0.5") + Decimal("0.09"),
            "Purchase": Decimal(17),
            "Tax": Decimal("1.01"),
            "Credit": Decimal("-2.75"),
        }
        rows = (
            await db.execute(
                select(
                    CostRecord.pricing_category,
                    CostRecord.commitment_discount_type,
                    CostRecord.service_category,
                    CostRecord.tags,
                    CostRecord.service_name,
                    CostRecord.sub_account_id,
                ).where(CostRecord.cloud_account_id == account.id)
            )
        ).all()
        pricing = {r.pricing_category for r in rows}
        assert pricing == {"Standard", "Dynamic", "Committed", None}
        assert {r.commitment_discount_type for r in rows} == {
            "Savings Plan",
            "Reserved Instance",
            None,
        }
        assert "Networking" in {r.service_category for r in rows}
        tagged = [r.tags for r in rows if r.tags]
        assert tagged
        assert all(t == {"aws:createdBy": "me", "team": "web"} for t in tagged)
        assert "Amazon Elastic Compute Cloud" in {r.service_name for r in rows}
        assert {r.sub_account_id for r in rows} == {"210987654321"}

    async def test_a_cur_value_that_is_not_a_number_names_the_cur_column(
        self,
        moto: MotoAws,
        db: AsyncSession,
        org: Org,
        admin: User,
        client_for: ClientFor,
        worker: Worker,
    ) -> None:
        moto.client("s3").create_bucket(Bucket=BUCKET)
        lines = [cur_line("Usage", "1"), cur_line("Usage", "1"), cur_line("Usage", "1,5")]
        key = "cur/acme/data/BILLING_PERIOD=2024-09/acme-00001.csv.gz"
        put(moto, BUCKET, key, csv_gz(lines))
        account = await _account(db, org, moto, prefix="cur")
        run = await sync(client_for, admin, account, worker)
        assert run["state"] == "failed"
        assert f"s3://{BUCKET}/{key}: data row 3" in run["error"]
        assert "line_item_unblended_cost" in run["error"]

    async def test_a_missing_cur_date_names_the_cur_column(
        self,
        moto: MotoAws,
        db: AsyncSession,
        org: Org,
        admin: User,
        client_for: ClientFor,
        worker: Worker,
    ) -> None:
        moto.client("s3").create_bucket(Bucket=BUCKET)
        lines = [cur_line("Usage", "1"), cur_line("Usage", "1", line_item_usage_start_date="")]
        put(moto, BUCKET, "cur/a/data/BILLING_PERIOD=2024-09/a-1.csv.gz", csv_gz(lines))
        account = await _account(db, org, moto, prefix="cur")
        run = await sync(client_for, admin, account, worker)
        assert run["state"] == "failed"
        assert "data row 2" in run["error"]
        assert "CUR 2.0 column line_item_usage_start_date" in run["error"]


class TestPartialSync:
    async def test_a_denied_period_is_a_warning_and_the_others_are_kept(
        self,
        moto: MotoAws,
        db: AsyncSession,
        org: Org,
        admin: User,
        client_for: ClientFor,
        worker: Worker,
    ) -> None:
        moto.client("s3").create_bucket(Bucket=BUCKET)
        data = f"{PREFIX}/acme/data"
        put(moto, BUCKET, f"{data}/BILLING_PERIOD=2024-09/acme-00001.csv.gz", _focus_gz(hourly()))
        october = [
            row(BillingPeriodStart="2024-10-01T00:00:00Z", ChargePeriodStart="2024-10-02T00:00:00Z")
        ]
        put(moto, BUCKET, f"{data}/BILLING_PERIOD=2024-10/acme-00001.csv.gz", _focus_gz(october))
        keys = moto.iam_user(
            "reader",
            [
                {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*"},
                {
                    "Effect": "Allow",
                    "Action": "s3:GetObject",
                    "Resource": f"arn:aws:s3:::{BUCKET}/{data}/BILLING_PERIOD=2024-09/*",
                },
            ],
        )
        moto.enforce_iam()
        account = await make_account(
            db,
            org,
            provider=Provider.AWS,
            provider_account_id=moto.account_id,
            credentials={**keys, "exportBucket": BUCKET, "exportPrefix": PREFIX},
        )
        run = await sync(client_for, admin, account, worker)
        assert run["state"] == "succeeded", run
        assert run["detail"]["periodsImported"] == ["2024-09"]
        [warning] = run["detail"]["warnings"]
        assert "Billing period 2024-10" in warning
        assert "AccessDenied" in warning
        assert keys["secretAccessKey"] not in warning
        assert cents(await stored_sums(db, account)) == {"": Decimal("36.00")}
