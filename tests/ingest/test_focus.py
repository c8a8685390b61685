"""The FOCUS reader: formats, normalisation and the errors naming file, row and column."""

import gzip
import shutil
from datetime import date
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from tests.ingest.conftest import AWS, EXPECTED, FINOPS, FINOPS_TOTAL, SAMPLES
from tests.ingest.focus_rows import COLUMNS, hourly, row, write_csv
from xplorr.ingest.focus import (
    EXACT_BILLED,
    NORMALISED_EXACT,
    IngestError,
    decimal_total,
    normalise_batch,
    provider_code,
    read_focus,
)


def read_all(path: Path) -> pa.Table:
    return pa.Table.from_batches(list(read_focus(path)), schema=NORMALISED_EXACT)


def sums_by_provider(table: pa.Table) -> dict[str, tuple[Decimal, Decimal]]:
    grouped = table.group_by("provider_name").aggregate(
        [(EXACT_BILLED, "sum"), ("effective_cost", "sum")]
    )
    return {
        r["provider_name"]: (r[f"{EXACT_BILLED}_sum"], r["effective_cost_sum"])
        for r in grouped.to_pylist()
    }


@pytest.mark.parametrize("name", list(EXPECTED))
def test_samples_read_to_their_readme_sums(name: str, tmp_path: Path) -> None:
    path = shutil.copyfile(SAMPLES / name, tmp_path / name)
    table = read_all(Path(path))
    assert table.num_rows == 1000
    got = sums_by_provider(table)
    assert set(got) == set(EXPECTED[name])
    for provider, (billed, effective) in EXPECTED[name].items():
        assert got[provider][0] == billed  # exact file values
        assert abs(got[provider][1] - effective) <= Decimal("1e-6")  # 9-dp rounded rows


def test_finops_sample_quirks(tmp_path: Path) -> None:
    """NULL markers, hourly timestamps without a zone, JSON tags, providers' codes."""
    table = read_all(Path(shutil.copyfile(SAMPLES / FINOPS, tmp_path / FINOPS)))
    assert decimal_total(table.column(EXACT_BILLED)) == FINOPS_TOTAL[0]
    codes = dict(
        zip(
            table.column("provider_name").to_pylist(),
            table.column("provider").to_pylist(),
            strict=True,
        )
    )
    assert codes == {"AWS": "aws", "Microsoft": "azure", "Oracle": "oracle"}
    first = table.slice(0, 1).to_pylist()[0]
    assert first["usage_date"] == date(2024, 9, 18)  # "2024-09-18 22:00:00" is UTC
    assert first["billing_period"] == date(2024, 9, 1)
    assert first["tags"] is None
    assert first["resource_type"] is None
    tagged = [t for t in table.column("tags").to_pylist() if t]
    assert len(tagged) == 711
    assert tagged[0].startswith('{"application":')  # canonical: sorted keys, compact
    assert table.column("billed_cost").type == pa.decimal128(38, 9)
    categories = set(table.column("charge_category").to_pylist())
    assert {"Credit", "Adjustment", "Usage"} <= categories
    assert min(table.column("billed_cost").to_pylist()) < 0  # negative usage / credits kept


def test_gzip_csv_and_parquet_read_the_same(tmp_path: Path) -> None:
    source = Path(shutil.copyfile(SAMPLES / AWS, tmp_path / AWS))
    gz = tmp_path / f"{AWS}.gz"
    with source.open("rb") as f, gzip.open(gz, "wb") as out:
        shutil.copyfileobj(f, out)
    parquet = tmp_path / "aws.snappy.parquet"
    pq.write_table(pacsv.read_csv(source), parquet)  # typed columns: doubles, timestamps
    plain, zipped, columnar = read_all(source), read_all(gz), read_all(parquet)
    assert zipped.equals(plain)
    total = EXPECTED[AWS]["AWS"][0]
    assert decimal_total(plain.column(EXACT_BILLED)) == total
    assert decimal_total(columnar.column(EXACT_BILLED)) == total
    for name in ("billed_cost", "effective_cost", "list_cost", "usage_date", "billing_period"):
        assert columnar.column(name).equals(plain.column(name)), name


