"""The README's first screen works as written: its "Try it" block (login, a read-only API token
in XPLORR_TOKEN, a cost query, the inventory and the network summary) run with bash and curl
against a real ``xplorr serve``."""

import asyncio
import json
import re
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from tests.factories.cloud_accounts import make_account
from tests.factories.costs import add_costs
from tests.factories.users import make_user
from tests.process import serve
from xplorr.core import clock
from xplorr.core.tenancy import Role
from xplorr.orgs.models import Org

README = Path(__file__).resolve().parents[2] / "README.md"


def _try_it_block() -> str:
    text = README.read_text()
    after = text.split("Try it:", 1)[1]
    found = re.search(r"```bash\n(.*?)```", after, re.S)
    assert found is not None
    return found.group(1)


@pytest.mark.slow
async def test_the_try_it_block_runs_as_written(
    db_url: str, tmp_path: Path, db: AsyncSession, org: Org
) -> None:
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed")
    block = _try_it_block()
    assert "export XPLORR_TOKEN=" in block
    assert '"scope":"read"' in block
    await make_user(
        db, org, role=Role.OWNER, email="demo@xplorr.example.com", password="xplorr-demo-password"
    )
    account = await make_account(db, org)
    day = (clock.now() - timedelta(days=2)).date()
    await add_costs(
        db,
        account,
        [
            {"usage_date": day, "billed_cost": "12.50", "service_name": "Amazon S3"},
            {"usage_date": day, "billed_cost": "7.50", "service_name": "AWS Lambda"},
        ],
    )
    with serve(db_url, tmp_path, {"XPLORR_LOG_LEVEL": "WARNING"}) as served:
        script = block.replace("http://127.0.0.1:8000", served.url)
        done = await asyncio.to_thread(
            subprocess.run,
            ["bash", "-euo", "pipefail", "-c", script],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 0, done.stderr
    # curl prints each answer without a newline: the documents follow one another.
    out, decoder, answers = done.stdout.strip(), json.JSONDecoder(), []
    while out:
        answer, end = decoder.raw_decode(out)
        answers.append(answer)
        out = out[end:].lstrip()
    costs, inventory, network = answers[-3:]
    assert costs["totalCost"] == 20.0
    assert {g["name"] for g in costs["data"]} == {"Amazon S3", "AWS Lambda"}
    assert (inventory["data"], inventory["total"]) == ([], 0)  # this org has no inventory
    assert (network["total_cost"], network["currency"]) == (0, "USD")
