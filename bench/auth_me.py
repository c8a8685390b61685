"""Requests per second and latency of ``GET /api/v1/auth/me`` (JWT checked against its login on
every request) against the bare JSON ``GET /healthz``, in one ``xplorr serve`` process.

    .venv/bin/python bench/auth_me.py [--duration 10] [--connections 32] [--database-url URL]

The script makes a temp data dir, migrates, creates a user with ``xplorr user create``, starts
``xplorr serve`` on a free port and logs in. The server runs with the production argon2
parameters and rate limits off (a benchmark must not measure the limiter's 429s); every other
``XPLORR_*`` variable of the calling shell is dropped so the numbers do not depend on it.
``--database-url`` must name an existing, disposable PostgreSQL database; it is migrated.

The load comes from ``wrk`` when installed (``apt-get install wrk``), otherwise from an asyncio
httpx client; either way in a separate process from the server. Results are printed as a
markdown table. Numbers are for comparison on one machine, not a claim about production.
"""

import argparse
import asyncio
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import suppress
from pathlib import Path
from typing import TypedDict

import httpx

REPO = Path(__file__).resolve().parents[1]
PASSWORD = "benchmark passphrase 2026"  # noqa: S105 (a throwaway user in a temp database)
STARTUP_SECONDS = 60

# wrk calls done() once at the end; print the summary as one JSON line (latencies in µs).
WRK_DONE = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'XPLORR_BENCH {"requests": %d, "duration_us": %d, "non2xx": %d, "socket_errors": %d,'
    .. ' "p50": %d, "p95": %d, "p99": %d, "max": %d}\\n',
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max))
end
"""


class Result(TypedDict):
    rps: float
    p50: float  # milliseconds
    p95: float
    p99: float
    non2xx: int
    socket_errors: int


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(data_dir: str, database_url: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("XPLORR_")}
    env |= {
        "XPLORR_DATA_DIR": data_dir,
        "XPLORR_SECRET_KEY": "bench-secret-key-bench-secret-key-0123456789",
        "XPLORR_RATE_LIMITS_ENABLED": "false",
        "XPLORR_EMBEDDED_WORKER": "false",
        "XPLORR_LOG_LEVEL": "WARNING",
        "XPLORR_NEW_USER_PASSWORD": PASSWORD,
    }
    if database_url:
        env["XPLORR_DATABASE_URL"] = database_url
    return env


def _wrk(url: str, token: str | None, duration: int, connections: int, threads: int) -> Result:
    with tempfile.TemporaryDirectory(prefix="xplorr-wrk-") as tmp:
        script = Path(tmp) / "bench.lua"
        header = f'wrk.headers["Authorization"] = "Bearer {token}"\n' if token else ""
        script.write_text(header + WRK_DONE)
        cmd = [
            "wrk",
            f"-t{min(threads, connections)}",
            f"-c{connections}",
            f"-d{duration}s",
            "--timeout",
            "10s",
            "-s",
            str(script),
            url,
        ]
        out = subprocess.run(
            cmd, capture_output=True, text=True, check=True, timeout=duration + 60
        ).stdout
    line = next(x for x in out.splitlines() if x.startswith("XPLORR_BENCH "))
    raw = json.loads(line.removeprefix("XPLORR_BENCH "))
    return {
        "rps": raw["requests"] / (raw["duration_us"] / 1e6),
        "p50": raw["p50"] / 1000,
        "p95": raw["p95"] / 1000,
        "p99": raw["p99"] / 1000,
        "non2xx": raw["non2xx"],
        "socket_errors": raw["socket_errors"],
    }


async def httpx_load(url: str, token: str | None, duration: int, connections: int) -> Result:
    """The fallback load generator: ``connections`` closed-loop clients for ``duration`` s."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    latencies: list[float] = []
    non2xx = socket_errors = 0
    stop = time.monotonic() + duration
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(headers=headers, limits=limits, timeout=10) as client:

        async def user() -> None:
            nonlocal non2xx, socket_errors
            while time.monotonic() < stop:
                t0 = time.perf_counter()
                try:
                    r = await client.get(url)
                except httpx.TransportError:
                    socket_errors += 1
                    continue
                latencies.append((time.perf_counter() - t0) * 1000)
                non2xx += not r.is_success

        started = time.monotonic()
        await asyncio.gather(*(user() for _ in range(connections)))
        elapsed = time.monotonic() - started
    q = statistics.quantiles(latencies, n=100, method="inclusive")
    return {
        "rps": len(latencies) / elapsed,
        "p50": q[49],
        "p95": q[94],
        "p99": q[98],
        "non2xx": non2xx,
        "socket_errors": socket_errors,
    }


