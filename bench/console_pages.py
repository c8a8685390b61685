"""Server-side render time of the web console's main pages over HTTP, signed in through the
login form like a browser (session cookie), on the PostgreSQL load of ``bench/costs_api.py``.

    .venv/bin/python bench/console_pages.py                  # 100k cost rows, 30 requests a page
    .venv/bin/python bench/console_pages.py --rows 10000000  # the 10M-row organization
    .venv/bin/python bench/console_pages.py [--requests 30] [--concurrency 2] [--target 300]

The database ``<db-prefix><rows>`` is created and loaded by ``costs_api.load`` when missing (the
same data: 13 months, one ``focus`` account) and reused otherwise. Each page gets a few warm-up
requests, then ``--requests`` GETs from ``--concurrency`` clients; a page the console does not
serve (404) is listed as skipped. The time is the whole answer: the page's in-process API calls,
rendering and transfer (the browser's own work is not counted). Pages over ``--target`` ms at p95
are listed at the end.
"""

import argparse
import asyncio
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).parent))
import costs_api
from auth_me import _free_port, _wait_healthy

import ingest

RANGE = {"startDate": "2025-02-01", "endDate": "2026-01-31"}
PAGES: tuple[tuple[str, str, dict[str, str]], ...] = (
    ("overview", "/", {}),
    ("cost explorer, by service, 12 months", "/costs", {**RANGE, "groupBy": "service"}),
    (
        "cost explorer, region then service, by month",
        "/costs",
        {**RANGE, "groupBy": "region", "thenBy": "service", "granularity": "month"},
    ),
    ("cost explorer, top 100 resources", "/costs", {**RANGE, "groupBy": "resource"}),
    ("anomalies", "/anomalies", {}),
    ("budgets", "/budgets", {}),
    ("recommendations", "/recommendations", {}),
    ("inventory", "/inventory", {}),
    ("cloud accounts", "/cloud-accounts", {}),
    ("team", "/team", {}),
    ("audit log", "/audit", {}),
)


def sign_in(base: str) -> dict[str, str]:
    """The cookies of a browser signed in through the login form."""
    with httpx.Client(base_url=base, timeout=60) as client:
        form = client.get("/login")
        token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', form.text)
        if token is None:
            sys.exit("the login page has no CSRF field")
        done = client.post(
            "/login",
            data={
                "csrf_token": token.group(1),
                "email": costs_api.EMAIL,
                "password": costs_api.PASSWORD,
                "next": "/",
            },
        )
        if done.status_code != 303:
            sys.exit(f"sign-in failed: {done.status_code} {done.text[:300]}")
        return dict(client.cookies)


async def measure(
    url: str, cookies: dict[str, str], params: dict[str, str], requests: int, concurrency: int
) -> dict[str, Any]:
    latencies: list[float] = []
    failures: list[str] = []
    remaining = requests
    async with httpx.AsyncClient(cookies=cookies, timeout=120) as client:

        async def user() -> None:
            nonlocal remaining
            while remaining > 0:
                remaining -= 1
                t0 = time.perf_counter()
                r = await client.get(url, params=params)
                latencies.append((time.perf_counter() - t0) * 1000)
                if r.status_code != 200 or "<h1" not in r.text:
                    failures.append(f"{r.status_code} {r.text[:200]}")

        await asyncio.gather(*(user() for _ in range(concurrency)))
    q = statistics.quantiles(latencies, n=100, method="inclusive")
    return {"p50": q[49], "p95": q[94], "max": max(latencies), "failed": len(failures)}


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--target", type=float, default=300.0, help="p95 target, ms")
    parser.add_argument("--db-prefix", default="xplorr_bench_costs_")
    parser.add_argument("--server", default="postgresql+psycopg://postgres@127.0.0.1:5432")
    parser.add_argument(
        "--work-dir", type=Path, default=Path(tempfile.gettempdir()) / "xplorr-bench"
    )
    args = parser.parse_args()

    database_url = costs_api._database_url(args.server, args.rows, args.db_prefix)
    data_dir = tempfile.mkdtemp(prefix="xplorr-bench-console-")
    server: subprocess.Popen[bytes] | None = None
    rows: list[tuple[str, dict[str, Any] | None]] = []
    try:
        ingest.ensure_database(database_url)
        marker = costs_api._marker_or_none(database_url)
        if marker is None or marker["rows"] != args.rows:
            marker = costs_api.load(database_url, args.rows, args.work_dir, data_dir)
        else:
            ingest.migrate(ingest.bench_env(data_dir, database_url))
        env = ingest.bench_env(data_dir, database_url)
        port = _free_port()
        base = f"http://127.0.0.1:{port}"
        env["XPLORR_BASE_URL"] = base
        log = Path(data_dir) / "serve.log"
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
                cwd=costs_api.REPO,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        _wait_healthy(base, server, log)
        cookies = sign_in(base)
        for name, path, params in PAGES:
            probe = httpx.get(base + path, params=params, cookies=cookies, timeout=120)
            if probe.status_code == 404:
                rows.append((name, None))
                continue
            if probe.status_code != 200:
                sys.exit(f"{path} {params}: {probe.status_code} {probe.text[:300]}")
            asyncio.run(measure(base + path, cookies, params, 4, 1))  # warm-up
            rows.append(
                (
                    name,
                    asyncio.run(
                        measure(base + path, cookies, params, args.requests, args.concurrency)
                    ),
                )
            )
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=15)
        shutil.rmtree(data_dir, ignore_errors=True)

    print(
        f"\n{marker['stored']:,} cost rows on PostgreSQL; 1 uvicorn process; {args.requests} "
        f"requests a page from {args.concurrency} clients after a warm-up; Python "
        f"{platform.python_version()}, {os.cpu_count()} CPUs; load average at the end "
        f"{os.getloadavg()[0]:.1f}\n"
    )
    print("| page | p50 ms | p95 ms | max ms | failed |")
    print("|---|---:|---:|---:|---:|")
    for name, r in rows:
        if r is None:
            print(f"| {name} | skipped (404) | | | |")
        else:
            print(f"| {name} | {r['p50']:.0f} | {r['p95']:.0f} | {r['max']:.0f} | {r['failed']} |")
    over = [(n, r) for n, r in rows if r is not None and r["p95"] > args.target]
    print(f"\n{len(over)} pages over {args.target:.0f} ms at p95")
    for name, r in over:
        print(f"- {name}: p95 {r['p95']:.0f} ms")


if __name__ == "__main__":
    main()
