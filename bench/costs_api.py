"""Latency of the cost explorer over HTTP (``/costs`` by every groupBy, thenBy, the top 100
resources, every filter (an untagged one too), a tag grouping combined with provider, service
and region filters, the trend by day, week and month, the discovery endpoints), for a 30-day
and a 12-month range, on PostgreSQL. Cases over ``--target`` ms at p95 are listed at the end.

    .venv/bin/python bench/costs_api.py                 # 100k rows, 40 requests a case (< 1 min
                                                        # once loaded)
    .venv/bin/python bench/costs_api.py --big           # 10M rows, 200 requests a case
    .venv/bin/python bench/costs_api.py [--rows 1000000,10000000] [--requests 200]
        [--concurrency 4] [--cases tag] [--range 12] [--db-prefix xplorr_bench_costs_]

The filter values (a service, a region, a resource, a tag value) are read from the loaded data
through ``/costs/dimensions`` and ``/costs/tags`` before measuring.

For each size N the script uses the PostgreSQL database ``<db-prefix><N>`` (base URL
``--server``, default ``postgresql+psycopg://postgres@127.0.0.1:5432``): created and migrated
when missing, loaded through the real ingest (``bench/ingest.py``'s child process, a Parquet
file from ``bench/focus_gen.py`` kept in ``--work-dir``) unless it already holds that load (a
marker table records the rows; ``--reload`` forces it; a reused one is migrated to head).
Data: 13 months from 2025-01-01, three accounts' worth of resources in one ``focus`` account of
one organization.

It then starts ``xplorr serve`` (one uvicorn process, loopback, rate limits off, the worker off),
logs in as the organization's owner, and per case sends a few warm-up requests, then
``--requests`` requests from ``--concurrency`` closed-loop clients in a separate process,
checking every answer is a 200 with a total. Prints a markdown table; stops the server and
leaves the databases for the next run (``--drop`` removes them).
"""

import argparse
import asyncio
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import suppress
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).parent))
from auth_me import _free_port, _wait_healthy

import ingest

REPO = Path(__file__).resolve().parents[1]
PASSWORD = "benchmark passphrase 2026"  # noqa: S105 (a throwaway user in a bench database)
EMAIL = "bench-costs@bench.example.com"
MARKER = "bench_costs_load"
RANGES = {
    "30 days": ("2026-01-01", "2026-01-30"),
    "12 months": ("2025-02-01", "2026-01-31"),
}
GROUP_BYS = (
    "provider",
    "service",
    "region",
    "date",
    "account",
    "resource",
    "sku",
    "chargeCategory",
    "serviceCategory",
    "pricingCategory",
    "month",
    "week",
    "tag:env",
)
TAG_KEY = "env"
Case = tuple[str, str, dict[str, Any]]


def _first_key(items: list[dict[str, Any]]) -> str:
    return next(str(d["key"]) for d in items if d["key"] is not None and not d.get("other"))


