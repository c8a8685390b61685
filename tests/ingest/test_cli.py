"""``xplorr import focus PATH --account ID`` end to end (the real command, its own engine)."""

import asyncio
import uuid
from decimal import Decimal
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession
from typer.testing import CliRunner, Result

from tests.conftest import ClientFor
from tests.ingest.conftest import EXPECTED, FINOPS, FINOPS_TOTAL, stored_sums
from tests.ingest.focus_rows import row, write_csv
from xplorr.cli import app
from xplorr.cloud_accounts.models import CloudAccount
from xplorr.users.models import User


async def run_cli(db_url: str, data_dir: Path, *args: str) -> Result:
    env = {"XPLORR_DATABASE_URL": db_url, "XPLORR_DATA_DIR": str(data_dir)}
    runner = CliRunner()
    return await asyncio.to_thread(runner.invoke, app, ["import", "focus", *args], env=env)


async def test_import_prints_the_summary_and_commits(
    db: AsyncSession, db_url: str, account: CloudAccount, samples: Path, tmp_path: Path
) -> None:
    result = await run_cli(db_url, tmp_path, str(samples / FINOPS), "--account", str(account.id))
    assert result.exit_code == 0, result.output
    out = result.output
    assert "Rows read: 1,000" in out
    assert "Billing periods imported: 2024-09, 2024-10" in out
    assert f"Total BilledCost USD: {FINOPS_TOTAL[0]}" in out  # exact, all digits
    assert "Days: 30 (2024-09-01 to 2024-09-30)" in out
    total = (await stored_sums(db, account))[account.id][0]
    assert abs(total - FINOPS_TOTAL[0]) <= Decimal("1e-6")

    again = await run_cli(db_url, tmp_path, str(samples / FINOPS), "--account", str(account.id))
    assert again.exit_code == 0, again.output
    assert "Billing periods skipped: 2024-09 (unchanged), 2024-10 (unchanged)" in again.output
    assert "Total BilledCost: nothing imported" in again.output
    await db.rollback()  # a fresh read: see what the command committed
    await db.refresh(account)
    assert (await stored_sums(db, account))[account.id][0] == total


async def test_errors_are_one_clear_line(
    db: AsyncSession, db_url: str, account: CloudAccount, tmp_path: Path
) -> None:
    bad = write_csv(tmp_path / "exports" / "bad.csv", [row(), row(), row(BillingCurrency="usd1")])
    result = await run_cli(db_url, tmp_path, str(bad), "--account", str(account.id))
    assert result.exit_code == 1
    assert "bad.csv: data row 3" in result.output
    assert "BillingCurrency" in result.output
    assert "Traceback" not in result.output
    assert await stored_sums(db, account) == {}

    unknown = await run_cli(db_url, tmp_path, str(bad), "--account", str(uuid.uuid4()))
    assert unknown.exit_code == 1
    assert "No cloud account with id" in unknown.output
    not_a_uuid = await run_cli(db_url, tmp_path, str(bad), "--account", "acme")
    assert not_a_uuid.exit_code == 2
    assert "UUID" in not_a_uuid.output
    missing = await run_cli(db_url, tmp_path, str(tmp_path / "nope"), "--account", str(account.id))
    assert missing.exit_code == 1
    assert "no such file or directory" in missing.output


def test_summary_amounts_keep_every_digit() -> None:
    from xplorr.ingest.command import summary_lines
    from xplorr.ingest.pipeline import ImportSummary

    lines = summary_lines(
        ImportSummary(
            totals={
                "USD": EXPECTED["focus_sample_costandusage_aws_1000.csv"]["AWS"][0],
                "EUR": Decimal("-1234.5"),
            }
        )
    )
    assert "Total BilledCost EUR: -1,234.5" in lines
    assert "Total BilledCost USD: 41,111.69488077753375" in lines


async def test_an_import_is_a_sync_run_that_sync_status_shows(
    db: AsyncSession,
    db_url: str,
    account: CloudAccount,
    samples: Path,
    tmp_path: Path,
    client_for: ClientFor,
    owner: User,
) -> None:
    result = await run_cli(db_url, tmp_path, str(samples / FINOPS), "--account", str(account.id))
    assert result.exit_code == 0, result.output
    client = client_for(owner)
    (status,) = (await client.get("/sync/status")).json()["data"]
    assert status["accountId"] == str(account.id)
    assert status["trigger"] == "cli"
    assert status["state"] == "succeeded"
    assert status["rows"] == 1000
    assert status["lastSyncedAt"] is not None
    assert status["dataThrough"] is not None
    (run,) = (await client.get("/sync/jobs")).json()["data"]
    assert run["trigger"] == "cli"
    assert run["detail"]["periodsImported"] == ["2024-09", "2024-10"]
    assert run["detail"]["totals"]["USD"] == str(FINOPS_TOTAL[0])

    bad = write_csv(tmp_path / "exports" / "bad.csv", [row(), row(BillingCurrency="usd1")])
    failed = await run_cli(db_url, tmp_path, str(bad), "--account", str(account.id))
    assert failed.exit_code == 1
    (status,) = (await client.get("/sync/status")).json()["data"]
    assert (status["trigger"], status["state"]) == ("cli", "failed")
    assert "bad.csv: data row 2" in status["error"]
    runs = (await client.get("/sync/jobs")).json()["data"]
    assert [(r["trigger"], r["state"]) for r in runs] == [("cli", "failed"), ("cli", "succeeded")]
