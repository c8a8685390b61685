"""Read FOCUS 1.0-1.2 exports (CSV, gzip CSV, Parquet) as a stream of normalised Arrow batches.

A FOCUS export is wide (44-57 columns) and long (millions of hourly rows a month), so nothing
here holds a file: CSV is parsed block by block (``pyarrow.csv.open_csv`` over a decompressing
stream), Parquet row group by row group (``ParquetFile.iter_batches``), and every batch is
normalised to the ``cost_records`` columns (``NORMALISED``) with Arrow compute kernels, never a
Python loop over rows. The only per-value Python work is on *distinct* values (provider names,
tag objects), which repeat heavily in billing data.

Normalisation (one FOCUS row -> one ``cost_records``-shaped row, not yet folded to days):

- ``provider`` is a code derived from ``ProviderName`` (AWS / Amazon Web Services -> ``aws``,
  Microsoft / Microsoft Azure / Azure -> ``azure``, Google / Google Cloud / GCP -> ``gcp``, any
  other name -> its lowercase slug); ``provider_name`` keeps the exported name.
- ``usage_type`` is the provider's usage type, a column FOCUS does not define: AWS's FOCUS 1.0
  export names it ``x_UsageType``, its 1.2 export ``SkuMeter`` (read as the usage type of AWS
  rows only), a CUR 2.0 file ``line_item_usage_type`` (``connectors.aws.cur``).
- ``billing_period`` is the first day of ``BillingPeriodStart``'s month and ``usage_date`` the
  day of ``ChargePeriodStart``, both in UTC. Timestamps without a zone (``2024-09-18 22:00:00``,
  as the FOCUS 1.0 sample writes them) are UTC, as FOCUS requires; ones with a zone
  (``2026-05-01T00:00:00Z``, ``+02:00``) are converted to UTC.
- Costs (``BilledCost``, ``EffectiveCost``, ``ListCost``) and ``ConsumedQuantity`` are parsed as
  exact decimals (up to 38 fractional digits, never through a binary float) and rounded to the
  store's 9 decimal places, half-even (``core.money.quantize_store``). The unrounded
  ``BilledCost`` is kept beside them (``EXACT_BILLED``) for the import's exact totals. A cost
  beyond ``core.money.LINE_MAX`` (1e12, in absolute value) is refused, naming its row.
- ``EffectiveCost`` and ``ListCost`` default to ``BilledCost`` only when the *column* is absent
  from the file (some pre-1.0 exports lack them); a present column with an empty cell is an
  error like any other missing value.
- ``Tags`` (a JSON object: text in CSV, text or a map in Parquet) becomes canonical JSON text
  (keys sorted, compact), so the same tags always fold together; ``NULL``, empty and ``{}`` are
  null.
- Text dimensions longer than their column (a 300-character SKU) are cut to the column's
  length rather than failing a month of billing; empty text is null.

Errors are ``IngestError``: a missing required column names the file and the column; a bad
value (not a number, not a timestamp, bad tags JSON, bad currency code, a required value
missing) names the file, the data row (1-based, the header not counted) and the column. The
bad row is found with vectorised conversions over halving slices of the batch (log n kernel
calls), not by converting rows one by one.

Every error a file can cause is an ``IngestError`` (retrying cannot fix a file), never a stray
exception: text that is not UTF-8 or holds a NUL (PostgreSQL stores neither), Tags nested deeper
than ``core.untrusted.MAX_JSON_DEPTH``, a column of a type that cannot be read as what FOCUS
says it is (a Parquet list where a number belongs), a header naming a column twice, a billing
period more than ``PERIOD_SLACK_DAYS`` from its charge's date, and a compressed file that
inflates past ``decompressed_cap`` (a decompression bomb) all name the file, and the row and
column where there is one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from sqlalchemy import String

from xplorr.core import untrusted
from xplorr.core.money import LINE_MAX, STORE_SCALE
from xplorr.costs.models import CostRecord

REQUIRED_COLUMNS: tuple[str, ...] = (
    "BilledCost",
    "BillingCurrency",
    "BillingAccountId",
    "BillingPeriodStart",
    "ChargePeriodStart",
    "ChargeCategory",
    "ProviderName",
    "ServiceName",
)
# FOCUS column -> cost_records text column (optional ones may be absent from a file).
TEXT_COLUMNS: dict[str, str] = {
    "ProviderName": "provider_name",
    "BillingAccountId": "billing_account_id",
    "SubAccountId": "sub_account_id",
    "SubAccountName": "sub_account_name",
    "ServiceName": "service_name",
    "ServiceCategory": "service_category",
    "ServiceSubcategory": "service_subcategory",
    "RegionId": "region",
    "AvailabilityZone": "availability_zone",
    "ResourceId": "resource_id",
    "ResourceName": "resource_name",
    "ResourceType": "resource_type",
    "ChargeCategory": "charge_category",
    "ChargeFrequency": "charge_frequency",
    "PricingCategory": "pricing_category",
    "CommitmentDiscountId": "commitment_discount_id",
    "CommitmentDiscountStatus": "commitment_discount_status",
    "CommitmentDiscountType": "commitment_discount_type",
    "CommitmentDiscountCategory": "commitment_discount_category",
    "SkuId": "sku_id",
    # AWS's FOCUS 1.0 export column for CUR's line_item_usage_type (1.2 moved it to SkuMeter).
    "x_UsageType": "usage_type",
    "ConsumedUnit": "consumed_unit",
    "PricingUnit": "pricing_unit",
}
COST_COLUMNS: dict[str, str] = {
    "BilledCost": "billed_cost",
    "EffectiveCost": "effective_cost",
    "ListCost": "list_cost",
}
OTHER_COLUMNS = (
    "BillingCurrency",
    "BillingPeriodStart",
    "ChargePeriodStart",
    "ConsumedQuantity",
    "PricingQuantity",
    "ContractedCost",
    "Tags",
    "SkuMeter",  # AWS FOCUS 1.2: the usage type (``usage_type`` of AWS rows)
)
FOCUS_COLUMNS: tuple[str, ...] = tuple(
    dict.fromkeys((*REQUIRED_COLUMNS, *TEXT_COLUMNS, *COST_COLUMNS, *OTHER_COLUMNS))
)

AMOUNT = pa.decimal128(38, STORE_SCALE)
EXACT = pa.decimal256(76, 38)  # any FOCUS amount, unrounded: 38 integer + 38 fractional digits
EXACT_BILLED = "billed_cost_exact"
_LINE_MAX = pa.scalar(LINE_MAX, EXACT)
_LINE_MIN = pa.scalar(-LINE_MAX, EXACT)

NORMALISED = pa.schema(
    [
        ("provider", pa.string()),
        ("provider_name", pa.string()),
        ("billing_account_id", pa.string()),
        ("sub_account_id", pa.string()),
        ("sub_account_name", pa.string()),
        ("service_name", pa.string()),
        ("service_category", pa.string()),
        ("service_subcategory", pa.string()),
        ("region", pa.string()),
        ("availability_zone", pa.string()),
        ("resource_id", pa.string()),
        ("resource_name", pa.string()),
        ("resource_type", pa.string()),
        ("charge_category", pa.string()),
        ("charge_frequency", pa.string()),
        ("pricing_category", pa.string()),
        ("commitment_discount_id", pa.string()),
        ("commitment_discount_status", pa.string()),
        ("commitment_discount_type", pa.string()),
        ("commitment_discount_category", pa.string()),
        ("sku_id", pa.string()),
        ("usage_type", pa.string()),
        ("consumed_quantity", AMOUNT),
        ("consumed_unit", pa.string()),
        ("pricing_quantity", AMOUNT),
        ("pricing_unit", pa.string()),
        ("contracted_cost", AMOUNT),
        ("tags", pa.string()),  # canonical JSON object text, or null
        ("billing_period", pa.date32()),
        ("usage_date", pa.date32()),
        ("currency", pa.string()),
        ("billed_cost", AMOUNT),
        ("effective_cost", AMOUNT),
        ("list_cost", AMOUNT),
    ]
)
# The columns summed when folding hours into days; the pipeline groups by all the others.
SUMMED: tuple[str, ...] = (
    "consumed_quantity",
    "pricing_quantity",
    "billed_cost",
    "effective_cost",
    "list_cost",
    "contracted_cost",
)
DIMENSIONS: tuple[str, ...] = tuple(name for name in NORMALISED.names if name not in SUMMED)
# Columns a connector's already-normalised batch may leave out (added after the first
# version of the shape): null when absent.
OPTIONAL_NORMALISED: frozenset[str] = frozenset(
    {
        "service_subcategory",
        "availability_zone",
        "resource_name",
        "charge_frequency",
        "commitment_discount_status",
        "commitment_discount_type",
        "commitment_discount_category",
        "pricing_quantity",
        "pricing_unit",
        "contracted_cost",
        "usage_type",
    }
)
# NORMALISED plus the unrounded BilledCost, as ``normalise_batch`` returns it.
NORMALISED_EXACT = NORMALISED.append(pa.field(EXACT_BILLED, EXACT))

# Decompression caps (gzip CSV; Parquet's compressed pages): a file may inflate to
# MAX_COMPRESSION_RATIO times its size (FOCUS CSV gzips ~14:1; a gzip bomb ~1000:1), at least
# RATIO_FLOOR_BYTES (small files never trip) and at most MAX_DECOMPRESSED_BYTES.
MAX_COMPRESSION_RATIO = 100
RATIO_FLOOR_BYTES = 16 << 20
MAX_DECOMPRESSED_BYTES = 20 << 30
# A charge dated further than this from its billing period (before its start, after its end)
# is an error in the file (a wrong column, a wrong century), not a late correction.
PERIOD_SLACK_DAYS = 366

CSV_BLOCK_SIZE = 2 << 20  # bytes of CSV text per batch (~3-10k FOCUS rows); the reader holds
# ~60x this in flight, so larger blocks cost memory without reading faster
PARQUET_BATCH_ROWS = 65_536
NULL_MARKERS = ["", "NULL"]

_PROVIDER_CODES = {
    "aws": "aws",
    "amazon web services": "aws",
    "amazon": "aws",
    "microsoft": "azure",
    "microsoft azure": "azure",
    "azure": "azure",
    "google": "gcp",
    "google cloud": "gcp",
    "google cloud platform": "gcp",
    "gcp": "gcp",
}
_PROVIDER_MAX = 32
_ZONE_RE = r"(?:Z|z|[+-]\d\d:?\d\d)$"
_CURRENCY_RE = r"^[A-Z]{3}$"


class IngestError(ValueError):
    """A FOCUS file (or batch) that cannot be imported; the message says where and why."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        row: int | None = None,
        column: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.file = file
        self.row = row
        self.column = column


