import uuid
from datetime import datetime

from pydantic import BaseModel


class TeamsInstallationOut(BaseModel):
    """The org's Teams app: ``installed`` false when there is none. Tokens are never shown."""

    installed: bool
    tenant_id: str | None = None
    scopes: list[str] = []
    installed_by: uuid.UUID | None = None
    installed_at: datetime | None = None
