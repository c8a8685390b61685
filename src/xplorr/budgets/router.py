import uuid
from typing import Any

from fastapi import APIRouter, Response

from xplorr.auth.deps import CurrentUser, WriterUser
from xplorr.budgets import service
from xplorr.budgets.schemas import BudgetCreate, BudgetOut, BudgetUpdate
from xplorr.core.db import DbSession
from xplorr.core.errors import ErrorEnvelope
from xplorr.core.pagination import Page, Pagination

router = APIRouter(prefix="/budgets", tags=["budgets"])
ROUTE_ORDER = 76  # mounting order under /api/v1 (core.areas.routers)

_CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {
        "model": ErrorEnvelope,
        "description": "The organization has a budget of that name (BUDGET_NAME_TAKEN).",
    }
}


@router.get("", response_model=Page[BudgetOut])
async def list_budgets(db: DbSession, who: CurrentUser, page: Pagination) -> Page[BudgetOut]:
    """List budgets with their current spend (the budget's currency only: spend in other
    currencies is listed apart, never added), percent used, the forecast of the period's end
    with its day-to-day range (`forecast_low`/`forecast_high`: the spread day-to-day variation
    alone gives, not an 80 % interval; the README's backtest has how often the total fell
    inside it), and whether it is projected to overrun. A user limited to some cloud accounts
    sees the budgets of those accounts."""
    return await service.list_budgets(db, who, page)


@router.post("", status_code=201, response_model=BudgetOut, responses=_CONFLICT)
async def create_budget(body: BudgetCreate, db: DbSession, who: WriterUser) -> BudgetOut:
    """Create a budget for the organization or one cloud account (members and above): monthly
    (default), quarterly or yearly, optionally filtered by provider, service and tag value.
    Alerts at 80 % and 100 % of the amount and on a projected overrun, once per period."""
    return await service.create_budget(db, who, body)


@router.get("/{budget_id}", response_model=BudgetOut)
async def get_budget(budget_id: uuid.UUID, db: DbSession, who: CurrentUser) -> BudgetOut:
    """One budget with its current spend and forecast, as the list gives it (404 if not
    visible)."""
    return await service.get_budget(db, who, budget_id)


@router.patch("/{budget_id}", response_model=BudgetOut, responses=_CONFLICT)
async def update_budget(
    budget_id: uuid.UUID, body: BudgetUpdate, db: DbSession, who: WriterUser
) -> BudgetOut:
    """Change a budget (members and above)."""
    return await service.update_budget(db, who, budget_id, body)


@router.delete("/{budget_id}", status_code=204)
async def delete_budget(budget_id: uuid.UUID, db: DbSession, who: WriterUser) -> Response:
    """Delete a budget (members and above)."""
    await service.delete_budget(db, who, budget_id)
    return Response(status_code=204)
