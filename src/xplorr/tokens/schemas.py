import uuid
from datetime import datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from xplorr.core.text import ShortName
from xplorr.tokens.models import TokenScope

MAX_TOKEN_ACCOUNTS = 200


class ApiTokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    name: ShortName
    expires_at: AwareDatetime | None = Field(
        default=None,
        description="When the token stops working. Omitted: in 90 days. "
        "An explicit null: never (until revoked).",
    )
    scope: TokenScope = Field(
        default=TokenScope.WRITE,
        description='"write": everything you may do; "read": GET requests only (any other '
        "method answers 403 READ_ONLY_TOKEN).",
    )
    account_ids: list[uuid.UUID] | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_TOKEN_ACCOUNTS,
        description="Limit the token to these cloud accounts of the organization (intersected "
        "with the accounts you are granted). Omitted: every account you see.",
    )


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
    scope: TokenScope
    account_ids: list[uuid.UUID] | None


class ApiTokenCreated(ApiTokenOut):
    token: str = Field(description="The token itself. Shown once: store it now.")


class TokenExchangeOut(BaseModel):
    token: str
    expires_in: int
