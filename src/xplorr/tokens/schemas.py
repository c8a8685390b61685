import uuid
from datetime import datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from xplorr.core.text import ShortName


class ApiTokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    name: ShortName
    expires_at: AwareDatetime | None = None


class ApiTokenOut(BaseModel):
    """A token as listed: never its value, only the display prefix."""

    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    user_id: uuid.UUID
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None


class ApiTokenCreated(ApiTokenOut):
    token: str = Field(description="The token itself. Shown once: store it now.")


class TokenExchangeOut(BaseModel):
    token: str
    expires_in: int
