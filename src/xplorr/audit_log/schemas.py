import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict


class AuditOut(BaseModel):
    """One entry, with the fields the audit-log guide lists (product-notes.md section 24)."""

    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    timestamp: datetime
    user_email: str | None
    action: str
    resource_type: str | None
    resource_id: str | None
    resource_name: str | None
    ip_address: str | None
    details: dict[str, Any]


class AuditActionsOut(BaseModel):
    actions: list[str]
