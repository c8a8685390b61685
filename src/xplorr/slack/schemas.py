import uuid
from datetime import datetime

from pydantic import BaseModel, Field


class SlackInstallationOut(BaseModel):
    """The org's Slack app: ``installed`` false when there is none. Tokens are never shown."""

    installed: bool
    team_id: str | None = None
    team_name: str | None = None
    channel: str | None = Field(
        default=None, description="The incoming webhook's channel, if one was granted."
    )
    bot_user_id: str | None = None
    scopes: list[str] = Field(default_factory=list)
    installed_by: uuid.UUID | None = None
    installed_by_email: str | None = None
    installed_at: datetime | None = None


class InteractionOut(BaseModel):
    """What the action did (Slack ignores the body; the user reads the reply in the channel)."""

    ok: bool
    action: str | None = None
    message: str