def provider_code(name: str) -> str:
    """``aws`` / ``azure`` / ``gcp`` for the big three's names, else a lowercase slug."""
    key = " ".join(name.lower().replace(",", " ").split())
    for suffix in (" inc.", " inc", " llc"):
        key = key.removesuffix(suffix)
    if key in _PROVIDER_CODES:
        return _PROVIDER_CODES[key]
    slug = re.sub(r"[^a-z0-9]+", "-", key).strip("-")[:_PROVIDER_MAX].strip("-")
    return slug or "other"


def _text_lengths() -> dict[str, int | None]:
    table = CostRecord.__table__
    out: dict[str, int | None] = {}
    for target in (*TEXT_COLUMNS.values(), "currency"):
        col_type = table.c[target].type
        out[target] = col_type.length if isinstance(col_type, String) else None
    return out


_LENGTHS = _text_lengths()


# --------------------------------------------------------------------------------------------
# Reading files


FileFormat = Literal["csv", "parquet"]


def file_format(path: Path) -> FileFormat | None:
    """``csv`` for ``.csv`` / ``.csv.gz``, ``parquet`` for ``*.parquet``, else None."""
    name = path.name.lower()
    if name.endswith(".parquet"):
        return "parquet"
    if name.endswith((".csv", ".csv.gz")):
        return "csv"
    return None


