"""``XPLORR_RATE_LIMIT_OVERRIDES``: an operator changes one operation's limit (the reference's
stay the defaults), parsed strictly, refused at startup with a message naming the setting."""

import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from tests.factories.tokens import make_raw_api_token
from tests.process import REPO, process_env, serve
from xplorr.core.ratelimit import EXTRA_KEY
from xplorr.core.settings import Settings, parse_rate_limit_overrides
from xplorr.orgs.models import Org
from xplorr.users.models import User


def test_parsing() -> None:
    assert parse_rate_limit_overrides(
        " GET /costs=300/minute; post /sync/{account_id} = 5/hour,GET /api/v1/costs/trend=1/second"
    ) == {
        ("GET", "/costs"): "300/minute",
        ("POST", "/sync/{}"): "5/hour",
        ("GET", "/costs/trend"): "1/second",
    }
    assert parse_rate_limit_overrides("") == {}


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        ("GET /costs", "expected"),
        ("GET costs=3/minute", "expected"),
        ("/costs=3/minute", "expected"),
        ("FETCH /costs=3/minute", "unknown method"),
        ("GET /costs=lots", "is not a rate limit"),
        ("GET /costs=3/fortnight", "is not a rate limit"),
        ("GET /costs=3/minute, GET /costs=4/minute", "listed twice"),
    ],
)
def test_bad_values_are_refused_naming_the_entry(raw: str, why: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Settings(rate_limit_overrides=raw)
    assert why in str(caught.value)


@pytest.mark.slow
async def test_an_override_replaces_the_reference_limit_in_force_and_in_the_document(
    db_url: str, tmp_path: Path, db: AsyncSession, org: Org, member: User
) -> None:
    raw = await make_raw_api_token(db, org, member)
    env = {"XPLORR_RATE_LIMIT_OVERRIDES": "GET /costs=3/minute", "XPLORR_LOG_LEVEL": "WARNING"}
    with serve(db_url, tmp_path, env) as served:
        async with httpx.AsyncClient(base_url=f"{served.url}/api/v1", timeout=10) as client:
            spec = (await client.get("/openapi.json")).json()["paths"]
            assert spec["/api/v1/costs"]["get"][EXTRA_KEY]["limit"] == "3/minute"
            # The reference's limit of the neighbour stays.
            assert spec["/api/v1/costs/trend"]["get"][EXTRA_KEY]["limit"] == "30/minute"
            auth = {"Authorization": f"Bearer {raw}"}
            codes = [(await client.get("/costs", headers=auth)).status_code for _ in range(4)]
            assert codes == [200, 200, 200, 429]
            assert (await client.get("/costs/trend", headers=auth)).status_code == 200


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("GET /costs=lots", "Invalid setting XPLORR_RATE_LIMIT_OVERRIDES"),
        ("GET /cost=3/minute", "XPLORR_RATE_LIMIT_OVERRIDES names what this API does not serve"),
    ],
)
@pytest.mark.slow
@pytest.mark.database_independent
def test_serve_refuses_a_bad_value_at_startup(
    tmp_path: Path, db_url: str, value: str, message: str
) -> None:
    env = process_env(db_url, tmp_path, {"XPLORR_RATE_LIMIT_OVERRIDES": value})
    done = subprocess.run(
        [sys.executable, "-m", "xplorr", "serve", "--port", "1", "--no-migrate"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr
    assert "Xplorr API on" not in done.stderr
