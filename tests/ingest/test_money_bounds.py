"""Cost lines up to 1e12 import and sum exactly on both databases (integer nano-units failed at
9.2e9 on SQLite); a larger line is refused with its file, row and column, from files and from
connector batches alike."""

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.ingest.conftest import stored_sums
from tests.ingest.focus_rows import row, write_csv
from xplorr.cloud_accounts.models import CloudAccount
from xplorr.costs.models import CostRecord, CostRollup
from xplorr.ingest.focus import NORMALISED, IngestError, normalise_batch, read_focus
from xplorr.ingest.pipeline import import_batches, import_files

T0 = datetime(2024, 9, 20, tzinfo=UTC)
D = Decimal


async def _import(db: AsyncSession, account: CloudAccount, path: Path) -> None:
    await import_files(db, account, [path], source=str(path), snapshot_at=T0, fingerprint=path.name)
    await db.commit()


async def test_lines_of_1e12_import_and_sum_exactly(
    db: AsyncSession, account: CloudAccount, tmp_path: Path
) -> None:
    rows = [
        row(
            BilledCost="1000000000000",
            EffectiveCost="-1000000000000",
            ListCost="999999999999.999999999",
        ),
        row(BilledCost="1000000000000", EffectiveCost="0.000000001", ResourceId="i-2"),
        row(BilledCost="0.000000001", ResourceId="i-3"),
    ]
    await _import(db, account, write_csv(tmp_path / "big.csv", rows))
    billed, effective, listed = (await stored_sums(db, account))[account.id]
    assert billed == D("2000000000000.000000001")
    assert effective == D("-1000000000000") + D("0.000000001") + D("1.25")
    assert listed == D("999999999999.999999999") + D("2") * 2
    by_model = await stored_sums(db, account, CostRecord.resource_id)
    assert by_model["i-0abc"][0] == D("1000000000000")
    rollup_total = await db.scalar(
        select(func.sum(CostRollup.billed_cost)).where(CostRollup.cloud_account_id == account.id)
    )
    assert rollup_total == billed


@pytest.mark.parametrize("column", ["BilledCost", "EffectiveCost", "ListCost"])
@pytest.mark.parametrize("value", ["1000000000000.000000001", "-1E13", "99999999999999999999"])
def test_a_larger_line_is_refused_naming_file_row_and_column(
    tmp_path: Path, column: str, value: str
) -> None:
    rows = [row() for _ in range(12)]
    rows[9][column] = value  # data row 10
    path = write_csv(tmp_path / "huge.csv", rows)
    with pytest.raises(IngestError) as caught:
        list(read_focus(path, name="exports/huge.csv"))
    err = caught.value
    assert (err.file, err.row, err.column) == ("exports/huge.csv", 10, column)
    message = str(err)
    assert "exports/huge.csv" in message
    assert "data row 10" in message
    assert column in message
    assert "largest cost of one line" in message


def _normalised(billed: Decimal) -> pa.RecordBatch:
    values = {
        **dict.fromkeys(NORMALISED.names),
        "provider": "demo",
        "provider_name": "Demo",
        "billing_account_id": "b",
        "service_name": "S",
        "charge_category": "Usage",
        "billing_period": date(2025, 1, 1),
        "usage_date": date(2025, 1, 2),
        "currency": "IDR",
        "billed_cost": D("1"),
        "effective_cost": D("1"),
        "list_cost": D("1"),
    }
    rows = [values, {**values, "billed_cost": billed}]
    return pa.Table.from_pylist(rows, schema=NORMALISED).to_batches()[0]


def test_a_connector_batch_names_source_row_and_column() -> None:
    """A connector's own batches go through the same bound: the sync names the row."""
    with pytest.raises(IngestError) as caught:
        normalise_batch(_normalised(D("1E13")), source="demo:2025-01", first_row=101)
    err = caught.value
    assert (err.file, err.row, err.column) == ("demo:2025-01", 102, "billed_cost")
    assert "data row 102" in str(err)


async def test_a_connector_batch_of_1e10_syncs(db: AsyncSession, account: CloudAccount) -> None:
    """9.2e9 IDR is a real bill; 1e10 failed with a bare Arrow overflow before."""
    summary = await import_batches(
        db,
        account,
        [_normalised(D("10000000000.5"))],
        source="gen",
        snapshot_at=T0,
        fingerprint="g",
    )
    await db.commit()
    assert summary.totals == {"IDR": D("10000000001.5")}
    assert (await stored_sums(db, account))[account.id][0] == D("10000000001.5")
