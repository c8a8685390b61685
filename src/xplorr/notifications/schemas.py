import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from xplorr.notifications.models import Channel, DeliveryStatus


class DeliveryOut(BaseModel):
    """One notification to one target. ``target``: an email address, or the webhook's owner
    (``alert_rule:<id>``); webhook URLs are never shown."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    event_type: str
    event_key: str
    severity: str | None
    cloud_account_id: uuid.UUID | None
    channel: Channel
    target: str
    status: DeliveryStatus
    attempts: int
    last_error: str | None = Field(description="Why the last attempt failed (no secret).")
    created_at: datetime
    sent_at: datetime | None
