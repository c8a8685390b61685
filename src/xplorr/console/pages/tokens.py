"""API tokens: the live tokens (yours; an admin's list holds the organization's), a new one
(name, read or write, some accounts, an expiry) shown once on its result page, and revoking."""

import uuid
from datetime import timedelta
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from xplorr.console.api import ApiError, all_of
from xplorr.console.web import Console, NavItem, Signed
from xplorr.core import clock

router = APIRouter()
NAV = (NavItem("Settings", "API tokens", "/tokens", 20),)

EXPIRIES = (("30", "In 30 days"), ("90", "In 90 days"), ("365", "In a year"), ("never", "Never"))


async def _page(c: Console, status: int = 200, **extra: Any) -> Response:
    try:
        tokens, accounts, users = await all_of(
            c.api.get("/tokens", {"limit": 100}),
            c.api.get("/cloud-accounts", {"limit": 100}),
            c.api.get("/users", {"limit": 100}),
        )
    except ApiError as error:
        return c.error_page(error)
    context: dict[str, Any] = {
        "tokens": tokens,
        "accounts": accounts.get("data", []),
        "names": {u["id"]: u["name"] for u in users["data"]},
        "account_names": {a["id"]: a["name"] for a in accounts.get("data", [])},
        "expiries": EXPIRIES,
        "values": {"expires": "90", "scope": "read"},
        "errors": {},
        "error": None,
    }
    context.update(extra)
    return c.render("tokens/index.html", status=status, **context)


@router.get("/tokens")
async def tokens_page(c: Signed) -> Response:
    return await _page(c)


@router.post("/tokens")
async def create_token(c: Signed) -> Response:
    form = await c.form()
    values: dict[str, Any] = {
        "name": str(form.get("name") or "").strip(),
        "scope": str(form.get("scope") or "read"),
        "expires": str(form.get("expires") or "90"),
        "account_ids": [str(v) for v in form.getlist("account_ids")],
    }
    body: dict[str, Any] = {"name": values["name"], "scope": values["scope"]}
    if values["account_ids"]:
        body["account_ids"] = values["account_ids"]
    if values["expires"] == "never":
        body["expires_at"] = None
    elif values["expires"].isdigit():
        body["expires_at"] = (clock.now() + timedelta(days=int(values["expires"]))).isoformat()
    try:
        created = await c.api.post("/tokens", body)
    except ApiError as error:
        return await _page(
            c, status=error.status, values=values, errors=error.field_errors(), error=error
        )
    # The value is shown on this answer only: it is not stored anywhere it could be read again.
    return c.render("tokens/created.html", status=201, token=created)


@router.post("/tokens/{token_id}/revoke")
async def revoke_token(token_id: uuid.UUID, c: Signed) -> Response:
    try:
        await c.api.delete(f"/tokens/{token_id}")
    except ApiError as error:
        return await _page(c, status=error.status, error=error)
    return c.redirect("/tokens", notice="The token is revoked: requests with it fail now.")
