"""Cost details files (ActualCost/AmortizedCost) mapped to FOCUS, read from local files: the
header spellings Azure uses, and bad data named by file, row and column."""

from datetime import date
from pathlib import Path

import pytest

from tests.azure.exports_data import DETAILS_COLUMNS, csv_bytes, details_row
from xplorr.connectors.azure.costdetails import is_cost_details, normalised
from xplorr.ingest.focus import IngestError


def test_pascal_case_headers_map_and_bad_values_name_their_row_and_column(tmp_path: Path) -> None:
    rows = [details_row(date(2024, 7, 1), "1.5"), details_row(date(2024, 7, 2), "2.25")]
    pascal = tuple(c[0].upper() + c[1:] for c in DETAILS_COLUMNS)
    text = csv_bytes(rows, DETAILS_COLUMNS).decode().split("\r\n", 1)[1]
    path = tmp_path / "part_0_0001.csv"
    path.write_text(",".join(pascal) + "\r\n" + text)
    assert is_cost_details(list(pascal))
    batches = list(normalised(path, name="old-ea.csv"))
    table = batches[0].to_pydict()
    assert table["region"] == ["eastus", "eastus"]
    assert table["service_name"] == ["Virtual Machines"] * 2
    assert [str(d) for d in table["usage_date"]] == ["2024-07-01", "2024-07-02"]

    bad = [rows[0], details_row(date(2024, 7, 2), "twelve")]
    path.write_bytes(csv_bytes(bad, DETAILS_COLUMNS))
    with pytest.raises(IngestError) as caught:
        list(normalised(path, name="exports/actual/part_0_0001.csv"))
    assert (caught.value.file, caught.value.row, caught.value.column) == (
        "exports/actual/part_0_0001.csv",
        2,
        "BilledCost",
    )
    missing = tmp_path / "no-cost.csv"
    missing.write_text("date,meterCategory\r\n07/01/2024,Storage\r\n")
    with pytest.raises(IngestError, match="required cost details column costInBillingCurrency"):
        list(normalised(missing, name="no-cost.csv"))
