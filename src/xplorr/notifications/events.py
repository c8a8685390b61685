"""The typed notification events every area sends through the hub (``notifications.hub.notify``).

An event is a frozen pydantic model: the numbers a reader needs (amounts as ``Decimal`` with
their ``currency``, never summed across currencies), the org, the cloud account it concerns
(None: org-wide; recipients limited to other accounts then do not get it) and a ``severity``.
Its ``event_key`` is deterministic, built from what identifies the occurrence (a budget, its
period and threshold; a sync run; an anomaly and its severity): the hub delivers one event key
to one target once, however often an evaluation runs.

Class-level policy, read by the hub:

- ``type``: the notification type (also the template name and the preference key);
- ``audience``: who among the org's users gets an email (``Audience``);
- ``preference``: the ``/users/notification-preferences`` switch that must be on (None: none);
- ``webhooks``: whether Slack/Teams targets may receive it at all (then severity medium+ only);
- ``digest_batch``: a low-severity one is not emailed on its own to someone who gets a daily
  digest: it waits for their next digest (section 11, ``hub.digest_batching``).

Define a new event by subclassing ``Notification`` with those class variables, its fields and
``event_key``; add ``templates/email/notify_<type>.{txt,html}`` and a subject in
``notifications.render.SUBJECTS``.
"""

import uuid
from datetime import date, datetime
from decimal import Decimal
from enum import IntEnum, StrEnum
from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field


class NotificationType(StrEnum):
    ANOMALY_DETECTED = "anomaly_detected"
    BUDGET_ALERT = "budget_alert"
    PROJECTED_OVERRUN = "projected_overrun"
    ALERT_TRIGGERED = "alert_triggered"
    SYNC_FAILED = "sync_failed"
    SYNC_COMPLETE = "sync_complete"
    WELCOME = "welcome"
    WEEKLY_DIGEST = "weekly_digest"
    RI_SP_EXPIRATION = "ri_sp_expiration"
    RECOMMENDATION = "recommendation"
    APPROVAL = "approval"
    DAILY_DIGEST = "daily_digest"
    WEEKLY_SUMMARY = "weekly_summary"


class Severity(StrEnum):
    """product-notes.md section 11: low 50-100 %, medium 100-200 %, high 200-500 %, critical."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return _RANK[self]


_RANK = {Severity.LOW: 0, Severity.MEDIUM: 1, Severity.HIGH: 2, Severity.CRITICAL: 3}


class Audience(IntEnum):
    """Which of the org's users an event emails (besides the targets its caller passes)."""

    NONE = 0  # only the targets passed to notify (an alert rule's notifyEmails)
    ORG_USERS = 1  # active users with the preference on who may see the cloud account
    ADMINS = 2  # active owner and admins (preference, if any, still applies)
    USER = 3  # the one user the event names (``user_id``), if active and preference on


Money = Annotated[Decimal, Field(max_digits=38, decimal_places=9)]


class Notification(BaseModel):
    """Base of every notification event."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: ClassVar[NotificationType]
    audience: ClassVar[Audience] = Audience.ORG_USERS
    preference: ClassVar[str | None] = None
    webhooks: ClassVar[bool] = True
    digest_batch: ClassVar[bool] = False

    org_id: uuid.UUID
    cloud_account_id: uuid.UUID | None = None
    severity: Severity = Severity.MEDIUM

    @property
    def event_key(self) -> str:
        """What makes this occurrence unique within its org (delivered once per target)."""
        raise NotImplementedError

    @property
    def console_path(self) -> str:
        """Where in the console a reader follows up (joined to ``XPLORR_BASE_URL``)."""
        return "/"


class Contributor(BaseModel):
    """One of the things that moved most (a resource, SKU, region or usage type)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    kind: str
    name: str
    actual: Money
    baseline: Money

    @property
    def delta(self) -> Decimal:
        return self.actual - self.baseline


class AnomalyDetected(Notification):
    """A day's cost against its 7-day baseline (section 11). Re-notified only if the anomaly
    escalates to a higher severity (the key carries it)."""

    type: ClassVar[NotificationType] = NotificationType.ANOMALY_DETECTED
    preference: ClassVar[str | None] = "anomaly_detected"
    digest_batch: ClassVar[bool] = True

    anomaly_id: uuid.UUID
    scope: Literal["service", "account", "org"]
    service: str | None = None
    account_name: str | None = None
    day: date
    actual: Money
    baseline: Money
    percent_above: Decimal
    currency: str
    direction: Literal["spike", "drop"] = "spike"
    top_contributors: tuple[Contributor, ...] = ()

    @property
    def event_key(self) -> str:
        return f"anomaly_detected:{self.anomaly_id}:{self.severity.value}"

    @property
    def percent_off_baseline(self) -> Decimal:
        """How far the day is from its baseline, without sign: ``percent_above`` is signed (a
        drop's is negative), and the texts say the direction in words ("70.2 % below")."""
        return abs(self.percent_above)

    @property
    def console_path(self) -> str:
        return f"/anomalies/{self.anomaly_id}"


