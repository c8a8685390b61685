"""The console's pages, one module each (``router`` and ``NAV``), found rather than listed."""

import importlib
import pkgutil
from functools import cache
from types import ModuleType

from xplorr.console.web import NavItem


@cache
def page_modules() -> tuple[ModuleType, ...]:
    return tuple(
        importlib.import_module(f"{__name__}.{info.name}")
        for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name)
        if not info.name.startswith("_")
    )


def nav_items() -> list[NavItem]:
    return [item for module in page_modules() for item in getattr(module, "NAV", ())]
