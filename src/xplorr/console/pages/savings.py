"""Savings: recommendations (apply, dismiss, snooze, request approval; the AI insights apart,
labelled by who wrote them), the approvals inbox and the commitments analysis. Every figure is
the API's: ``/recommendations``, ``/ai-recommendations``, ``/approvals``,
``/commitments/analysis``."""

from datetime import timedelta
from decimal import Decimal
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from xplorr.console.api import ApiError, all_of
from xplorr.console.format import as_decimal
from xplorr.console.web import Console, NavItem, Signed, safe_next
from xplorr.core import clock

router = APIRouter()
NAV = (
    NavItem("Savings", "Recommendations", "/recommendations", 10),
    NavItem("Savings", "Approvals", "/approvals", 20),
    NavItem("Savings", "Commitments", "/commitments", 30),
)

CATEGORIES = (
    ("idle", "Idle"),
    ("unused", "Unused"),
    ("rightsizing", "Rightsizing"),
    ("modernization", "Modernization"),
    ("commitment", "Commitment"),
)
PROVIDERS = (("aws", "AWS"), ("azure", "Azure"), ("gcp", "Google Cloud"))
STATUSES = (
    ("open", "Open"),
    ("in_progress", "In progress"),
    ("applied", "Applied"),
    ("dismissed", "Dismissed"),
)
APPROVAL_STATUSES = (
    ("pending", "Pending"),
    ("approved", "Approved"),
    ("rejected", "Rejected"),
    ("expired", "Expired"),
)
STATUS_DONE = {
    "applied": "Marked as applied.",
    "dismissed": "Dismissed.",
    "open": "Reopened.",
    "in_progress": "Marked as in progress.",
}
PAGE_SIZE = 25


def params(**values: Any) -> dict[str, Any]:
    """Query parameters without the blank ones."""
    return {k: v for k, v in values.items() if v not in (None, "")}


def page_number(c: Console) -> int:
    raw = c.query("page", "1")
    return int(raw) if raw.isdigit() and 0 < int(raw) < 100_000 else 1


def needs_approval(c: Console, rec: dict[str, Any]) -> bool:
    """As the API decides (``approvals.service.needs_approval``): a saving strictly above the
    organization's threshold, or any saving when the threshold is 0."""
    threshold = as_decimal(c.org_settings.get("approval_threshold"))
    if threshold is None:
        return False
    savings = as_decimal(rec.get("estimated_monthly_savings")) or Decimal(0)
    return threshold <= 0 or savings > threshold


async def accounts(c: Console) -> list[dict[str, Any]]:
    try:
        return list((await c.api.get("/cloud-accounts", {"limit": 100}))["data"])
    except ApiError:
        return []


def snooze_bounds() -> tuple[str, str, str]:
    today = clock.now().date()
    return (
        (today + timedelta(days=1)).isoformat(),
        (today + timedelta(days=365)).isoformat(),
        (today + timedelta(days=7)).isoformat(),
    )


# --- recommendations ------------------------------------------------------------------------


