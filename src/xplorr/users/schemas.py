import uuid
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from xplorr.cloud_accounts.models import Provider
from xplorr.users.models import Role


class UserUpdate(BaseModel):
    """Only these two fields exist: anything else (email, org_id, status...) is a 422."""

    model_config = ConfigDict(extra="forbid")
    name: Annotated[str, Field(min_length=1, max_length=200)] | None = None
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
    account_ids: Annotated[list[uuid.UUID], Field(min_length=1, max_length=500)]


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
    welcome: bool | None = None
    sync_complete: bool | None = None
    sync_failed: bool | None = None
    anomaly_detected: bool | None = None
    budget_alert: bool | None = None
    projected_overrun: bool | None = None
    weekly_digest: bool | None = None
    ri_sp_expiration: bool | None = None
