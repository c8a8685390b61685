"""``/reports`` and ``/scheduled-reports`` bodies. Report amounts are exact sums rounded to
their currency's minor units, written as JSON numbers with exact digits (``core.money``)."""

import datetime as dt
import uuid
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    StrictBool,
    StrictInt,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from xplorr.core.jobs import cron
from xplorr.core.money import DecimalNumber
from xplorr.core.report_sections import Cell, Section
from xplorr.reports.model import CurrencyReport, Report


class _Out(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class LineOut(_Out):
    key: str | None
    name: str
    cost: DecimalNumber
    share: DecimalNumber = Field(description="Percent of the currency's total, 2 decimals.")


class MoverOut(_Out):
    name: str
    current: DecimalNumber
    previous: DecimalNumber
    change: DecimalNumber
    change_percent: DecimalNumber | None


class DayOut(_Out):
    date: dt.date
    cost: DecimalNumber


class ForecastOut(_Out):
    period_start: dt.date
    period_end: dt.date
    through: dt.date | None
    actual: DecimalNumber
    forecast: DecimalNumber
    low: DecimalNumber
    high: DecimalNumber
    method: str


class CurrencyReportOut(_Out):
    currency: str
    total_cost: DecimalNumber
    previous_period_total: DecimalNumber
    change: DecimalNumber
    change_percent: DecimalNumber | None
    by_provider: list[LineOut]
    by_account: list[LineOut]
    by_service: list[LineOut]
    by_region: list[LineOut]
    daily: list[DayOut]
    top_movers: list[MoverOut]
    forecast: ForecastOut | None


class FigureOut(_Out):
    label: str
    value: DecimalNumber | str | None
    kind: str
    currency: str | None


class TableOut(_Out):
    title: str
    columns: list[dict[str, str]]
    rows: list[list[DecimalNumber | str | None]] = Field(
        description="Cells as the columns' kinds say: numbers for money, percent and number; "
        "YYYY-MM-DD for dates; text."
    )
    currency: str | None


class SectionOut(_Out):
    key: str
    title: str
    note: str | None
    figures: list[FigureOut]
    tables: list[TableOut]


class ReportOut(_Out):
    """The report: one entry of ``currencies`` per currency billed (never added together),
    the main one first; ``sections``: budgets, anomalies, recommendations and allocation
    where those areas provide them."""

    org_name: str
    start_date: dt.date
    end_date: dt.date
    previous_start_date: dt.date
    previous_end_date: dt.date
    generated_at: dt.datetime
    account_id: uuid.UUID | None
    account_name: str | None
    metric: str
    currencies: list[CurrencyReportOut]
    sections: list[SectionOut]


def _currency_out(cr: CurrencyReport, *, short: bool = False) -> CurrencyReportOut:
    def lines(items: tuple[object, ...]) -> list[LineOut]:
        return [LineOut.model_validate(i, from_attributes=True) for i in items]

    f = cr.forecast
    return CurrencyReportOut(
        currency=cr.currency,
        total_cost=cr.total,
        previous_period_total=cr.previous_total,
        change=cr.change,
        change_percent=cr.change_percent,
        by_provider=[] if short else lines(cr.by_provider),
        by_account=[] if short else lines(cr.by_account),
        by_service=lines(cr.by_service[:5] if short else cr.by_service),
        by_region=[] if short else lines(cr.by_region),
        daily=[] if short else [DayOut(date=d.day, cost=d.cost) for d in cr.daily],
        top_movers=[MoverOut.model_validate(m, from_attributes=True) for m in cr.top_movers],
        forecast=None if f is None else ForecastOut.model_validate(f, from_attributes=True),
    )


def _cell(value: Cell) -> Decimal | str | None:
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, int):
        return Decimal(value)
    return value


def _section_out(section: Section) -> SectionOut:
    return SectionOut(
        key=section.key,
        title=section.title,
        note=section.note,
        figures=[
            FigureOut(label=f.label, value=_cell(f.value), kind=str(f.kind), currency=f.currency)
            for f in section.figures
        ],
        tables=[
            TableOut(
                title=t.title,
                columns=[{"title": c.title, "kind": str(c.kind)} for c in t.columns],
                rows=[[_cell(v) for v in r] for r in t.rows],
                currency=t.currency,
            )
            for t in section.tables
        ],
    )


def report_out(report: Report) -> ReportOut:
    return ReportOut(
        org_name=report.org_name,
        start_date=report.start,
        end_date=report.end,
        previous_start_date=report.previous_start,
        previous_end_date=report.previous_end,
        generated_at=report.generated_at,
        account_id=report.account_id,
        account_name=report.account_name,
        metric=report.metric,
        currencies=[_currency_out(cr) for cr in report.currencies],
        sections=[_section_out(s) for s in report.sections],
    )


class CostSummaryOut(_Out):
    """The short form: per currency the total, the change against the previous period, the
    top 5 services, the top movers and the month's forecast."""

    start_date: dt.date
    end_date: dt.date
    previous_start_date: dt.date
    previous_end_date: dt.date
    currencies: list[CurrencyReportOut]


def cost_summary_out(report: Report) -> CostSummaryOut:
    return CostSummaryOut(
        start_date=report.start,
        end_date=report.end,
        previous_start_date=report.previous_start,
        previous_end_date=report.previous_end,
        currencies=[_currency_out(cr, short=True) for cr in report.currencies],
    )


