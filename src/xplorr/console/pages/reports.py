"""Reports: the cost report of a date range (and one account) as sections and figures, its PDF
and Excel downloads, scheduled reports and daily digests. Views over /reports,
/scheduled-reports and /digest-settings."""

import asyncio
import re
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response
from starlette.datastructures import FormData

from xplorr.console.api import ApiError
from xplorr.console.web import Console, NavItem, Signed

router = APIRouter()
NAV = (
    NavItem("Reports", "Reports", "/reports", 0),
    NavItem("Reports", "Scheduled reports", "/reports/scheduled", 1),
    NavItem("Reports", "Digests", "/digests", 2, role="admin"),
)
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
FREQUENCIES = (("daily", "Daily"), ("weekly", "Weekly"), ("monthly", "Monthly"))
FORMATS = (("pdf", "PDF"), ("excel", "Excel"))


def _report_params(c: Console) -> dict[str, str]:
    params = {
        "startDate": c.query("startDate"),
        "endDate": c.query("endDate"),
        "accountId": c.query("accountId"),
    }
    return {k: v for k, v in params.items() if v}


async def _accounts(c: Console) -> list[dict[str, Any]]:
    try:
        found: list[dict[str, Any]] = (await c.api.get("/cloud-accounts", {"limit": 100}))["data"]
    except ApiError:
        return []
    return found


@router.get("/reports")
async def report_view(c: Signed) -> Response:
    params = _report_params(c)
    accounts = await _accounts(c)
    try:
        report = await c.api.get("/reports", params)
    except ApiError as error:
        return c.render(
            "reports/report.html",
            status=error.status,
            report=None,
            charts={},
            error=error,
            params=params,
            account_options=[(a["id"], a["name"]) for a in accounts],
        )
    charts = {
        cur["currency"]: {
            "type": "bar",
            "data": {
                "labels": [d["date"] for d in cur["daily"]],
                "datasets": [
                    {
                        "label": f"Daily cost ({cur['currency']})",
                        "data": [float(d["cost"]) for d in cur["daily"]],
                    }
                ],
            },
        }
        for cur in report["currencies"]
    }
    return c.render(
        "reports/report.html",
        report=report,
        charts=charts,
        error=None,
        params=params,
        account_options=[(a["id"], a["name"]) for a in accounts],
    )


async def _download(c: Console, kind: str) -> Response:
    try:
        found = await c.api.download(f"/reports/{kind}", _report_params(c))
    except ApiError as error:
        return c.error_page(error)
    name = found.filename or f"xplorr-report.{'pdf' if kind == 'pdf' else 'xlsx'}"
    return c.finish(
        Response(
            content=found.content,
            media_type=found.media_type,
            headers={"content-disposition": f'attachment; filename="{name}"'},
        )
    )


@router.get("/reports/pdf")
async def report_pdf(c: Signed) -> Response:
    return await _download(c, "pdf")


@router.get("/reports/excel")
async def report_excel(c: Signed) -> Response:
    return await _download(c, "excel")


# --- scheduled reports -------------------------------------------------------------------------


def _int_or_raw(value: str) -> int | str | None:
    value = value.strip()
    if not value:
        return None
    return int(value) if re.fullmatch(r"-?\d{1,6}", value) else value


def _emails(value: str) -> list[str]:
    return [e for e in re.split(r"[\s,;]+", value) if e]


def _schedule_body(form: FormData) -> dict[str, Any]:
    frequency = str(form.get("frequency") or "")
    return {
        "name": str(form.get("name") or ""),
        "frequency": frequency,
        "day_of_week": _int_or_raw(str(form.get("day_of_week") or ""))
        if frequency == "weekly"
        else None,
        "day_of_month": _int_or_raw(str(form.get("day_of_month") or ""))
        if frequency == "monthly"
        else None,
        "hour": _int_or_raw(str(form.get("hour") or "8")),
        "timezone": str(form.get("timezone") or "").strip() or None,
        "recipients": _emails(str(form.get("recipients") or "")),
        "cloud_account_id": str(form.get("cloud_account_id") or "") or None,
        "format": str(form.get("format") or "pdf"),
        "is_active": form.get("is_active") == "on",
    }