@router.get("/recommendations")
async def recommendations(c: Signed) -> Response:
    status = c.query("status") if "status" in c.request.query_params else "open"
    filters = {
        "category": c.query("category"),
        "provider": c.query("provider"),
        "account": c.query("account"),
        "status": status,
    }
    page = page_number(c)
    query = params(
        category=filters["category"],
        provider=filters["provider"],
        accountId=filters["account"],
        status=status,
        page=page,
        limit=PAGE_SIZE,
    )
    try:
        found, account_list = await all_of(c.api.get("/recommendations", query), accounts(c))
    except ApiError as error:
        return c.error_page(error)
    return c.render(
        "savings/recommendations.html",
        found=found,
        filters=filters,
        accounts=[(a["id"], a["name"]) for a in account_list],
        categories=CATEGORIES,
        providers=PROVIDERS,
        statuses=STATUSES,
        page=page,
        pages=max(1, -(-int(found["total"]) // PAGE_SIZE)),
        needs_approval=lambda rec: needs_approval(c, rec),
        snooze=snooze_bounds(),
    )


@router.get("/recommendations/insights")
async def insights(c: Signed) -> Response:
    """The AI insights, loaded after the list (an LLM may take seconds): a fragment for htmx,
    labelled by who wrote it (the API's ``source``)."""
    ai: dict[str, Any] | None = None
    ai_error: ApiError | None = None
    try:
        ai = await c.api.get("/ai-recommendations")
    except ApiError as error:
        ai_error = error
    return c.render("savings/_insights.html", ai=ai, ai_error=ai_error)


async def recommendation_page(
    c: Console,
    rec_id: str,
    *,
    error: ApiError | None = None,
    until: str = "",
    status: int = 200,
) -> Response:
    try:
        rec = await c.api.get(f"/recommendations/{rec_id}")
    except ApiError as failure:
        return c.error_page(failure)
    low, high, default = snooze_bounds()
    return c.render(
        "savings/recommendation.html",
        status=status,
        rec=rec,
        error=error,
        field_errors=error.field_errors() if error else {},
        needs_approval=needs_approval(c, rec),
        threshold=c.org_settings.get("approval_threshold"),
        snooze=(low, high, until or default),
    )


@router.get("/recommendations/{rec_id}")
async def recommendation(c: Signed, rec_id: str) -> Response:
    return await recommendation_page(c, rec_id)


def back_to(form: Any, fallback: str) -> str:
    target = str(form.get("next") or "")
    return safe_next(target) if target else fallback


@router.post("/recommendations/{rec_id}/status")
async def set_status(c: Signed, rec_id: str) -> Response:
    form = await c.form()
    status = str(form.get("status") or "")
    try:
        await c.api.patch(f"/recommendations/{rec_id}", {"status": status or None})
    except ApiError as error:
        if error.code == "APPROVAL_REQUIRED" and error.details:
            approval = error.details[0].get("approval_id")
            return c.redirect(
                f"/approvals/{approval}",
                notice="This saving is above your organization's approval threshold: an admin "
                "must approve it first. The request is pending.",
            )
        return await recommendation_page(c, rec_id, error=error, status=error.status)
    return c.redirect(
        back_to(form, f"/recommendations/{rec_id}"), notice=STATUS_DONE.get(status, "Saved.")
    )


@router.post("/recommendations/{rec_id}/snooze")
async def snooze(c: Signed, rec_id: str) -> Response:
    form = await c.form()
    until = str(form.get("until") or "").strip()
    try:
        done = await c.api.post(f"/recommendations/{rec_id}/snooze", {"until": until or None})
    except ApiError as error:
        return await recommendation_page(c, rec_id, error=error, until=until, status=error.status)
    return c.redirect(
        back_to(form, "/recommendations"),
        notice=f"Snoozed until {done['snoozed_until']}: it is hidden from the list until then.",
    )


@router.post("/recommendations/{rec_id}/approval")
async def request_approval(c: Signed, rec_id: str) -> Response:
    try:
        approval = await c.api.post("/approvals", {"recommendation_id": rec_id})
    except ApiError as error:
        if error.status == 409 and error.details and error.details[0].get("approval_id"):
            return c.redirect(f"/approvals/{error.details[0]['approval_id']}", notice=error.message)
        return await recommendation_page(c, rec_id, error=error, status=error.status)
    return c.redirect(
        f"/approvals/{approval['id']}", notice="Approval requested: the admins are notified."
    )


# --- approvals --------------------------------------------------------------------------------


@router.get("/approvals")
async def approvals(c: Signed) -> Response:
    status = c.query("status") if "status" in c.request.query_params else "pending"
    page = page_number(c)
    try:
        found = await c.api.get("/approvals", params(status=status, page=page, limit=PAGE_SIZE))
    except ApiError as error:
        return c.error_page(error)
    return c.render(
        "savings/approvals.html",
        found=found,
        selected=status,
        statuses=APPROVAL_STATUSES,
        page=page,
        pages=max(1, -(-int(found["total"]) // PAGE_SIZE)),
    )


async def approval_page(
    c: Console,
    approval_id: str,
    *,
    error: ApiError | None = None,
    comment: str = "",
    status: int = 200,
) -> Response:
    try:
        approval = await c.api.get(f"/approvals/{approval_id}")
    except ApiError as failure:
        return c.error_page(failure)
    return c.render(
        "savings/approval.html",
        status=status,
        approval=approval,
        error=error,
        comment=comment,
    )


@router.get("/approvals/{approval_id}")
async def approval(c: Signed, approval_id: str) -> Response:
    return await approval_page(c, approval_id)


@router.post("/approvals/{approval_id}")
async def decide(c: Signed, approval_id: str) -> Response:
    form = await c.form()
    decision = str(form.get("status") or "")
    comment = str(form.get("comment") or "").strip()
    try:
        await c.api.patch(
            f"/approvals/{approval_id}",
            {"status": decision or None, **({"comment": comment} if comment else {})},
        )
    except ApiError as error:
        return await approval_page(
            c, approval_id, error=error, comment=comment, status=error.status
        )
    return c.redirect(
        back_to(form, f"/approvals/{approval_id}"),
        notice="Approved: the recommendation is now in progress."
        if decision == "approved"
        else "Rejected: the recommendation stays open.",
    )


# --- commitments ------------------------------------------------------------------------------

PRICING = (
    ("on_demand", "On-demand"),
    ("reserved", "Reserved"),
    ("savings_plan", "Savings plan"),
    ("spot", "Spot"),
    ("other", "Other"),
)
DAY_CHOICES = (("30", "Last 30 days"), ("90", "Last 90 days"), ("180", "Last 180 days"),
               ("365", "Last 365 days"))  # fmt: skip


@router.get("/commitments")
async def commitments(c: Signed) -> Response:
    days = c.query("days", "90")
    account = c.query("account")
    try:
        analysis, account_list = await all_of(
            c.api.get("/commitments/analysis", params(days=days, accountId=account)),
            accounts(c),
        )
    except ApiError as error:
        return c.error_page(error)
    chart = {
        "type": "bar",
        "data": {
            "labels": [row["date"] for row in analysis["daily"]],
            "datasets": [
                {"label": label, "data": [float(row[key]) for row in analysis["daily"]]}
                for key, label in PRICING
                if any(row[key] for row in analysis["daily"])
            ],
        },
        "options": {"scales": {"x": {"stacked": True}, "y": {"stacked": True}}},
    }
    return c.render(
        "savings/commitments.html",
        a=analysis,
        days=days,
        account=account,
        day_choices=DAY_CHOICES,
        accounts=[(x["id"], x["name"]) for x in account_list],
        pricing=PRICING,
        chart=chart,
    )
