"""FOCUS ingest throughput and peak memory, against a plain PostgreSQL ``COPY`` of the same file.

    .venv/bin/python bench/ingest.py --rows 1000000 [--format csv|parquet] [--gzip]
    .venv/bin/python bench/ingest.py --file export.csv.gz
    .venv/bin/python bench/ingest.py --rows 100000 --database-url sqlite

The file comes from ``bench/focus_gen.py`` (kept in ``--work-dir`` and reused when it is there)
or from ``--file``. The database (default
``postgresql+psycopg://postgres@127.0.0.1:5432/xplorr_bench_ingest``) is dropped and created
again when its name starts with ``xplorr_bench_`` (each run starts empty), else created when
missing; then migrated. ``sqlite`` means a fresh embedded database in a temp dir. The script adds
a throwaway organization and a ``focus`` cloud account, then runs the real ingest path
(``xplorr.ingest.pipeline.import_files``) in a child process and reads that child's own peak RSS
(``wait4``). The ceiling is PostgreSQL ``COPY`` of the same rows (CSV; a Parquet input is
converted first, untimed) into a bare typed table with no index, from a psycopg client. The
organization (and so its cost rows) and the bare table are dropped at the end.
"""

import argparse
import asyncio
import gzip
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DB = "postgresql+psycopg://postgres@127.0.0.1:5432/xplorr_bench_ingest"
SECRET = "bench-secret-key-bench-secret-key-0123456789"  # noqa: S105 (a throwaway database)
COPY_TABLE = "bench_focus_copy"