def _schedule_values(item: dict[str, Any]) -> dict[str, Any]:
    return {
        **item,
        "recipients": ", ".join(item.get("recipients") or []),
        "cloud_account_id": item.get("cloud_account_id") or "",
        "day_of_week": "" if item.get("day_of_week") is None else item["day_of_week"],
        "day_of_month": "" if item.get("day_of_month") is None else item["day_of_month"],
    }


def _form_values(form: FormData) -> dict[str, Any]:
    values: dict[str, Any] = {k: str(v) for k, v in form.items() if k != "csrf_token"}
    values["is_active"] = form.get("is_active") == "on"
    values["enabled"] = form.get("enabled") == "on"
    return values


def _schedule_ctx(accounts: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "weekdays": list(enumerate(WEEKDAYS)),
        "frequencies": FREQUENCIES,
        "formats": FORMATS,
        "accounts": [(a["id"], a["name"]) for a in accounts],
        "account_names": {a["id"]: a["name"] for a in accounts},
        "hours": [(h, f"{h:02d}:00") for h in range(24)],
    }


NEW_SCHEDULE = {
    "name": "",
    "frequency": "weekly",
    "day_of_week": 0,
    "day_of_month": 1,
    "hour": 8,
    "recipients": "",
    "cloud_account_id": "",
    "format": "pdf",
    "is_active": True,
}


async def _schedules_page(
    c: Console, *, status: int = 200, error: ApiError | None = None, values: Any = None
) -> Response:
    try:
        listed, accounts = await asyncio.gather(
            c.api.get("/scheduled-reports", {"limit": 100}), _accounts(c)
        )
    except ApiError as failed:
        return c.error_page(failed)
    return c.render(
        "reports/scheduled.html",
        status=status,
        items=listed["data"],
        error=error,
        errors=error.field_errors() if error else {},
        values=values or {**NEW_SCHEDULE, "timezone": c.timezone},
        **_schedule_ctx(accounts),
    )


@router.get("/reports/scheduled")
async def schedules(c: Signed) -> Response:
    return await _schedules_page(c)


@router.post("/reports/scheduled")
async def schedule_create(c: Signed) -> Response:
    form = await c.form()
    try:
        made = await c.api.post("/scheduled-reports", _schedule_body(form))
    except ApiError as error:
        return await _schedules_page(
            c, status=error.status, error=error, values=NEW_SCHEDULE | _form_values(form)
        )
    return c.redirect("/reports/scheduled", notice=f"Scheduled report {made['name']} created.")


async def _schedule_page(
    c: Console,
    report_id: str,
    *,
    status: int = 200,
    error: ApiError | None = None,
    values: Any = None,
) -> Response:
    try:
        item, accounts = await asyncio.gather(
            c.api.get(f"/scheduled-reports/{report_id}"), _accounts(c)
        )
    except ApiError as failed:
        return c.error_page(failed)
    return c.render(
        "reports/schedule.html",
        status=status,
        item=item,
        error=error,
        errors=error.field_errors() if error else {},
        values=values or _schedule_values(item),
        **_schedule_ctx(accounts),
    )


@router.get("/reports/scheduled/{report_id}")
async def schedule_detail(c: Signed, report_id: str) -> Response:
    return await _schedule_page(c, report_id)


@router.post("/reports/scheduled/{report_id}")
async def schedule_update(c: Signed, report_id: str) -> Response:
    form = await c.form()
    try:
        await c.api.patch(f"/scheduled-reports/{report_id}", _schedule_body(form))
    except ApiError as error:
        return await _schedule_page(
            c, report_id, status=error.status, error=error, values=NEW_SCHEDULE | _form_values(form)
        )
    return c.redirect("/reports/scheduled", notice="Scheduled report saved.")


