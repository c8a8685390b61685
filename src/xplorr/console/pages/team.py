"""The team: who is in the organization, invitations, roles, deactivation and which cloud
accounts each person may see. Everyone sees the page (members and viewers only themselves, as
the API answers); only admins and owners see the buttons, and only an owner may hand out the
owner role."""

import uuid
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from xplorr.console.api import ApiError, all_of
from xplorr.console.web import Console, NavItem, Signed

router = APIRouter()
NAV = (NavItem("Settings", "Team", "/team", 10),)


def _roles(c: Console) -> list[tuple[str, str]]:
    roles = [("viewer", "Viewer"), ("member", "Member"), ("admin", "Admin")]
    return [*roles, ("owner", "Owner")] if c.at_least("owner") else roles


def _page_number(c: Console) -> int:
    try:
        return max(1, int(c.query("page", "1")))
    except ValueError:
        return 1


async def _team(c: Console, status: int = 200, **extra: Any) -> Response:
    page = _page_number(c)
    try:
        users = await c.api.get("/users", {"page": page, "limit": 50})
        invitations, accounts = (
            await all_of(
                c.api.get("/users/invitations/list", {"limit": 100}),
                c.api.get("/users/available-accounts"),
            )
            if c.is_admin
            else ({"data": [], "total": 0}, {"data": []})
        )
    except ApiError as error:
        return c.error_page(error)
    context: dict[str, Any] = {
        "users": users,
        "invitations": invitations,
        "accounts": accounts["data"],
        "roles": _roles(c),
        "page": page,
        "values": {},
        "errors": {},
        "error": None,
        "row_error": None,
    }
    context.update(extra)
    return c.render("team/index.html", status=status, **context)


@router.get("/team")
async def team_page(c: Signed) -> Response:
    return await _team(c)


@router.post("/team/invite")
async def invite(c: Signed) -> Response:
    form = await c.form()
    values = {
        "email": str(form.get("email") or "").strip(),
        "role": str(form.get("role") or "member"),
        "account_ids": [str(v) for v in form.getlist("account_ids")],
    }
    body: dict[str, Any] = {"email": values["email"], "role": values["role"]}
    if values["account_ids"]:
        body["account_ids"] = values["account_ids"]
    try:
        answer = await c.api.post("/auth/invite", body)
    except ApiError as error:
        return await _team(
            c, status=error.status, values=values, errors=error.field_errors(), error=error
        )
    verb = "sent again" if answer.get("resent") else "sent"
    return c.redirect("/team", notice=f"Invitation {verb} to {answer['email']}.")


@router.post("/team/{user_id}/role")
async def change_role(user_id: uuid.UUID, c: Signed) -> Response:
    role = str((await c.form()).get("role") or "")
    try:
        user = await c.api.patch(f"/users/{user_id}", {"role": role})
    except ApiError as error:
        return await _team(c, status=error.status, row_error=(str(user_id), error))
    return c.redirect("/team", notice=f"{user['name']} is now {user['role']}.")


@router.post("/team/{user_id}/deactivate")
async def deactivate(user_id: uuid.UUID, c: Signed) -> Response:
    try:
        await c.api.delete(f"/users/{user_id}")
    except ApiError as error:
        return await _team(c, status=error.status, row_error=(str(user_id), error))
    return c.redirect("/team", notice="The user is deactivated: their logins and tokens stopped.")


# --- account access -------------------------------------------------------------------------


async def _access(c: Console, user_id: uuid.UUID, status: int = 200, **extra: Any) -> Response:
    try:
        # The admin-only call first: a member is told "not allowed" rather than "not found".
        access, user, accounts = await all_of(
            c.api.get(f"/users/{user_id}/accounts"),
            c.api.get(f"/users/{user_id}"),
            c.api.get("/users/available-accounts"),
        )
    except ApiError as error:
        return c.error_page(error)
    granted = {a["id"] for a in access["accounts"]}
    return c.render(
        "team/access.html",
        status=status,
        user=user,
        access=access,
        others=[a for a in accounts["data"] if a["id"] not in granted],
        error=extra.get("error"),
    )


@router.get("/team/{user_id}/access")
async def access_page(user_id: uuid.UUID, c: Signed) -> Response:
    return await _access(c, user_id)


@router.post("/team/{user_id}/access")
async def grant(user_id: uuid.UUID, c: Signed) -> Response:
    ids = [str(v) for v in (await c.form()).getlist("account_ids")]
    if not ids:
        error = ApiError(422, "VALIDATION_ERROR", "Choose at least one account to grant.")
        return await _access(c, user_id, status=422, error=error)
    try:
        await c.api.post(f"/users/{user_id}/accounts", {"account_ids": ids})
    except ApiError as error:
        return await _access(c, user_id, status=error.status, error=error)
    return c.redirect(f"/team/{user_id}/access", notice="Access granted.")


@router.post("/team/{user_id}/access/{account_id}/revoke")
async def revoke(user_id: uuid.UUID, account_id: uuid.UUID, c: Signed) -> Response:
    try:
        await c.api.delete(f"/users/{user_id}/accounts/{account_id}")
    except ApiError as error:
        return await _access(c, user_id, status=error.status, error=error)
    return c.redirect(f"/team/{user_id}/access", notice="Access revoked.")
