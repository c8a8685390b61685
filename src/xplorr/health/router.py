from typing import Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel
from sqlalchemy import text

from xplorr.core.errors import XplorrError

router = APIRouter(tags=["health"])
ROUTE_ORDER = 0
UNDER_API = False  # probes live at the root, not under /api/v1


class HealthOut(BaseModel):
    status: Literal["ok"]


class NotReady(XplorrError):
    status, code = 503, "NOT_READY"


@router.get("/healthz", response_model=HealthOut)
async def healthz() -> HealthOut:
    """Liveness: the process answers. No database work."""
    return HealthOut(status="ok")


@router.get("/readyz", response_model=HealthOut, responses={503: {"description": "Not ready"}})
async def readyz(request: Request) -> HealthOut:
    """Readiness: the database answers a query and the rate-limit store (Redis) answers."""
    try:
        async with request.app.state.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception as exc:
        raise NotReady("The database is not reachable.") from exc
    if not await request.app.state.kit.limiter.ready():
        raise NotReady("The rate-limit store (Redis) is not reachable.")
    return HealthOut(status="ok")
