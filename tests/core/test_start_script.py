"""``scripts/start``, the README's Quickstart, as a user runs it (the demo skipped for time):
XPLORR_BASE_URL follows XPLORR_PORT, the FOCUS exports folder exists and its absolute path is
printed, and a restart skips pip install when nothing changed."""

import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.conftest import TEST_SECRET
from tests.process import REPO, STARTUP_SECONDS, STOP_SECONDS, free_port


@contextmanager
def _started(data_dir: Path, port: int, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("XPLORR_")}
    env |= {
        "XPLORR_DATA_DIR": str(data_dir),
        "XPLORR_PORT": str(port),
        "XPLORR_SECRET_KEY": TEST_SECRET,
        "XPLORR_START_DEMO": "false",
        "XPLORR_LOG_LEVEL": "WARNING",
    }
    with log.open("wb") as out:
        proc = subprocess.Popen(
            ["bash", str(REPO / "scripts" / "start")], env=env, stdout=out, stderr=out
        )
    try:
        deadline = time.monotonic() + STARTUP_SECONDS + 120  # a first install may run
        while True:
            assert proc.poll() is None, log.read_text()
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.3)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=STOP_SECONDS)


def _environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(item.decode().split("=", 1) for item in raw if b"=" in item)


@pytest.mark.slow
@pytest.mark.database_independent
def test_start_sets_base_url_creates_exports_and_restarts_without_pip(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    port = free_port()
    first_log = tmp_path / "first.log"
    with _started(data_dir, port, first_log) as proc:
        # The script execs the server: its environment is the server's.
        assert _environ(proc.pid)["XPLORR_BASE_URL"] == f"http://127.0.0.1:{port}"
        out = first_log.read_text()
    exports = (data_dir / "exports").resolve()
    assert exports.is_dir()
    assert f"FOCUS exports folder: {exports}\n" in out
    assert f"API docs: http://127.0.0.1:{port}/api/v1/docs" in out
    stamp = (REPO / ".venv" / ".xplorr-install-stamp").read_text().strip()
    expected = subprocess.run(
        [str(REPO / "scripts" / "install-stamp")], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert stamp == expected

    second_log = tmp_path / "second.log"
    with _started(data_dir, port, second_log):
        out = second_log.read_text()
    assert "Dependencies unchanged since the last install: skipped pip install." in out
