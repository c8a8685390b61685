"""The cost explorer: ``GET /costs`` as a finance lead uses it. The whole state is the query
string (a GET form), so a view is shared by its URL; the API's own parameter names are used, and
the page sends them on unchanged (a wrong value is the API's 422, shown next to the form).

One table per currency (``/costs`` answers in one currency and lists the others in
``currencies``: each gets its own call and table, amounts are never added across them); its total
cell is the API's ``totalCost``. The chart stacks the groups over time: ``/costs`` grouped by the
table's dimension then by day, week or month (``/costs/trend`` has no grouping; it gives the
buckets, zero-filled, and the comparison with the previous period). Clicking a group adds it as
a filter and goes one level deeper; ``/costs/download`` is the same table as CSV with exact
decimals.
"""

import asyncio
import csv
import io
from calendar import monthrange
from collections.abc import Awaitable
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Final
from urllib.parse import quote, urlencode

from fastapi import APIRouter
from fastapi.responses import Response

from xplorr.console import format as fmt
from xplorr.console.api import ApiError
from xplorr.console.web import Console, NavItem, Signed

router = APIRouter()
NAV = (NavItem("Costs", "Explorer", "/costs", 1),)

DIMENSIONS: Final = {
    "service": "Service",
    "account": "Cloud account",
    "provider": "Provider",
    "region": "Region",
    "serviceCategory": "Service category",
    "resource": "Resource",
    "sku": "SKU",
    "chargeCategory": "Charge category",
    "pricingCategory": "Pricing category",
    "month": "Month",
    "week": "Week",
    "date": "Day",
}
TIME_GROUPS: Final = {"date", "week", "month"}
GRANULARITIES: Final = (("day", "Day"), ("week", "Week"), ("month", "Month"))
GRAIN_GROUP: Final = {"day": "date", "week": "week", "month": "month"}
METRICS: Final = (("billed", "Billed cost"), ("effective", "Effective cost"), ("list", "List cost"))
PRESETS: Final = (
    ("last30", "Last 30 days"),
    ("mtd", "Month to date"),
    ("lastmonth", "Last month"),
    ("last3", "Last 3 months"),
    ("last12", "Last 12 months"),
)
# Filters the API takes once (a second value is a 422) and those it ORs when repeated.
SINGLE_FILTERS: Final = ("provider", "accountId")
MULTI_FILTERS: Final = (
    "service",
    "region",
    "chargeCategory",
    "serviceCategory",
    "resourceId",
    "tag",
)
FILTER_LABELS: Final = {
    "provider": "Provider",
    "accountId": "Cloud account",
    "service": "Service",
    "region": "Region",
    "chargeCategory": "Charge category",
    "serviceCategory": "Service category",
    "resourceId": "Resource",
    "tag": "Tag",
}
# A group's filter when clicked (None: the dimension is not a filter of /costs).
GROUP_FILTER: Final = {
    "provider": "provider",
    "account": "accountId",
    "service": "service",
    "region": "region",
    "serviceCategory": "serviceCategory",
    "resource": "resourceId",
    "chargeCategory": "chargeCategory",
}
# Where a click goes next when there is no thenBy to take over.
DRILL_NEXT: Final = {
    "provider": "account",
    "account": "service",
    "service": "resource",
    "region": "service",
    "serviceCategory": "service",
    "chargeCategory": "service",
    "resource": "sku",
    "month": "date",
    "week": "date",
    "date": "service",
}
CHART_SERIES: Final = 8  # groups drawn apart in the chart; the rest are stacked as "Other"
TABLE_LIMIT: Final = 100
NESTED_LIMIT: Final = 25


def _today(c: Console) -> date:
    return datetime.now(fmt.zone(c.timezone)).date()


