import uuid
from datetime import datetime
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from xplorr.channels.models import ChatProvider, ScopeType

ScopeValue = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class NotifyToggles(BaseModel):
    """Which notification types the channel gets (product-notes.md section 25): ``digest``
    (weekly digest), ``alerts`` (alert rules, failed syncs), ``anomalies``, ``budgets`` (budget
    thresholds, projected overruns), ``recommendations`` (recommendations, approvals,
    reservation and savings-plan expiries)."""

    model_config = ConfigDict(extra="forbid")
    digest: bool = True
    alerts: bool = True
    anomalies: bool = True
    budgets: bool = True
    recommendations: bool = True


def _timezone(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError("Not an IANA time zone (such as Europe/Paris or UTC).") from None
    return value


class ChannelCreate(BaseModel):
    """A channel and what it receives. ``channel_id``: Slack's channel id (``C0123ABCD``); for
    Teams ``<team id>/<channel id>``. ``scope_values``: cloud account ids (``accounts``),
    ``key:value`` tags (``tags``) or service names (``services``); none for ``all``."""

    model_config = ConfigDict(extra="forbid")
    provider: ChatProvider
    channel_id: Annotated[
        str,
        StringConstraints(strip_whitespace=True, min_length=1, max_length=200, pattern=r"^[^\s]+$"),
    ]
    channel_name: Name
    scope_type: ScopeType = ScopeType.ALL
    scope_values: Annotated[list[ScopeValue], Field(max_length=100)] = Field(default_factory=list)
    notify: NotifyToggles = Field(default_factory=NotifyToggles)
    timezone: Annotated[str, Field(max_length=64)] = "UTC"
    is_default: bool = False

    _tz = field_validator("timezone")(_timezone)


class ChannelUpdate(BaseModel):
    """Fields to change (absent ones are kept); ``scope_type`` and ``scope_values`` are checked
    together as they will be."""

    model_config = ConfigDict(extra="forbid")
    channel_name: Name | None = None
    scope_type: ScopeType | None = None
    scope_values: Annotated[list[ScopeValue], Field(max_length=100)] | None = None
    notify: NotifyToggles | None = None
    timezone: Annotated[str, Field(max_length=64)] | None = None
    is_default: bool | None = None

    _tz = field_validator("timezone")(_timezone)


class ChannelOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    provider: ChatProvider
    channel_id: str
    channel_name: str
    scope_type: ScopeType
    scope_values: list[str]
    notify: NotifyToggles
    timezone: str
    is_default: bool
    created_at: datetime
    updated_at: datetime


class InstallUrlOut(BaseModel):
    """Where to send the admin's browser: Slack's OAuth v2 authorize page; for Teams the admin
    consent page, then (from the callback of that first leg) the tenant's authorize page. The
    state in it works once, for 10 minutes."""

    redirect_url: str


class OAuthResultOut(BaseModel):
    """The outcome of an install callback (with ``Accept: application/json``; browsers are
    redirected to the console with ``?provider=&result=`` instead)."""

    provider: str
    result: str = Field(description="installed")
    team_name: str | None = None