def bench_env(data_dir: str, database_url: str) -> dict[str, str]:
    """The environment of every ``xplorr`` process of a benchmark: only its own XPLORR_*."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("XPLORR_")}
    env |= {
        "XPLORR_DATA_DIR": data_dir,
        "XPLORR_DATABASE_URL": database_url,
        "XPLORR_SECRET_KEY": SECRET,
        "XPLORR_RATE_LIMITS_ENABLED": "false",
        "XPLORR_EMBEDDED_WORKER": "false",
        "XPLORR_LOG_LEVEL": "WARNING",
    }
    return env


def libpq_url(database_url: str) -> str:
    return database_url.replace("postgresql+psycopg://", "postgresql://", 1)


def ensure_database(database_url: str) -> None:
    """Create the PostgreSQL database of ``database_url`` when it does not exist."""
    import psycopg
    from psycopg import sql

    base, _, name = libpq_url(database_url).rpartition("/")
    name = name.split("?")[0]
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            return
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def reset_database(database_url: str) -> None:
    """Drop and create the database of ``database_url``: only for the benchmarks' own
    ``xplorr_bench_*`` databases (a run starts without the dead rows of the previous one)."""
    import psycopg
    from psycopg import sql

    base, _, name = libpq_url(database_url).rpartition("/")
    name = name.split("?")[0]
    if not name.startswith("xplorr_bench_"):
        raise ValueError(f"refusing to drop {name!r}: not a xplorr_bench_* database")
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        ident = sql.Identifier(name)
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(ident))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(ident))


def migrate(env: dict[str, str]) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "xplorr", "migrate"],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if proc.returncode != 0:
        sys.exit(f"xplorr migrate failed:\n{proc.stdout}{proc.stderr}")


async def create_account(
    database_url: str, *, org_id: str | None = None, name: str = "bench"
) -> tuple[str, str]:
    """A ``focus`` cloud account (credentials sealed like the API does) in org ``org_id``, or in
    a new throwaway organization. Returns (org id, account id)."""
    import xplorr.models_registry  # noqa: F401 (every mapped table, for the foreign keys)
    from xplorr.cloud_accounts.models import AccountStatus, CloudAccount, Provider
    from xplorr.core import crypto
    from xplorr.core.db import make_engine, make_sessionmaker
    from xplorr.core.settings import Settings
    from xplorr.orgs.models import Org

    settings = Settings(database_url=database_url, secret_key=SECRET)
    engine = make_engine(database_url)
    try:
        async with make_sessionmaker(engine)() as db:
            if org_id is None:
                suffix = uuid.uuid4().hex[:8]
                org = Org(name=f"Bench {suffix}", slug=f"bench-{suffix}")
                db.add(org)
                await db.flush()
                org_uuid = org.id
            else:
                org_uuid = uuid.UUID(org_id)
            cipher = await crypto.OrgCipher.load(db, settings, org_uuid)
            account = CloudAccount(
                id=uuid.uuid4(),
                org_id=org_uuid,
                provider=Provider.FOCUS,
                name=name,
                provider_account_id=f"{name}-{uuid.uuid4().hex[:8]}",
                status=AccountStatus.ACTIVE,
            )
            account.credentials_encrypted, account.credentials_key_version = await cipher.encrypt(
                db, account.id, {"path": str(Path(settings.data_dir) / "exports")}
            )
            db.add(account)
            await db.commit()
            return str(org_uuid), str(account.id)
    finally:
        await engine.dispose()


async def drop_org(database_url: str, org_id: str) -> None:
    from sqlalchemy import delete

    from xplorr.core.db import make_engine, make_sessionmaker
    from xplorr.orgs.models import Org

    engine = make_engine(database_url)
    try:
        async with make_sessionmaker(engine)() as db:
            await db.execute(delete(Org).where(Org.id == uuid.UUID(org_id)))
            await db.commit()
    finally:
        await engine.dispose()


async def _ingest(database_url: str, account_id: str, path: str) -> dict[str, Any]:
    """The child's work: the real ingest path, one file, one account, committed."""
    import xplorr.models_registry  # noqa: F401 (every mapped table, for the foreign keys)
    from xplorr.cloud_accounts.models import CloudAccount
    from xplorr.core import clock
    from xplorr.core.db import make_engine, make_sessionmaker
    from xplorr.ingest.pipeline import import_files

    engine = make_engine(database_url)
    statements: dict[str, list[float]] = {}
    if os.environ.get("XPLORR_BENCH_PROFILE"):
        from sqlalchemy import event

        @event.listens_for(engine.sync_engine, "before_cursor_execute")
        def _before(conn: Any, *_: Any) -> None:
            conn.info.setdefault("bench_t0", []).append(time.perf_counter())

        @event.listens_for(engine.sync_engine, "after_cursor_execute")
        def _after(conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
            took = time.perf_counter() - conn.info["bench_t0"].pop()
            key = " ".join(statement.split())[:90]
            statements.setdefault(key, []).append(took)

    try:
        async with make_sessionmaker(engine)() as db:
            account = await db.get(CloudAccount, uuid.UUID(account_id))
            assert account is not None
            t0 = time.perf_counter()
            summary = await import_files(
                db,
                account,
                [Path(path)],
                source=Path(path).name,
                snapshot_at=clock.now(),
                fingerprint=uuid.uuid4().hex,
            )
            await db.commit()
            elapsed = time.perf_counter() - t0
    finally:
        await engine.dispose()
    top = sorted(statements.items(), key=lambda kv: -sum(kv[1]))[:8]
    import pyarrow as pa

    return {
        "seconds": elapsed,
        "arrow_peak": pa.default_memory_pool().max_memory(),
        "arrow_backend": pa.default_memory_pool().backend_name,
        "statements": [[k, round(sum(v), 2), len(v)] for k, v in top],
        "summary": {
            "rows_read": summary.rows_read,
            "rows_stored": summary.rows_stored,
            "periods": len(summary.periods_imported),
            "days": summary.days,
            "totals": {k: str(v) for k, v in summary.totals.items()},
        },
    }


def run_ingest_child(env: dict[str, str], account_id: str, path: Path) -> dict[str, Any]:
    """Ingest in a child process; its result plus its own peak RSS (bytes), from ``wait4``."""
    code = (
        "import asyncio, json, sys; sys.path.insert(0, sys.argv[1]); import ingest; "
        "print('XPLORR_BENCH ' + json.dumps(asyncio.run(ingest._ingest(*sys.argv[2:]))))"
    )
    out_path = Path(tempfile.mkstemp(prefix="xplorr-ingest-", suffix=".log")[1])
    try:
        with out_path.open("wb") as out:
            child = subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    code,
                    str(Path(__file__).parent),
                    env["XPLORR_DATABASE_URL"],
                    account_id,
                    str(path),
                ],
                env=env,
                cwd=REPO,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
            _, status, usage = os.wait4(child.pid, 0)
            child.returncode = os.waitstatus_to_exitcode(status)
        text = out_path.read_text(errors="replace")
    finally:
        out_path.unlink(missing_ok=True)
    if child.returncode != 0:
        sys.exit(f"ingest failed ({child.returncode}):\n{text[-5000:]}")
    line = next(x for x in text.splitlines() if x.startswith("XPLORR_BENCH "))
    result: dict[str, Any] = json.loads(line.removeprefix("XPLORR_BENCH "))
    result["max_rss"] = usage.ru_maxrss * 1024  # Linux reports kilobytes
    result["cpu"] = usage.ru_utime + usage.ru_stime  # the child's own CPU seconds
    return result


