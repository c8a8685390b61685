"""What it costs to give a test a clean database, each way the suite could do it, on this machine.

    .venv/bin/python bench/db_reset.py [--pg-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres]
                                       [--runs 30] [--rows 20]

PostgreSQL (one migrated database, as a test worker has): a test's worth of rows (``--rows``
organizations, each with a user, an audit row and a job) is written, then removed by

- ``TRUNCATE`` of every table (``CASCADE``): what the suite did until December 2026;
- ``DELETE`` of every table, children first, in one transaction: what it does now;
- dropping the database and creating it again from a migrated template (``CREATE DATABASE ...
  TEMPLATE``), the connection pool re-opened.

SQLite: copying the migrated template file (what each test does) against migrating anew.
Prints a markdown table of milliseconds per reset (min / median / max over ``--runs``); only the
reset is timed, never the writes before it.
"""

import argparse
import shutil
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Engine, create_engine, text

from xplorr.core.migrate import upgrade
from xplorr.core.settings import normalise_db_url
from xplorr.models_registry import Base


def _write_rows(engine: Engine, rows: int) -> None:
    with engine.begin() as conn:
        for _ in range(rows):
            org_id = uuid.uuid4()
            conn.execute(
                text(
                    "INSERT INTO orgs (id, name, slug, require_2fa, created_at, updated_at) "
                    "VALUES (:id, 'Bench', :slug, false, now(), now())"
                ),
                {"id": org_id, "slug": f"bench-{org_id.hex[:12]}"},
            )


def _timed(runs: int, prepare: Callable[[], None], reset: Callable[[], None]) -> list[float]:
    times = []
    for _ in range(runs):
        prepare()
        started = time.perf_counter()
        reset()
        times.append((time.perf_counter() - started) * 1000)
    return times


def _row(name: str, times: list[float]) -> str:
    return f"| {name} | {min(times):.1f} | {statistics.median(times):.1f} | {max(times):.1f} |"


def bench_postgres(pg_url: str, runs: int, rows: int) -> list[str]:
    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    template, work = "xplorr_bench_reset_template", "xplorr_bench_reset"
    base = pg_url.rsplit("/", 1)[0]
    with admin.connect() as conn:
        for name in (work, template):
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{template}"'))
    upgrade(normalise_db_url(f"{base}/{template}"))
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{work}" TEMPLATE "{template}"'))
    state = {"engine": create_engine(f"{base}/{work}")}
    tables = [t.name for t in Base.metadata.sorted_tables]
    truncate = "TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " CASCADE"
    delete = ";".join(f'DELETE FROM "{t}"' for t in reversed(tables))  # noqa: S608

    def prepare() -> None:
        _write_rows(state["engine"], rows)

    def run_sql(sql: str) -> Callable[[], None]:
        def reset() -> None:
            with state["engine"].begin() as conn:
                conn.exec_driver_sql(sql)

        return reset

    def recreate() -> None:
        state["engine"].dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE "{work}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{work}" TEMPLATE "{template}"'))
        state["engine"] = create_engine(f"{base}/{work}")
        with state["engine"].connect():
            pass  # a test's first query opens the pool: count it

    out = [
        _row(
            f"PostgreSQL: TRUNCATE {len(tables)} tables", _timed(runs, prepare, run_sql(truncate))
        ),
        _row(f"PostgreSQL: DELETE {len(tables)} tables", _timed(runs, prepare, run_sql(delete))),
        _row("PostgreSQL: database from template", _timed(runs, prepare, recreate)),
    ]
    state["engine"].dispose()
    with admin.connect() as conn:
        for name in (work, template):
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()
    return out


def bench_sqlite(runs: int) -> list[str]:
    folder = Path(tempfile.mkdtemp(prefix="xplorr-bench-reset-"))
    template = folder / "template.db"
    upgrade(f"sqlite+aiosqlite:///{template}")
    counter = iter(range(10**9))

    def copy() -> None:
        shutil.copyfile(template, folder / f"copy-{next(counter)}.db")

    def migrate() -> None:
        upgrade(f"sqlite+aiosqlite:///{folder / f'migrated-{next(counter)}.db'}")

    out = [
        _row("SQLite: copy of the migrated file", _timed(runs, lambda: None, copy)),
        _row("SQLite: migrate a new file", _timed(min(runs, 5), lambda: None, migrate)),
    ]
    shutil.rmtree(folder)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pg-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--rows", type=int, default=20)
    args = parser.parse_args()
    print("| reset | min ms | median ms | max ms |")
    print("|---|---:|---:|---:|")
    for line in bench_postgres(args.pg_url, args.runs, args.rows) + bench_sqlite(args.runs):
        print(line)


if __name__ == "__main__":
    main()