def _httpx_subprocess(url: str, token: str | None, duration: int, connections: int) -> Result:
    # A separate process, so the load generator does not share the server's CPU time slice
    # nor this script's interpreter.
    code = (
        "import asyncio, json, sys; sys.path.insert(0, sys.argv[1]); "
        "from auth_me import httpx_load; "
        "print(json.dumps(asyncio.run(httpx_load(*json.loads(sys.argv[2])))))"
    )
    args = json.dumps([url, token, duration, connections])
    out = subprocess.run(
        [sys.executable, "-c", code, str(Path(__file__).parent), args],
        capture_output=True,
        text=True,
        check=True,
        timeout=duration + 60,
    )
    result: Result = json.loads(out.stdout)
    return result


def _load(
    tool: str, url: str, token: str | None, duration: int, connections: int, threads: int
) -> Result:
    if tool == "wrk":
        return _wrk(url, token, duration, connections, threads)
    return _httpx_subprocess(url, token, duration, connections)


def _xplorr(env: dict[str, str], *args: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "xplorr", *args],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if proc.returncode != 0:
        sys.exit(f"xplorr {' '.join(args[:2])} failed:\n{proc.stdout}{proc.stderr}")


def _wait_healthy(base: str, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit(f"xplorr serve exited with {server.returncode}:\n{log.read_text()}")
        with suppress(httpx.TransportError):
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        time.sleep(0.1)
    sys.exit(f"xplorr serve not healthy after {STARTUP_SECONDS} s:\n{log.read_text()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per endpoint")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1, help="wrk threads (default 1)")
    parser.add_argument("--database-url", default=None, help="default: a fresh embedded SQLite")
    parser.add_argument("--tool", choices=["auto", "wrk", "httpx"], default="auto")
    args = parser.parse_args()
    tool = args.tool if args.tool != "auto" else ("wrk" if shutil.which("wrk") else "httpx")

    data_dir = tempfile.mkdtemp(prefix="xplorr-bench-")
    env = _env(data_dir, args.database_url)
    email = f"bench-{os.getpid()}@bench.example.com"
    server: subprocess.Popen[bytes] | None = None
    try:
        _xplorr(env, "migrate")
        _xplorr(env, "user", "create", "--email", email, "--org", f"bench-{os.getpid()}")
        port = _free_port()
        base = f"http://127.0.0.1:{port}"
        log = Path(data_dir) / "serve.log"
        with log.open("wb") as out:
            server = subprocess.Popen(
                [sys.executable, "-m", "xplorr", "serve", "--port", str(port), "--no-migrate"],
                env=env,
                cwd=REPO,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        _wait_healthy(base, server, log)
        login = httpx.post(
            f"{base}/api/v1/auth/login", json={"email": email, "password": PASSWORD}, timeout=30
        )
        login.raise_for_status()
        token = login.json()["access_token"]
        me = httpx.get(
            f"{base}/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"}, timeout=10
        )
        me.raise_for_status()
        assert me.json()["email"] == email

        targets = [
            ("GET /healthz (bare JSON)", f"{base}/healthz", None),
            ("GET /api/v1/auth/me (JWT)", f"{base}/api/v1/auth/me", token),
        ]
        for _, url, tok in targets:  # warm-up: connections, caches, the DB pool
            _load(tool, url, tok, 2, args.connections, args.threads)
        rows = [
            (name, _load(tool, url, tok, args.duration, args.connections, args.threads))
            for name, url, tok in targets
        ]
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(timeout=15)
        shutil.rmtree(data_dir, ignore_errors=True)

    db = "PostgreSQL" if args.database_url else "SQLite (embedded)"
    print(
        f"\n{db}; 1 uvicorn process; load: {tool}"
        f"{f' -t{args.threads}' if tool == 'wrk' else ''} -c{args.connections}, "
        f"{args.duration} s per endpoint; Python {platform.python_version()}, "
        f"{os.cpu_count()} CPUs\n"
    )
    print("| endpoint | req/s | p50 ms | p95 ms | p99 ms | non-2xx | socket errors |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, r in rows:
        print(
            f"| {name} | {r['rps']:.0f} | {r['p50']:.2f} | {r['p95']:.2f} | {r['p99']:.2f} "
            f"| {r['non2xx']} | {r['socket_errors']} |"
        )
    if tool == "httpx":
        print("\n(httpx load generator: client-bound near a few hundred req/s; install wrk.)")


if __name__ == "__main__":
    main()
