"""Allocation: the rules that share a cost across a tag's values (list, create, edit, delete,
and the API's preview, ``?preview=true``, of what saving would move over the last full month)
and unit economics (cost per unit of a business metric; record a metric's value)."""

from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter
from fastapi.responses import Response
from starlette.datastructures import FormData

from xplorr.console.api import ApiError, all_of
from xplorr.console.pages.savings import accounts, params
from xplorr.console.web import Console, NavItem, Signed
from xplorr.core import clock

router = APIRouter()
NAV = (
    NavItem("Allocation", "Allocation rules", "/allocation", 10),
    NavItem("Allocation", "Unit economics", "/unit-economics", 20),
)

METHODS = (
    ("proportional", "Proportional to each value's own cost"),
    ("even", "Evenly"),
    ("fixed", "Fixed percentages"),
)
TARGETS = (("tag", "The values of a tag (or pod label)"), ("namespace", "A cluster's namespaces"))
SOURCE_FIELDS = ("provider", "account_id", "service", "region", "tag_key", "tag_value",
                 "cluster_id", "namespace")  # fmt: skip
EMPTY_RULE: dict[str, Any] = {
    "name": "",
    **{f"source_{k}": "" for k in SOURCE_FIELDS},
    "source_idle": False,
    "target_kind": "tag",
    "target_tag_key": "",
    "method": "proportional",
    "splits": "",
    "priority": "1",
    "active": True,
}


def rule_values(rule: dict[str, Any]) -> dict[str, Any]:
    """A rule of the API as the form's values."""
    source = rule.get("source") or {}
    return {
        "name": rule["name"],
        **{f"source_{k}": source.get(k) or "" for k in SOURCE_FIELDS},
        "source_idle": bool(source.get("idle")),
        "target_kind": rule["target_kind"],
        "target_tag_key": rule.get("target_tag_key") or "",
        "method": rule["method"],
        "splits": "\n".join(f"{k}={v}" for k, v in (rule.get("splits") or {}).items()),
        "priority": str(rule["priority"]),
        "active": bool(rule["active"]),
    }


def form_values(form: FormData) -> dict[str, Any]:
    values: dict[str, Any] = {
        k: str(form.get(k) or "").strip() for k in EMPTY_RULE if isinstance(EMPTY_RULE[k], str)
    }
    values["source_idle"] = form.get("source_idle") == "on"
    values["active"] = form.get("active") == "on"
    return values


def parse_splits(text: str) -> dict[str, Any] | None:
    """``value=percent`` per line (or comma-separated): kept as written when a line has no
    number, so the API names the problem."""
    splits: dict[str, Any] = {}
    for line in text.replace(",", "\n").splitlines():
        if not line.strip():
            continue
        key, _, amount = line.partition("=")
        try:
            splits[key.strip()] = Decimal(amount.strip())
        except InvalidOperation:
            splits[key.strip()] = amount.strip()
    return splits or None


def rule_body(values: dict[str, Any]) -> dict[str, Any]:
    source = {k: values[f"source_{k}"] or None for k in SOURCE_FIELDS}
    source["idle"] = values["source_idle"]
    priority = values["priority"]
    return {
        "name": values["name"],
        "source": {k: v for k, v in source.items() if v not in (None, False)},
        "target_kind": values["target_kind"] or "tag",
        "target_tag_key": values["target_tag_key"] or None,
        "method": values["method"],
        "splits": parse_splits(values["splits"]),
        "priority": int(priority) if priority.isdigit() else priority or 1,
        "active": values["active"],
    }


async def all_rules(c: Console) -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = []
    page = 1
    while True:
        found = await c.api.get("/allocation-rules", {"page": page, "limit": 100})
        rules.extend(found["data"])
        if page * 100 >= int(found["total"]):
            return rules
        page += 1


async def clusters(c: Console) -> list[tuple[str, str]]:
    try:
        found = await c.api.get("/kubernetes/clusters", {"limit": 100})
    except ApiError:
        return []
    return [(k["id"], k["name"]) for k in found["data"]]


@router.get("/allocation")
async def rules(c: Signed) -> Response:
    try:
        found, account_list, cluster_list = await all_of(all_rules(c), accounts(c), clusters(c))
    except ApiError as error:
        return c.error_page(error)
    return c.render(
        "allocation/rules.html",
        rules=found,
        account_names={a["id"]: a["name"] for a in account_list},
        cluster_names=dict(cluster_list),
        methods=dict(METHODS),
    )


async def rule_form(
    c: Console,
    values: dict[str, Any],
    *,
    rule_id: str | None = None,
    error: ApiError | None = None,
    preview: dict[str, Any] | None = None,
    status: int = 200,
) -> Response:
    account_list, cluster_list = await all_of(accounts(c), clusters(c))
    field_errors: dict[str, str] = {}
    if error:
        for name, message in error.field_errors().items():
            field_errors[name.replace("source.", "source_")] = message
    return c.render(
        "allocation/rule_form.html",
        status=status,
        values=values,
        rule_id=rule_id,
        error=error,
        field_errors=field_errors,
        preview=preview,
        accounts=[(a["id"], a["name"]) for a in account_list],
        clusters=cluster_list,
        methods=METHODS,
        targets=TARGETS,
    )


