import uuid
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from xplorr.cloud_accounts.models import Provider
from xplorr.core.tenancy import Role
from xplorr.core.text import Name


class UserUpdate(BaseModel):
    """Only these two fields exist: anything else (email, org_id, status...) is a 422."""

    model_config = ConfigDict(extra="forbid")
    name: Name | None = None
    role: Role | None = None


class AccountBrief(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    name: str
    provider: Provider
    provider_account_id: str


class AvailableAccountsOut(BaseModel):
    data: list[AccountBrief]


class UserAccountsOut(BaseModel):
    """``all_accounts``: no grant, the user sees every cloud account of the organization."""

    user_id: uuid.UUID
    all_accounts: bool
    accounts: list[AccountBrief]


class GrantIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    account_ids: Annotated[list[uuid.UUID], Field(max_length=500)] = []


class NotificationPreferences(BaseModel):
    """Email notifications (product-notes.md section 25) and their documented defaults."""

    model_config = ConfigDict(extra="forbid")
    welcome: bool = True
    sync_complete: bool = False
    sync_failed: bool = True
    anomaly_detected: bool = True
    budget_alert: bool = True
    projected_overrun: bool = True
    weekly_digest: bool = True
    ri_sp_expiration: bool = True


class NotificationPreferencesUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    welcome: StrictBool | None = None
    sync_complete: StrictBool | None = None
    sync_failed: StrictBool | None = None
    anomaly_detected: StrictBool | None = None
    budget_alert: StrictBool | None = None
    projected_overrun: StrictBool | None = None
    weekly_digest: StrictBool | None = None
    ri_sp_expiration: StrictBool | None = None
