"""The FOCUS data generator: deterministic, FOCUS-shaped, realistic, exact money."""

import hashlib
import io
import json
import statistics
from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pytest

from xplorr.connectors.demo.generator import (
    COLUMNS,
    DEFAULT_ACCOUNTS,
    MONEY,
    SCHEMA,
    SERVICES,
    count_rows,
    generate,
    scale_for_rows,
    to_csv_batch,
)

START = date(2025, 1, 1)


def _digest(**kwargs: object) -> str:
    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, SCHEMA) as writer:
        for batch in generate(**kwargs):  # type: ignore[arg-type]
            writer.write_batch(batch)
    return hashlib.sha256(sink.getvalue()).hexdigest()


@pytest.fixture(scope="module")
def table() -> pa.Table:
    return pa.Table.from_batches(generate(seed=7, start=START, months=13, scale=0.5), SCHEMA)


@pytest.fixture(scope="module")
def rows(table: pa.Table) -> list[dict[str, object]]:
    return table.to_pylist()


def test_same_seed_same_bytes_other_seed_other_data() -> None:
    args = {"start": START, "months": 3, "scale": 0.5}
    assert _digest(seed=1, **args) == _digest(seed=1, **args)
    assert _digest(seed=1, **args) != _digest(seed=2, **args)


def test_focus_columns_and_types(table: pa.Table) -> None:
    sample = Path(__file__).resolve().parents[1] / "data" / "focus-samples"
    with (sample / "focus_sample_costandusage_aws_1000.csv").open() as f:
        sample_columns = set(f.readline().strip().split(","))
    assert table.schema == SCHEMA
    assert set(COLUMNS) <= sample_columns  # every column is a FOCUS 1.2 column, same spelling
    for money in ("BilledCost", "EffectiveCost", "ListCost", "ContractedCost"):
        assert table.schema.field(money).type == MONEY  # exact decimals, never floats
    assert pa.types.is_decimal(table.schema.field("ConsumedQuantity").type)


def test_three_providers_thirteen_months_dozens_of_services(table: pa.Table) -> None:
    assert set(table["ProviderName"].unique().to_pylist()) == {
        "AWS",
        "Microsoft Azure",
        "Google Cloud",
    }
    periods = sorted(table["BillingPeriodStart"].unique().to_pylist())
    assert len(periods) == 13
    assert periods[0].date() == START
    assert periods[-1].date() == date(2026, 1, 1)
    services = set(table["ServiceName"].unique().to_pylist())
    assert len(services) == sum(len(s) for s in SERVICES.values()) >= 40
    assert len(table["RegionId"].unique()) >= 15
    assert set(table["ChargeCategory"].unique().to_pylist()) == {
        "Usage",
        "Purchase",
        "Tax",
        "Credit",
    }
    assert set(table["PricingCategory"].drop_null().unique().to_pylist()) == {
        "Standard",
        "Committed",
        "Dynamic",
    }


