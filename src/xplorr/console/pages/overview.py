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
        month, summary, services, anomalies, budgets, recommendations = await asyncio.gather(
            c.api.get("/costs/trend", {"previousPeriod": "month_to_date", "granularity": "day"}),
            c.api.get("/reports/cost-summary"),
            c.api.get("/costs", {"groupBy": "service", "limit": 6}),
            c.api.get("/anomalies", {"status": "open", "limit": 5}),
            c.api.get("/budgets", {"limit": 100}),
            c.api.get("/recommendations", {"status": "open", "limit": 1}),
        )
    except ApiError as error:
        return c.error_page(error)
    accounts = await c.api.get("/cloud-accounts", {"limit": 1})
    forecasts = [
        {"currency": cur["currency"], **cur["forecast"]}
        for cur in summary.get("currencies", [])
        if cur.get("forecast")
    ]
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
        "overview.html",
        month=month,
        forecasts=forecasts,
        services=services,
        anomalies=anomalies,
        budgets=[b for b in budgets["data"] if _at_risk(b)],
        recommendations=recommendations,
        has_accounts=bool(accounts.get("total")),
        chart=chart,
    )