def _match_columns(names: list[str], file: str) -> dict[str, str]:
    """FOCUS column -> the file's spelling of it (matched case-insensitively); required ones
    must be there."""
    by_lower: dict[str, str] = {}
    wanted = {col.lower(): col for col in FOCUS_COLUMNS}
    for name in names:
        key = name.lower()
        if key in by_lower and key in wanted:
            raise IngestError(
                f"{file}: the header names column {wanted[key]} twice "
                f"({by_lower[key]!r} and {name!r}).",
                file=file,
                column=wanted[key],
            )
        by_lower[key] = name
    found = {col: by_lower[col.lower()] for col in FOCUS_COLUMNS if col.lower() in by_lower}
    for col in REQUIRED_COLUMNS:
        if col not in found:
            raise IngestError(
                f"{file}: required FOCUS column {col} is missing.", file=file, column=col
            )
    return found


def decompressed_cap(compressed_bytes: int) -> int:
    """How many bytes a compressed file of this size may inflate to."""
    return min(
        MAX_DECOMPRESSED_BYTES, max(RATIO_FLOOR_BYTES, MAX_COMPRESSION_RATIO * compressed_bytes)
    )


def _bomb(file: str, cap: int) -> IngestError:
    return IngestError(
        f"{file}: inflates to more than {cap:,} bytes (over {MAX_COMPRESSION_RATIO} times its "
        f"size, or over {MAX_DECOMPRESSED_BYTES:,} bytes): refused as a possible "
        "decompression bomb.",
        file=file,
    )


class _CappedStream:
    """A decompressing stream that refuses to inflate past ``cap`` bytes (read by pyarrow
    through ``pa.PythonFile``, a block at a time)."""

    def __init__(self, stream: Any, cap: int, file: str) -> None:
        self._stream = stream
        self._cap = cap
        self._file = file
        self._read = 0
        self.closed = False

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def read(self, size: int = -1) -> bytes:
        data: bytes = self._stream.read(size if size >= 0 else self._cap + 1 - self._read)
        self._read += len(data)
        if self._read > self._cap:
            raise _bomb(self._file, self._cap)
        return data

    def close(self) -> None:
        self.closed = True
        self._stream.close()