def test_daily_charge_periods_inside_their_billing_period(rows: list[dict[str, object]]) -> None:
    for r in rows[:: max(1, len(rows) // 5000)]:
        start, end = r["ChargePeriodStart"], r["ChargePeriodEnd"]
        assert end - start == timedelta(days=1)  # type: ignore[operator]
        assert r["BillingPeriodStart"] <= start < r["BillingPeriodEnd"]  # type: ignore[operator]
        assert start.tzinfo is not None  # type: ignore[attr-defined]


def test_resources_have_stable_ids_and_tags(rows: list[dict[str, object]]) -> None:
    seen: dict[object, tuple[object, ...]] = {}
    tagged = untagged = partly = 0
    for r in rows:
        if r["ResourceId"] is None:
            assert r["ChargeCategory"] != "Usage"
            continue
        identity = (r["ServiceName"], r["RegionId"], r["SubAccountId"], r["Tags"], r["SkuId"])
        assert seen.setdefault(r["ResourceId"], identity) == identity
        if r["ChargeCategory"] == "Usage":
            tags = json.loads(r["Tags"]) if r["Tags"] else {}  # type: ignore[arg-type]
            if set(tags) == {"env", "team", "cost-center", "application"}:
                tagged += 1
            elif tags:
                partly += 1
            else:
                untagged += 1
    assert len(seen) > 100
    assert tagged > partly > 0
    assert untagged > 0
    assert any(str(i).startswith("arn:aws:ec2:") for i in seen)
    assert any(str(i).startswith("/subscriptions/") for i in seen)
    assert any(str(i).startswith("//compute.googleapis.com/projects/") for i in seen)


def test_money_is_consistent(rows: list[dict[str, object]]) -> None:
    credits = [r for r in rows if r["ChargeCategory"] == "Credit"]
    assert credits
    assert all(r["BilledCost"] < 0 for r in credits)
    for r in rows:
        billed, effective, listed = r["BilledCost"], r["EffectiveCost"], r["ListCost"]
        assert isinstance(billed, Decimal)
        assert isinstance(effective, Decimal)
        if r["ChargeCategory"] == "Usage":
            assert listed >= effective >= 0  # type: ignore[operator]
            if r["PricingCategory"] == "Committed":
                assert billed == 0
                assert r["CommitmentDiscountId"]
            else:
                assert billed == effective > 0 or billed == effective == 0
        elif r["ChargeCategory"] == "Purchase":
            assert billed > 0
            assert effective == 0
        elif r["ChargeCategory"] == "Tax":
            assert billed > 0
            assert r["ResourceId"] is None
    assert {r["BillingCurrency"] for r in rows} == {"USD"}


def test_totals_are_sane(table: pa.Table) -> None:
    monthly = defaultdict(Decimal)
    for r in table.select(["BillingPeriodStart", "BilledCost"]).to_pylist():
        monthly[r["BillingPeriodStart"]] += r["BilledCost"]
    totals = [monthly[k] for k in sorted(monthly)]
    assert all(Decimal(5_000) < t < Decimal(200_000) for t in totals)
    assert totals[-1] > totals[0] * Decimal("1.2")  # growth
    billed = pc.sum(table["BilledCost"]).as_py()
    effective = pc.sum(table["EffectiveCost"]).as_py()
    assert abs(billed - effective) < billed * Decimal("0.1")  # commitments amortise, not vanish


def _usage_by_day(table: pa.Table, **where: str) -> dict[date, Decimal]:
    mask = pc.equal(table["ChargeCategory"], "Usage")
    for column, value in where.items():
        mask = pc.and_(mask, pc.equal(table[column], value))
    daily = (
        table.filter(mask)
        .group_by("ChargePeriodStart")
        .aggregate([("ListCost", "sum")])
        .to_pylist()
    )
    return {r["ChargePeriodStart"].date(): r["ListCost_sum"] for r in daily}


def test_weekend_dip_spikes_and_new_service(table: pa.Table) -> None:
    daily = _usage_by_day(table, ProviderName="AWS")
    june = [d for d in daily if d.month == 6 and d.year == 2025]
    weekday = statistics.mean(daily[d] for d in june if d.weekday() < 5)
    weekend = statistics.mean(daily[d] for d in june if d.weekday() >= 5)
    assert weekend < weekday * Decimal("0.97")
    # Spikes: some day of each provider is far above its neighbours.
    for provider in ("AWS", "Microsoft Azure", "Google Cloud"):
        series = _usage_by_day(table, ProviderName=provider)
        days = sorted(series)
        jumps = [
            series[d] / statistics.median(series[x] for x in days[max(0, i - 7) : i + 8])
            for i, d in enumerate(days)
        ]
        assert max(jumps) > Decimal(2), provider
    # A new service per provider from mid-period on.
    for name in ("Amazon Bedrock", "Azure OpenAI", "Vertex AI"):
        first = min(_usage_by_day(table, ServiceName=name))
        assert date(2025, 7, 1) < first < date(2025, 10, 1), name


def test_batches_end_and_row_counts() -> None:
    batches = list(generate(seed=3, start=START, months=2, scale=0.3, batch_rows=1000))
    assert all(b.num_rows <= 1000 for b in batches)
    assert all(b.num_rows == 1000 for b in batches[:-1])
    total = sum(b.num_rows for b in batches)
    assert total == count_rows(seed=3, start=START, months=2, scale=0.3)
    cut = pa.Table.from_batches(
        generate(seed=3, start=START, months=2, scale=0.3, end=date(2025, 1, 20))
    )
    assert pc.max(cut["ChargePeriodStart"]).as_py().date() == date(2025, 1, 19)
    assert "Tax" not in cut["ChargeCategory"].unique().to_pylist()  # the month is not invoiced
    one = pa.Table.from_batches(
        generate(seed=3, start=START, months=1, accounts=DEFAULT_ACCOUNTS[1:2], scale=0.3)
    )
    assert one["ProviderName"].unique().to_pylist() == ["Microsoft Azure"]


def test_scale_for_rows_is_close() -> None:
    scale = scale_for_rows(20_000, seed=5, start=START, months=2)
    produced = count_rows(seed=5, start=START, months=2, scale=scale)
    assert 18_000 < produced < 22_000


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="months"):
        next(generate(seed=1, start=START, months=0))
    with pytest.raises(ValueError, match="scale"):
        next(generate(seed=1, start=START, months=1, scale=0))
    with pytest.raises(ValueError, match="no accounts"):
        next(generate(seed=1, start=START, months=1, accounts=[]))


def test_csv_form_reads_back_exactly() -> None:
    batch = next(generate(seed=9, start=START, months=1, scale=0.3, batch_rows=500))
    sink = io.BytesIO()
    pacsv.write_csv(pa.Table.from_batches([to_csv_batch(batch)]), sink)
    text = sink.getvalue().decode()
    assert "2025-01-01T00:00:00Z" in text
    assert "2025-01-01 00:00:00" not in text
    back = pacsv.read_csv(
        io.BytesIO(sink.getvalue()),
        convert_options=pacsv.ConvertOptions(column_types={"BilledCost": MONEY}),
    )
    assert back["BilledCost"].to_pylist() == batch.column("BilledCost").to_pylist()
    assert back.num_rows == batch.num_rows


@pytest.mark.parametrize(
    ("today", "start"),
    [
        (date(2026, 12, 15), date(2025, 12, 1)),  # this month so far, then 12 whole months back
        (date(2026, 12, 1), date(2025, 11, 1)),  # the 1st: yesterday's month is the 13th
        (date(2026, 1, 1), date(2024, 12, 1)),  # across the year
        (date(2024, 3, 1), date(2023, 2, 1)),  # the day after a leap day
    ],
)
def test_demo_window_is_13_months_ending_yesterday(today: date, start: date) -> None:
    from xplorr.connectors.demo.connector import MONTHS, date_range

    assert date_range(today) == (start, today)
    batches = generate(seed=1, start=start, months=MONTHS, scale=0.05, end=today)
    days = pc.unique(pa.Table.from_batches(batches, SCHEMA)["ChargePeriodStart"]).to_pylist()
    assert max(days).date() == today - timedelta(days=1)
    assert len({(d.year, d.month) for d in days}) == MONTHS