class BudgetAlert(Notification):
    """A budget's spend crossed ``threshold_percent`` (80 or 100) of its amount this period."""

    type: ClassVar[NotificationType] = NotificationType.BUDGET_ALERT
    preference: ClassVar[str | None] = "budget_alert"

    budget_id: uuid.UUID
    budget_name: str
    threshold_percent: int
    amount: Money
    current_spend: Money
    percent_used: Decimal
    currency: str
    period_start: date
    period_end: date
    forecast: Money | None = None

    @property
    def event_key(self) -> str:
        return f"budget_alert:{self.budget_id}:{self.period_start}:{self.threshold_percent}"

    @property
    def console_path(self) -> str:
        return f"/budgets/{self.budget_id}"


class ProjectedOverrun(Notification):
    """The period's forecast exceeds the budget (once per budget and period)."""

    type: ClassVar[NotificationType] = NotificationType.PROJECTED_OVERRUN
    preference: ClassVar[str | None] = "projected_overrun"

    budget_id: uuid.UUID
    budget_name: str
    amount: Money
    current_spend: Money
    forecast: Money
    forecast_low: Money | None = None
    forecast_high: Money | None = None
    currency: str
    period_start: date
    period_end: date

    @property
    def event_key(self) -> str:
        return f"projected_overrun:{self.budget_id}:{self.period_start}"

    @property
    def console_path(self) -> str:
        return f"/budgets/{self.budget_id}"


class AlertTriggered(Notification):
    """An alert rule's condition held for ``window_start``..``window_end`` (a day for
    daily_spend, the period for monthly_spend and forecast): once per rule and window. Goes to
    the targets the alerts area passes (the rule's notifyEmails and Slack webhook)."""

    type: ClassVar[NotificationType] = NotificationType.ALERT_TRIGGERED
    audience: ClassVar[Audience] = Audience.NONE

    rule_id: uuid.UUID
    rule_name: str
    metric: str
    condition_op: str
    threshold: Money
    value: Money
    currency: str
    window_start: date
    window_end: date
    service_filter: str | None = None
    region_filter: str | None = None

    @property
    def event_key(self) -> str:
        return f"alert_triggered:{self.rule_id}:{self.window_start}"

    @property
    def console_path(self) -> str:
        return f"/alerts/{self.rule_id}"


class SyncFailed(Notification):
    type: ClassVar[NotificationType] = NotificationType.SYNC_FAILED
    preference: ClassVar[str | None] = "sync_failed"

    severity: Severity = Severity.HIGH
    run_id: uuid.UUID
    account_name: str
    provider: str
    error: str
    failed_at: datetime

    @property
    def event_key(self) -> str:
        return f"sync_failed:{self.run_id}"

    @property
    def console_path(self) -> str:
        return f"/cloud-accounts/{self.cloud_account_id}"


class SyncComplete(Notification):
    type: ClassVar[NotificationType] = NotificationType.SYNC_COMPLETE
    preference: ClassVar[str | None] = "sync_complete"
    webhooks: ClassVar[bool] = False

    severity: Severity = Severity.LOW
    run_id: uuid.UUID
    account_name: str
    provider: str
    rows: int
    data_through: date | None = None
    finished_at: datetime

    @property
    def event_key(self) -> str:
        return f"sync_complete:{self.run_id}"

    @property
    def console_path(self) -> str:
        return f"/cloud-accounts/{self.cloud_account_id}"


class Welcome(Notification):
    type: ClassVar[NotificationType] = NotificationType.WELCOME
    audience: ClassVar[Audience] = Audience.USER
    preference: ClassVar[str | None] = "welcome"
    webhooks: ClassVar[bool] = False

    severity: Severity = Severity.LOW
    user_id: uuid.UUID
    user_name: str
    org_name: str

    @property
    def event_key(self) -> str:
        return f"welcome:{self.user_id}"


