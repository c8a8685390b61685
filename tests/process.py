"""A real ``xplorr serve`` process on a free port, for tests that need the whole stack: uvicorn,
the process's own logging and settings parsing, a browser talking to it."""

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.conftest import TEST_SECRET

REPO = Path(__file__).resolve().parents[1]
STARTUP_SECONDS = 120  # generous: 2 cores shared by several suites can slow a start a lot
STOP_SECONDS = 15


@dataclass(frozen=True)
class Served:
    url: str
    proc: "subprocess.Popen[bytes]"
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def process_env(
    db_url: str, data_dir: Path, extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The environment of a child ``xplorr``: only the XPLORR_* this test sets (a developer's
    own must not leak in)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("XPLORR_")}
    env |= {
        "XPLORR_DATABASE_URL": db_url,
        "XPLORR_DATA_DIR": str(data_dir),
        "XPLORR_SECRET_KEY": TEST_SECRET,
        "XPLORR_EMBEDDED_WORKER": "false",
    }
    return env | dict(extra or {})


@contextmanager
def serve(db_url: str, data_dir: Path, extra: Mapping[str, str] | None = None) -> Iterator[Served]:
    """``xplorr serve --no-migrate`` (the db_url fixture is migrated already), healthy."""
    port = free_port()
    log = data_dir / f"serve-{port}.log"
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "xplorr", "serve", "--port", str(port), "--no-migrate"],
            cwd=REPO,
            env=process_env(db_url, data_dir, extra),
            stdout=out,
            stderr=out,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            assert proc.poll() is None, f"server exited {proc.returncode}:\n{log.read_text()}"
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, f"server not healthy:\n{log.read_text()}"
            time.sleep(0.2)
        yield Served(url, proc, log)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=STOP_SECONDS)
