"""The area kit: routers found in their stated order, audit rows about a row, and the
PostgreSQL advisory lock that serialises named work."""

import sys
import types

import pytest
from fastapi import APIRouter
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from tests.factories.users import make_user
from xplorr import api
from xplorr.core import areas, audit
from xplorr.core.db import advisory_xact_lock, is_postgres, make_engine, make_sessionmaker
from xplorr.orgs.models import Org


def test_routers_are_mounted_in_their_stated_order() -> None:
    found = areas.routers()
    under_api = [r for r in found if r.under_api]
    assert [r.order for r in under_api] == sorted(r.order for r in under_api)
    assert tuple(r.router for r in under_api) == api.ROUTERS
    # The console's pages come last: its catch-all 404 page must not shadow /health.
    assert [r.module for r in found if not r.under_api] == [
        "xplorr.health.router",
        "xplorr.console.router",
    ]
    # /auth's own routes come before the ones of the areas that share its prefix.
    prefixes = [r.prefix for r in api.ROUTERS]
    assert prefixes.index("/auth") < prefixes.index("/auth/2fa") < prefixes.index("/auth/webauthn")


@pytest.mark.parametrize(
    ("attrs", "message"),
    [({}, "must set ROUTE_ORDER"), ({"ROUTE_ORDER": 10}, "have the same ROUTE_ORDER 10")],
)
def test_a_router_without_a_place_or_in_a_taken_one_is_refused(
    monkeypatch: pytest.MonkeyPatch, attrs: dict[str, int], message: str
) -> None:
    """A new area's router states its place; two areas in one place is an error, not an order
    left to module names."""
    module = types.ModuleType("xplorr.zz_new_area.router")
    module.router = APIRouter(prefix="/zz")  # type: ignore[attr-defined]
    for name, value in attrs.items():
        setattr(module, name, value)
    monkeypatch.setitem(sys.modules, module.__name__, module)  # an area of this test's own
    with pytest.raises(RuntimeError, match=message):
        areas.routers([*areas.area_modules("router"), module.__name__])


async def test_audit_target_names_the_row(db: AsyncSession, org: Org) -> None:
    user = await make_user(db, org)
    entry = await audit.record_user(db, "user.logout", user, target=user)
    assert (entry.resource_type, entry.resource_id, entry.resource_name) == (
        "user",
        str(user.id),
        user.email,
    )
    other = await audit.record(db, "org.updated", org_id=org.id, target=org, resource_name="x")
    assert (other.resource_type, other.resource_name) == ("organization", "x")


async def test_advisory_lock_serialises_named_work(db_url: str) -> None:
    """A second transaction asking for the same name waits for the first (PostgreSQL); another
    name does not. On SQLite the writer lock already serialises every transaction."""
    engine = make_engine(db_url)
    sessions = make_sessionmaker(engine)
    try:
        async with sessions() as first, first.begin():
            if not is_postgres(first):
                await advisory_xact_lock(first, "sync-import:a")  # nothing to take
                return
            await advisory_xact_lock(first, "sync-import:a")
            async with sessions() as second, second.begin():
                await second.execute(text("SET LOCAL lock_timeout = '200ms'"))
                await advisory_xact_lock(second, "sync-import:b")
                with pytest.raises(DBAPIError, match="lock timeout"):
                    await advisory_xact_lock(second, "sync-import:a")
    finally:
        await engine.dispose()