def test_parquet_with_a_map_of_tags_and_decimals(tmp_path: Path) -> None:
    path = tmp_path / "export.parquet"
    table = pa.table(
        {
            "BilledCost": pa.array(
                [Decimal("1.123456789123"), Decimal("-0.5")], pa.decimal128(20, 12)
            ),
            "BillingCurrency": ["EUR", "EUR"],
            "BillingAccountId": pa.array([123, 123], pa.int64()),
            "BillingPeriodStart": pa.array([1725148800, 1725148800], pa.timestamp("s", tz="UTC")),
            "ChargePeriodStart": pa.array([1725321600, 1725321600], pa.timestamp("s")),
            "ChargeCategory": ["Usage", "Credit"],
            "ProviderName": ["Google Cloud", "Google Cloud"],
            "ServiceName": ["BigQuery", "BigQuery"],
            "Tags": pa.array([[("b", "2"), ("a", "1")], None], pa.map_(pa.string(), pa.string())),
        }
    )
    pq.write_table(table, path)
    got = read_all(path).to_pylist()
    assert [r["billed_cost"] for r in got] == [Decimal("1.123456789"), Decimal("-0.5")]
    assert got[0]["effective_cost"] == got[0]["billed_cost"]  # columns absent: BilledCost
    assert got[0]["tags"] == '{"a":"1","b":"2"}'
    assert got[1]["tags"] is None
    assert got[0]["billing_account_id"] == "123"
    assert got[0]["provider"] == "gcp"
    assert got[0]["usage_date"] == date(2024, 9, 3)


def test_rounding_is_half_even_at_nine_places_and_exact_totals_are_not_rounded(
    tmp_path: Path,
) -> None:
    path = write_csv(
        tmp_path / "r.csv",
        [
            row(BilledCost="0.0000000005"),  # half -> even (0)
            row(BilledCost="0.0000000015"),  # half -> even (2e-9)
            row(BilledCost="1.2E-5"),
            row(BilledCost=" 3 "),
        ],
    )
    table = read_all(path)
    assert table.column("billed_cost").to_pylist() == [
        Decimal("0E-9"),
        Decimal("2E-9"),
        Decimal("0.000012000"),
        Decimal("3.000000000"),
    ]
    assert decimal_total(table.column(EXACT_BILLED)) == Decimal("3.000012002")


def test_timestamps_in_every_spelling_are_utc(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "t.csv",
        [
            row(ChargePeriodStart="2024-09-03 23:00:00"),
            row(ChargePeriodStart="2024-09-03T23:30:00Z"),
            row(ChargePeriodStart="2024-09-04T01:00:00+02:00"),  # 23:00 UTC the day before
            row(ChargePeriodStart="2024-09-03T23:59:59.0000000Z"),
            row(ChargePeriodStart="2024-09-03", BillingPeriodStart="2024-09-01"),
        ],
    )
    assert set(read_all(path).column("usage_date").to_pylist()) == {date(2024, 9, 3)}


def test_provider_codes() -> None:
    assert provider_code("AWS") == provider_code("Amazon Web Services") == "aws"
    assert provider_code("Amazon Web Services, Inc.") == "aws"
    assert provider_code("Microsoft") == provider_code("Microsoft Azure") == "azure"
    assert provider_code("Google Cloud") == provider_code("GCP") == provider_code("Google") == "gcp"
    assert provider_code("Oracle Cloud Infrastructure") == "oracle-cloud-infrastructure"
    assert provider_code("***") == "other"


def test_long_text_is_cut_and_empty_text_is_null(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "l.csv", [row(ServiceName="S" * 300, RegionId="")])
    got = read_all(path).to_pylist()[0]
    assert got["service_name"] == "S" * 200
    assert got["region"] is None