def cost_record_count(database_url: str, account_id: str) -> int:
    import psycopg

    with psycopg.connect(libpq_url(database_url)) as conn:
        row = conn.execute(
            "SELECT count(*) FROM cost_records WHERE cloud_account_id = %s", (account_id,)
        ).fetchone()
    return int(row[0]) if row else 0


_COPY_COLUMNS = """
    "ProviderName" text, "BillingAccountId" text, "BillingAccountName" text, "SubAccountId" text,
    "SubAccountName" text, "BillingPeriodStart" timestamptz, "BillingPeriodEnd" timestamptz,
    "ChargePeriodStart" timestamptz, "ChargePeriodEnd" timestamptz, "ChargeCategory" text,
    "ChargeClass" text, "ChargeDescription" text, "ChargeFrequency" text, "PricingCategory" text,
    "BilledCost" numeric, "EffectiveCost" numeric, "ListCost" numeric, "ContractedCost" numeric,
    "BillingCurrency" text, "ConsumedQuantity" numeric, "ConsumedUnit" text, "ServiceName" text,
    "ServiceCategory" text, "ServiceSubcategory" text, "RegionId" text, "RegionName" text,
    "ResourceId" text, "ResourceName" text, "ResourceType" text, "SkuId" text,
    "CommitmentDiscountId" text, "Tags" jsonb
"""


def copy_ceiling(database_url: str, csv_path: Path) -> tuple[float, int]:
    """Seconds and rows of ``COPY ... FROM STDIN (FORMAT csv)`` of the file into a bare table
    (gzip decompressed by the client, as an ingest has to)."""
    import psycopg

    opener = gzip.open if csv_path.name.endswith(".gz") else open
    with psycopg.connect(libpq_url(database_url)) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {COPY_TABLE}")
        conn.execute(f"CREATE TABLE {COPY_TABLE} ({_COPY_COLUMNS})")
        conn.commit()
        t0 = time.perf_counter()
        with (
            opener(csv_path, "rb") as f,
            conn.cursor() as cur,
            cur.copy(f"COPY {COPY_TABLE} FROM STDIN (FORMAT csv, HEADER true)") as copy,
        ):
            while chunk := f.read(1 << 20):
                copy.write(chunk)
        conn.commit()
        elapsed = time.perf_counter() - t0
        row = conn.execute(f"SELECT count(*) FROM {COPY_TABLE}").fetchone()  # noqa: S608
        conn.execute(f"DROP TABLE {COPY_TABLE}")
        conn.commit()
    return elapsed, int(row[0]) if row else 0


