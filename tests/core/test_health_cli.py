"""Health probes, and the operator CLI (migrate, user create, demo) run as real processes."""

import os
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import create_engine, select, text
from sqlalchemy.orm import Session

from tests.conftest import AppWith, asgi_client
from xplorr.core.tenancy import Role
from xplorr.users.models import User


async def test_healthz_and_readyz(app: FastAPI) -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        assert (await c.get("/healthz")).json() == {"status": "ok"}
        assert (await c.get("/readyz")).json() == {"status": "ok"}
        await app.state.engine.dispose()
        app.state.engine.url  # noqa: B018 - engine stays usable after dispose (new pool)


async def test_readyz_is_503_when_the_database_is_gone(app_with: AppWith, tmp_path: Path) -> None:
    missing = tmp_path / "no" / "such" / "dir" / "x.db"
    async with asgi_client(
        app_with(database_url=f"sqlite+aiosqlite:///{missing}"), base_url="http://t"
    ) as c:
        r = await c.get("/readyz")
    assert r.status_code == 503
    assert r.json()["error"]["code"] == "NOT_READY"


def _cli(args: list[str], data_dir: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "xplorr", *args],
        capture_output=True,
        text=True,
        timeout=180,  # the demo load, on a busy two-core machine
        env={**os.environ, "XPLORR_DATA_DIR": str(data_dir), **env},
    )


@pytest.mark.slow
@pytest.mark.database_independent  # the embedded default: its own SQLite file
def test_migrate_user_create_and_demo_on_a_fresh_data_dir(tmp_path: Path) -> None:
    data = tmp_path / "data"
    done = _cli(["migrate"], data)
    assert done.returncode == 0, done.stderr
    assert (data / "xplorr.db").exists()
    assert (data / "secret_key").exists() is False  # the key is made when first needed

    made = _cli(
        ["user", "create", "--email", "ops@acme.io", "--org", "acme", "--role", "admin"],
        data,
        XPLORR_NEW_USER_PASSWORD="an operator passphrase",
    )
    assert made.returncode == 0, made.stderr
    weak = _cli(
        ["user", "create", "--email", "weak@acme.io", "--org", "acme"],
        data,
        XPLORR_NEW_USER_PASSWORD="password",
    )
    assert weak.returncode != 0

    demo = _cli(["demo"], data)
    assert demo.returncode == 0, demo.stderr
    assert "demo@xplorr.example.com" in demo.stderr
    again = _cli(["demo"], data)  # idempotent
    assert again.returncode == 0, again.stderr

    engine = create_engine(f"sqlite:///{data / 'xplorr.db'}")
    with Session(engine) as s:
        ops = s.scalar(select(User).where(User.email == "ops@acme.io"))
        assert ops is not None
        assert ops.role == Role.ADMIN
        assert s.scalar(select(User).where(User.email == "weak@acme.io")) is None
        assert s.execute(text("SELECT count(*) FROM users WHERE email LIKE 'demo@%'")).scalar() == 1
    engine.dispose()
    assert oct((data / "secret_key").stat().st_mode & 0o777) == "0o600"


@pytest.mark.slow
def test_worker_logs_never_print_the_database_password(tmp_path: Path) -> None:
    """A worker that cannot reach its database logs the failure, not the credentials (structlog
    and Typer would both print local variables in tracebacks if left to their defaults)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "xplorr", "worker"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={
            **os.environ,
            "XPLORR_DATA_DIR": str(tmp_path),
            "XPLORR_DATABASE_URL": "postgresql://xplorr:s3cr3t-pw-value@127.0.0.1:1/xplorr",
            "XPLORR_JOB_POLL_SECONDS": "0.2",
        },
    )
    # Wait for the failure itself rather than a fixed time: a worker still importing when it
    # gets SIGTERM dies without a word, which would say nothing about what it logs.
    seen: list[str] = []

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            seen.append(line)
            if "worker_tick_failed" in line:
                return

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    reader.join(timeout=30)
    proc.terminate()
    rest, _ = proc.communicate(timeout=15)
    out = "".join(seen) + rest
    assert "worker_tick_failed" in out
    assert "s3cr3t-pw-value" not in out


async def test_readyz_is_503_when_redis_is_gone(app_with: AppWith) -> None:
    async with asgi_client(app_with(redis_url="redis://127.0.0.1:1/0"), base_url="http://t") as c:
        r = await c.get("/readyz")
    assert r.status_code == 503
    assert r.json()["error"]["message"] == "The rate-limit store (Redis) is not reachable."


@pytest.mark.slow
def test_cli_output_is_not_wrapped_when_not_a_terminal(tmp_path: Path) -> None:
    """Piped stderr: one message stays one line, however long (rich wraps at 80 otherwise)."""
    long_id = "not-a-uuid-" + "x" * 150
    done = _cli(["import", "focus", str(tmp_path), "--account", long_id], tmp_path)
    assert done.returncode == 2
    (line,) = [line for line in done.stderr.splitlines() if "--account must be" in line]
    assert long_id in line
    assert len(line) > 160