def test_the_aws_usage_type_is_read_from_x_usage_type_or_an_aws_sku_meter(
    tmp_path: Path,
) -> None:
    # FOCUS 1.0 AWS export: x_UsageType; 1.2: SkuMeter, read as a usage type on AWS rows only.
    columns = (*COLUMNS, "SkuId", "x_UsageType", "SkuMeter")
    path = write_csv(
        tmp_path / "u.csv",
        [
            row(SkuId="9QH3PVGFZB2MTCJ7", x_UsageType="USE1-NatGateway-Hours"),
            row(SkuMeter="BoxUsage:m5.large"),
            row(ProviderName="Microsoft", SkuMeter="E4 v5"),
        ],
        columns,
    )
    got = [(r["sku_id"], r["usage_type"]) for r in read_all(path).to_pylist()]
    assert got == [
        ("9QH3PVGFZB2MTCJ7", "USE1-NatGateway-Hours"),
        (None, "BoxUsage:m5.large"),
        (None, None),
    ]


def _error(path: Path) -> IngestError:
    with pytest.raises(IngestError) as caught:
        read_all(path)
    return caught.value


def test_missing_required_column_names_file_and_column(tmp_path: Path) -> None:
    columns = tuple(c for c in COLUMNS if c != "BillingCurrency")
    err = _error(write_csv(tmp_path / "no-currency.csv", [row()], columns))
    assert err.column == "BillingCurrency"
    assert err.row is None
    assert "no-currency.csv" in str(err)
    assert "BillingCurrency" in str(err)


@pytest.mark.parametrize(
    ("column", "value", "problem"),
    [
        ("BilledCost", "12,5", "not a number"),
        ("EffectiveCost", "abc", "not a number"),
        ("ConsumedQuantity", "lots", "not a number"),
        ("ChargePeriodStart", "2024-13-45", "not a timestamp"),
        ("BillingPeriodStart", "yesterday", "not a timestamp"),
        ("Tags", "{not json", "not a JSON object"),
        ("Tags", "[1, 2]", "not a JSON object"),
        ("BillingCurrency", "US Dollar", "not a currency code"),
        ("ServiceName", "", "required"),
        ("BilledCost", "NULL", "required"),
    ],
)
def test_bad_value_names_file_row_and_column(
    tmp_path: Path, column: str, value: str, problem: str
) -> None:
    rows = [row() for _ in range(40)]
    rows[36][column] = value  # data row 37
    err = _error(write_csv(tmp_path / "bad.csv", rows))
    assert (err.row, err.column) == (37, column)
    message = str(err)
    assert "bad.csv" in message
    assert "data row 37" in message
    assert column in message
    assert problem in message


def test_bad_row_is_counted_across_batches(tmp_path: Path) -> None:
    rows = hourly(hours=24) * 50  # 1,200 rows
    batch = pa.Table.from_pylist(rows).to_batches()[0]
    bad = pa.Table.from_pylist([*rows[:5], row(BilledCost="x")]).to_batches()[0]
    normalise_batch(batch, source="gen", first_row=1)
    with pytest.raises(IngestError) as caught:
        normalise_batch(bad, source="gen", first_row=1201)
    assert caught.value.row == 1206
    assert caught.value.column == "BilledCost"


def test_not_an_export(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    assert "not a FOCUS export" in str(_error(path))
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"PAR1 not really")
    assert "broken.parquet" in str(_error(broken))


def test_a_byte_order_mark_and_an_empty_export(tmp_path: Path) -> None:
    """Azure writes a UTF-8 BOM before the header; an export of a quiet day has no rows."""
    path = write_csv(tmp_path / "bom.csv", [row()])
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    assert read_all(path).column("billed_cost").to_pylist() == [Decimal("1.5")]
    empty = write_csv(tmp_path / "empty.csv", [])
    assert read_all(empty).num_rows == 0
