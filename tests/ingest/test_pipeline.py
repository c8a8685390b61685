"""The import pipeline against the real database: totals, folding, replacement, snapshots."""

import gzip
import shutil
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.ingest.conftest import (
    AWS,
    EXPECTED,
    FINOPS,
    FINOPS_TOTAL,
    SAMPLES,
    amount,
    imports,
    row_count,
    stored_sums,
)
from tests.ingest.focus_rows import hourly, row, write_csv
from xplorr.cloud_accounts.models import CloudAccount
from xplorr.costs import services
from xplorr.costs.models import CostRecord, CostRollup, CostTagRollup
from xplorr.ingest.focus import NORMALISED, IngestError
from xplorr.ingest.pipeline import import_batches, import_files, import_path

CENT = Decimal("0.01")
T0 = datetime(2024, 9, 20, tzinfo=UTC)


async def import_file(
    db: AsyncSession,
    account: CloudAccount,
    path: Path,
    *,
    snapshot_at: datetime = T0,
    fingerprint: str | None = None,
):
    summary = await import_files(
        db,
        account,
        [path],
        source=str(path),
        snapshot_at=snapshot_at,
        fingerprint=fingerprint or f"{path.name}@{snapshot_at.isoformat()}",
    )
    await db.commit()
    return summary


def close(stored: Decimal, expected: Decimal) -> None:
    assert abs(stored - expected) <= Decimal("1e-6")
    assert stored.quantize(CENT) == expected.quantize(CENT)


@pytest.mark.parametrize("name", list(EXPECTED))
async def test_each_sample_imports_to_its_readme_figures(
    db: AsyncSession, account: CloudAccount, samples: Path, name: str
) -> None:
    summary = await import_file(db, account, samples / name)
    expected = EXPECTED[name]
    assert summary.rows_read == 1000
    assert summary.totals == {"USD": sum(b for b, _ in expected.values())}  # exact
    stored = await stored_sums(db, account, CostRecord.provider_name)
    assert set(stored) == set(expected)
    for provider, (billed, effective) in expected.items():
        close(stored[provider][0], billed)
        close(stored[provider][1], effective)
    assert summary.rows_stored == await row_count(db, account)
    recs = await imports(db, account)
    assert {r.billing_period for r in recs} == set(summary.periods_imported)
    assert sum(r.rows_read for r in recs) == 1000


async def test_a_directory_of_all_samples_is_one_snapshot(
    db: AsyncSession, account: CloudAccount, samples: Path
) -> None:
    summary = await import_path(db, account, samples)
    await db.commit()
    exact = sum(b for per in EXPECTED.values() for b, _ in per.values())
    assert summary.totals == {"USD": exact}
    assert summary.files == 4
    assert summary.rows_read == 4000
    assert summary.periods_imported == [date(2024, 9, 1), date(2024, 10, 1), date(2026, 5, 1)]
    total = (await stored_sums(db, account))[account.id]
    close(total[0], exact)
    finops = await stored_sums(db, account, CostRecord.provider)
    close(
        finops["oracle"][0], FINOPS_TOTAL[0] - Decimal("18.00663861840") - Decimal("1.97651418586")
    )
    assert summary.days == len(
        set(
            (
                await db.scalars(
                    select(CostRecord.usage_date).where(CostRecord.cloud_account_id == account.id)
                )
            ).all()
        )
    )


async def test_gzip_csv_and_parquet(
    db: AsyncSession, account: CloudAccount, other_account: CloudAccount, tmp_path: Path
) -> None:
    gz_dir, pq_dir = tmp_path / "gz", tmp_path / "pq"
    gz_dir.mkdir()
    pq_dir.mkdir()
    with (SAMPLES / AWS).open("rb") as f, gzip.open(gz_dir / f"{AWS}.gz", "wb") as out:
        shutil.copyfileobj(f, out)
    pq.write_table(pacsv.read_csv(SAMPLES / AWS), pq_dir / "aws.gz.parquet", compression="gzip")
    expected = EXPECTED[AWS]["AWS"][0]
    first = await import_path(db, account, gz_dir)
    second = await import_path(db, other_account, pq_dir)
    await db.commit()
    assert first.totals == second.totals == {"USD": expected}
    close((await stored_sums(db, account))[account.id][0], expected)
    assert (await stored_sums(db, account))[account.id] == (await stored_sums(db, other_account))[
        other_account.id
    ]


