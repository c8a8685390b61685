"""Export files that must fail as bad data (naming file, row and column), written on the fly:
each builder writes one file into a folder and returns (its name, the row, the column, a phrase
of the error). Shared by the reader's tests and the sync's."""

import gzip
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from tests.ingest.focus_rows import COLUMNS, row, to_csv, write_csv

Expected = tuple[str, int | None, str | None, str]
Builder = Callable[[Path], Expected]


def _rows(n: int = 5) -> list[dict[str, str]]:
    return [row(ResourceId=f"i-{i}") for i in range(n)]


def nul_in_text(folder: Path) -> Expected:
    rows = _rows()
    rows[2]["ServiceName"] = "Amazon\x00EC2"
    write_csv(folder / "nul.csv", rows)
    return "nul.csv", 3, "ServiceName", "NUL"


def nul_in_tags(folder: Path) -> Expected:
    rows = _rows()
    rows[3]["Tags"] = '{"env": "pr\\u0000od"}'
    write_csv(folder / "nul-tags.csv", rows)
    return "nul-tags.csv", 4, "Tags", "NUL"


def deep_tags(folder: Path) -> Expected:
    rows = _rows()
    rows[1]["Tags"] = '{"a":' * 5000 + '"x"' + "}" * 5000
    write_csv(folder / "deep-tags.csv", rows)
    return "deep-tags.csv", 2, "Tags", "nested deeper than 32 levels"


def not_utf8_csv(folder: Path) -> Expected:
    rows = _rows()
    rows[4]["ServiceName"] = "Amazon EC2 MARKER"
    text = to_csv(rows).encode().replace(b"MARKER", b"\xff\xfe")
    (folder / "latin.csv").write_bytes(text)
    return "latin.csv", 5, "ServiceName", "not valid UTF-8"


def _parquet(folder: Path, name: str, overrides: dict[str, pa.Array], n: int = 5) -> None:
    table = pa.Table.from_pylist(_rows(n))
    for column, values in overrides.items():
        table = table.set_column(table.schema.get_field_index(column), column, values)
    pq.write_table(table, folder / name)


def not_utf8_parquet(folder: Path) -> Expected:
    names = pa.array([b"EC2", b"EC2", b"\xff", b"EC2", b"EC2"], pa.binary())
    _parquet(folder, "latin.parquet", {"ServiceName": names})
    return "latin.parquet", 3, "ServiceName", "not valid UTF-8"


def list_for_a_number(folder: Path) -> Expected:
    costs = pa.array([[1.0], [2.0], [3.0], [4.0], [5.0]], pa.list_(pa.float64()))
    _parquet(folder, "list-cost.parquet", {"BilledCost": costs})
    return "list-cost.parquet", 1, "BilledCost", "is not a number"


def struct_for_text(folder: Path) -> Expected:
    services = pa.array(
        [None, {"a": 1}, {"a": 2}, {"a": 3}, {"a": 4}], pa.struct([("a", pa.int64())])
    )
    _parquet(folder, "struct-service.parquet", {"ServiceName": services})
    return "struct-service.parquet", 2, "ServiceName", "cannot be read"


def column_named_twice(folder: Path) -> Expected:
    text = to_csv(_rows()).splitlines()
    header = text[0].replace("ListCost", "billedcost")
    (folder / "twice.csv").write_text("\n".join([header, *text[1:]]) + "\n")
    return "twice.csv", None, "BilledCost", "twice"


def period_far_from_charge(folder: Path) -> Expected:
    rows = _rows()
    rows[3]["BillingPeriodStart"] = "2004-09-01T00:00:00Z"
    write_csv(folder / "period.csv", rows)
    return "period.csv", 4, "BillingPeriodStart", "more than 366 days"


def gzip_bomb(folder: Path) -> Expected:
    header, line = to_csv([row()]).splitlines(keepends=True)
    body = (header + line * (20_000_000 // len(line))).encode()
    (folder / "bomb.csv.gz").write_bytes(gzip.compress(body, compresslevel=9))
    return "bomb.csv.gz", None, None, "decompression bomb"


def parquet_bomb(folder: Path) -> Expected:
    n = 20_000
    resources = pa.array(["r" * 1000] * n, pa.string())
    table = pa.Table.from_pylist(_rows(1) * n)
    table = table.set_column(table.schema.get_field_index("ResourceId"), "ResourceId", resources)
    pq.write_table(table, folder / "bomb.parquet", use_dictionary=False, compression="zstd")
    return "bomb.parquet", None, None, "decompression bomb"


BAD_FILES: dict[str, Builder] = {
    "nul-in-text": nul_in_text,
    "nul-in-tags": nul_in_tags,
    "deep-tags": deep_tags,
    "not-utf8-csv": not_utf8_csv,
    "not-utf8-parquet": not_utf8_parquet,
    "list-for-a-number": list_for_a_number,
    "struct-for-text": struct_for_text,
    "column-named-twice": column_named_twice,
    "period-far-from-charge": period_far_from_charge,
    "gzip-bomb": gzip_bomb,
    "parquet-bomb": parquet_bomb,
}

assert set(COLUMNS) >= {"ServiceName", "Tags", "BilledCost"}