def cases(base: str, token: str, start: str, end: str) -> list[Case]:
    """Every case, with filter values read from the data (the largest service, region...)."""
    headers = {"Authorization": f"Bearer {token}"}
    dates = {"startDate": start, "endDate": end}
    dims = httpx.get(f"{base}/api/v1/costs/dimensions", params=dates, headers=headers, timeout=600)
    dims.raise_for_status()
    d = dims.json()
    values = httpx.get(
        f"{base}/api/v1/costs/tags/{TAG_KEY}/values", params=dates, headers=headers, timeout=600
    )
    values.raise_for_status()
    resource = httpx.get(
        f"{base}/api/v1/costs",
        params={**dates, "groupBy": "resource", "limit": 5},
        headers=headers,
        timeout=600,
    )
    resource.raise_for_status()
    service, region = _first_key(d["services"]), _first_key(d["regions"])
    provider, category = _first_key(d["providers"]), _first_key(d["serviceCategories"])
    account = _first_key(d["accounts"])
    tag = f"{TAG_KEY}:{_first_key(values.json()['data'])}"
    out: list[Case] = [
        (f"GET /costs?groupBy={g}", "/api/v1/costs", {"groupBy": g}) for g in GROUP_BYS
    ]
    out += [
        # What a console asks for: the top resources, the rest as one "other" group.
        (
            "GET /costs?groupBy=resource&limit=100",
            "/api/v1/costs",
            {"groupBy": "resource", "limit": "100"},
        ),
        ("GET /costs?groupBy=service&thenBy=region", "/api/v1/costs", {"thenBy": "region"}),
        (
            "GET /costs?groupBy=region&thenBy=tag:env&limit=5",
            "/api/v1/costs",
            {"groupBy": "region", "thenBy": "tag:env", "limit": "5"},
        ),
        (f"GET /costs?provider={provider}", "/api/v1/costs", {"provider": provider}),
        ("GET /costs?accountId=<largest>", "/api/v1/costs", {"accountId": account}),
        (f"GET /costs?service={service}", "/api/v1/costs", {"service": service}),
        (f"GET /costs?region={region}", "/api/v1/costs", {"region": region}),
        ("GET /costs?chargeCategory=Usage", "/api/v1/costs", {"chargeCategory": "Usage"}),
        (f"GET /costs?serviceCategory={category}", "/api/v1/costs", {"serviceCategory": category}),
        (
            "GET /costs?resourceId=<largest>",
            "/api/v1/costs",
            {"resourceId": _first_key(resource.json()["data"])},
        ),
        (f"GET /costs?tag={tag}", "/api/v1/costs", {"tag": tag}),
        (f"GET /costs?tag={TAG_KEY}: (untagged)", "/api/v1/costs", {"tag": f"{TAG_KEY}:"}),
        (
            f"GET /costs?groupBy=tag:env&provider={provider}",
            "/api/v1/costs",
            {"groupBy": "tag:env", "provider": provider},
        ),
        (
            f"GET /costs?groupBy=tag:env&service={service}",
            "/api/v1/costs",
            {"groupBy": "tag:env", "service": service},
        ),
        (
            f"GET /costs?groupBy=tag:env&region={region}",
            "/api/v1/costs",
            {"groupBy": "tag:env", "region": region},
        ),
        (
            f"GET /costs?groupBy=region&tag={tag}",
            "/api/v1/costs",
            {"groupBy": "region", "tag": tag},
        ),
        ("GET /costs/trend", "/api/v1/costs/trend", {}),
        ("GET /costs/trend?granularity=week", "/api/v1/costs/trend", {"granularity": "week"}),
        ("GET /costs/trend?granularity=month", "/api/v1/costs/trend", {"granularity": "month"}),
        (
            f"GET /costs/trend?tag={tag}&region={region}",
            "/api/v1/costs/trend",
            {"tag": tag, "region": region},
        ),
        ("GET /costs/dimensions", "/api/v1/costs/dimensions", {}),
        ("GET /costs/tags", "/api/v1/costs/tags", {}),
        ("GET /costs/tags/env/values", f"/api/v1/costs/tags/{TAG_KEY}/values", {}),
    ]
    return out


def _database_url(server: str, rows: int, prefix: str = "xplorr_bench_costs_") -> str:
    return f"{server.rstrip('/')}/{prefix}{rows}"


def _marker(database_url: str) -> dict[str, Any] | None:
    import psycopg

    with psycopg.connect(ingest.libpq_url(database_url)) as conn:
        exists = conn.execute("SELECT to_regclass(%s)", (MARKER,)).fetchone()
        if not exists or exists[0] is None:
            return None
        row = conn.execute(
            f"SELECT rows, stored, account_id::text, ingest_seconds, max_rss FROM {MARKER}"  # noqa: S608
        ).fetchone()
        if row is None:
            return None
        count = conn.execute(
            "SELECT count(*) FROM cost_records WHERE cloud_account_id = %s::uuid", (row[2],)
        ).fetchone()
        rollups = conn.execute(
            "SELECT count(*) FROM cost_rollups WHERE cloud_account_id = %s::uuid", (row[2],)
        ).fetchone()
    if not count or count[0] != row[1]:
        return None
    return {
        "rows": row[0],
        "stored": row[1],
        "account_id": row[2],
        "ingest_seconds": row[3],
        "max_rss": row[4],
        "rollups": rollups[0] if rollups else 0,
    }


def _user_org(database_url: str) -> str | None:
    import psycopg

    with psycopg.connect(ingest.libpq_url(database_url)) as conn:
        row = conn.execute("SELECT org_id::text FROM users WHERE email = %s", (EMAIL,)).fetchone()
    return row[0] if row else None