@router.get("/allocation/new")
async def new_rule(c: Signed) -> Response:
    if not c.is_admin:
        return c.error_page(ApiError(403, "FORBIDDEN", "Only admins create allocation rules."))
    return await rule_form(c, dict(EMPTY_RULE))


@router.post("/allocation/new")
async def create_rule(c: Signed) -> Response:
    form = await c.form()
    values = form_values(form)
    preview = form.get("action") == "preview"
    try:
        answer = await c.api.post(
            "/allocation-rules", rule_body(values), params={"preview": "true"} if preview else None
        )
    except ApiError as error:
        return await rule_form(c, values, error=error, status=error.status)
    if preview:
        return await rule_form(c, values, preview=answer)
    return c.redirect("/allocation", notice=f"Rule “{answer['name']}” created.")


@router.get("/allocation/{rule_id}")
async def edit_rule(c: Signed, rule_id: str) -> Response:
    try:
        found = next((r for r in await all_rules(c) if r["id"] == rule_id), None)
    except ApiError as error:
        return c.error_page(error)
    if found is None:
        return c.error_page(ApiError(404, "NOT_FOUND", "There is no such allocation rule."))
    return await rule_form(c, rule_values(found), rule_id=rule_id)


@router.post("/allocation/{rule_id}")
async def update_rule(c: Signed, rule_id: str) -> Response:
    form = await c.form()
    values = form_values(form)
    preview = form.get("action") == "preview"
    suffix = "?preview=true" if preview else ""
    try:
        answer = await c.api.patch(f"/allocation-rules/{rule_id}{suffix}", rule_body(values))
    except ApiError as error:
        return await rule_form(c, values, rule_id=rule_id, error=error, status=error.status)
    if preview:
        return await rule_form(c, values, rule_id=rule_id, preview=answer)
    return c.redirect("/allocation", notice=f"Rule “{values['name']}” saved.")


@router.post("/allocation/{rule_id}/delete")
async def delete_rule(c: Signed, rule_id: str) -> Response:
    try:
        await c.api.delete(f"/allocation-rules/{rule_id}")
    except ApiError as error:
        return c.error_page(error)
    return c.redirect("/allocation", notice="Rule deleted.")


# --- unit economics ---------------------------------------------------------------------------

METRIC_TYPES = (
    ("customers", "Customers"),
    ("transactions", "Transactions"),
    ("api_calls", "API calls"),
    ("requests", "Requests"),
    ("custom", "Custom"),
)


async def unit_page(
    c: Console,
    *,
    error: ApiError | None = None,
    form: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    try:
        known = list((await c.api.get("/unit-economics/metrics"))["data"])
    except ApiError as failure:
        return c.error_page(failure)
    metric = c.query("metricName").strip()
    if not metric and known and "metricName" not in c.request.query_params:
        metric = str(known[0]["name"])
    start, end = c.query("startDate"), c.query("endDate")
    result: dict[str, Any] | None = None
    query_error: ApiError | None = None
    if metric:
        try:
            result = await c.api.get(
                "/unit-economics", params(metricName=metric, startDate=start, endDate=end)
            )
        except ApiError as failure:
            if failure.status not in (404, 422):
                return c.error_page(failure)
            query_error = failure
    chart = None
    if result and result["data"]:
        chart = {
            "type": "line",
            "data": {
                "labels": [d["date"] for d in result["data"]],
                "datasets": [
                    {
                        "label": f"Cost per unit ({result['currency'] or ''})",
                        "data": [float(d["cost_per_unit"]) for d in result["data"]],
                    }
                ],
            },
        }
    today = clock.now().date()
    return c.render(
        "allocation/unit_economics.html",
        status=status if not query_error else query_error.status,
        metric=metric,
        start=start,
        end=end,
        result=result,
        query_error=query_error,
        query_errors=query_error.field_errors() if query_error else {},
        chart=chart,
        error=error,
        field_errors=error.field_errors() if error else {},
        form=form
        or {
            "name": metric,
            "metric_type": "custom",
            "value": "",
            "date": (today - timedelta(days=1)).isoformat(),
        },
        metric_types=METRIC_TYPES,
        known=[
            (m["name"], f"{m['name']} ({m['days']} day{'' if m['days'] == 1 else 's'})")
            for m in known
        ],
        known_names={m["name"] for m in known},
    )


@router.get("/unit-economics")
async def unit_economics(c: Signed) -> Response:
    return await unit_page(c)


@router.post("/unit-economics")
async def record_metric(c: Signed) -> Response:
    form = await c.form()
    values = {k: str(form.get(k) or "").strip() for k in ("name", "metric_type", "value", "date")}
    try:
        value: Any = Decimal(values["value"])
    except InvalidOperation:
        value = values["value"] or None
    try:
        await c.api.post(
            "/unit-economics/metrics",
            {
                "name": values["name"],
                "metric_type": values["metric_type"] or "custom",
                "value": value,
                "date": values["date"] or None,
            },
        )
    except ApiError as error:
        return await unit_page(c, error=error, form=values, status=error.status)
    return c.redirect(
        f"/unit-economics?{urlencode({'metricName': values['name']})}",
        notice=f"Recorded {values['name']} for {values['date']}.",
    )
