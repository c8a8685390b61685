"""The audit log (admins): who did what and when, filtered by action, person and dates, a page
at a time, and the same filters as a CSV file."""

from fastapi import APIRouter
from fastapi.responses import Response

from xplorr.console.api import ApiError, all_of
from xplorr.console.web import Console, NavItem, Signed

router = APIRouter()
NAV = (NavItem("Settings", "Audit log", "/audit", 60, role="admin"),)

FILTERS = {"action": "action", "user_email": "user_email", "from": "from", "to": "to"}
PAGE_SIZE = 50


def _filters(c: Console) -> dict[str, str]:
    return {name: value for name in FILTERS if (value := c.query(name).strip())}


@router.get("/audit")
async def audit_page(c: Signed) -> Response:
    filters = _filters(c)
    try:
        page = max(1, int(c.query("page", "1")))
    except ValueError:
        page = 1
    try:
        entries, actions = await all_of(
            c.api.get("/audit", {**filters, "page": page, "limit": PAGE_SIZE}),
            c.api.get("/audit/actions"),
        )
    except ApiError as error:
        if error.status != 422:
            return c.error_page(error)
        return c.render(
            "audit/index.html",
            status=422,
            entries={"data": [], "total": 0, "limit": PAGE_SIZE},
            actions=[],
            filters=filters,
            page=1,
            error=error,
        )
    return c.render(
        "audit/index.html",
        entries=entries,
        actions=actions["actions"],
        filters=filters,
        page=page,
        error=None,
    )


@router.get("/audit/export")
async def audit_export(c: Signed) -> Response:
    try:
        file = await c.api.download("/audit/export", _filters(c))
    except ApiError as error:
        return c.error_page(error)
    response = Response(file.content, media_type=file.media_type)
    response.headers["content-disposition"] = (
        f'attachment; filename="{file.filename or "xplorr-audit.csv"}"'
    )
    return c.finish(response)