def _open_csv(
    path: Path,
    convert: pacsv.ConvertOptions | None,
    block_size: int | None = None,
    *,
    file: str = "",
) -> Any:
    block_size = block_size or CSV_BLOCK_SIZE
    stream: Any = pa.input_stream(str(path), compression="detect")
    if isinstance(stream, pa.CompressedInputStream):
        cap = decompressed_cap(path.stat().st_size)
        stream = pa.PythonFile(_CappedStream(stream, cap, file or str(path)), mode="r")
    try:
        return pacsv.open_csv(
            stream,
            read_options=pacsv.ReadOptions(block_size=block_size),
            parse_options=pacsv.ParseOptions(newlines_in_values=True),
            convert_options=convert,
        )
    except BaseException:
        stream.close()
        raise


def _raw_csv(path: Path, file: str) -> Iterator[pa.RecordBatch]:
    # The header first (a small first block), then the real read: only the FOCUS columns we
    # store, all as text, so that a bad value is ours to report, with its row.
    probe = _open_csv(path, None, block_size=1 << 20, file=file)
    try:
        names = list(probe.schema.names)
    finally:
        probe.close()
    columns = _match_columns(names, file)
    wanted = list(columns.values())
    reader = _open_csv(
        path,
        pacsv.ConvertOptions(
            column_types=dict.fromkeys(wanted, pa.string()),
            include_columns=wanted,
            null_values=NULL_MARKERS,
            strings_can_be_null=True,
            quoted_strings_can_be_null=True,
            # Not UTF-8 is found by ``normalise_batch``, which can name its row and column.
            check_utf8=False,
        ),
        file=file,
    )
    rename = {v: k for k, v in columns.items()}
    try:
        for batch in reader:
            yield batch.rename_columns([rename[n] for n in batch.schema.names])
    finally:
        reader.close()


def _raw_parquet(path: Path, file: str) -> Iterator[pa.RecordBatch]:
    # pre_buffer=False: with it, pyarrow keeps a buffer per row group read, so memory grew
    # with the file (672 MB of Arrow pool at 10M rows; 61 MB without, bench/ingest.py).
    parquet = pq.ParquetFile(str(path), pre_buffer=False)
    try:
        columns = _match_columns(list(parquet.schema_arrow.names), file)
        _check_parquet_inflation(parquet, path.stat().st_size, set(columns.values()), file)
        rename = {v: k for k, v in columns.items()}
        for batch in parquet.iter_batches(
            batch_size=PARQUET_BATCH_ROWS, columns=list(columns.values())
        ):
            yield batch.rename_columns([rename[n] for n in batch.schema.names])
    finally:
        parquet.close()


def _check_parquet_inflation(
    parquet: pq.ParquetFile, size: int, columns: set[str], file: str
) -> None:
    """Parquet pages are compressed: refuse a file whose columns we read would inflate past
    the cap, by its own metadata, before reading any page."""
    meta = parquet.metadata
    total = 0
    for g in range(meta.num_row_groups):
        group = meta.row_group(g)
        for c in range(group.num_columns):
            chunk = group.column(c)
            if chunk.path_in_schema.split(".")[0] in columns:
                total += chunk.total_uncompressed_size
    cap = decompressed_cap(size)
    if total > cap:
        raise _bomb(file, cap)


def read_raw(path: Path, *, name: str | None = None) -> Iterator[pa.RecordBatch]:
    """The FOCUS columns of an export file as it stores them (CSV: all text), batch by batch.

    Blocking: run it in a thread. ``name`` is how errors refer to the file (default: its path).
    """
    file = name or str(path)
    fmt = file_format(path)
    if fmt is None:
        raise IngestError(f"{file}: not a FOCUS export (.csv, .csv.gz or .parquet).", file=file)
    reader = _raw_csv(path, file) if fmt == "csv" else _raw_parquet(path, file)
    try:
        yield from reader
    except IngestError:
        raise
    except (pa.ArrowException, OSError, EOFError, UnicodeDecodeError) as exc:
        raise IngestError(f"{file}: cannot read the file: {exc}", file=file) from exc


def read_focus(path: Path, *, name: str | None = None) -> Iterator[pa.RecordBatch]:
    """Normalised batches (``NORMALISED_EXACT``) of one export file. Blocking: run in a thread."""
    file = name or str(path)
    first_row = 1
    for raw in read_raw(path, name=file):
        yield normalise_batch(raw, source=file, first_row=first_row)
        first_row += raw.num_rows


# --------------------------------------------------------------------------------------------
# Normalising one batch


