"""Alert rules: the list, one rule with its last firings, and create / edit / delete (admins and
owners, as ``/alerts`` allows: a member or viewer sees no button). Webhook URLs are secrets the
API masks: the edit form never sends the mask back, it keeps the stored URL unless a new one is
typed or its removal is ticked."""

import asyncio
import re
from collections.abc import Awaitable
from typing import Any, Final

from fastapi import APIRouter
from fastapi.responses import Response
from starlette.datastructures import FormData

from xplorr.console import format as fmt
from xplorr.console.api import ApiError
from xplorr.console.web import Console, NavItem, Signed

router = APIRouter()
NAV = (NavItem("Costs", "Alert rules", "/alerts", 4),)

METRICS: Final = (
    ("daily_spend", "Daily spend (the last complete day)"),
    ("monthly_spend", "Month-to-date spend"),
    ("forecast", "Forecast of the month"),
)
OPS: Final = ((">", "above"), (">=", "at or above"), ("<", "below"), ("<=", "at or below"))
FORBIDDEN = ApiError(403, "FORBIDDEN", "Only admins and owners can create or change alert rules.")
WEBHOOKS: Final = ("slackWebhookUrl", "teamsWebhookUrl")


def _blank(currency: str) -> dict[str, Any]:
    return {
        "name": "",
        "metric": "daily_spend",
        "conditionOp": ">",
        "threshold": "",
        "currency": currency,
        "notifyEmails": "",
        "serviceFilter": "",
        "regionFilter": "",
        "cloudAccountId": "",
        "slackWebhookUrl": "",
        "teamsWebhookUrl": "",
        "enabled": True,
    }


def _values_of(rule: dict[str, Any]) -> dict[str, Any]:
    return {
        **_blank(rule["currency"]),
        **{k: rule.get(k) or "" for k in ("name", "metric", "conditionOp", "currency")},
        "threshold": format(fmt.as_decimal(rule["threshold"]) or 0, "f"),
        "notifyEmails": ", ".join(rule.get("notifyEmails") or []),
        "serviceFilter": rule.get("serviceFilter") or "",
        "regionFilter": rule.get("regionFilter") or "",
        "cloudAccountId": str(rule.get("cloudAccountId") or ""),
        "enabled": bool(rule.get("enabled")),
    }


def _form_values(form: FormData) -> dict[str, Any]:
    values: dict[str, Any] = {
        k: str(form.get(k) or "").strip() for k in _blank("USD") if k != "enabled"
    }
    values["enabled"] = form.get("enabled") == "on"
    values["remove"] = [w for w in WEBHOOKS if form.get(f"remove_{w}") == "on"]
    return values


def _body(values: dict[str, Any], *, editing: bool) -> dict[str, Any]:
    threshold = fmt.as_decimal(values["threshold"])
    body: dict[str, Any] = {
        "name": values["name"],
        "metric": values["metric"],
        "conditionOp": values["conditionOp"],
        "threshold": threshold if threshold is not None else values["threshold"],
        "currency": values["currency"] or "USD",
        "notifyEmails": [e for e in re.split(r"[,\s;]+", values["notifyEmails"]) if e],
        "serviceFilter": values["serviceFilter"] or None,
        "regionFilter": values["regionFilter"] or None,
        "cloudAccountId": values["cloudAccountId"] or None,
        "enabled": values["enabled"],
    }
    for hook in WEBHOOKS:
        if values[hook]:
            body[hook] = values[hook]
        elif hook in values.get("remove", []) or not editing:
            body[hook] = None
    return body


async def _or_none(call: Awaitable[Any]) -> Any:
    try:
        return await call
    except ApiError:
        return None


async def _render_form(
    c: Console, template: str, values: dict[str, Any], error: ApiError | None = None, **ctx: Any
) -> Response:
    accounts = await _or_none(c.api.get("/cloud-accounts", {"limit": 100}))
    return c.render(
        template,
        status=error.status if error else 200,
        values=values,
        error=error,
        errors={k.split(".")[0]: v for k, v in error.field_errors().items()} if error else {},
        metrics=METRICS,
        ops=OPS,
        accounts=[(str(a["id"]), a["name"]) for a in accounts["data"]] if accounts else [],
        **ctx,
    )


@router.get("/alerts")
async def rules(c: Signed) -> Response:
    try:
        found, accounts = await asyncio.gather(
            c.api.get("/alerts", {"limit": 100, "page": c.query("page", "1")}),
            _or_none(c.api.get("/cloud-accounts", {"limit": 100})),
        )
    except ApiError as error:
        return c.error_page(error)
    names = {str(a["id"]): a["name"] for a in accounts["data"]} if accounts else {}
    return c.render(
        "alerts/list.html", found=found, metrics=dict(METRICS), ops=dict(OPS), names=names
    )


@router.get("/alerts/new")
async def new_rule(c: Signed) -> Response:
    if not c.is_admin:
        return c.error_page(FORBIDDEN)
    return await _render_form(c, "alerts/new.html", _blank(c.currency))


@router.post("/alerts/new")
async def create_rule(c: Signed) -> Response:
    values = _form_values(await c.form())
    try:
        made = await c.api.post("/alerts", _body(values, editing=False))
    except ApiError as error:
        return await _render_form(c, "alerts/new.html", values, error)
    return c.redirect(f"/alerts/{made['id']}", notice=f"Alert rule {made['name']} created.")


async def _detail(
    c: Console, rule_id: str, values: dict[str, Any] | None = None, error: ApiError | None = None
) -> Response:
    try:
        rule = await c.api.get(f"/alerts/{rule_id}")
    except ApiError as e:
        return c.error_page(e)
    return await _render_form(
        c,
        "alerts/detail.html",
        values or _values_of(rule),
        error,
        rule=rule,
        metric_label=dict(METRICS),
        op_label=dict(OPS),
    )


@router.get("/alerts/{rule_id}")
async def rule(c: Signed, rule_id: str) -> Response:
    return await _detail(c, rule_id)


@router.post("/alerts/{rule_id}")
async def update_rule(c: Signed, rule_id: str) -> Response:
    values = _form_values(await c.form())
    try:
        changed = await c.api.patch(f"/alerts/{rule_id}", _body(values, editing=True))
    except ApiError as error:
        return await _detail(c, rule_id, values, error)
    return c.redirect(f"/alerts/{rule_id}", notice=f"Alert rule {changed['name']} saved.")


@router.post("/alerts/{rule_id}/delete")
async def delete_rule(c: Signed, rule_id: str) -> Response:
    try:
        await c.api.delete(f"/alerts/{rule_id}")
    except ApiError as error:
        return await _detail(c, rule_id, None, error)
    return c.redirect("/alerts", notice="Alert rule deleted.")