def load(database_url: str, rows: int, work_dir: Path, data_dir: str) -> dict[str, Any]:
    """Load ``rows`` generated rows through the real ingest; returns the marker."""
    ingest.reset_database(database_url)
    env = ingest.bench_env(data_dir, database_url) | {"XPLORR_NEW_USER_PASSWORD": PASSWORD}
    ingest.migrate(env)
    proc = subprocess.run(
        [sys.executable, "-m", "xplorr", "user", "create", "--email", EMAIL, "--org", "bench"],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if proc.returncode != 0:
        sys.exit(f"xplorr user create failed:\n{proc.stdout}{proc.stderr}")
    org_id = _user_org(database_url)
    assert org_id is not None
    _, account_id = asyncio.run(ingest.create_account(database_url, org_id=org_id))
    path = ingest.generated_file(work_dir, rows, "parquet", False)
    print(f"loading {rows} rows into {database_url} ...", file=sys.stderr)
    result = ingest.run_ingest_child(env, account_id, path)
    stored = ingest.cost_record_count(database_url, account_id)
    import psycopg

    with psycopg.connect(ingest.libpq_url(database_url)) as conn:
        conn.execute(
            f"CREATE TABLE {MARKER} (rows bigint, stored bigint, account_id uuid,"
            " ingest_seconds float, max_rss bigint)"
        )
        conn.execute(
            f"INSERT INTO {MARKER} VALUES (%s, %s, %s, %s, %s)",  # noqa: S608
            (rows, stored, account_id, result["seconds"], result["max_rss"]),
        )
    with psycopg.connect(ingest.libpq_url(database_url), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    marker = _marker(database_url)
    assert marker is not None
    return marker


async def httpx_requests(
    url: str, token: str, params: dict[str, str], requests: int, concurrency: int
) -> dict[str, Any]:
    """``requests`` GETs from ``concurrency`` closed-loop clients; latencies in ms."""
    latencies: list[float] = []
    sizes: list[int] = []
    failures: list[str] = []
    remaining = requests
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(headers=headers, limits=limits, timeout=60) as client:

        async def user() -> None:
            nonlocal remaining
            while remaining > 0:
                remaining -= 1
                t0 = time.perf_counter()
                r = await client.get(url, params=params)
                latencies.append((time.perf_counter() - t0) * 1000)
                sizes.append(len(r.content))
                if r.status_code != 200 or "totalCost" not in r.text:
                    failures.append(f"{r.status_code} {r.text[:300]}")

        started = time.perf_counter()
        await asyncio.gather(*(user() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    q = statistics.quantiles(latencies, n=100, method="inclusive")
    return {
        "n": len(latencies),
        "rps": len(latencies) / elapsed,
        "p50": q[49],
        "p95": q[94],
        "p99": q[98],
        "mean": statistics.fmean(latencies),
        "kb": max(sizes) / 1024,
        "failures": failures[:3],
        "failed": len(failures),
    }


def _measure(
    url: str, token: str, params: dict[str, str], requests: int, concurrency: int
) -> dict[str, Any]:
    code = (
        "import asyncio, json, sys; sys.path.insert(0, sys.argv[1]); "
        "from costs_api import httpx_requests; "
        "print(json.dumps(asyncio.run(httpx_requests(*json.loads(sys.argv[2])))))"
    )
    args = json.dumps([url, token, params, requests, concurrency])
    out = subprocess.run(
        [sys.executable, "-c", code, str(Path(__file__).parent), args],
        capture_output=True,
        text=True,
        check=True,
        timeout=1800,
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def run_cases(
    database_url: str,
    data_dir: str,
    requests: int,
    concurrency: int,
    only: str = "",
    only_range: str = "",
) -> list[tuple[str, str, dict[str, Any]]]:
    env = ingest.bench_env(data_dir, database_url)
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    log = Path(data_dir) / "serve.log"
    server: subprocess.Popen[bytes] | None = None
    results = []
    try:
        with log.open("wb") as out:
            server = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "xplorr",
                    "serve",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                    "--no-migrate",
                ],
                env=env,
                cwd=REPO,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        _wait_healthy(base, server, log)
        login = httpx.post(
            f"{base}/api/v1/auth/login", json={"email": EMAIL, "password": PASSWORD}, timeout=30
        )
        login.raise_for_status()
        token = login.json()["access_token"]
        for range_name, (start, end) in RANGES.items():
            if only_range not in range_name:
                continue
            for case, path, extra in cases(base, token, start, end):
                if only not in case:
                    continue
                params = {"startDate": start, "endDate": end, **extra}
                check = httpx.get(
                    base + path,
                    params=params,
                    headers={"Authorization": f"Bearer {token}"},
                    timeout=120,
                )
                if check.status_code != 200:
                    sys.exit(f"{path} {params}: {check.status_code} {check.text[:500]}")
                _measure(base + path, token, params, max(5, requests // 20), concurrency)  # warm
                results.append(
                    (case, range_name, _measure(base + path, token, params, requests, concurrency))
                )
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(timeout=15)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--rows", default="100000", help="comma-separated sizes")
    parser.add_argument("--big", action="store_true", help="10M rows, 200 requests a case")
    parser.add_argument("--requests", type=int, default=None, help="per case (40; --big 200)")
    parser.add_argument("--cases", default="", help="only the cases whose name contains this")
    parser.add_argument("--range", default="", help="only the ranges whose name contains this")
    parser.add_argument("--target", type=float, default=150.0, help="p95 target, ms")
    parser.add_argument("--db-prefix", default="xplorr_bench_costs_")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--server", default="postgresql+psycopg://postgres@127.0.0.1:5432")
    parser.add_argument(
        "--work-dir", type=Path, default=Path(tempfile.gettempdir()) / "xplorr-bench"
    )
    parser.add_argument("--reload", action="store_true", help="load again even if loaded")
    parser.add_argument("--drop", action="store_true", help="drop the databases at the end")
    args = parser.parse_args()
    sizes = [10_000_000] if args.big else [int(x) for x in args.rows.split(",") if x.strip()]
    if args.requests is None:
        args.requests = 200 if args.big else 40

    table: list[tuple[int, dict[str, Any], str, str, dict[str, Any]]] = []
    for rows in sizes:
        database_url = _database_url(args.server, rows, args.db_prefix)
        data_dir = tempfile.mkdtemp(prefix="xplorr-bench-costs-")
        try:
            ingest.ensure_database(database_url)
            marker = None if args.reload else _marker_or_none(database_url)
            if marker is None or marker["rows"] != rows:
                marker = load(database_url, rows, args.work_dir, data_dir)
            else:
                print(f"reusing {database_url} ({marker['stored']} rows)", file=sys.stderr)
                # A reused load follows the schema: a new migration's backfill runs here.
                ingest.migrate(ingest.bench_env(data_dir, database_url))
            for case, range_name, r in run_cases(
                database_url, data_dir, args.requests, args.concurrency, args.cases, args.range
            ):
                table.append((rows, marker, case, range_name, r))
        finally:
            shutil.rmtree(data_dir, ignore_errors=True)
            if args.drop:
                with suppress(Exception):
                    _drop(database_url)

    print(
        f"\nPostgreSQL; 1 uvicorn process; {args.requests} requests per case from "
        f"{args.concurrency} concurrent httpx clients (after a warm-up); Python "
        f"{platform.python_version()}, {os.cpu_count()} CPUs; load average at the end "
        f"{os.getloadavg()[0]:.1f}\n"
    )
    print("| cost rows | endpoint | range | p50 ms | p95 ms | p99 ms | req/s | KB | failed |")
    print("|---:|---|---|---:|---:|---:|---:|---:|---:|")
    for _, marker, case, range_name, r in table:
        print(
            f"| {marker['stored']:,} | `{case}` | {range_name} | {r['p50']:.1f} | {r['p95']:.1f} "
            f"| {r['p99']:.1f} | {r['rps']:.1f} | {r['kb']:,.0f} | {r['failed']} |"
        )
    print()
    over = [(m, c, rn, r) for _, m, c, rn, r in table if r["p95"] > args.target]
    print(f"{len(over)} of {len(table)} cases over {args.target:.0f} ms at p95")
    for marker, case, range_name, r in over:
        print(
            f"- {marker['stored']:,} rows, `{case}`, {range_name}: p95 {r['p95']:.0f} ms "
            f"({r['p95'] / args.target:.1f}x)"
        )
    for rows in sizes:
        marker = next((m for n, m, *_ in table if n == rows), None)
        if marker:
            print(
                f"load of {rows:,} generated rows: {marker['ingest_seconds']:.0f} s "
                f"({rows / marker['ingest_seconds'] * 60:,.0f} rows/min), "
                f"peak RSS {marker['max_rss'] / 1e6:.0f} MB; "
                f"{marker['rollups']:,} cost_rollups rows"
            )
    for *_, case, range_name, r in table:
        if r["failures"]:
            print(f"failures of {case} {range_name}: {r['failures']}")


def _marker_or_none(database_url: str) -> dict[str, Any] | None:
    try:
        return _marker(database_url)
    except Exception as e:  # an unmigrated or foreign database: load it afresh
        print(f"no usable load in {database_url}: {e}", file=sys.stderr)
        return None


def _drop(database_url: str) -> None:
    import psycopg
    from psycopg import sql

    base, _, name = ingest.libpq_url(database_url).rpartition("/")
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


if __name__ == "__main__":
    main()
