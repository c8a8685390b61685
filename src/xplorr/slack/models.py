import uuid
from datetime import datetime
from typing import ClassVar

from sqlalchemy import ForeignKey, LargeBinary, SmallInteger, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from xplorr.core import secrets
from xplorr.core.models import Base, OrgOwned


class SlackInstallation(OrgOwned, Base):
    """The org's Slack app install (one per org, one org per Slack workspace: an interaction
    from a workspace must name one organization). The bot token and the incoming webhook URL
    are secrets, sealed under the org's data key (``core.secrets``)."""

    __tablename__ = "slack_installations"
    __table_args__ = (UniqueConstraint("org_id"),)
    audit_resource: ClassVar[str] = "slack_installation"

    # One installation per org (``org_id`` is indexed by OrgOwned; unique here).
    team_id: Mapped[str] = mapped_column(String(40), unique=True)
    team_name: Mapped[str] = mapped_column(String(200))
    enterprise_id: Mapped[str | None] = mapped_column(String(40))
    app_id: Mapped[str | None] = mapped_column(String(40))
    bot_user_id: Mapped[str | None] = mapped_column(String(40))
    scopes: Mapped[str] = mapped_column(String(1000))
    bot_token_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    bot_token_key_version: Mapped[int] = mapped_column(SmallInteger)
    webhook_channel: Mapped[str | None] = mapped_column(String(200))
    webhook_channel_id: Mapped[str | None] = mapped_column(String(40))
    webhook_url_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    webhook_key_version: Mapped[int | None] = mapped_column(SmallInteger)
    installed_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    installed_at: Mapped[datetime]

    @property
    def audit_name(self) -> str | None:
        return self.team_name


BOT_TOKEN = secrets.register(
    secrets.SealedColumn(
        SlackInstallation,
        "bot_token_encrypted",
        "bot_token_key_version",
        purpose="slack_bot_token",
        label="slack_installations",
    )
)
INCOMING_WEBHOOK = secrets.register(
    secrets.SealedColumn(
        SlackInstallation,
        "webhook_url_encrypted",
        "webhook_key_version",
        purpose="slack_incoming_webhook",
        label="slack_incoming_webhooks",
    )
)
