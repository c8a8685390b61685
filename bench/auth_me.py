"""Requests per second of ``GET /api/v1/auth/me`` (JWT checked against its login on every
request) against the bare JSON ``GET /healthz``, in one ``xplorr serve`` process.

    .venv/bin/python bench/auth_me.py [--duration 10] [--connections 32] [--database-url URL]

The server runs with production argon2 parameters and rate limits off (a benchmark must not
measure the limiter's 429s). The load comes from ``wrk`` when installed (``apt-get install wrk``),
otherwise from an asyncio httpx client in a separate process. Results are printed as a table.
"""

import argparse
import asyncio
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
PASSWORD = "benchmark passphrase 2026"  # noqa: S105 (a throwaway user in a temp database)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(data_dir: str, database_url: str | None) -> dict[str, str]:
    env = {
        **os.environ,
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


def _wrk(url: str, token: str | None, duration: int, connections: int) -> dict[str, float]:
    script = None
    if token:
        script = Path(tempfile.mkstemp(suffix=".lua")[1])
        script.write_text(f'wrk.headers["Authorization"] = "Bearer {token}"\n')
    cmd = ["wrk", f"-t{min(2, connections)}", f"-c{connections}", f"-d{duration}s", "--latency"]
    if script:
        cmd += ["-s", str(script)]
    out = subprocess.run([*cmd, url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]

    def pct(p: str) -> float:
        m = re.search(rf"\s{p}%\s+([\d.]+)(us|ms|s)", out)
        value, unit = float(m.group(1)), m.group(2)  # type: ignore[union-attr]
        return value * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "rps": rps,
        "p50": pct("50"),
        "p99": pct("99"),
        "errors": float(non2xx.group(1)) if non2xx else 0.0,
    }


async def _httpx_load(url: str, token: str | None, duration: int, connections: int) -> dict:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    latencies: list[float] = []
    errors = 0
    stop = time.monotonic() + duration
    limits = httpx.Limits(max_connections=connections)
    async with httpx.AsyncClient(headers=headers, limits=limits, timeout=30) as client:

        async def user() -> None:
            nonlocal errors
            while time.monotonic() < stop:
                t0 = time.perf_counter()
                r = await client.get(url)
                latencies.append((time.perf_counter() - t0) * 1000)
                errors += r.status_code != 200

        started = time.monotonic()
        await asyncio.gather(*(user() for _ in range(connections)))
        elapsed = time.monotonic() - started
    q = statistics.quantiles(latencies, n=100)
    return {"rps": len(latencies) / elapsed, "p50": q[49], "p99": q[98], "errors": errors}


def _load(url: str, token: str | None, duration: int, connections: int) -> dict[str, float]:
    if shutil.which("wrk"):
        return _wrk(url, token, duration, connections)
    # A separate process, so the load generator does not share the server's event loop.
    here = str(Path(__file__).parent)
    code = (
        f"import asyncio, json, sys; sys.path.insert(0, {here!r}); "
        "from auth_me import _httpx_load; "
        "print(json.dumps(asyncio.run(_httpx_load(*json.loads(sys.argv[1])))))"
    )
    args = json.dumps([url, token, duration, connections])
    out = subprocess.run([sys.executable, "-c", code, args], capture_output=True, text=True)
    return json.loads(out.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--database-url", default=None, help="default: a fresh embedded SQLite")
    args = parser.parse_args()

    data_dir = tempfile.mkdtemp(prefix="xplorr-bench-")
    env = _env(data_dir, args.database_url)
    xplorr = [sys.executable, "-m", "xplorr"]
    email = f"bench-{os.getpid()}@bench.example.com"
    subprocess.run([*xplorr, "migrate"], env=env, check=True, capture_output=True, cwd=REPO)
    subprocess.run(
        [*xplorr, "user", "create", "--email", email, "--org", f"bench-{os.getpid()}"],
        env=env,
        check=True,
        capture_output=True,
        cwd=REPO,
    )
    port = _free_port()
    server = subprocess.Popen(
        [*xplorr, "serve", "--port", str(port), "--no-migrate"], env=env, cwd=REPO
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        login = httpx.post(
            f"{base}/api/v1/auth/login", json={"email": email, "password": PASSWORD}, timeout=30
        )
        login.raise_for_status()
        token = login.json()["access_token"]
        _load(f"{base}/healthz", None, 2, args.connections)  # warm-up
        rows = [
            (
                "GET /healthz (bare JSON)",
                _load(f"{base}/healthz", None, args.duration, args.connections),
            ),
            (
                "GET /api/v1/auth/me (JWT)",
                _load(f"{base}/api/v1/auth/me", token, args.duration, args.connections),
            ),
        ]
    finally:
        server.terminate()
        server.wait(timeout=15)
        shutil.rmtree(data_dir, ignore_errors=True)
    db = "PostgreSQL" if args.database_url else "SQLite (embedded)"
    tool = "wrk" if shutil.which("wrk") else "httpx"
    print(f"\n{db}, 1 uvicorn process, {args.connections} connections, {args.duration} s, {tool}\n")
    print("| endpoint | req/s | p50 ms | p99 ms | non-2xx |")
    print("|---|---|---|---|---|")
    for name, r in rows:
        print(f"| {name} | {r['rps']:.0f} | {r['p50']:.1f} | {r['p99']:.1f} | {r['errors']:.0f} |")


if __name__ == "__main__":
    main()