async def test_hourly_rows_fold_into_one_daily_row_with_the_exact_sum(
    db: AsyncSession, account: CloudAccount, tmp_path: Path
) -> None:
    rows = hourly(BilledCost="0.0416666667", EffectiveCost="0.04", ListCost="0.05")
    rows += hourly(ResourceId="i-other", BilledCost="1")  # another charge: its own row
    rows += hourly(day="2024-09-04", hours=3, BilledCost="0.1")  # another day
    summary = await import_file(db, account, write_csv(tmp_path / "h.csv", rows))
    assert (summary.rows_read, summary.rows_stored, summary.days) == (51, 3, 2)
    assert summary.totals == {"USD": Decimal("25.3000000008")}  # the file's values, exact
    records = (
        await db.execute(
            select(
                CostRecord.resource_id,
                CostRecord.usage_date,
                CostRecord.billed_cost,
                CostRecord.list_cost,
            )
            .where(CostRecord.cloud_account_id == account.id)
            .order_by(CostRecord.usage_date, CostRecord.resource_id)
        )
    ).all()
    assert [tuple(r) for r in records] == [
        # 24 x 0.041666667 (each row kept at 9 decimals, half-even)
        ("i-0abc", date(2024, 9, 3), Decimal("1.000000008"), Decimal("1.2")),
        ("i-other", date(2024, 9, 3), Decimal("24"), Decimal("48")),
        ("i-0abc", date(2024, 9, 4), Decimal("0.3"), Decimal("6")),
    ]


async def test_rows_of_one_charge_in_different_batches_fold_in_sql(
    db: AsyncSession, account: CloudAccount
) -> None:
    batches = [pa.RecordBatch.from_pylist(hourly(hours=24)[h : h + 4]) for h in range(0, 24, 4)]
    summary = await import_batches(
        db, account, batches, source="hours", snapshot_at=T0, fingerprint="f"
    )
    await db.commit()
    assert (summary.rows_read, summary.rows_stored) == (24, 1)
    assert (await stored_sums(db, account))[account.id] == (
        Decimal("36"),
        Decimal("30"),
        Decimal("48"),
    )


async def test_credits_refunds_and_several_currencies(
    db: AsyncSession, account: CloudAccount, tmp_path: Path
) -> None:
    rows = [
        row(BilledCost="100.10", EffectiveCost="100.10", ListCost="120"),
        row(ChargeCategory="Credit", BilledCost="-25.05", EffectiveCost="-25.05", ListCost="0"),
        row(ChargeCategory="Adjustment", BilledCost="-0.000000001", ResourceId="refund"),
        row(BillingCurrency="EUR", BilledCost="50", EffectiveCost="45", ListCost="60"),
        row(BillingCurrency="eur", ChargeCategory="Credit", BilledCost="-5"),
    ]
    summary = await import_file(db, account, write_csv(tmp_path / "c.csv", rows))
    assert summary.totals == {"USD": Decimal("75.049999999"), "EUR": Decimal("45")}
    by_currency = await stored_sums(db, account, CostRecord.currency)
    assert by_currency["USD"][0] == Decimal("75.049999999")
    assert by_currency["EUR"] == (Decimal("45"), Decimal("46.25"), Decimal("62"))
    by_category = await stored_sums(db, account, CostRecord.charge_category)
    assert by_category["Credit"][0] == Decimal("-30.05")
    rollups = dict(
        (
            await db.execute(
                select(CostRollup.currency, amount(CostRollup.billed_cost))
                .where(CostRollup.cloud_account_id == account.id)
                .group_by(CostRollup.currency)
            )
        ).all()
    )
    assert rollups == {"USD": Decimal("75.049999999"), "EUR": Decimal("45")}


async def _state(db: AsyncSession, account: CloudAccount):
    return (
        await row_count(db, account),
        await stored_sums(db, account),
        await row_count(db, account, CostRollup),
        await row_count(db, account, CostTagRollup),
        [(r.billing_period, r.fingerprint, r.snapshot_at) for r in await imports(db, account)],
    )


@pytest.mark.parametrize(
    ("name", "rows"),
    [
        ("missing-column.csv", None),
        ("bad-number.csv", [row(), row(BilledCost="1.2.3")]),
        ("bad-date.csv", [row(), row(ChargePeriodStart="2024-02-30T00:00:00Z")]),
        ("bad-tags.csv", [row(), row(Tags="{'env': 'prod'}")]),
    ],
)
async def test_a_bad_file_raises_and_writes_nothing(
    db: AsyncSession, account: CloudAccount, tmp_path: Path, name: str, rows
) -> None:
    await import_file(db, account, write_csv(tmp_path / "good" / "x.csv", hourly(hours=5)))
    before = await _state(db, account)
    snapshot = tmp_path / "next"
    write_csv(snapshot / "a-good.csv", hourly(hours=24, BilledCost="9"))
    if rows is None:
        (snapshot / name).write_text("BilledCost,BillingCurrency\n1,USD\n")
    else:
        write_csv(snapshot / name, rows)
    with pytest.raises(IngestError) as caught:
        await import_path(db, account, snapshot)
    await db.rollback()
    await db.refresh(account)  # the rollback expired it
    assert name in str(caught.value)
    if rows is not None:
        assert caught.value.row == 2
        assert "data row 2" in str(caught.value)
    assert await _state(db, account) == before


