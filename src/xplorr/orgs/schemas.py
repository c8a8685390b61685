import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, StrictBool

from xplorr.core.text import Name

# Money leaves the API as a JSON number, computed from Decimal (never float arithmetic).
MoneyOut = Annotated[Decimal, PlainSerializer(float, return_type=float, when_used="json")]


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
    amount: MoneyOut


class OrgStats(BaseModel):
    """Month-to-date spend is billed cost from the 1st of the current UTC month to today, exact
    and rounded to cents. Currencies are never added up: ``month_to_date_spend`` and ``currency``
    are set when all of it is in one currency (null without cost data or with several);
    ``month_to_date_spend_by_currency`` always lists each."""

    users: int
    active_users: int
    pending_invitations: int
    cloud_accounts: int
    last_sync_at: datetime | None
    month_to_date_spend: MoneyOut | None
    currency: str | None
    month_to_date_spend_by_currency: list[CurrencyAmount]


class CloseOrgIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    password: Annotated[str, Field(min_length=1, max_length=1024)]


class CloseOrgOut(BaseModel):
    status: Literal["scheduled"]
    message: str
