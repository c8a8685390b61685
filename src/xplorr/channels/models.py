import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar

from sqlalchemy import Enum, ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from xplorr.core.models import Base, JSONType, OrgOwned


class ChatProvider(StrEnum):
    SLACK = "slack"
    TEAMS = "teams"


class OAuthStep(StrEnum):
    """What the callback of a state brings back (``oauth_state.accept_callback``)."""

    CODE = "code"  # an authorization code to exchange (Slack; Teams' second leg)
    ADMIN_CONSENT = "admin_consent"  # a directory admin's grant, no code (Teams' first leg)


class ScopeType(StrEnum):
    """What of an event a channel's ``scope_values`` are matched against (product-notes 25)."""

    ALL = "all"
    ACCOUNTS = "accounts"  # cloud account ids
    TAGS = "tags"  # "key:value"
    SERVICES = "services"  # service names (any spelling costs.services knows)


def _values(enum: type[StrEnum]) -> list[str]:
    return [member.value for member in enum]


class ChannelConfig(OrgOwned, Base):
    """A Slack or Teams channel that receives the org's notifications it is scoped to, through
    the org's installed app (the bot posts; no webhook URL is kept here). ``is_default``: the
    one channel (per org) that gets what no other channel matched."""

    __tablename__ = "chat_channels"
    __table_args__ = (
        UniqueConstraint("org_id", "provider", "channel_id"),
        # One default channel per org (a partial unique index works on SQLite and PostgreSQL).
        Index(
            "uq_chat_channels_default",
            "org_id",
            unique=True,
            sqlite_where=text("is_default"),
            postgresql_where=text("is_default"),
        ),
    )
    audit_resource: ClassVar[str] = "channel"

    provider: Mapped[ChatProvider] = mapped_column(
        Enum(ChatProvider, native_enum=False, length=8, values_callable=_values)
    )
    channel_id: Mapped[str] = mapped_column(String(200))
    channel_name: Mapped[str] = mapped_column(String(200))
    scope_type: Mapped[ScopeType] = mapped_column(
        Enum(ScopeType, native_enum=False, length=10, values_callable=_values)
    )
    scope_values: Mapped[list[str]] = mapped_column(JSONType, default=list)
    notify: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    is_default: Mapped[bool] = mapped_column(default=False)
    created_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )

    @property
    def audit_name(self) -> str | None:
        return f"{self.provider.value} {self.channel_name}"


class OAuthState(OrgOwned, Base):
    """An OAuth ``state`` a chat app install handed out (Slack and Teams alike): its SHA-256
    only, bound to the org and the admin who started it and to the step of the install it
    answers (``step``; ``tenant_id``: the directory an earlier step was granted in, which this
    step must come from), single use (deleted when consumed), expiring after
    ``oauth_state.TTL``."""

    __tablename__ = "chat_oauth_states"
    audit_resource: ClassVar[str] = "oauth_state"

    provider: Mapped[ChatProvider] = mapped_column(
        Enum(ChatProvider, native_enum=False, length=8, values_callable=_values)
    )
    state_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    expires_at: Mapped[datetime]
    step: Mapped[OAuthStep] = mapped_column(
        Enum(OAuthStep, native_enum=False, length=16, values_callable=_values),
        default=OAuthStep.CODE,
        server_default=OAuthStep.CODE.value,
    )
    tenant_id: Mapped[str | None] = mapped_column(String(64))
