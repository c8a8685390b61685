import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, StrictBool

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
    name: Annotated[str, Field(min_length=1, max_length=200)]


class Require2faIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    required: StrictBool


class OrgStats(BaseModel):
    """``month_to_date_spend`` stays null until the cost query module answers it."""

    users: int
    active_users: int
    pending_invitations: int
    cloud_accounts: int
    last_sync_at: datetime | None
    month_to_date_spend: MoneyOut | None
    currency: str | None


class CloseOrgIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    password: Annotated[str, Field(min_length=1, max_length=1024)]


class CloseOrgOut(BaseModel):
    status: Literal["scheduled"]
    message: str