@dataclass(frozen=True, slots=True)
class _Where:
    source: str
    first_row: int

    def fail(self, column: str, index: int, problem: str) -> IngestError:
        row = self.first_row + index
        return IngestError(
            f"{self.source}: data row {row} (1-based, header not counted), column {column}: "
            f"{problem}",
            file=self.source,
            row=row,
            column=column,
        )

    def fail_rows(self, rows: int, exc: BaseException) -> IngestError:
        last = self.first_row + max(rows, 1) - 1
        return IngestError(
            f"{self.source}: data rows {self.first_row}-{last}: cannot be read "
            f"({type(exc).__name__}: {exc}).",
            file=self.source,
            row=self.first_row,
        )

    def missing(self, column: str) -> IngestError:
        return IngestError(
            f"{self.source}: required FOCUS column {column} is missing.",
            file=self.source,
            column=column,
        )


def _shown(value: object) -> str:
    text = str(value)
    return repr(text if len(text) <= 60 else text[:57] + "...")


def _first_true(mask: pa.Array) -> int | None:
    index = pc.index(pc.fill_null(mask, False), True).as_py()
    return None if index is None or index < 0 else int(index)


def _first_failure(values: pa.Array, convert: Callable[[pa.Array], object]) -> int:
    """Index of the first value ``convert`` rejects, knowing the whole array fails: convert
    the left half, recurse into whichever half holds the first failure (~2n values total)."""
    lo, size = 0, len(values)
    while size > 1:
        half = size // 2
        try:
            convert(values.slice(lo, half))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OverflowError):
            size = half
        else:
            lo, size = lo + half, size - half
    return lo


def _convert(
    values: pa.Array,
    convert: Callable[[pa.Array], pa.Array],
    where: _Where,
    column: str,
    what: str,
) -> pa.Array:
    try:
        return convert(values)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OverflowError) as exc:
        try:
            index = _first_failure(values, convert)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OverflowError):
            index = -1
        if index < 0 or index >= len(values):
            raise IngestError(
                f"{where.source}, column {column}: {exc}", file=where.source, column=column
            ) from exc
        raise where.fail(column, index, f"{_shown(values[index].as_py())} is not {what}.") from exc


def _as_string(values: pa.Array) -> pa.Array:
    if pa.types.is_dictionary(values.type):
        values = values.dictionary_decode()
    if pa.types.is_string(values.type):
        return values
    return pc.cast(values, pa.string())


def _text(values: pa.Array, max_length: int | None) -> pa.Array:
    """Text with empty strings as nulls, cut to ``max_length`` characters."""
    values = _as_string(values)
    empty = pc.equal(values, "")
    if pc.any(empty).as_py():
        values = pc.if_else(empty, pa.scalar(None, pa.string()), values)
    if max_length is not None and len(values) and values.null_count < len(values):
        longest = pc.max(pc.utf8_length(values)).as_py()
        if longest is not None and longest > max_length:
            values = pc.utf8_slice_codeunits(values, 0, max_length)
    return values


def _require(values: pa.Array, where: _Where, column: str) -> None:
    if values.null_count:
        index = _first_true(pc.is_null(values))
        if index is not None:
            raise where.fail(column, index, "a value is required here.")


def _to_exact(values: pa.Array) -> pa.Array:
    """Any numeric or textual array as an exact ``decimal256(76, 38)``."""
    if pa.types.is_floating(values.type):
        # The shortest text that round-trips (0.1, not 0.1000000000000000055...): the value
        # the exporter meant, as a CSV export would have written it.
        values = pc.cast(values, pa.string())
    if pa.types.is_string(values.type) or pa.types.is_large_string(values.type):
        values = pc.utf8_trim_whitespace(values)
    return pc.cast(values, EXACT)


def _exact(values: pa.Array, where: _Where, column: str) -> pa.Array:
    if pa.types.is_dictionary(values.type):
        values = values.dictionary_decode()
    return _convert(values, _to_exact, where, column, "a number")


def _round(exact: pa.Array) -> pa.Array:
    """Half-even to 9 decimal places (``quantize_store``), as ``decimal128(38, 9)``."""
    return pc.cast(pc.round(exact, ndigits=STORE_SCALE, round_mode="half_to_even"), AMOUNT)


def _rounded(exact: pa.Array, where: _Where, column: str) -> pa.Array:
    return _convert(exact, _round, where, column, "an amount the store can hold (< 1e29)")


def _cost(exact: pa.Array, raw: pa.Array, where: _Where, column: str) -> pa.Array:
    """A cost column rounded to the store's precision, refusing a line beyond ``LINE_MAX``."""
    beyond = pc.or_(pc.greater(exact, _LINE_MAX), pc.less(exact, _LINE_MIN))
    index = _first_true(beyond)
    if index is not None:
        raise where.fail(
            column,
            index,
            f"{_shown(raw[index].as_py())} is beyond the largest cost of one line "
            f"({LINE_MAX:,} in absolute value).",
        )
    return _rounded(exact, where, column)