# --- scheduled reports -------------------------------------------------------------------------

Frequency = Literal["daily", "weekly", "monthly"]
Format = Literal["pdf", "excel"]
MAX_RECIPIENTS = 50


def _check_zone(value: str | None) -> str | None:
    if value is not None:
        try:
            cron.zone(value)
        except ValueError as exc:
            raise ValueError(str(exc)) from None
    return value


class ScheduledReportCreate(BaseModel):
    """As the reference's body, plus ``day_of_week`` (0 Monday .. 6 Sunday) for weekly
    reports, ``hour`` (local send time, default 8) and ``timezone`` (IANA; default: the
    organization's ``timezone`` setting, ``GET /settings``)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    name: Annotated[str, Field(min_length=1, max_length=200)]
    frequency: Frequency
    day_of_month: Annotated[StrictInt | None, Field(ge=1, le=28)] = None
    day_of_week: Annotated[StrictInt | None, Field(ge=0, le=6)] = None
    hour: Annotated[StrictInt, Field(ge=0, le=23)] = 8
    timezone: Annotated[str | None, Field(min_length=1, max_length=64)] = None
    recipients: Annotated[list[EmailStr], Field(min_length=1, max_length=MAX_RECIPIENTS)]
    cloud_account_id: uuid.UUID | None = None
    format: Format = "pdf"
    is_active: StrictBool = True

    _zone = field_validator("timezone")(_check_zone)

    @model_validator(mode="after")
    def _days(self) -> "ScheduledReportCreate":
        if self.frequency == "monthly" and self.day_of_month is None:
            self.day_of_month = 1
        if self.frequency == "weekly" and self.day_of_week is None:
            self.day_of_week = 0
        return self


class ScheduledReportUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    name: Annotated[str | None, Field(min_length=1, max_length=200)] = None
    frequency: Frequency | None = None
    day_of_month: Annotated[StrictInt | None, Field(ge=1, le=28)] = None
    day_of_week: Annotated[StrictInt | None, Field(ge=0, le=6)] = None
    hour: Annotated[StrictInt | None, Field(ge=0, le=23)] = None
    timezone: Annotated[str | None, Field(min_length=1, max_length=64)] = None
    recipients: Annotated[list[EmailStr] | None, Field(min_length=1, max_length=MAX_RECIPIENTS)] = (
        None
    )
    cloud_account_id: uuid.UUID | None = None
    format: Format | None = None
    is_active: StrictBool | None = None

    _zone = field_validator("timezone")(_check_zone)


class ScheduledReportOut(BaseModel):
    """snake_case, as the reference's body."""

    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    name: str
    frequency: str
    day_of_month: int | None
    day_of_week: int | None
    hour: int
    timezone: str
    recipients: list[str]
    cloud_account_id: uuid.UUID | None
    format: str
    is_active: bool
    created_by: uuid.UUID | None
    next_run_at: dt.datetime | None
    last_sent_at: dt.datetime | None
    last_error: str | None
    created_at: dt.datetime
    updated_at: dt.datetime


# --- digest settings ----------------------------------------------------------------------------


class DigestSettingCreate(BaseModel):
    """A daily digest by email: ``recipients``, sent at ``hour``:``minute`` in ``timezone``.
    Omitted, the time and zone are the organization's ``digest_time`` and ``timezone``
    settings (``GET /settings``; 09:00 UTC by default)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    recipients: Annotated[list[EmailStr], Field(max_length=MAX_RECIPIENTS)] = []
    hour: Annotated[StrictInt | None, Field(ge=0, le=23)] = None
    minute: Annotated[StrictInt | None, Field(ge=0, le=59)] = None
    timezone: Annotated[str | None, Field(min_length=1, max_length=64)] = None
    enabled: StrictBool = True
    # A ``/channels`` row of the organization (Slack through the installed bot, Teams through
    # Graph) as the destination instead of ``recipients``: one destination per digest.
    channel_id: uuid.UUID | None = None

    _zone = field_validator("timezone")(_check_zone)

    @model_validator(mode="after")
    def _one_destination(self) -> "DigestSettingCreate":
        if self.channel_id is None and not self.recipients:
            raise ValueError("Give recipients or a channelId.")
        if self.channel_id is not None and self.recipients:
            raise ValueError("A digest goes to recipients or to a channel, not both.")
        return self


class DigestSettingUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    recipients: Annotated[list[EmailStr] | None, Field(min_length=1, max_length=MAX_RECIPIENTS)] = (
        None
    )
    hour: Annotated[StrictInt | None, Field(ge=0, le=23)] = None
    minute: Annotated[StrictInt | None, Field(ge=0, le=59)] = None
    timezone: Annotated[str | None, Field(min_length=1, max_length=64)] = None
    enabled: StrictBool | None = None
    channel_id: uuid.UUID | None = None  # another channel of the org (channel digests only)

    _zone = field_validator("timezone")(_check_zone)


class DigestSettingOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    recipients: list[str]
    hour: int
    minute: int
    timezone: str
    enabled: bool
    destination: str  # email | channel
    channel_id: uuid.UUID | None = Field(validation_alias="channel_config_id")
    created_by: uuid.UUID | None
    next_run_at: dt.datetime | None
    last_sent_at: dt.datetime | None
    last_error: str | None
    created_at: dt.datetime
    updated_at: dt.datetime