def _months_back(day: date, months: int) -> date:
    """The first day of the month ``months`` before ``day``'s month."""
    index = day.year * 12 + day.month - 1 - months
    return date(index // 12, index % 12 + 1, 1)


def preset_range(name: str, today: date) -> tuple[date, date] | None:
    """A preset's first and last day (complete months for the month presets)."""
    first_of_month = today.replace(day=1)
    last_month_end = first_of_month - timedelta(days=1)
    if name == "last30":
        end = today - timedelta(days=1)
        return end - timedelta(days=29), end
    if name == "mtd":
        return first_of_month, today
    if name == "lastmonth":
        return last_month_end.replace(day=1), last_month_end
    if name == "last3":
        return _months_back(today, 3), last_month_end
    if name == "last12":
        return _months_back(today, 12), last_month_end
    return None


def _values(c: Console, name: str) -> list[str]:
    return [v for v in c.request.query_params.getlist(name) if v != ""]


def _state(c: Console) -> dict[str, Any]:
    """The page's state from its query string, with a preset turned into its days."""
    start, end = c.query("startDate"), c.query("endDate")
    preset = c.query("range")
    if preset and not (start or end) and (days := preset_range(preset, _today(c))):
        start, end = days[0].isoformat(), days[1].isoformat()
    else:
        preset = ""
    group_by = c.query("groupBy") or "service"
    then_by = c.query("thenBy")
    return {
        "startDate": start,
        "endDate": end,
        "range": preset,
        "granularity": c.query("granularity") or "day",
        "groupBy": group_by,
        "thenBy": then_by if then_by != group_by else "",
        "metric": c.query("metric") or "billed",
        **{name: c.query(name) for name in SINGLE_FILTERS},
        **{name: _values(c, name) for name in MULTI_FILTERS},
    }


def api_params(state: dict[str, Any], **extra: Any) -> list[tuple[str, str]]:
    """The API's query for this state: the range, the metric and every filter."""
    params: list[tuple[str, str]] = []
    for name in ("startDate", "endDate", *SINGLE_FILTERS):
        if state.get(name):
            params.append((name, str(state[name])))
    if state.get("metric") and state["metric"] != "billed":
        params.append(("metric", state["metric"]))
    for name in MULTI_FILTERS:
        params.extend((name, v) for v in state.get(name) or [])
    for name, value in extra.items():
        if value is not None and value != "":
            params.append((name, str(value)))
    return params


def breakdown_params(state: dict[str, Any], currency: str | None = None) -> list[tuple[str, str]]:
    return api_params(
        state,
        groupBy=state["groupBy"],
        thenBy=state["thenBy"] or None,
        limit=NESTED_LIMIT if state["thenBy"] else TABLE_LIMIT,
        currency=currency,
    )


async def breakdowns(c: Console, state: dict[str, Any]) -> list[dict[str, Any]]:
    """``/costs`` for the state: the answer's currency first, then one answer per other
    currency present (never summed together)."""
    first = await c.api.get("/costs", breakdown_params(state))
    others = _other_currencies(first)
    rest = await asyncio.gather(*(c.api.get("/costs", breakdown_params(state, o)) for o in others))
    return _shown([first, *rest])


def _other_currencies(first: dict[str, Any]) -> list[str]:
    """The currencies with costs besides the answer's (each gets its own call and table)."""
    return [
        cur["currency"]
        for cur in first.get("currencies", [])
        if cur["currency"] != first.get("currency")
    ]


def _shown(answers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The answers worth a table: the default currency's stays even when empty, unless another
    currency has the costs."""
    present = {cur["currency"] for cur in answers[0].get("currencies", [])}
    kept = [
        a for a in answers if a.get("currency") and (a["currency"] in present or a is answers[0])
    ]
    if len(kept) > 1 and kept[0]["currency"] not in present:
        kept = kept[1:]
    return kept


def _link(state: dict[str, Any], **changes: Any) -> str:
    """The explorer's URL for ``state`` with some values changed (lists replace a filter's
    values). A preset range stays a preset (the link keeps meaning "last month")."""
    merged = {**state, **changes}
    if "startDate" in changes or "endDate" in changes:
        merged["range"] = changes.get("range", "")
    if merged.get("range"):
        merged["startDate"] = merged["endDate"] = ""
    params: list[tuple[str, str]] = []
    for key, value in merged.items():
        if isinstance(value, list):
            params.extend((key, str(v)) for v in value)
        elif value and not (key == "granularity" and value == "day"):
            if key == "metric" and value == "billed":
                continue
            params.append((key, str(value)))
    return "/costs?" + urlencode(params)


def _period_end(group: str, key: str) -> tuple[str, str] | None:
    try:
        first = date.fromisoformat(key)
    except (TypeError, ValueError):
        return None
    if group == "date":
        last = first
    elif group == "week":
        last = first + timedelta(days=6)
    else:
        last = first.replace(day=monthrange(first.year, first.month)[1])
    return first.isoformat(), last.isoformat()


def drill_changes(
    state: dict[str, Any], group: str, key: str | None, other: bool
) -> dict[str, Any] | None:
    """The state changes a click on a group makes: its filter added, one level deeper."""
    if other:
        return None
    changes: dict[str, Any] = {}
    if group in TIME_GROUPS:
        if key is None or (days := _period_end(group, key)) is None:
            return None
        # A week or month that starts before the range (or ends after it) keeps its range's days.
        first = max(days[0], state["startDate"] or days[0])
        last = min(days[1], state["endDate"] or days[1])
        changes.update(startDate=first, endDate=last, range="")
        if group != "date":
            changes["granularity"] = "day"
    elif group.startswith("tag:"):
        tag = f"{group[4:]}:{key or ''}"
        changes["tag"] = [*(t for t in state["tag"] if t != tag), tag]
    elif (name := GROUP_FILTER.get(group)) is not None and key is not None:
        if name in SINGLE_FILTERS:
            changes[name] = key
        else:
            changes[name] = [*(v for v in state[name] if v != key), key]
    else:
        return None
    return changes


def drill_link(
    state: dict[str, Any], group: str, key: str | None, other: bool, deeper: str | None
) -> str | None:
    changes = drill_changes(state, group, key, other)
    if changes is None:
        return None
    nxt = deeper or DRILL_NEXT.get(group, "service")
    changes.update(groupBy=nxt, thenBy="")
    return _link(state, **changes)


def nested_link(state: dict[str, Any], parent: dict[str, Any], child: dict[str, Any]) -> str | None:
    first = drill_changes(state, state["groupBy"], parent["key"], parent["other"])
    if first is None:
        return None
    merged = {**state, **first}
    second = drill_changes(merged, state["thenBy"], child["key"], child["other"])
    if second is None:
        return None
    merged.update(second)
    nxt = DRILL_NEXT.get(state["thenBy"], "service")
    if nxt in (state["groupBy"], state["thenBy"]):
        nxt = "service" if "service" not in (state["groupBy"], state["thenBy"]) else "resource"
    return _link(state, **{**first, **second, "groupBy": nxt, "thenBy": ""})


def _rows(state: dict[str, Any], answer: dict[str, Any]) -> list[dict[str, Any]]:
    """The table's rows: each group with its link, nested groups under it."""
    rows = []
    for item in answer["data"]:
        row = {
            "name": item["name"],
            "key": item["key"],
            "cost": item["cost"],
            "percentage": item["percentage"],
            "other": item.get("other", False),
            "href": drill_link(
                state,
                state["groupBy"],
                item["key"],
                item.get("other", False),
                state["thenBy"] or None,
            ),
            "children": [],
        }
        for child in item.get("groups") or []:
            row["children"].append(
                {
                    "name": child["name"],
                    "cost": child["cost"],
                    "percentage": child["percentage"],
                    "href": nested_link(
                        state,
                        {"key": item["key"], "other": item.get("other", False)},
                        {"key": child["key"], "other": child.get("other", False)},
                    ),
                }
            )
        rows.append(row)
    return rows


def _chart(trend: dict[str, Any], by_time: dict[str, Any] | None) -> dict[str, Any]:
    """Stacked bars of the groups over time (or the total when grouped by time)."""
    labels = [point["date"] for point in trend["data"]]
    currency = trend.get("currency") or ""
    if by_time is None:
        datasets = [
            {
                "label": f"Cost ({currency})",
                "data": [float(point["cost"]) for point in trend["data"]],
            }
        ]
    else:
        index = {str(day): i for i, day in enumerate(labels)}
        series: list[tuple[str, list[Decimal]]] = []
        for item in by_time["data"]:
            values = [Decimal(0)] * len(labels)
            for bucket in item.get("groups") or []:
                if (i := index.get(str(bucket["key"]))) is not None:
                    values[i] += bucket["cost"]
            series.append(("Other" if item.get("other") else item["name"], values))
        shown = series[:CHART_SERIES]
        if len(series) > CHART_SERIES:
            rest = [
                sum(col, Decimal(0))
                for col in zip(*(v for _, v in series[CHART_SERIES:]), strict=True)
            ]
            shown.append(("Other", rest))
        datasets = [{"label": name, "data": [float(v) for v in values]} for name, values in shown]
    return {
        "type": "bar",
        "data": {"labels": [fmt.day(day) for day in labels], "datasets": datasets},
        "options": {
            "scales": {
                "x": {"stacked": True},
                "y": {"stacked": True, "title": {"display": True, "text": currency}},
            }
        },
    }


def _chips(state: dict[str, Any], names: dict[str, str]) -> list[dict[str, str]]:
    """The active filters, each with the link that removes it."""
    chips = []
    for name in SINGLE_FILTERS:
        if value := state.get(name):
            chips.append(
                {
                    "label": FILTER_LABELS[name],
                    "value": names.get(value, value),
                    "href": _link(state, **{name: ""}),
                }
            )
    for name in MULTI_FILTERS:
        for value in state[name]:
            shown = value
            if name == "tag":
                key, _, tag_value = value.partition(":")
                shown = f"{key} = {tag_value}" if tag_value else f"{key} (untagged)"
            chips.append(
                {
                    "label": FILTER_LABELS[name],
                    "value": shown,
                    "href": _link(state, **{name: [v for v in state[name] if v != value]}),
                }
            )
    return chips


def _options(items: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(str(i["key"]), str(i["name"])) for i in items if i.get("key") is not None]


async def _maybe(call: Awaitable[Any]) -> Any:
    """The call's answer, or its ApiError (a page shows it rather than failing)."""
    try:
        return await call
    except ApiError as error:
        return error


def _discovery(
    c: Console, state: dict[str, Any], tag_key: str, currency: str | None
) -> list[Awaitable[Any]]:
    """The pickers' sources for one currency: dimensions, tag keys, the chosen key's values
    (in the range; not narrowed by the filters, which would hide the values to add)."""
    params = api_params(
        {"startDate": state["startDate"], "endDate": state["endDate"]}, currency=currency
    )
    values = (
        c.api.get(f"/costs/tags/{quote(tag_key, safe='')}/values", [*params, ("limit", "200")])
        if tag_key
        else asyncio.sleep(0, {"data": []})
    )
    return [
        _maybe(c.api.get("/costs/dimensions", params)),
        _maybe(c.api.get("/costs/tags", params)),
        _maybe(values),
    ]


def _unique(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: dict[Any, dict[str, Any]] = {}
    for item in items:
        seen.setdefault(item.get("key"), item)
    return list(seen.values())


DIMENSION_LISTS: Final = (
    "providers",
    "accounts",
    "services",
    "service_categories",
    "regions",
    "charge_categories",
    "pricing_categories",
)


def _merge_discovery(
    found: list[Any],
) -> tuple[dict[str, list[dict[str, Any]]], list[dict[str, Any]], list[dict[str, Any]]]:
    """Each currency's pickers (groups of three answers) as one list per picker."""
    dims: dict[str, list[dict[str, Any]]] = {name: [] for name in DIMENSION_LISTS}
    tags: list[dict[str, Any]] = []
    values: list[dict[str, Any]] = []
    for i in range(0, len(found), 3):
        d, t, v = found[i : i + 3]
        if isinstance(d, dict):
            for name in DIMENSION_LISTS:
                dims[name] += d.get(name, [])
        if isinstance(t, dict):
            tags += t.get("data", [])
        if isinstance(v, dict):
            values += v.get("data", [])
    return (
        {name: _unique(items) for name, items in dims.items()},
        _unique(tags),
        _unique(values),
    )


@router.get("/costs")
async def explorer(c: Signed) -> Response:
    tag_key, tag_value = c.query("tagKey"), c.request.query_params.get("tagValue")
    state = _state(c)
    if tag_key and tag_value is not None and c.query("addTag"):
        # The tag picker's two steps end here: key and value become one tag filter.
        tag = f"{tag_key}:{tag_value}"
        return c.redirect(
            _link(state, tag=[*(t for t in state["tag"] if t != tag), tag]), status=303
        )
    error: ApiError | None = None
    trend: dict[str, Any] | None = None
    by_time: dict[str, Any] | None = None
    answers: list[dict[str, Any]] = []
    first, trend_or_error, *found = await asyncio.gather(
        _maybe(c.api.get("/costs", breakdown_params(state))),
        _maybe(c.api.get("/costs/trend", api_params(state, granularity=state["granularity"]))),
        *_discovery(c, state, tag_key, None),
    )
    if isinstance(first, ApiError) or isinstance(trend_or_error, ApiError):
        error = first if isinstance(first, ApiError) else trend_or_error
    else:
        trend = trend_or_error
        others = _other_currencies(first)
        present = {cur["currency"] for cur in first.get("currencies", [])}
        # The chart shows the first table's currency (the default one unless it has no cost).
        chart_currency = None if first.get("currency") in present or not others else others[0]
        chart_call = (
            c.api.get(
                "/costs",
                api_params(
                    state,
                    groupBy=state["groupBy"],
                    thenBy=GRAIN_GROUP.get(state["granularity"], "date"),
                    limit=max(1, min(len(trend["data"]), 1000)),
                    currency=chart_currency,
                ),
            )
            if state["groupBy"] not in TIME_GROUPS
            else asyncio.sleep(0, None)
        )
        trend_call = (
            c.api.get(
                "/costs/trend",
                api_params(state, granularity=state["granularity"], currency=chart_currency),
            )
            if chart_currency
            else asyncio.sleep(0, trend)
        )
        trend, *more = await asyncio.gather(
            trend_call,
            _maybe(chart_call),
            *(_maybe(c.api.get("/costs", breakdown_params(state, o))) for o in others),
            *(call for o in others for call in _discovery(c, state, tag_key, o)),
        )
        by_time, rest = more[0], more[1 : 1 + len(others)]
        found += more[1 + len(others) :]
        for answer in (by_time, *rest):
            if isinstance(answer, ApiError):
                error = answer
        if isinstance(by_time, ApiError):
            by_time = None
        answers = _shown([first, *(r for r in rest if not isinstance(r, ApiError))])
    dims, tags, tag_values = _merge_discovery(found)
    accounts = {str(a["key"]): str(a["name"]) for a in dims.get("accounts", [])}
    group_options = [*DIMENSIONS.items()] + [
        (f"tag:{t['key']}", f"Tag: {t['key']}") for t in tags[:50]
    ]
    for current in (state["groupBy"], state["thenBy"]):
        if current and current not in dict(group_options):
            group_options.append((current, current))
    tables = [
        {
            "currency": answer["currency"],
            "answer": answer,
            "rows": _rows(state, answer),
        }
        for answer in answers
        if answer.get("currency")
    ]
    return c.render(
        "costs/explorer.html",
        status=error.status if error and not answers else 200,
        state=state,
        error=error,
        errors={k.split(".")[0]: v for k, v in error.field_errors().items()} if error else {},
        tables=tables,
        trend=trend,
        chart=_chart(trend, by_time) if trend and answers else None,
        chips=_chips(state, accounts),
        group_options=group_options,
        granularities=GRANULARITIES,
        metrics=METRICS,
        presets=[(name, label, _link(state, range=name)) for name, label in PRESETS],
        dims=dims,
        tags=tags,
        tag_key=tag_key,
        tag_values=tag_values,
        options={
            "provider": _options(dims.get("providers", [])),
            "accountId": _options(dims.get("accounts", [])),
            "service": _options(dims.get("services", [])),
            "region": _options(dims.get("regions", [])),
            "chargeCategory": _options(dims.get("charge_categories", [])),
            "serviceCategory": _options(dims.get("service_categories", [])),
        },
        dimension_label=dict(group_options),
        download="/costs/download?"
        + urlencode(api_params(state, groupBy=state["groupBy"], thenBy=state["thenBy"] or None)),
        filter_labels=FILTER_LABELS,
    )


def _money(value: Any) -> str:
    amount = fmt.as_decimal(value)
    return "" if amount is None else format(amount, "f")


@router.get("/costs/download")
async def download(c: Signed) -> Response:
    """The explorer's table as CSV: one row per group (and nested group), each currency apart,
    amounts as the API's exact decimals."""
    state = _state(c)
    try:
        answers = await breakdowns(c, state)
    except ApiError as error:
        return c.error_page(error)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    group, then = state["groupBy"], state["thenBy"]
    header = ["currency", group, f"{group}_key"]
    if then:
        header += [then, f"{then}_key"]
    writer.writerow([*header, "cost", "percentage"])
    for answer in answers:
        currency = answer["currency"]
        for item in answer["data"]:
            if then and item.get("groups"):
                for child in item["groups"]:
                    writer.writerow(
                        [
                            currency,
                            item["name"],
                            item["key"] or "",
                            child["name"],
                            child["key"] or "",
                            _money(child["cost"]),
                            _money(child["percentage"]),
                        ]
                    )
            else:
                writer.writerow(
                    [
                        currency,
                        item["name"],
                        item["key"] or "",
                        *(["", ""] if then else []),
                        _money(item["cost"]),
                        _money(item["percentage"]),
                    ]
                )
    first = answers[0]
    name = f"costs-{group.replace(':', '-')}-{first['startDate']}-{first['endDate']}.csv"
    response = Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="{name}"'},
    )
    return c.finish(response)