_UTC_NS = pa.timestamp("ns", tz="UTC")


def _parse_timestamps(values: pa.Array) -> pa.Array:
    """Text, timestamps or dates -> ``timestamp[ns, UTC]``; text without a zone is UTC."""
    kind = values.type
    if pa.types.is_timestamp(kind):
        if kind.tz is None:
            return pc.cast(pc.cast(values, pa.timestamp("ns")), _UTC_NS)
        return pc.cast(values, _UTC_NS)
    if pa.types.is_date(kind):
        return pc.cast(pc.cast(values, pa.date32()), _UTC_NS)
    values = pc.utf8_trim_whitespace(_as_string(values))
    zoned = pc.match_substring_regex(values, _ZONE_RE)
    has_zone = pc.any(zoned).as_py()
    all_zone = pc.all(pc.or_kleene(zoned, pc.is_null(values))).as_py()
    if all_zone:
        return pc.cast(values, _UTC_NS)
    if not has_zone:
        return pc.cast(pc.cast(values, pa.timestamp("ns")), _UTC_NS)
    null = pa.scalar(None, pa.string())
    aware = pc.cast(pc.if_else(zoned, values, null), _UTC_NS)
    naive = pc.cast(pc.cast(pc.if_else(zoned, null, values), pa.timestamp("ns")), _UTC_NS)
    return pc.coalesce(aware, naive)


def _timestamps(values: pa.Array, where: _Where, column: str) -> pa.Array:
    if pa.types.is_dictionary(values.type):
        values = values.dictionary_decode()
    return _convert(values, _parse_timestamps, where, column, "a timestamp")


_NOT_TAGS = "is not a JSON object of tags."


def _canonical_tags(value: object) -> tuple[str | None, str | None]:
    """(problem or None, canonical JSON text or None) for one distinct Tags value."""
    if value is None:
        return None, None
    if isinstance(value, str):
        text = value.strip()
        if not text or text == "NULL":
            return None, None
        try:
            value = untrusted.parse_json(text)
        except untrusted.RefusedInput as exc:
            if exc.message == "Malformed JSON.":
                return _NOT_TAGS, None
            return f"is not storable tags: {exc.message[:1].lower()}{exc.message[1:]}", None
    elif isinstance(value, list):  # a Parquet map arrives as [(key, value), ...]
        try:
            value = dict(value)
        except (TypeError, ValueError):
            return _NOT_TAGS, None
    if not isinstance(value, dict):
        return _NOT_TAGS, None
    try:
        untrusted.check_json_value(value)
        text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    except untrusted.RefusedInput as exc:
        return f"is not storable tags: {exc.message[:1].lower()}{exc.message[1:]}", None
    except (TypeError, ValueError):  # keys of mixed types, values JSON cannot hold
        return _NOT_TAGS, None
    return None, (text if value else None)


def _tags(values: pa.Array, where: _Where) -> pa.Array:
    """Canonical JSON text per row, computed once per distinct value."""
    if pa.types.is_dictionary(values.type):
        values = values.dictionary_decode()
    if pa.types.is_map(values.type) or pa.types.is_struct(values.type):
        # Maps are not hashable by Arrow's kernels: convert per row, memoised per tag set.
        memo: dict[str, str | None] = {}
        out: list[str | None] = []
        for index, value in enumerate(values.to_pylist()):
            if value is None:
                out.append(None)
                continue
            if isinstance(value, dict):
                value = list(value.items())
            key = repr(value)
            if key not in memo:
                problem, text = _canonical_tags(value)
                if problem is not None:
                    raise where.fail("Tags", index, problem)
                memo[key] = text
            out.append(memo[key])
        return pa.array(out, pa.string())
    values = _as_string(values)
    distinct = pc.unique(values)
    canonical: list[str | None] = []
    bad: dict[str, str] = {}
    for value in distinct.to_pylist():
        problem, text = _canonical_tags(value)
        if problem is not None:
            bad[value] = problem
        canonical.append(text)
    if bad:
        first = _first_true(pc.is_in(values, value_set=pa.array(list(bad), pa.string())))
        assert first is not None
        value = values[first].as_py()
        raise where.fail("Tags", first, f"{_shown(value)} {bad[value]}")
    positions = pc.index_in(values, value_set=distinct)
    return pc.take(pa.array(canonical, pa.string()), positions)


def _providers(names: pa.Array) -> pa.Array:
    distinct = pc.unique(names)
    codes = [None if n is None else provider_code(n) for n in distinct.to_pylist()]
    return pc.take(pa.array(codes, pa.string()), pc.index_in(names, value_set=distinct))