async def test_importing_the_same_file_again_changes_nothing(
    db: AsyncSession, account: CloudAccount, samples: Path
) -> None:
    await import_path(db, account, samples / FINOPS)
    await db.commit()
    before = await _state(db, account)
    again = await import_path(db, account, samples / FINOPS)
    await db.commit()
    assert again.periods_imported == []
    assert again.rows_read == 0
    assert set(again.periods_skipped.values()) == {"unchanged"}
    assert await _state(db, account) == before
    # The same content under a new fingerprint (touched file): replaced, never added to.
    later = datetime.now(UTC) + timedelta(days=1)  # newer than the file's mtime
    touched = await import_file(
        db, account, samples / FINOPS, snapshot_at=later, fingerprint="touched"
    )
    assert len(touched.periods_imported) == 2
    after = await _state(db, account)
    assert after[:4] == before[:4]


async def test_a_newer_snapshot_replaces_and_an_older_one_is_skipped(
    db: AsyncSession, account: CloudAccount, tmp_path: Path
) -> None:
    # AWS-style cumulative snapshots: day 1 so far, then days 1-2.
    early = write_csv(tmp_path / "s1" / "x.csv", hourly(day="2024-09-01", BilledCost="1"))
    late = write_csv(
        tmp_path / "s2" / "x.csv",
        hourly(day="2024-09-01", BilledCost="1") + hourly(day="2024-09-02", BilledCost="2"),
    )
    await import_file(db, account, early, snapshot_at=T0)
    newer = await import_file(db, account, late, snapshot_at=T0 + timedelta(days=1))
    assert newer.periods_imported == [date(2024, 9, 1)]
    assert (await stored_sums(db, account))[account.id][0] == Decimal("72")  # not 96
    older = await import_file(
        db, account, early, snapshot_at=T0 - timedelta(days=1), fingerprint="old"
    )
    assert older.periods_imported == []
    assert older.periods_skipped == {date(2024, 9, 1): "older snapshot"}
    assert older.totals == {}
    assert (await stored_sums(db, account))[account.id][0] == Decimal("72")
    [rec] = await imports(db, account)
    assert rec.snapshot_at == T0 + timedelta(days=1)
    assert rec.rows_read == 48
    assert (rec.first_date, rec.last_date) == (date(2024, 9, 1), date(2024, 9, 2))
    assert rec.totals == {"USD": "72"}


async def test_import_path_takes_each_period_from_its_newest_snapshot(
    db: AsyncSession, account: CloudAccount, tmp_path: Path
) -> None:
    data = tmp_path / "export" / "data"
    write_csv(
        data / "2024-09-10T00:00:00Z" / "p1.csv",
        hourly(day="2024-08-30", BillingPeriodStart="2024-08-01T00:00:00Z")
        + hourly(day="2024-09-01", BilledCost="1"),
    )
    write_csv(data / "2024-09-11T00:00:00Z" / "p1.csv", hourly(day="2024-09-01", BilledCost="1"))
    write_csv(data / "2024-09-11T00:00:00Z" / "p2.csv", hourly(day="2024-09-02", BilledCost="1"))
    summary = await import_path(db, account, tmp_path / "export")
    await db.commit()
    assert summary.periods_imported == [date(2024, 8, 1), date(2024, 9, 1)]
    assert summary.periods_skipped == {}  # 2024-09 of the older snapshot: superseded in-run
    by_period = await stored_sums(db, account, CostRecord.billing_period)
    assert by_period[date(2024, 9, 1)][0] == Decimal("48")
    assert by_period[date(2024, 8, 1)][0] == Decimal("36")
    again = await import_path(db, account, tmp_path / "export")
    assert again.periods_imported == []
    assert set(again.periods_skipped) == {date(2024, 8, 1), date(2024, 9, 1)}