def generated_file(work_dir: Path, rows: int, fmt: str, gz: bool) -> Path:
    """The generator's file of ``rows`` rows, made once and kept in ``work_dir``."""
    suffix = {"csv": ".csv.gz" if gz else ".csv", "parquet": ".parquet"}[fmt]
    path = work_dir / f"focus-{rows}{suffix}"
    if not path.exists():
        work_dir.mkdir(parents=True, exist_ok=True)
        sys.path.insert(0, str(Path(__file__).parent))
        from focus_gen import write

        t0 = time.perf_counter()
        write(path, rows=rows, fmt=fmt, gzip=gz)
        print(f"generated {path} in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    return path


def csv_form(path: Path, tmp_dir: str) -> Path:
    """The CSV text of a Parquet file (for the COPY ceiling), or the file itself."""
    if not path.name.endswith(".parquet"):
        return path
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    sys.path.insert(0, str(REPO / "src"))
    from xplorr.connectors.demo.generator import to_csv_batch

    out = Path(tmp_dir) / (path.stem + ".csv")
    parquet = pq.ParquetFile(path)
    writer = None
    for batch in parquet.iter_batches(batch_size=65_536):
        text = to_csv_batch(batch)
        if writer is None:
            writer = pacsv.CSVWriter(str(out), text.schema)
        writer.write_batch(text)
    if writer is not None:
        writer.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--rows", type=int, help="generate a file of this many rows")
    source.add_argument("--file", type=Path, help="an existing FOCUS CSV/Parquet file")
    parser.add_argument("--format", choices=["csv", "parquet"], default="csv")
    parser.add_argument("--gzip", action="store_true")
    parser.add_argument("--database-url", default=DEFAULT_DB, help="or 'sqlite'")
    parser.add_argument(
        "--work-dir", type=Path, default=Path(tempfile.gettempdir()) / "xplorr-bench"
    )
    parser.add_argument("--no-copy", action="store_true", help="skip the COPY ceiling")
    parser.add_argument(
        "--profile", action="store_true", help="time the ingest's SQL statements (in the child)"
    )
    args = parser.parse_args()

    data_dir = tempfile.mkdtemp(prefix="xplorr-bench-ingest-")
    database_url = args.database_url
    if database_url == "sqlite":
        database_url = f"sqlite+aiosqlite:///{data_dir}/xplorr.db"
    is_pg = database_url.startswith("postgresql")
    env = bench_env(data_dir, database_url)
    if args.profile:
        env["XPLORR_BENCH_PROFILE"] = "1"
    org_id = None
    load_before = os.getloadavg()
    try:
        path = args.file or generated_file(args.work_dir, args.rows, args.format, args.gzip)
        size = path.stat().st_size
        if is_pg and libpq_url(database_url).rpartition("/")[2].startswith("xplorr_bench_"):
            reset_database(database_url)  # the bench's own database: start empty
        elif is_pg:
            ensure_database(database_url)
        migrate(env)
        org_id, account_id = asyncio.run(create_account(database_url))
        result = run_ingest_child(env, account_id, path)
        summary = result["summary"]
        rows_read = _rows_read(summary)
        stored = cost_record_count(database_url, account_id) if is_pg else None
        copy = None
        if is_pg and not args.no_copy:
            copy = copy_ceiling(database_url, csv_form(path, data_dir))
    finally:
        if org_id is not None:
            asyncio.run(drop_org(database_url, org_id))
        shutil.rmtree(data_dir, ignore_errors=True)

    db = "PostgreSQL" if is_pg else "SQLite (embedded)"
    seconds = result["seconds"]
    rows = rows_read or (copy[1] if copy else 0)
    print(
        f"\n{path.name}: {size / 1e6:.0f} MB, {rows} rows; {db}; Python "
        f"{platform.python_version()}, {os.cpu_count()} CPUs, load average before "
        f"{load_before[0]:.1f}, after {os.getloadavg()[0]:.1f}\n"
    )
    print("| path | seconds | rows/min | peak RSS MB | client CPU s |")
    print("|---|---:|---:|---:|---:|")
    print(
        f"| xplorr ingest (`import_files`) | {seconds:.1f} | {rows / seconds * 60:,.0f} "
        f"| {result['max_rss'] / 1e6:.0f} | {result['cpu']:.1f} |"
    )
    if copy:
        per_min = copy[1] / copy[0] * 60
        print(f"| PostgreSQL `COPY` (ceiling) | {copy[0]:.1f} | {per_min:,.0f} | - | - |")
    if stored is not None:
        print(f"\n{stored} cost_records rows stored (daily grain); summary: {json.dumps(summary)}")
    if result.get("arrow_peak") is not None:
        print(
            f"\npeak of Arrow's memory pool ({result['arrow_backend']}) in the ingest: "
            f"{result['arrow_peak'] / 1e6:.0f} MB"
        )
    if result.get("statements"):
        print("\nSQL statements of the ingest by total time (s, count):")
        for statement, took, count in result["statements"]:
            print(f"  {took:8.2f} {count:5d}  {statement}")


def _rows_read(summary: dict[str, Any]) -> int:
    return int(summary.get("rows_read", 0))


if __name__ == "__main__":
    main()
