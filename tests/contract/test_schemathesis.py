"""Schemathesis against the app's own OpenAPI document: generated requests (valid and invalid) to
every operation, as an authenticated owner. Checks: no 5xx, responses match their documented
schemas and status codes, invalid input is refused, 405s carry the right Allow header.

Each operation runs on the pass's own database (SQLite, then PostgreSQL), as a fresh owner, with
rate limits off (429s would hide the handlers; limits are tested in ``tests/core/test_ratelimit.py``
and ``test_rate_limit_walk.py``). Derandomized, so CI runs the same cases.
"""

from pathlib import Path
from typing import Any

import hypothesis
import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck
from schemathesis.specs.openapi.checks import positive_data_acceptance, unsupported_method
from starlette.types import Receive, Scope, Send

from tests.conftest import collection_app, make_settings
from tests.factories.users import token_for
from xplorr.core.settings import Settings
from xplorr.users.models import User


class WithoutLifespan:
    """The app, minus its lifespan, for reading the document while collecting. Schemathesis
    runs an ASGI app's lifespan in a loop of its own and ends it at the next test's teardown,
    whatever that test is: the app's shutdown would then release that test's binding. The
    tests below call the real app: its lifespan, in schemathesis's loop, releases what the
    requests opened in that loop, before the fixtures' own release (which finds it closed)."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return
        while True:
            message = await receive()
            await send({"type": f"{message['type']}.complete"})
            if message["type"] == "lifespan.shutdown":
                return


# Read while collecting, from this worker's own application object (``collection_app``); each
# operation's test rebinds that object to its own database.
schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", WithoutLifespan(collection_app()))
# Every case is sent as the owner (``auth``): the document's bearer scheme must not make
# schemathesis drop or mangle the Authorization header (401s are the role matrix's to test).
schema.config.generation.update(with_security_parameters=False)


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return make_settings(db_url, tmp_path, rate_limits_enabled=False)


@pytest.fixture
def auth(app: FastAPI, owner: User) -> dict[str, str]:
    return {"Authorization": f"Bearer {token_for(app, owner)}"}


@schema.parametrize()
@hypothesis.settings(
    max_examples=13,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_api_conforms_to_its_schema(case: Any, app: FastAPI, auth: dict[str, str]) -> None:
    excluded = [
        # Server-side password policy (common passwords, email in password) cannot be expressed
        # in JSON Schema: a schema-valid password may still be refused with 422.
        positive_data_acceptance,
    ]
    if case.path in {
        "/api/v1/tokens/exchange",
        "/api/v1/cloud-accounts/server-aws-config",
        "/api/v1/cloud-accounts/test",
        "/api/v1/sync/status",
        "/api/v1/sync/jobs",
        "/api/v1/tagging-policies/violations",
    }:
        # DELETE /tokens/exchange reaches DELETE /tokens/{token_id} (and its auth) first; PATCH
        # and DELETE /cloud-accounts/server-aws-config and /cloud-accounts/test reach
        # /cloud-accounts/{account_id}; POST /sync/status and /sync/jobs reach POST
        # /sync/{account_id}; DELETE /tagging-policies/violations reaches DELETE
        # /tagging-policies/{policy_id}.
        excluded.append(unsupported_method)
    case.call_and_validate(headers=auth, excluded_checks=excluded, app=app)
