"""The web console at ``/``: every page module's routes, the console's static files and a page
(not the JSON envelope) for a browser that asks for a path that does not exist."""

from importlib.resources import files
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, Response

from xplorr.console.api import ApiError
from xplorr.console.pages import page_modules
from xplorr.console.web import anyone
from xplorr.core.errors import on_browser_not_found

ROUTE_ORDER = 900  # after every API and probe route: "/{anything}" pages never shadow them
UNDER_API = False

STATIC_DIR = Path(str(files("xplorr.console") / "static")).resolve()

router = APIRouter(include_in_schema=False)


@router.get("/static/{path:path}")
async def static(path: str) -> Response:
    """The console's own files (htmx, Chart.js, its stylesheet and script): no CDN."""
    target = (STATIC_DIR / path).resolve()
    if not target.is_relative_to(STATIC_DIR) or not target.is_file():
        return Response("Not found", status_code=404, media_type="text/plain")
    return FileResponse(
        target,
        headers={"cache-control": "public, max-age=3600", "x-content-type-options": "nosniff"},
    )


for _module in page_modules():
    router.include_router(_module.router)


async def _not_found_page(request: Request) -> Response | None:
    if request.url.path.startswith("/api/"):
        return None
    if "text/html" not in request.headers.get("accept", ""):
        return None
    c = await anyone(request)
    return c.render(
        "error.html",
        status=404,
        error=ApiError(404, "NOT_FOUND", "There is no page here. Check the address or go back."),
    )


on_browser_not_found(_not_found_page)
