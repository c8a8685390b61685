"""The role and tenancy matrices' kit: each area declares its cases next to its tests, in
``tests/<area>/matrix.py`` (``ACCESS`` and ``TENANCY``), and the contract tests in
``tests/contract`` collect them; no shared list to edit when an area lands.

``ACCESS`` maps ``(METHOD, path)`` to PUBLIC (no token), ANY (any role of the org) or the set of
roles allowed. ``TENANCY`` maps every path with an id to the model of the row it reaches: the
row is made by the factory registered for that model (``tests/factories/<area>.py``'s
``TENANT_FACTORIES``) and read back whole; a ``Case`` is for a route whose row needs more
(another factory, or a snapshot of more than the row).
"""

import importlib
import importlib.util
import pkgutil
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

import tests
from xplorr.core.tenancy import Role
from xplorr.orgs.models import Org
from xplorr.users.models import User

PUBLIC = "public"
ANY = "any"
ADMINS = frozenset({Role.OWNER, Role.ADMIN})
WRITERS = frozenset({Role.OWNER, Role.ADMIN, Role.MEMBER})
OWNERS = frozenset({Role.OWNER})

Access = str | frozenset[Role]
Make = Callable[[AsyncSession, Org, User], Awaitable[uuid.UUID]]
Snapshot = Callable[[AsyncSession, uuid.UUID], Awaitable[dict[str, Any]]]
# The headers another org's caller sends to a route that takes no user token (a cluster's
# ingest token): made for that caller's org. None: the caller's own user token.
Credentials = Callable[[AsyncSession, User], Awaitable[dict[str, str]]]


@dataclass(frozen=True)
class Case:
    make: Make
    snapshot: Snapshot
    credentials: Credentials | None = None


async def row_of(model: type, db: AsyncSession, ident: uuid.UUID) -> dict[str, Any]:
    row = await db.get(model, ident, populate_existing=True)
    assert row is not None, f"{model.__name__} {ident} was deleted"
    return {c.key: getattr(row, c.key) for c in row.__table__.columns}


def _modules(name: str) -> list[Any]:
    found = []
    for info in pkgutil.iter_modules(tests.__path__):
        module = f"tests.{info.name}.{name}"
        if info.ispkg and importlib.util.find_spec(module) is not None:
            found.append(importlib.import_module(module))
    return found


def _merged(modules: list[Any], attr: str) -> dict[Any, Any]:
    merged: dict[Any, Any] = {}
    for module in modules:
        for key, value in getattr(module, attr, {}).items():
            assert key not in merged, f"{key} is declared twice ({module.__name__})"
            merged[key] = value
    return merged


def access() -> dict[tuple[str, str], Access]:
    """Every area's ``ACCESS``."""
    return _merged(_modules("matrix"), "ACCESS")


def tenancy() -> dict[str, Case]:
    """Every area's ``TENANCY``, a model resolved to its registered factory and a read-back of
    its row."""
    factories: dict[type, Make] = {}
    import tests.factories as package

    for info in pkgutil.iter_modules(package.__path__):
        module = importlib.import_module(f"tests.factories.{info.name}")
        for model, make in getattr(module, "TENANT_FACTORIES", {}).items():
            assert model not in factories, f"two factories for {model.__name__}"
            factories[model] = make
    cases: dict[str, Case] = {}
    for path, declared in _merged(_modules("matrix"), "TENANCY").items():
        if isinstance(declared, Case):
            cases[path] = declared
            continue
        make = factories.get(declared)
        assert make is not None, f"{path}: no TENANT_FACTORIES entry for {declared.__name__}"
        cases[path] = Case(make, lambda db, i, model=declared: row_of(model, db, i))
    return cases