@router.post("/reports/scheduled/{report_id}/delete")
async def schedule_delete(c: Signed, report_id: str) -> Response:
    try:
        await c.api.delete(f"/scheduled-reports/{report_id}")
    except ApiError as error:
        return await _schedule_page(c, report_id, status=error.status, error=error)
    return c.redirect("/reports/scheduled", notice="Scheduled report deleted.")


# --- digests -----------------------------------------------------------------------------------


def _digest_body(form: FormData, *, create: bool) -> dict[str, Any]:
    channel = str(form.get("channel_id") or "")
    body: dict[str, Any] = {
        "hour": _int_or_raw(str(form.get("hour") or "")),
        "minute": _int_or_raw(str(form.get("minute") or "")),
        "timezone": str(form.get("timezone") or "").strip() or None,
        "enabled": form.get("enabled") == "on",
    }
    if channel:
        body["channel_id"] = channel
    recipients = _emails(str(form.get("recipients") or ""))
    if recipients or (create and not channel):
        body["recipients"] = recipients
    return body


async def _channels(c: Console) -> list[tuple[str, str]]:
    try:
        found = (await c.api.get("/channels", {"limit": 100}))["data"]
    except ApiError:
        return []
    return [(ch["id"], f"{ch['channel_name']} ({ch['provider']})") for ch in found]


async def _digests_page(
    c: Console, *, status: int = 200, error: ApiError | None = None, values: Any = None
) -> Response:
    try:
        listed, channels = await asyncio.gather(
            c.api.get("/digest-settings", {"limit": 100}), _channels(c)
        )
    except ApiError as failed:
        return c.error_page(failed)
    return c.render(
        "reports/digests.html",
        status=status,
        items=listed["data"],
        channels=channels,
        channel_names=dict(channels),
        error=error,
        errors=error.field_errors() if error else {},
        values=values
        or {"recipients": "", "hour": "", "minute": "", "timezone": "", "enabled": True},
    )


@router.get("/digests")
async def digests(c: Signed) -> Response:
    return await _digests_page(c)


@router.post("/digests")
async def digest_create(c: Signed) -> Response:
    form = await c.form()
    try:
        await c.api.post("/digest-settings", _digest_body(form, create=True))
    except ApiError as error:
        return await _digests_page(c, status=error.status, error=error, values=_form_values(form))
    return c.redirect("/digests", notice="Daily digest created.")


async def _digest_page(
    c: Console, digest_id: str, *, status: int = 200, error: ApiError | None = None,
    values: Any = None,
) -> Response:  # fmt: skip
    try:
        listed, channels = await asyncio.gather(
            c.api.get("/digest-settings", {"limit": 100}), _channels(c)
        )
    except ApiError as failed:
        return c.error_page(failed)
    item = next((d for d in listed["data"] if d["id"] == digest_id), None)
    if item is None:
        return c.error_page(ApiError(404, "NOT_FOUND", "There is no such digest."))
    return c.render(
        "reports/digest.html",
        status=status,
        item=item,
        channels=channels,
        error=error,
        errors=error.field_errors() if error else {},
        values=values
        or {
            **item,
            "recipients": ", ".join(item["recipients"]),
            "channel_id": item["channel_id"] or "",
        },
    )


@router.get("/digests/{digest_id}")
async def digest_detail(c: Signed, digest_id: str) -> Response:
    return await _digest_page(c, digest_id)


@router.post("/digests/{digest_id}")
async def digest_update(c: Signed, digest_id: str) -> Response:
    form = await c.form()
    try:
        await c.api.patch(f"/digest-settings/{digest_id}", _digest_body(form, create=False))
    except ApiError as error:
        return await _digest_page(
            c, digest_id, status=error.status, error=error, values=_form_values(form)
        )
    return c.redirect("/digests", notice="Daily digest saved.")


@router.post("/digests/{digest_id}/delete")
async def digest_delete(c: Signed, digest_id: str) -> Response:
    try:
        await c.api.delete(f"/digest-settings/{digest_id}")
    except ApiError as error:
        return await _digest_page(c, digest_id, status=error.status, error=error)
    return c.redirect("/digests", notice="Daily digest deleted.")
