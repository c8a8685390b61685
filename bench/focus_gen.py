"""Write a FOCUS 1.2 export of N rows from the demo data generator, as CSV or Parquet.

    .venv/bin/python bench/focus_gen.py --rows 1000000 --format csv --gzip --out /tmp/focus.csv.gz

The rows are those of ``xplorr.connectors.demo.generator`` (three accounts on AWS, Azure and
GCP, 13 months from ``--start``, resources with stable ids and a long-tail cost, tags, credits,
taxes...): the resource catalogue grows with ``--rows``, so the cardinality of resources,
services, regions and tags is that of a real estate of that size, not ``i % n``. The output has
exactly ``--rows`` rows (the last billing month is cut where the count is reached). CSV carries
timestamps as ``2026-05-01T00:00:00Z`` text and money as plain decimals, like the providers'
CSV exports; Parquet carries typed timestamps and decimal128 (snappy-compressed, like AWS's).
Same arguments, same bytes.
"""

import argparse
import sys
import time
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from xplorr.connectors.demo.generator import SCHEMA, generate, scale_for_rows, to_csv_batch


def write(
    out: Path,
    *,
    rows: int,
    fmt: str,
    gzip: bool = False,
    seed: int = 42,
    start: date = date(2025, 1, 1),
    months: int = 13,
) -> int:
    """Write ``rows`` rows to ``out``; returns the number written."""
    if fmt == "parquet" and gzip:
        raise ValueError("--gzip applies to CSV; Parquet is compressed inside (snappy)")
    # A little more than needed, then cut at exactly ``rows``.
    scale = scale_for_rows(rows, seed=seed, start=start, months=months) * 1.03
    batches = generate(seed=seed, start=start, months=months, scale=scale, batch_rows=65_536)
    written = 0
    tmp = out.with_name(out.name + ".part")
    if fmt == "csv":
        sink = pa.CompressedOutputStream(str(tmp), "gzip") if gzip else pa.OSFile(str(tmp), "wb")
        csv_schema = pa.schema(
            (f.name, pa.string() if pa.types.is_timestamp(f.type) else f.type) for f in SCHEMA
        )
        with sink, pacsv.CSVWriter(sink, csv_schema) as writer:
            for batch in batches:
                take = min(batch.num_rows, rows - written)
                writer.write_batch(to_csv_batch(batch.slice(0, take)))
                written += take
                if written >= rows:
                    break
    else:
        with pq.ParquetWriter(str(tmp), SCHEMA, compression="snappy") as writer:
            for batch in batches:
                take = min(batch.num_rows, rows - written)
                writer.write_batch(batch.slice(0, take), row_group_size=1 << 20)
                written += take
                if written >= rows:
                    break
    if written < rows:
        tmp.unlink()
        raise RuntimeError(f"the generator stopped at {written} rows, short of {rows}")
    tmp.replace(out)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--rows", type=int, required=True)
    parser.add_argument("--format", choices=["csv", "parquet"], default="csv")
    parser.add_argument("--gzip", action="store_true", help="gzip the CSV")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--start", type=date.fromisoformat, default=date(2025, 1, 1))
    parser.add_argument("--months", type=int, default=13)
    args = parser.parse_args()
    if args.rows < 1:
        parser.error("--rows must be positive")
    t0 = time.perf_counter()
    try:
        n = write(
            args.out,
            rows=args.rows,
            fmt=args.format,
            gzip=args.gzip,
            seed=args.seed,
            start=args.start,
            months=args.months,
        )
    except ValueError as e:
        parser.error(str(e))
    elapsed = time.perf_counter() - t0
    size = args.out.stat().st_size
    print(
        f"{n} rows -> {args.out} ({size / 1e6:.1f} MB) in {elapsed:.1f} s "
        f"({n / elapsed * 60 / 1e6:.1f} M rows/min)",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
