"""Budgets: the list with each one's progress (spend against the amount), its forecast and the
forecast's day-to-day range, and the projected overrun flag; a budget's page with its edit form
and delete; the new-budget form. Writes are ``POST/PATCH/DELETE /budgets`` (members and above:
a viewer sees no button, and the API refuses a direct POST)."""

import asyncio
from collections.abc import Awaitable
from typing import Any, Final

from fastapi import APIRouter
from fastapi.responses import Response
from starlette.datastructures import FormData

from xplorr.console import format as fmt
from xplorr.console.api import ApiError
from xplorr.console.web import Console, NavItem, Signed

router = APIRouter()
NAV = (NavItem("Costs", "Budgets", "/budgets", 3),)

PERIODS: Final = (("monthly", "Monthly"), ("quarterly", "Quarterly"), ("yearly", "Yearly"))
PROVIDERS: Final = (("aws", "AWS"), ("azure", "Microsoft Azure"), ("gcp", "Google Cloud"))
FORBIDDEN = ApiError(
    403, "FORBIDDEN", "Only members, admins and owners can create or change budgets."
)


def _blank() -> dict[str, Any]:
    return {
        "name": "",
        "amount": "",
        "currency": "",
        "cloud_account_id": "",
        "period": "monthly",
        "alert_at_80": True,
        "alert_at_100": True,
        "provider": "",
        "service": "",
        "tag_key": "",
        "tag_value": "",
    }


def _values_of(budget: dict[str, Any]) -> dict[str, Any]:
    """A budget from the API as the form's values."""
    filters = budget.get("filters") or {}
    return {
        **_blank(),
        **{k: budget.get(k) for k in ("name", "currency", "period", "alert_at_80", "alert_at_100")},
        "amount": format(fmt.as_decimal(budget["amount"]) or 0, "f"),
        "cloud_account_id": str(budget.get("cloud_account_id") or ""),
        **{k: filters.get(k) or "" for k in ("provider", "service", "tag_key", "tag_value")},
    }


def _form_values(form: FormData) -> dict[str, Any]:
    values: dict[str, Any] = {
        k: str(form.get(k) or "").strip() for k in _blank() if not k.startswith("alert")
    }
    values["alert_at_80"] = form.get("alert_at_80") == "on"
    values["alert_at_100"] = form.get("alert_at_100") == "on"
    return values


def _body(values: dict[str, Any]) -> dict[str, Any]:
    """The API's body for the form's values (every field: the form shows them all)."""
    amount = fmt.as_decimal(values["amount"])
    filters = {k: values[k] for k in ("provider", "service", "tag_key", "tag_value") if values[k]}
    return {
        "name": values["name"],
        "amount": amount if amount is not None else values["amount"],
        "currency": values["currency"] or "USD",
        "cloud_account_id": values["cloud_account_id"] or None,
        "period": values["period"],
        "alert_at_80": values["alert_at_80"],
        "alert_at_100": values["alert_at_100"],
        "filters": filters or None,
    }


def _field_errors(error: ApiError | None) -> dict[str, str]:
    if error is None:
        return {}
    return {k.removeprefix("filters."): v for k, v in error.field_errors().items()}


async def _or_none(call: Awaitable[Any]) -> Any:
    try:
        return await call
    except ApiError:
        return None  # a picker left empty: the form still works


async def _choices(c: Console) -> dict[str, Any]:
    """The account and service pickers (what the person can see)."""
    accounts, dims = await asyncio.gather(
        _or_none(c.api.get("/cloud-accounts", {"limit": 100})),
        _or_none(c.api.get("/costs/dimensions")),
    )
    return {
        "accounts": [(str(a["id"]), a["name"]) for a in accounts["data"]]
        if isinstance(accounts, dict)
        else [],
        "services": [str(s["key"]) for s in dims.get("services", []) if s.get("key")]
        if isinstance(dims, dict)
        else [],
    }


async def _render_form(
    c: Console,
    template: str,
    values: dict[str, Any],
    error: ApiError | None = None,
    **context: Any,
) -> Response:
    return c.render(
        template,
        status=error.status if error else 200,
        values=values,
        error=error,
        errors=_field_errors(error),
        periods=PERIODS,
        providers=PROVIDERS,
        **(await _choices(c)),
        **context,
    )


@router.get("/budgets")
async def budgets(c: Signed) -> Response:
    page = c.query("page", "1")
    try:
        found = await c.api.get("/budgets", {"limit": 100, "page": page})
    except ApiError as error:
        return c.error_page(error)
    return c.render("budgets/list.html", found=found)


@router.get("/budgets/new")
async def new_budget(c: Signed) -> Response:
    if not c.can_write:
        return c.error_page(FORBIDDEN)
    values = {**_blank(), "currency": c.currency}
    return await _render_form(c, "budgets/new.html", values)


@router.post("/budgets/new")
async def create_budget(c: Signed) -> Response:
    values = _form_values(await c.form())
    try:
        made = await c.api.post("/budgets", _body(values))
    except ApiError as error:
        return await _render_form(c, "budgets/new.html", values, error)
    return c.redirect("/budgets", notice=f"Budget {made['name']} created.")


async def _detail(
    c: Console, budget_id: str, values: dict[str, Any] | None = None, error: ApiError | None = None
) -> Response:
    try:
        budget = await c.api.get(f"/budgets/{budget_id}")
    except ApiError as e:
        return c.error_page(e)
    return await _render_form(
        c, "budgets/detail.html", values or _values_of(budget), error, b=budget
    )


@router.get("/budgets/{budget_id}")
async def budget(c: Signed, budget_id: str) -> Response:
    return await _detail(c, budget_id)


@router.post("/budgets/{budget_id}")
async def update_budget(c: Signed, budget_id: str) -> Response:
    values = _form_values(await c.form())
    try:
        changed = await c.api.patch(f"/budgets/{budget_id}", _body(values))
    except ApiError as error:
        return await _detail(c, budget_id, values, error)
    return c.redirect(f"/budgets/{budget_id}", notice=f"Budget {changed['name']} saved.")


@router.post("/budgets/{budget_id}/delete")
async def delete_budget(c: Signed, budget_id: str) -> Response:
    try:
        await c.api.delete(f"/budgets/{budget_id}")
    except ApiError as error:
        return await _detail(c, budget_id, None, error)
    return c.redirect("/budgets", notice="Budget deleted.")
