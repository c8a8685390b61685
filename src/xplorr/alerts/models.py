import uuid
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import ClassVar

from sqlalchemy import (
    Date,
    Enum,
    ForeignKey,
    Index,
    LargeBinary,
    SmallInteger,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from xplorr.core import secrets
from xplorr.core.models import Base, JSONType, OrgOwned


class AlertMetric(StrEnum):
    DAILY_SPEND = "daily_spend"  # one day's cost (the last complete day evaluated)
    MONTHLY_SPEND = "monthly_spend"  # month to date
    FORECAST = "forecast"  # the month's projected end-of-period spend


class ConditionOp(StrEnum):
    GT = ">"
    GE = ">="
    LT = "<"
    LE = "<="

    def holds(self, value: Decimal, threshold: Decimal) -> bool:
        if self is ConditionOp.GT:
            return value > threshold
        if self is ConditionOp.GE:
            return value >= threshold
        if self is ConditionOp.LT:
            return value < threshold
        return value <= threshold


def _values(enum: type[StrEnum]) -> list[str]:
    return [member.value for member in enum]


class AlertRule(OrgOwned, Base):
    """An admin's rule: ``metric`` (in ``currency`` only: other currencies are never added)
    over the org or one cloud account, optionally one service and one region, compared with
    ``threshold``. Webhook URLs are secrets, sealed under the org's data key."""

    __tablename__ = "alert_rules"
    __table_args__ = (UniqueConstraint("org_id", "name"),)
    audit_resource: ClassVar[str] = "alert_rule"

    name: Mapped[str] = mapped_column(String(200))
    metric: Mapped[AlertMetric] = mapped_column(
        Enum(AlertMetric, native_enum=False, length=20, values_callable=_values)
    )
    condition_op: Mapped[ConditionOp] = mapped_column(
        Enum(ConditionOp, native_enum=False, length=2, values_callable=_values)
    )
    threshold: Mapped[Decimal]
    currency: Mapped[str] = mapped_column(String(3))
    notify_emails: Mapped[list[str]] = mapped_column(JSONType, default=list)
    service_filter: Mapped[str | None] = mapped_column(String(200))
    region_filter: Mapped[str | None] = mapped_column(String(100))
    cloud_account_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("cloud_accounts.id", ondelete="CASCADE"), index=True
    )
    enabled: Mapped[bool] = mapped_column(default=True)
    slack_webhook_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    slack_key_version: Mapped[int | None] = mapped_column(SmallInteger)
    slack_webhook_hint: Mapped[str | None] = mapped_column(String(80))
    teams_webhook_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    teams_key_version: Mapped[int | None] = mapped_column(SmallInteger)
    teams_webhook_hint: Mapped[str | None] = mapped_column(String(80))
    created_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    last_triggered_at: Mapped[datetime | None]
    last_evaluated_at: Mapped[datetime | None]

    @property
    def audit_name(self) -> str | None:
        return self.name


class AlertTrigger(OrgOwned, Base):
    """One firing of a rule: unique per (rule, window start), which makes a rule fire at most
    once per evaluated day (daily_spend) or month (monthly_spend, forecast)."""

    __tablename__ = "alert_triggers"
    __table_args__ = (
        UniqueConstraint("rule_id", "window_start"),
        Index("ix_alert_triggers_rule_id_triggered_at", "rule_id", "triggered_at"),
    )

    rule_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("alert_rules.id", ondelete="CASCADE"))
    window_start: Mapped[date] = mapped_column(Date)
    window_end: Mapped[date] = mapped_column(Date)
    value: Mapped[Decimal]
    threshold: Mapped[Decimal]
    currency: Mapped[str] = mapped_column(String(3))
    triggered_at: Mapped[datetime]


SLACK_WEBHOOK = secrets.register(
    secrets.SealedColumn(
        AlertRule,
        "slack_webhook_encrypted",
        "slack_key_version",
        purpose="alert_rule_slack_webhook",
        label="alert_rule_slack_webhooks",
    )
)
TEAMS_WEBHOOK = secrets.register(
    secrets.SealedColumn(
        AlertRule,
        "teams_webhook_encrypted",
        "teams_key_version",
        purpose="alert_rule_teams_webhook",
        label="alert_rule_teams_webhooks",
    )
)
