"""Every route with an id in its path, called by another organization's admin with an id of org A:
404 with a ``<RESOURCE>_NOT_FOUND`` code, and org A's row unchanged (ASVS 8.2.2 / 8.4.1).

A new route with a path id and no case fails ``test_every_id_route_has_a_case``: name the model
of the row it reaches in its area's ``tests/<area>/matrix.py`` (``TENANCY``), with a factory for
that model in ``tests/factories/<area>.py`` (``TENANT_FACTORIES``); ``tests/matrix.py``."""

import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from tests import matrix
from tests.conftest import ClientFor, collection_app
from xplorr.orgs.models import Org
from xplorr.users.models import User

CASES = matrix.tenancy()

METHODS = ("get", "put", "patch", "delete", "post")


def _id_routes(app: FastAPI) -> list[tuple[str, str]]:
    return [
        (path, method)
        for path, item in app.openapi()["paths"].items()
        if "{" in path
        for method in item
        if method in METHODS
    ]


def _all_id_routes() -> list[tuple[str, str]]:
    return _id_routes(collection_app())


def test_every_id_route_has_a_case(app: FastAPI) -> None:
    missing = {path for path, _ in _id_routes(app)} - set(CASES)
    assert not missing, f"add tenancy cases for: {sorted(missing)}"


@pytest.mark.parametrize(("path", "method"), _all_id_routes())
async def test_foreign_org_gets_404_and_row_is_unchanged(
    path: str,
    method: str,
    db: AsyncSession,
    org: Org,
    owner: User,
    other_admin: User,
    client_for: ClientFor,
) -> None:
    case = CASES[path]
    ident = await case.make(db, org, owner)
    before = await case.snapshot(db, ident)
    url = path.replace("/api/v1", "", 1)
    url = url.format(**dict.fromkeys(_param_names(path), ident))
    if case.credentials is None:
        r = await client_for(other_admin).request(method.upper(), url, json={})
    else:  # a route called with a credential of its own (made in the other org), not a JWT
        headers = await case.credentials(db, other_admin)
        r = await client_for(None).request(method.upper(), url, json={}, headers=headers)
    assert r.status_code == 404, (method, path, r.text)
    assert r.json()["error"]["code"].endswith("NOT_FOUND")
    assert await case.snapshot(db, ident) == before


def _param_names(path: str) -> list[str]:
    import re

    return re.findall(r"{(\w+)}", path)
