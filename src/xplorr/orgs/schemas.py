import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from xplorr.core.money import DecimalNumber
from xplorr.core.text import Name


class OrgOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    name: str
    slug: str
    require_2fa: bool
    created_at: datetime


class OrgUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    name: Name


class Require2faIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    required: StrictBool


class CurrencyAmount(BaseModel):
    currency: str
    amount: DecimalNumber


class OrgStats(BaseModel):
    """Month-to-date spend is billed cost from the 1st of the current UTC month to today, exact
    and rounded to each currency's minor units. Currencies are never added up:
    ``month_to_date_spend`` is in ``currency``, the organization's default currency (as
    ``/costs`` picks it: the reporting currency, until that setting exists the currency most
    cloud accounts bill in), 0 when nothing was spent in it this month, both null without any
    cost data; ``month_to_date_spend_by_currency`` lists each currency."""

    users: int
    active_users: int
    pending_invitations: int
    cloud_accounts: int
    last_sync_at: datetime | None
    month_to_date_spend: DecimalNumber | None
    currency: str | None
    month_to_date_spend_by_currency: list[CurrencyAmount]


class CloseOrgIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    password: Annotated[str, Field(min_length=1, max_length=1024)]


class CloseOrgOut(BaseModel):
    status: Literal["scheduled"]
    message: str
