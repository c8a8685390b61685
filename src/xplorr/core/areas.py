"""The areas of the application, found instead of listed.

An area is a package ``xplorr.<area>`` with the same rooms (``models``, ``router``, ``jobs``...,
CONVENTIONS.md 2). Core finds an area's rooms by name, so adding an area edits no shared list,
and core never imports an area by name (the import-linter contract "core imports no area").
"""

import importlib
import importlib.util
import itertools
import pkgutil
from collections.abc import Sequence
from dataclasses import dataclass

from fastapi import APIRouter

# Core's own tables (core owns what every area writes through it: audit rows, data keys, jobs,
# the email outbox).
CORE_MODEL_MODULES = (
    "xplorr.core.audit",
    "xplorr.core.crypto",
    "xplorr.core.email",
    "xplorr.core.jobs.models",
)

_models_imported = False


def area_modules(room: str) -> list[str]:
    """``xplorr.<area>.<room>`` for every area package that has one, sorted by area."""
    import xplorr

    found = []
    for info in pkgutil.iter_modules(xplorr.__path__):
        name = f"xplorr.{info.name}.{room}"
        if info.ispkg and info.name != "core" and importlib.util.find_spec(name) is not None:
            found.append(name)
    return sorted(found)


def import_models() -> None:
    """Import every table's model (core's and each area's ``models``): the metadata is complete
    (Alembic, ``create_all``) and foreign keys and relationships resolve across areas.
    Idempotent and cheap after the first call."""
    global _models_imported
    if not _models_imported:
        for module in (*CORE_MODEL_MODULES, *area_modules("models")):
            importlib.import_module(module)
        _models_imported = True


@dataclass(frozen=True, slots=True)
class AreaRouter:
    module: str
    router: APIRouter
    order: int  # the router module's ROUTE_ORDER: routes match in this order
    under_api: bool  # mounted under /api/v1 (False: at the root, e.g. health probes)


def routers(modules: Sequence[str] | None = None) -> list[AreaRouter]:
    """Every area's ``router`` module, in ``ROUTE_ORDER``. Starlette matches routes in the order
    they were added, so where two areas' paths could both match (``/auth/...``) the order is
    part of the API: each router module states its place, and two in the same place are an
    error rather than an order that depends on module names. ``modules``: the router modules
    to read (default: every area's)."""
    found: list[AreaRouter] = []
    for name in area_modules("router") if modules is None else modules:
        module = importlib.import_module(name)
        order = getattr(module, "ROUTE_ORDER", None)
        if not isinstance(order, int):
            raise RuntimeError(f"{name} must set ROUTE_ORDER (an int): its place among the routers")
        under_api = getattr(module, "UNDER_API", True)
        found.append(AreaRouter(name, module.router, order, under_api))
    found.sort(key=lambda r: (not r.under_api, r.order))
    for a, b in itertools.pairwise(found):
        if (a.under_api, a.order) == (b.under_api, b.order):
            raise RuntimeError(f"{a.module} and {b.module} have the same ROUTE_ORDER {a.order}")
    return found
