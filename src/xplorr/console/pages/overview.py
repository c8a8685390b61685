"""The overview: this month against the same days of last month, the month's forecast, the top
services, open anomalies, budgets at risk and the savings waiting in recommendations."""

import asyncio
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from xplorr.console.api import ApiError
from xplorr.console.web import NavItem, Signed

router = APIRouter()
NAV = (NavItem("Costs", "Overview", "/", 0),)


def _at_risk(budget: dict[str, Any]) -> bool:
    used = budget.get("percent_used")
    return bool(budget.get("projected_overrun")) or (used is not None and used >= 80)


@router.get("/")
async def overview(c: Signed) -> Response:
    try:
        month, services, anomalies, recommendations, accounts = await asyncio.gather(
            c.api.get("/costs/trend", {"previousPeriod": "month_to_date", "granularity": "day"}),
            c.api.get("/costs", {"groupBy": "service", "limit": 6}),
            c.api.get("/anomalies", {"status": "open", "limit": 5}),
            c.api.get("/recommendations", {"status": "open", "limit": 1}),
            c.api.get("/cloud-accounts", {"limit": 1}),
        )
    except ApiError as error:
        return c.error_page(error)
    chart = {
        "type": "bar",
        "data": {
            "labels": [row["date"] for row in month["data"]],
            "datasets": [
                {
                    "label": f"Daily cost ({month['currency'] or ''})",
                    "data": [float(row["cost"]) for row in month["data"]],
                }
            ],
        },
    }
    return c.render(
        "overview/page.html",
        month=month,
        services=services,
        anomalies=anomalies,
        recommendations=recommendations,
        has_accounts=bool(accounts.get("total")),
        chart=chart,
    )


# The month's forecast and the budgets' forecasts take longest (a model per series): the page
# shows at once and these panels follow (htmx, "Loading…" meanwhile).


@router.get("/overview/forecast")
async def forecast_panel(c: Signed) -> Response:
    try:
        summary = await c.api.get("/reports/cost-summary")
    except ApiError as error:
        return c.render("overview/_panel_error.html", status=error.status, error=error)
    forecasts = [
        {"currency": cur["currency"], **cur["forecast"]}
        for cur in summary.get("currencies", [])
        if cur.get("forecast")
    ]
    return c.render("overview/_forecast.html", forecasts=forecasts)


@router.get("/overview/budgets")
async def budgets_panel(c: Signed) -> Response:
    try:
        budgets = await c.api.get("/budgets", {"limit": 100})
    except ApiError as error:
        return c.render("overview/_panel_error.html", status=error.status, error=error)
    return c.render("overview/_budgets.html", budgets=[b for b in budgets["data"] if _at_risk(b)])
