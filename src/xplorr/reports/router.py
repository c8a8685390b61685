import asyncio
import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Response

from xplorr.auth.deps import AdminUser, CurrentUser
from xplorr.core.dates import DateRange, EndDate, StartDate
from xplorr.core.db import DbSession
from xplorr.core.pagination import Page, Pagination
from xplorr.reports import digests, scheduling, service
from xplorr.reports.render import render
from xplorr.reports.schemas import (
    CostSummaryOut,
    DigestSettingCreate,
    DigestSettingOut,
    DigestSettingUpdate,
    ReportOut,
    ScheduledReportCreate,
    ScheduledReportOut,
    ScheduledReportUpdate,
    cost_summary_out,
    report_out,
)
from xplorr.reports.service import MAX_REPORT_DAYS, ReportRequest

router = APIRouter(tags=["reports"])  # /reports and /scheduled-reports
ROUTE_ORDER = 150  # mounting order under /api/v1 (core.areas.routers)

PDF = "application/pdf"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def report_request(
    start_date: StartDate = None,
    end_date: EndDate = None,
    account_id: Annotated[
        uuid.UUID | None,
        Query(alias="accountId", description="Only this cloud account (404 if not visible)."),
    ] = None,
) -> ReportRequest:
    dates = DateRange.resolve(start_date, end_date, max_days=MAX_REPORT_DAYS)
    return ReportRequest(start=dates.start, end=dates.end, account_id=account_id)


Req = Annotated[ReportRequest, Depends(report_request)]


def _file(content: bytes, req: ReportRequest, kind: Literal["pdf", "excel"]) -> Response:
    ext, media = ("pdf", PDF) if kind == "pdf" else ("xlsx", XLSX)
    name = f"xplorr-report-{req.start.isoformat()}-{req.end.isoformat()}.{ext}"
    return Response(
        content=content,
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


_FILES: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {
            "application/json": {},
            PDF: {"schema": {"type": "string", "format": "binary"}},
            XLSX: {"schema": {"type": "string", "format": "binary"}},
        },
        "description": "The report: JSON, or the PDF / Excel file with format=pdf|excel.",
    }
}


@router.get("/reports", response_model=ReportOut, responses=_FILES)
async def get_report(
    db: DbSession,
    who: CurrentUser,
    req: Req,
    format: Annotated[
        Literal["json", "pdf", "excel"],
        Query(description="json (default), pdf or excel (the same files as /reports/pdf|excel)."),
    ] = "json",
) -> Any:
    """The cost report of a date range (at most 400 days, so 13 months fit): per currency
    (never added together) the total and its change against the equally long period before,
    spend by provider, cloud account, service and region, the daily trend, top movers and the
    forecast of the month holding endDate; plus budgets, anomalies, recommendations and
    allocation sections where those areas provide them. A member limited to some cloud
    accounts gets a report of those accounts only."""
    report = await service.build_report(db, who, req)
    if format == "pdf":
        return _file(await asyncio.to_thread(render, report, "pdf"), req, "pdf")
    if format == "excel":
        return _file(await asyncio.to_thread(render, report, "excel"), req, "excel")
    return report_out(report)


@router.get(
    "/reports/pdf",
    response_class=Response,
    responses={200: {"content": {PDF: {"schema": {"type": "string", "format": "binary"}}}}},
)
async def get_report_pdf(db: DbSession, who: CurrentUser, req: Req) -> Response:
    """The report as a PDF: a cover, a one-page executive summary, then per currency the
    daily trend, breakdown charts and tables, and the other areas' sections."""
    report = await service.build_report(db, who, req)
    return _file(await asyncio.to_thread(render, report, "pdf"), req, "pdf")


@router.get(
    "/reports/excel",
    response_class=Response,
    responses={200: {"content": {XLSX: {"schema": {"type": "string", "format": "binary"}}}}},
)
async def get_report_excel(db: DbSession, who: CurrentUser, req: Req) -> Response:
    """The report as an Excel workbook: one sheet per section and currency, amounts as numbers
    in their currency's format, native charts, frozen headers and filters."""
    report = await service.build_report(db, who, req)
    return _file(await asyncio.to_thread(render, report, "excel"), req, "excel")