async def test_rollups_equal_the_sums_of_the_rows(
    db: AsyncSession, account: CloudAccount, samples: Path
) -> None:
    await import_path(db, account, samples)
    await db.commit()
    r, u = CostRecord, CostRollup
    key = (r.usage_date, r.service_name, r.currency)
    rows = (
        await db.execute(
            select(*key, amount(r.billed_cost), amount(r.effective_cost), func.count())
            .where(r.cloud_account_id == account.id)
            .group_by(*key)
        )
    ).all()
    ukey = (u.usage_date, u.service_name, u.currency)
    rolled = (
        await db.execute(
            select(*ukey, amount(u.billed_cost), amount(u.effective_cost), func.sum(u.row_count))
            .where(u.cloud_account_id == account.id)
            .group_by(*ukey)
        )
    ).all()
    # The rollups keep the shown service names (costs.services): fold the raw rows the same way.
    folded: dict[tuple, list] = {}
    for day, name, currency, billed, effective, count in rows:
        slot = folded.setdefault((day, services.canonical(name), currency), [0, 0, 0])
        slot[0] += billed
        slot[1] += effective
        slot[2] += count
    assert sorted((*k, *v) for k, v in folded.items()) == sorted(map(tuple, rolled))
    t = CostTagRollup
    tags = (
        await db.execute(
            select(t.tag_key, amount(t.billed_cost))
            .where(t.cloud_account_id == account.id)
            .group_by(t.tag_key)
        )
    ).all()
    tagged = dict(tags)
    assert tagged["application"] > 0
    assert "CostCenter" in tagged
    assert "cost-center" in tagged
    records = (
        await db.execute(select(r.tags, r.billed_cost).where(r.cloud_account_id == account.id))
    ).all()
    env = sum((b for tg, b in records if tg and "environment" in tg), Decimal(0))
    assert tagged["environment"] == env


async def test_import_batches_takes_typed_and_normalised_batches(
    db: AsyncSession, account: CloudAccount, other_account: CloudAccount
) -> None:
    typed = pa.table(
        {
            "BilledCost": pa.array([Decimal("1.5"), Decimal("-0.5")], pa.decimal128(18, 6)),
            "BillingCurrency": ["USD", "USD"],
            "BillingAccountId": ["a", "a"],
            "BillingPeriodStart": pa.array(
                [datetime(2025, 1, 1, tzinfo=UTC)] * 2, pa.timestamp("s", tz="UTC")
            ),
            "ChargePeriodStart": pa.array(
                [datetime(2025, 1, 5, tzinfo=UTC)] * 2, pa.timestamp("s", tz="UTC")
            ),
            "ChargeCategory": ["Usage", "Credit"],
            "ProviderName": ["Microsoft", "Microsoft"],
            "ServiceName": ["Storage", "Storage"],
        }
    )
    summary = await import_batches(
        db, account, typed.to_batches(), source="gen", snapshot_at=T0, fingerprint="g"
    )
    assert summary.totals == {"USD": Decimal("1")}
    assert summary.rows_stored == 2
    normalised = pa.Table.from_pylist(
        [
            {
                **dict.fromkeys(NORMALISED.names),
                "provider": "demo",
                "provider_name": "Demo",
                "billing_account_id": "b",
                "service_name": "S",
                "charge_category": "Usage",
                "billing_period": date(2025, 1, 1),
                "usage_date": date(2025, 1, 2),
                "currency": "USD",
                "billed_cost": Decimal("2.25"),
                "effective_cost": Decimal("2"),
                "list_cost": Decimal("3"),
            }
        ],
        schema=NORMALISED,
    )
    done = await import_batches(
        db, other_account, normalised.to_batches(), source="n", snapshot_at=T0, fingerprint="n"
    )
    await db.commit()
    assert done.totals == {"USD": Decimal("2.25")}
    assert (await stored_sums(db, other_account))[other_account.id] == (
        Decimal("2.25"),
        Decimal("2"),
        Decimal("3"),
    )
    with pytest.raises(IngestError, match="lacks columns"):
        await import_batches(
            db,
            account,
            [normalised.drop(["currency"]).to_batches()[0]],
            source="n",
            snapshot_at=T0,
            fingerprint="x",
        )
    await db.rollback()


async def test_accounts_do_not_touch_each_other(
    db: AsyncSession, account: CloudAccount, other_account: CloudAccount, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "x.csv", hourly())
    await import_file(db, account, path)
    await import_file(db, other_account, path)
    await import_file(db, account, path, fingerprint="again")
    assert (await stored_sums(db, account))[account.id] == (await stored_sums(db, other_account))[
        other_account.id
    ]
    assert await row_count(db, account) == await row_count(db, other_account) == 1
