"""Every operation the app serves answers 429 with a ``Retry-After`` once its limit is spent.

``tests/core/test_ratelimit.py`` proves the limiter's rules are the documented ones; this walks
``app.openapi()`` and spends each operation's own limit for real, as its caller would be counted
(the owner's bucket for ``auto`` keys, the client address for ``ip`` keys), so a route that
loses its limit dependency, or counts in the wrong bucket, fails here. New routes join by
themselves.

Requests carry no body and fill path ids with ids that exist nowhere: the limit is counted
before validation, authorization or lookups, so the answers before the limit are 4xx (or a
harmless 2xx: reads, a pending 2FA setup, a sync of no accounts), never a change to real rows.
Read and write defaults are lowered to ``DEFAULT``; documented limits keep their own numbers.
"""

import re
import uuid

import pytest
from fastapi import FastAPI
from limits import parse

from tests.conftest import AppWith, asgi_client
from tests.factories.users import token_for
from xplorr.app import API_PREFIX
from xplorr.core.ratelimit import EXTRA_KEY
from xplorr.users.models import User

DEFAULT = "3/minute"
_PARAM = re.compile(r"{([^}]+)}")


def _concrete(path: str) -> str:
    """Path parameters filled with values no row has: a new UUID for ids, a slug otherwise."""

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        return "no-such-slug" if name in {"org_slug", "token"} else str(uuid.uuid4())

    return _PARAM.sub(fill, path)


def _operations(app: FastAPI) -> list[tuple[str, str, dict[str, str]]]:
    ops = []
    for path, item in app.openapi()["paths"].items():
        if not path.startswith(f"{API_PREFIX}/"):
            continue
        for method, op in item.items():
            ops.append((method.upper(), path.removeprefix(API_PREFIX), op[EXTRA_KEY]))
    return ops


@pytest.mark.slow
async def test_every_operation_answers_429_with_retry_after_past_its_limit(
    app_with: AppWith, owner: User
) -> None:
    app = app_with(rate_limit_read=DEFAULT, rate_limit_write=DEFAULT)
    ops = _operations(app)
    assert len(ops) > 60  # the walk really covers the API, not an empty document
    walked = []
    async with asgi_client(app, peer="198.51.100.7") as client:
        client.headers["Authorization"] = f"Bearer {token_for(app, owner)}"
        for method, path, rule in ops:
            item = parse(rule["limit"])
            url = _concrete(path)
            before = [(await client.request(method, url)).status_code for _ in range(item.amount)]
            assert 429 not in before, (method, path, before)
            r = await client.request(method, url)
            assert r.status_code == 429, (method, path, r.status_code, r.text)
            assert r.json()["error"]["code"] == "RATE_LIMITED"
            assert r.headers["retry-after"].isdigit(), (method, path)
            assert 1 <= int(r.headers["retry-after"]) <= item.get_expiry(), (method, path)
            walked.append((method, path))
    assert len(walked) == len(ops)
