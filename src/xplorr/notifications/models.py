import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar

from sqlalchemy import Enum, ForeignKey, Index, SmallInteger, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from xplorr.core.models import Base, JSONType, OrgOwned


class Channel(StrEnum):
    EMAIL = "email"
    SLACK = "slack"
    TEAMS = "teams"


class DeliveryStatus(StrEnum):
    PENDING = "pending"  # its job will send it
    SENT = "sent"
    HELD = "held"  # email without XPLORR_SMTP_HOST: kept in the outbox (`xplorr outbox`)
    FAILED = "failed"  # out of attempts, or refused for good (4xx, unsafe URL)
    SKIPPED = "skipped"  # nothing to send to any more (the rule or its webhook was removed)
    BATCHED = "batched"  # low severity: waits for its recipient's next daily digest (no job)


def _values(enum: type[StrEnum]) -> list[str]:
    return [member.value for member in enum]


class NotificationDelivery(OrgOwned, Base):
    """One event to one target, durable: the row is written by ``notify`` in the caller's
    transaction together with its ``notifications.deliver`` job, and unique per
    (org, event key, channel, target), so an evaluation that runs twice (or a worker that died
    after queueing) delivers once.

    ``target`` is an email address, or for a webhook the reference of whatever holds its URL
    (``alert_rule:<id>``): the URL, a secret, is read (and checked) at send time from its
    owner, never copied here. ``payload`` is the event (JSON), rendered at send time."""

    __tablename__ = "notification_deliveries"
    __table_args__ = (
        UniqueConstraint("org_id", "event_key", "channel", "target"),
        Index("ix_notification_deliveries_org_id_created_at", "org_id", "created_at"),
    )
    audit_resource: ClassVar[str] = "notification_delivery"

    event_type: Mapped[str] = mapped_column(String(40))
    event_key: Mapped[str] = mapped_column(String(300))
    severity: Mapped[str | None] = mapped_column(String(16))
    cloud_account_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("cloud_accounts.id", ondelete="CASCADE"), index=True
    )
    channel: Mapped[Channel] = mapped_column(
        Enum(Channel, native_enum=False, length=16, values_callable=_values)
    )
    target: Mapped[str] = mapped_column(String(320))
    user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType)
    status: Mapped[DeliveryStatus] = mapped_column(
        Enum(DeliveryStatus, native_enum=False, length=16, values_callable=_values),
        default=DeliveryStatus.PENDING,
    )
    attempts: Mapped[int] = mapped_column(SmallInteger, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None]

    @property
    def audit_name(self) -> str | None:
        return f"{self.event_type} via {self.channel.value}"
