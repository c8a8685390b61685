"""The routers, found (``core.areas.routers``): each area's ``router.py`` states its
``ROUTE_ORDER``, so adding an area edits no list here. No logic here."""

from fastapi import APIRouter

from xplorr.core import areas

_FOUND = areas.routers()
ROUTERS: tuple[APIRouter, ...] = tuple(r.router for r in _FOUND if r.under_api)
"""Mounted under ``/api/v1``, in this order."""
ROOT_ROUTERS: tuple[APIRouter, ...] = tuple(r.router for r in _FOUND if not r.under_api)
"""Mounted at the root (health probes)."""
