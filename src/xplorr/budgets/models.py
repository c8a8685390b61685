"""Budgets and the alerts each has fired (one per kind and period: what makes the evaluation
idempotent)."""

import uuid
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import ClassVar

from sqlalchemy import Date, Enum, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from xplorr.core.models import Base, Money, OrgOwned
from xplorr.costs.forecast import Period


def _values(enum: type[StrEnum]) -> list[str]:
    return [member.value for member in enum]


class Budget(OrgOwned, Base):
    """A spend limit for the organization (``cloud_account_id`` NULL: every account; such a
    budget is not shown to a user limited to some accounts) or one cloud account, per calendar
    ``period``, in one ``currency`` (spend in other currencies is never added to it), optionally
    narrowed to a provider, a service and a tag value."""

    __tablename__ = "budgets"
    audit_resource: ClassVar[str] = "budget"
    __table_args__ = (UniqueConstraint("org_id", "name"),)
    name: Mapped[str] = mapped_column(String(200))
    cloud_account_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("cloud_accounts.id", ondelete="CASCADE"), index=True
    )
    amount: Mapped[Decimal] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3))
    period: Mapped[Period] = mapped_column(
        Enum(Period, native_enum=False, length=16, values_callable=_values),
        default=Period.MONTHLY,
    )
    alert_at_80: Mapped[bool] = mapped_column(default=True)
    alert_at_100: Mapped[bool] = mapped_column(default=True)
    provider: Mapped[str | None] = mapped_column(String(16))
    service_name: Mapped[str | None] = mapped_column(String(300))
    tag_key: Mapped[str | None] = mapped_column(String(200))
    tag_value: Mapped[str | None] = mapped_column(String(500))
    created_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )

    @property
    def audit_name(self) -> str | None:
        return self.name


class AlertKind(StrEnum):
    AT_80 = "80"  # spend reached 80 % of the amount
    AT_100 = "100"  # spend reached the amount
    PROJECTED_OVERRUN = "projected_overrun"  # the forecast exceeds the amount


class BudgetAlert(OrgOwned, Base):
    """An alert a budget fired in one period: at most one per kind and period (unique), so an
    evaluation that runs twice, or on two workers, notifies once. Keeps the figures it fired
    with."""

    __tablename__ = "budget_alerts"
    __table_args__ = (UniqueConstraint("budget_id", "period_start", "kind"),)
    tenancy_account_column: ClassVar[str] = ""  # read with its budget, never on its own
    budget_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("budgets.id", ondelete="CASCADE"), index=True
    )
    period_start: Mapped[date] = mapped_column(Date)
    kind: Mapped[AlertKind] = mapped_column(
        Enum(AlertKind, native_enum=False, length=32, values_callable=_values)
    )
    spend_at_alert: Mapped[Decimal] = mapped_column(Money)
    forecast_at_alert: Mapped[Decimal | None] = mapped_column(Money)