@router.get("/reports/cost-summary", response_model=CostSummaryOut)
async def get_cost_summary(db: DbSession, who: CurrentUser, req: Req) -> CostSummaryOut:
    """The short form of the report: per currency the total, its change against the previous
    period, the top 5 services, the top movers and the month's forecast."""
    report = await service.build_report(db, who, req, short=True)
    return cost_summary_out(report)


# --- scheduled reports --------------------------------------------------------------------------


@router.get("/scheduled-reports", response_model=Page[ScheduledReportOut])
async def list_scheduled_reports(
    db: DbSession, who: CurrentUser, page: Pagination
) -> Page[ScheduledReportOut]:
    """List the organization's scheduled reports (members and viewers limited to some cloud
    accounts see only the schedules of those accounts)."""
    return await scheduling.list_scheduled(db, who, page)


@router.post("/scheduled-reports", status_code=201, response_model=ScheduledReportOut)
async def create_scheduled_report(
    body: ScheduledReportCreate, db: DbSession, who: AdminUser
) -> ScheduledReportOut:
    """Create a scheduled report (owner or admin): a PDF or Excel report emailed daily, weekly
    (``day_of_week``, 0 Monday) or monthly (``day_of_month``, 1-28) at ``hour`` in
    ``timezone`` (default: the organization's time zone setting). It covers the day, the 7
    days or the calendar month before the send, and is built with its creator's access as it
    is at each send; a deactivated creator's schedules stop. Recipients outside the
    organization are allowed; every send is audited."""
    return await scheduling.create_scheduled(db, who, body)


@router.get("/scheduled-reports/{report_id}", response_model=ScheduledReportOut)
async def get_scheduled_report(
    report_id: uuid.UUID, db: DbSession, who: CurrentUser
) -> ScheduledReportOut:
    """A scheduled report, with ``next_run_at``, ``last_sent_at`` and ``last_error``."""
    return await scheduling.get_scheduled(db, who, report_id)


@router.patch("/scheduled-reports/{report_id}", response_model=ScheduledReportOut)
async def update_scheduled_report(
    report_id: uuid.UUID, body: ScheduledReportUpdate, db: DbSession, who: AdminUser
) -> ScheduledReportOut:
    """Update a scheduled report (owner or admin). An admin editing a schedule whose creator
    was deactivated becomes its owner (and may turn it back on)."""
    return await scheduling.update_scheduled(db, who, report_id, body)


@router.delete("/scheduled-reports/{report_id}", status_code=204, response_class=Response)
async def delete_scheduled_report(report_id: uuid.UUID, db: DbSession, who: AdminUser) -> Response:
    """Delete a scheduled report (owner or admin)."""
    await scheduling.delete_scheduled(db, who, report_id)
    return Response(status_code=204)


# --- digest settings ----------------------------------------------------------------------------


@router.get("/digest-settings", response_model=Page[DigestSettingOut])
async def list_digest_settings(
    db: DbSession, who: AdminUser, page: Pagination
) -> Page[DigestSettingOut]:
    """List the organization's daily digest schedules (owner or admin)."""
    return await digests.list_digests(db, who, page)


@router.post("/digest-settings", status_code=201, response_model=DigestSettingOut)
async def create_digest_setting(
    body: DigestSettingCreate, db: DbSession, who: AdminUser
) -> DigestSettingOut:
    """Create a daily digest (owner or admin): emailed to ``recipients``, or posted to the
    org's chat channel ``channel_id`` (a ``/channels`` row), every day at ``hour``:``minute`` in
    ``timezone`` (default: the organization's digest_time and timezone settings, 09:00 UTC
    unless changed): yesterday against the 7-day average with an arrow, the
    top 5 services of the month with their change against last month, the month's forecast,
    and the other areas' sections (anomalies, recommendations, budgets) where they exist."""
    return await digests.create_digest(db, who, body)


@router.patch("/digest-settings/{digest_id}", response_model=DigestSettingOut)
async def update_digest_setting(
    digest_id: uuid.UUID, body: DigestSettingUpdate, db: DbSession, who: AdminUser
) -> DigestSettingOut:
    """Update a daily digest (owner or admin)."""
    return await digests.update_digest(db, who, digest_id, body)


@router.delete("/digest-settings/{digest_id}", status_code=204, response_class=Response)
async def delete_digest_setting(digest_id: uuid.UUID, db: DbSession, who: AdminUser) -> Response:
    """Delete a daily digest (owner or admin)."""
    await digests.delete_digest(db, who, digest_id)
    return Response(status_code=204)