def _currency(values: pa.Array, where: _Where) -> pa.Array:
    values = pc.utf8_upper(pc.utf8_trim_whitespace(_as_string(values)))
    _require(values, where, "BillingCurrency")
    good = pc.match_substring_regex(values, _CURRENCY_RE)
    index = _first_true(pc.invert(good))
    if index is not None:
        raise where.fail(
            "BillingCurrency", index, f"{_shown(values[index].as_py())} is not a currency code."
        )
    return values


def _is_normalised(schema: pa.Schema) -> bool:
    return "billed_cost" in schema.names and "usage_date" in schema.names


def normalise_batch(batch: pa.RecordBatch, *, source: str, first_row: int = 1) -> pa.RecordBatch:
    """One batch of FOCUS rows (text or typed columns) -> ``NORMALISED_EXACT``.

    A batch already in the ``NORMALISED`` shape (a connector that builds the store's columns
    itself) is checked, cast and passed through. ``first_row`` is the 1-based data row of the
    batch's first row in its file, for error messages. Pure Arrow: safe in a worker thread.
    """
    if _is_normalised(batch.schema):
        return _pass_normalised(batch, source, first_row)
    where = _Where(source, first_row)
    present = set(batch.schema.names)
    for col in REQUIRED_COLUMNS:
        if col not in present:
            raise where.missing(col)
    reading: list[str] = [""]  # the FOCUS column being normalised, for unforeseen errors
    try:
        return _normalise(batch, where, present, reading)
    except IngestError:
        raise
    except (pa.ArrowException, ValueError, OverflowError, RecursionError) as exc:
        # A type no check above foresaw (a Parquet struct where text belongs...): still the
        # file's fault, and it says where.
        name = reading[0]
        if not name:
            raise where.fail_rows(batch.num_rows, exc) from exc
        values = batch.column(name)
        first = _first_true(pc.is_valid(values))
        index = 0 if first is None else first
        raise where.fail(
            name, index, f"values of type {values.type} cannot be read here ({exc})."
        ) from exc


def _checked_text(values: pa.Array, where: _Where, column: str) -> pa.Array:
    """Text columns (and binary ones, which must be UTF-8) as valid UTF-8 without NUL: the
    database stores nothing else."""
    if pa.types.is_binary(values.type) or pa.types.is_large_binary(values.type):
        values = _convert(
            values, lambda v: pc.cast(v, pa.string()), where, column, "valid UTF-8 text"
        )
    if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
        return values
    try:
        values.validate(full=True)
    except pa.ArrowInvalid:
        bad = _first_failure(values, lambda v: v.validate(full=True))
        raise where.fail(column, bad, "is not valid UTF-8 text.") from None
    index = _first_true(pc.match_substring(values, "\x00"))
    if index is not None:
        raise where.fail(column, index, "contains a NUL character (not storable text).")
    return values


def _normalise(
    batch: pa.RecordBatch, where: _Where, present: set[str], reading: list[str]
) -> pa.RecordBatch:
    n = batch.num_rows

    def column(name: str) -> pa.Array | None:
        reading[0] = name
        if name not in present:
            return None
        values = batch.column(name)
        if pa.types.is_dictionary(values.type):
            values = values.dictionary_decode()
        return _checked_text(values, where, name)

    out: dict[str, pa.Array] = {}
    for focus_name, target in TEXT_COLUMNS.items():
        values = column(focus_name)
        if values is None:
            out[target] = pa.nulls(n, pa.string())
            continue
        out[target] = _text(values, _LENGTHS[target])
        if focus_name in REQUIRED_COLUMNS:
            _require(out[target], where, focus_name)
    out["provider"] = _providers(out["provider_name"])
    meter = column("SkuMeter")
    if meter is not None:
        # AWS's FOCUS 1.2 export carries the usage type as SkuMeter; other providers' meters
        # are names (``E4 v5``), not usage types.
        aws = pc.fill_null(pc.equal(out["provider"], "aws"), False)
        meter = pc.if_else(aws, _text(meter, _LENGTHS["usage_type"]), pa.scalar(None, pa.string()))
        out["usage_type"] = pc.coalesce(out["usage_type"], meter)
    out["currency"] = _currency(column("BillingCurrency"), where)

    periods = _timestamps(column("BillingPeriodStart"), where, "BillingPeriodStart")
    _require(periods, where, "BillingPeriodStart")
    out["billing_period"] = pc.cast(pc.floor_temporal(periods, unit="month"), pa.date32())
    charges = _timestamps(column("ChargePeriodStart"), where, "ChargePeriodStart")
    _require(charges, where, "ChargePeriodStart")
    out["usage_date"] = pc.cast(charges, pa.date32())
    _plausible_periods(out["billing_period"], out["usage_date"], where)

    billed_raw = column("BilledCost")
    assert billed_raw is not None  # a required column
    billed_exact = _exact(billed_raw, where, "BilledCost")
    _require(billed_exact, where, "BilledCost")
    out[EXACT_BILLED] = billed_exact
    out["billed_cost"] = _cost(billed_exact, billed_raw, where, "BilledCost")
    for focus_name in ("EffectiveCost", "ListCost"):
        target = COST_COLUMNS[focus_name]
        values = column(focus_name)
        if values is None:
            out[target] = out["billed_cost"]
            continue
        exact = _exact(values, where, focus_name)
        _require(exact, where, focus_name)
        out[target] = _cost(exact, values, where, focus_name)

    for focus_name, target in (
        ("ConsumedQuantity", "consumed_quantity"),
        ("PricingQuantity", "pricing_quantity"),
    ):
        quantity = column(focus_name)
        if quantity is None:
            out[target] = pa.nulls(n, AMOUNT)
            continue
        if pa.types.is_string(quantity.type):
            quantity = _text(quantity, None)
        out[target] = _rounded(_exact(quantity, where, focus_name), where, focus_name)
    contracted = column("ContractedCost")
    if contracted is None:
        out["contracted_cost"] = pa.nulls(n, AMOUNT)
    else:
        if pa.types.is_string(contracted.type):
            contracted = _text(contracted, None)
        exact = _exact(contracted, where, "ContractedCost")
        out["contracted_cost"] = _cost(exact, contracted, where, "ContractedCost")
    tags = column("Tags")
    out["tags"] = pa.nulls(n, pa.string()) if tags is None else _tags(tags, where)
    reading[0] = ""
    return pa.RecordBatch.from_arrays(
        [out[name] for name in NORMALISED_EXACT.names], schema=NORMALISED_EXACT
    )


