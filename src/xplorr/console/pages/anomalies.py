"""Anomalies: the list (status, severity, day range), one anomaly with its root cause, and
acknowledge / resolve / reopen for members and above (``PATCH /anomalies/{id}``). An anomaly
links to the explorer filtered to its account and service around its day."""

from datetime import date, timedelta
from typing import Any, Final
from urllib.parse import urlencode

from fastapi import APIRouter
from fastapi.responses import Response

from xplorr.console.api import ApiError
from xplorr.console.web import Console, NavItem, Signed

router = APIRouter()
NAV = (NavItem("Costs", "Anomalies", "/anomalies", 2),)

STATUSES: Final = (("open", "Open"), ("acknowledged", "Acknowledged"), ("resolved", "Resolved"))
SEVERITIES: Final = (
    ("low", "Low"),
    ("medium", "Medium"),
    ("high", "High"),
    ("critical", "Critical"),
)
# What a person may do next from each status (the API allows any change; these are the useful
# ones).
ACTIONS: Final = {
    "open": (("acknowledged", "Acknowledge"), ("resolved", "Resolve")),
    "acknowledged": (("resolved", "Resolve"), ("open", "Reopen")),
    "resolved": (("open", "Reopen"),),
}
PAGE_SIZE: Final = 50
BASELINE_DAYS: Final = 7  # the detector's baseline: the week before the day


def costs_link(a: dict[str, Any]) -> str:
    """The explorer on the anomaly's account and service, from its baseline week through the
    day, by day (by service when the anomaly is an account's, by account for the org's)."""
    day = date.fromisoformat(str(a["date"]))
    params: list[tuple[str, str]] = [
        ("startDate", (day - timedelta(days=BASELINE_DAYS)).isoformat()),
        ("endDate", day.isoformat()),
    ]
    if a.get("cloud_account_id"):
        params.append(("accountId", str(a["cloud_account_id"])))
    if a.get("service"):
        params += [("service", str(a["service"])), ("groupBy", "resource")]
    else:
        params.append(("groupBy", "service" if a.get("cloud_account_id") else "account"))
    return "/costs?" + urlencode(params)


@router.get("/anomalies")
async def anomalies(c: Signed) -> Response:
    filters = {
        "status": c.query("status"),
        "severity": c.query("severity"),
        "startDate": c.query("startDate"),
        "endDate": c.query("endDate"),
    }
    page = c.query("page", "1")
    params = {k: v for k, v in filters.items() if v}
    error = None
    found: dict[str, Any] = {"data": [], "total": 0, "page": 1, "limit": PAGE_SIZE}
    try:
        found = await c.api.get("/anomalies", {**params, "limit": PAGE_SIZE, "page": page})
    except ApiError as e:
        error = e
    pages = max(1, -(-int(found["total"]) // PAGE_SIZE))
    return c.render(
        "anomalies/list.html",
        status=error.status if error else 200,
        filters=filters,
        found=found,
        error=error,
        errors=error.field_errors() if error else {},
        statuses=STATUSES,
        severities=SEVERITIES,
        pages=pages,
        filtered=bool(params),
    )


async def _show(c: Console, anomaly_id: str, error: ApiError | None = None) -> Response:
    try:
        a = await c.api.get(f"/anomalies/{anomaly_id}")
    except ApiError as e:
        return c.error_page(e)
    return c.render(
        "anomalies/detail.html",
        status=error.status if error else 200,
        a=a,
        error=error,
        actions=ACTIONS.get(a["status"], ()) if c.can_write else (),
        costs_link=costs_link(a),
    )


@router.get("/anomalies/{anomaly_id}")
async def anomaly(c: Signed, anomaly_id: str) -> Response:
    return await _show(c, anomaly_id)


@router.post("/anomalies/{anomaly_id}/status")
async def set_status(c: Signed, anomaly_id: str) -> Response:
    status = str((await c.form()).get("status") or "")
    try:
        await c.api.patch(f"/anomalies/{anomaly_id}", {"status": status})
    except ApiError as error:
        return await _show(c, anomaly_id, error)
    label = {"acknowledged": "acknowledged", "resolved": "resolved", "open": "reopened"}
    return c.redirect(f"/anomalies/{anomaly_id}", notice=f"Anomaly {label.get(status, 'updated')}.")