class ServiceSpend(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    service: str
    amount: Money
    previous: Money | None = None


class RecommendationSaving(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    title: str
    monthly_savings: Money


class ProviderSpend(BaseModel):
    """A provider's spend in a period and in the equally long period before it."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    provider: str
    amount: Money
    previous: Money


class BudgetUsage(BaseModel):
    """One budget in a digest (in the event's currency): its spend against its amount (a usage
    bar) and the forecast for its period's end against the amount; ``standing``: ``Over
    budget``, ``Projected over`` or ``On track``."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    name: str
    amount: Money
    spent: Money
    percent_used: Decimal
    forecast: Money | None = None
    period_end: date
    standing: str


class WeeklyDigest(Notification):
    """Mondays: last week's spend (one currency per digest), trends, open recommendations."""

    type: ClassVar[NotificationType] = NotificationType.WEEKLY_DIGEST
    preference: ClassVar[str | None] = "weekly_digest"

    week_start: date
    week_end: date
    currency: str
    total: Money
    previous_total: Money | None = None
    top_services: tuple[ServiceSpend, ...] = ()
    anomalies: int = 0
    open_recommendations: int = 0
    potential_savings: Money | None = None

    @property
    def event_key(self) -> str:
        return f"weekly_digest:{self.week_start}:{self.currency}"


class RiSpExpiration(Notification):
    """A reservation or savings plan expires in ``days_left`` days (30 days before)."""

    type: ClassVar[NotificationType] = NotificationType.RI_SP_EXPIRATION
    preference: ClassVar[str | None] = "ri_sp_expiration"

    commitment_id: str
    commitment_type: Literal["reserved_instance", "savings_plan"]
    description: str
    expires_on: date
    days_left: int
    monthly_cost: Money | None = None
    currency: str | None = None

    @property
    def event_key(self) -> str:
        return f"ri_sp_expiration:{self.commitment_id}:{self.expires_on}"


class RecommendationNotice(Notification):
    type: ClassVar[NotificationType] = NotificationType.RECOMMENDATION
    audience: ClassVar[Audience] = Audience.ADMINS

    severity: Severity = Severity.LOW
    recommendation_id: uuid.UUID
    title: str
    monthly_savings: Money
    currency: str

    @property
    def event_key(self) -> str:
        return f"recommendation:{self.recommendation_id}"

    @property
    def console_path(self) -> str:
        return f"/recommendations/{self.recommendation_id}"


class ApprovalNotice(Notification):
    """An approval request was created (to admins) or decided."""

    type: ClassVar[NotificationType] = NotificationType.APPROVAL
    audience: ClassVar[Audience] = Audience.ADMINS

    approval_id: uuid.UUID
    status: Literal["requested", "approved", "rejected", "expired"]
    action: str
    requested_by: str
    recommendation_id: uuid.UUID | None = None

    @property
    def event_key(self) -> str:
        return f"approval:{self.approval_id}:{self.status}"

    @property
    def console_path(self) -> str:
        return f"/approvals/{self.approval_id}"


class DailyDigest(Notification):
    """The daily digest in chat (section 25), one currency per event: yesterday against the
    mean of the 7 days before, the month's top services with their change against the same
    days of last month, new anomalies and the highest severity, the month's forecast. Chat only
    (``Audience.NONE``): email digests are the reports area's digest schedules."""

    type: ClassVar[NotificationType] = NotificationType.DAILY_DIGEST
    audience: ClassVar[Audience] = Audience.NONE

    day: date
    currency: str
    yesterday: Money
    average_7_days: Money
    change_percent: Money | None = None
    top_services: tuple[ServiceSpend, ...] = ()
    forecast: Money | None = None
    new_anomalies: int = 0
    highest_severity: Severity | None = None
    # The open recommendations in this currency: count, potential monthly savings, the largest.
    open_recommendations: int = 0
    potential_savings: Money | None = None
    top_recommendations: tuple[RecommendationSaving, ...] = ()
    # The budgets in this currency, as of ``day``: usage bars and forecast against budget.
    budgets: tuple[BudgetUsage, ...] = ()

    @property
    def event_key(self) -> str:
        return f"daily_digest:{self.day}:{self.currency}"


class WeeklySummary(WeeklyDigest):
    """The weekly summary in chat (section 25: Mondays, the previous Monday-Sunday), in one
    currency: ``WeeklyDigest``'s figures (``anomalies``: every currency's count;
    ``open_recommendations`` and ``potential_savings``: this currency's) plus the providers
    against the week before, the top movers, the spikes' cost above baseline, the
    recommendations applied that week and their monthly savings, the budget scorecard and,
    when an LLM wrote one, a two-sentence insight with the model's name. Chat only: the
    reports area emails each user their own."""

    type: ClassVar[NotificationType] = NotificationType.WEEKLY_SUMMARY
    audience: ClassVar[Audience] = Audience.NONE
    preference: ClassVar[str | None] = None

    change_percent: Decimal | None = None  # against the week before, from the exact amounts
    providers: tuple[ProviderSpend, ...] = ()
    top_movers: tuple[ServiceSpend, ...] = ()  # amount: this week, previous: the week before
    anomaly_excess: Money | None = None
    recommendations_applied: int = 0
    savings_realized: Money | None = None  # monthly, the applied ones' estimate when closed
    budgets: tuple[BudgetUsage, ...] = ()
    insight: str | None = None
    insight_model: str | None = None  # the LLM that wrote ``insight``

    @property
    def event_key(self) -> str:
        return f"weekly_summary:{self.week_start}:{self.currency}"


EVENT_TYPES: dict[NotificationType, type[Notification]] = {
    cls.type: cls
    for cls in (
        AnomalyDetected,
        BudgetAlert,
        ProjectedOverrun,
        AlertTriggered,
        SyncFailed,
        SyncComplete,
        Welcome,
        WeeklyDigest,
        RiSpExpiration,
        RecommendationNotice,
        ApprovalNotice,
        DailyDigest,
        WeeklySummary,
    )
}
