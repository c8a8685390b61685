"""Alert rule bodies, spelled as the reference spells them (camelCase)."""

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated

from babel.numbers import list_currencies
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    StringConstraints,
)
from pydantic.alias_generators import to_camel

from xplorr.alerts.models import AlertMetric, ConditionOp
from xplorr.core.money import DecimalNumber

MAX_EMAILS = 20
_CURRENCIES = frozenset(list_currencies())


def _currency(value: str) -> str:
    code = value.upper()
    if code not in _CURRENCIES:
        raise ValueError("must be an ISO 4217 currency code")
    return code


Currency = Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{3}$"), AfterValidator(_currency)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Threshold = Annotated[Decimal, Field(ge=0, max_digits=18, decimal_places=6)]
Filter = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
WebhookUrl = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2048)]


def _unique_emails(value: list[str]) -> list[str]:
    seen: dict[str, None] = {}
    for email in value:
        seen.setdefault(email.lower(), None)
    return list(seen)


Emails = Annotated[list[EmailStr], Field(max_length=MAX_EMAILS), AfterValidator(_unique_emails)]


class _In(BaseModel):
    model_config = ConfigDict(
        extra="forbid", alias_generator=to_camel, populate_by_name=True, str_strip_whitespace=True
    )


class AlertRuleCreate(_In):
    name: Name
    metric: AlertMetric
    condition_op: ConditionOp
    threshold: Threshold
    currency: Currency = "USD"
    notify_emails: Emails = []
    service_filter: Filter | None = None
    region_filter: Filter | None = None
    cloud_account_id: uuid.UUID | None = None
    slack_webhook_url: WebhookUrl | None = None
    teams_webhook_url: WebhookUrl | None = Field(
        default=None,
        description="A Microsoft Teams Workflows webhook (an Xplorr addition to the reference).",
    )
    enabled: bool = True


class AlertRuleUpdate(_In):
    """Only the fields sent change; ``null`` clears an optional one."""

    name: Name | None = None
    metric: AlertMetric | None = None
    condition_op: ConditionOp | None = None
    threshold: Threshold | None = None
    currency: Currency | None = None
    notify_emails: Emails | None = None
    service_filter: Filter | None = None
    region_filter: Filter | None = None
    cloud_account_id: uuid.UUID | None = None
    slack_webhook_url: WebhookUrl | None = None
    teams_webhook_url: WebhookUrl | None = None
    enabled: bool | None = None


class _Out(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class AlertTriggerOut(_Out):
    window_start: date
    window_end: date
    value: DecimalNumber
    threshold: DecimalNumber
    currency: str
    triggered_at: datetime


class AlertRuleOut(_Out):
    id: uuid.UUID
    name: str
    metric: AlertMetric
    condition_op: ConditionOp
    threshold: DecimalNumber
    currency: str
    notify_emails: list[str]
    service_filter: str | None
    region_filter: str | None
    cloud_account_id: uuid.UUID | None
    slack_webhook_url: str | None = Field(
        description="Masked: the URL is a secret, only its host and last characters are shown."
    )
    teams_webhook_url: str | None = Field(description="Masked, as slackWebhookUrl.")
    enabled: bool
    last_triggered_at: datetime | None
    last_evaluated_at: datetime | None
    recent_triggers: list[AlertTriggerOut] = Field(description="The last 10 firings, newest first.")
    created_at: datetime
    updated_at: datetime