def _plausible_periods(periods: pa.Array, days: pa.Array, where: _Where) -> None:
    """Each charge's day lies within ``PERIOD_SLACK_DAYS`` of its billing period (a month)."""
    gap = pc.days_between(periods, days)  # days from the period's first day to the charge's
    far = pc.or_(pc.less(gap, -PERIOD_SLACK_DAYS), pc.greater(gap, 31 + PERIOD_SLACK_DAYS))
    index = _first_true(far)
    if index is not None:
        period, day = periods[index].as_py(), days[index].as_py()
        raise where.fail(
            "BillingPeriodStart",
            index,
            f"billing period {period:%Y-%m} is more than {PERIOD_SLACK_DAYS} days from the "
            f"charge's date {day} (ChargePeriodStart).",
        )


_NOT_NULL = (
    "provider",
    "provider_name",
    "billing_account_id",
    "service_name",
    "charge_category",
    "billing_period",
    "usage_date",
    "currency",
    "billed_cost",
    "effective_cost",
    "list_cost",
)
_COSTS = ("billed_cost", "effective_cost", "list_cost", "contracted_cost")
_AMOUNTS = (*_COSTS, "consumed_quantity", "pricing_quantity")


def _pass_normalised(batch: pa.RecordBatch, source: str, first_row: int) -> pa.RecordBatch:
    absent = [
        f for f in NORMALISED if f.name in OPTIONAL_NORMALISED and f.name not in batch.schema.names
    ]
    if absent:
        batch = pa.RecordBatch.from_arrays(
            [*batch.columns, *(pa.nulls(batch.num_rows, f.type) for f in absent)],
            names=[*batch.schema.names, *(f.name for f in absent)],
        )
    missing = [name for name in NORMALISED.names if name not in batch.schema.names]
    if missing:
        raise IngestError(
            f"{source}: normalised batch lacks columns {', '.join(missing)}.", file=source
        )
    where = _Where(source, first_row)
    try:
        arrays: dict[str, pa.Array] = {}
        for field in NORMALISED:
            values = batch.column(field.name)
            if field.name in _COSTS:
                arrays[field.name] = _cost(pc.cast(values, EXACT), values, where, field.name)
            elif field.name in _AMOUNTS:
                arrays[field.name] = _round(pc.cast(values, EXACT))
            else:
                arrays[field.name] = pc.cast(values, field.type)
            if field.name in _NOT_NULL:
                _require(arrays[field.name], where, field.name)
        exact_source = EXACT_BILLED if EXACT_BILLED in batch.schema.names else "billed_cost"
        arrays[EXACT_BILLED] = pc.cast(batch.column(exact_source), EXACT)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise IngestError(f"{source}: {exc}", file=source) from exc
    return pa.RecordBatch.from_arrays(
        [arrays[name] for name in NORMALISED_EXACT.names], schema=NORMALISED_EXACT
    )


def decimal_total(values: pa.Array) -> Decimal:
    """Exact sum of a decimal array as ``Decimal`` (0 when empty)."""
    total = pc.sum(values).as_py()
    return Decimal(0) if total is None else Decimal(total)
