"""Low-severity notifications held for a daily digest (``hub.digest_batching``): the digest
that goes to an address takes that address's ``batched`` deliveries, lists them, and marks them
``sent`` in the transaction that queues the digest's email (or ``skipped`` when their user may
no longer see them: deactivated, or no longer granted the event's account)."""

import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from xplorr.core import clock
from xplorr.core.jobs import queue
from xplorr.core.tenancy import org_scope, org_select
from xplorr.notifications import render
from xplorr.notifications.events import EVENT_TYPES, NotificationType
from xplorr.notifications.hub import DELIVER_JOB
from xplorr.notifications.models import DeliveryStatus, NotificationDelivery
from xplorr.users.principals import principal_for_user


@dataclass(frozen=True, slots=True)
class BatchedItem:
    """One held notification as a digest shows it."""

    event_key: str
    severity: str | None
    title: str
    summary: str


async def still_allowed(db: AsyncSession, delivery: NotificationDelivery) -> bool:
    """An org user's delivery goes out only if, now, the user is active and may see the
    event's account (grants as they are at send time, not when queued)."""
    if delivery.user_id is None:
        return True
    who = await principal_for_user(db, delivery.user_id, org_id=delivery.org_id)
    if who is None:
        return False
    if who.account_ids is None:
        return True
    return delivery.cloud_account_id is not None and delivery.cloud_account_id in who.account_ids


async def take_batched(
    db: AsyncSession, org_id: uuid.UUID, addresses: Collection[str], until: datetime
) -> dict[str, list[BatchedItem]]:
    """The ``batched`` deliveries to ``addresses`` (lower case) created before ``until``, per
    address, oldest first; each is marked ``sent`` (or ``skipped``) here, in the caller's
    transaction, so the next digest does not list it again."""
    wanted = {a.strip().lower() for a in addresses}
    if not wanted:
        return {}
    rows = (
        await db.scalars(
            org_select(NotificationDelivery, org_scope(org_id))
            .where(
                NotificationDelivery.status == DeliveryStatus.BATCHED,
                NotificationDelivery.target.in_(sorted(wanted)),
                NotificationDelivery.created_at < until,
            )
            .order_by(NotificationDelivery.created_at, NotificationDelivery.id)
            .with_for_update()
        )
    ).all()
    found: dict[str, list[BatchedItem]] = {}
    now = clock.now()
    for row in rows:
        if not await still_allowed(db, row):
            row.status = DeliveryStatus.SKIPPED
            continue
        event = EVENT_TYPES[NotificationType(row.event_type)].model_validate(row.payload)
        card = render.describe(event)
        found.setdefault(row.target, []).append(
            BatchedItem(row.event_key, row.severity, card.title, card.summary)
        )
        row.status, row.sent_at = DeliveryStatus.SENT, now
    return found


async def release_batched(db: AsyncSession, org_id: uuid.UUID, addresses: Collection[str]) -> int:
    """Send the ``batched`` deliveries to ``addresses`` one by one after all (a digest that
    held them was turned off, deleted or stopped): each becomes ``pending`` with its job.
    -> how many."""
    wanted = sorted({a.strip().lower() for a in addresses})
    if not wanted:
        return 0
    rows = (
        await db.scalars(
            org_select(NotificationDelivery, org_scope(org_id))
            .where(
                NotificationDelivery.status == DeliveryStatus.BATCHED,
                NotificationDelivery.target.in_(wanted),
            )
            .with_for_update()
        )
    ).all()
    for row in rows:
        row.status = DeliveryStatus.PENDING
        await queue.enqueue(db, DELIVER_JOB, {"delivery_id": str(row.id)}, org_id=org_id)
    return len(rows)
