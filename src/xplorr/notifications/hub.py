"""The notification hub: ``notify(db, event)`` turns one typed event into durable deliveries.

Called inside the caller's transaction (a request, or a job's unit of work): it resolves the
targets, writes one ``NotificationDelivery`` row per target and queues its
``notifications.deliver`` job (``core.jobs``), both flushed, never committed here. A rolled-back
caller sends nothing; a committed one delivers at least once per target, and the unique index
on (org, event key, channel, target) makes a second ``notify`` of the same occurrence (an
evaluation that ran twice, a retried job) add nothing.

Targets:

- email to the org's users, chosen by the event's ``audience``: active users whose
  notification preference for the type is on (``/users/notification-preferences``) and who may
  see the event's cloud account (their account grants, ``users.principals``); an org-wide event
  (no cloud account) skips users limited to some accounts, as every org-wide read does;
- the ``targets`` the caller passes (an alert rule's ``notifyEmails`` and its Slack webhook);
- those of every registered ``target_source`` (the org's Slack/Teams webhooks, channel routing).

Webhook targets are references (``WebhookTarget(channel, source, id)``): the URL, a secret, is
read at send time through the resolver its owner registered with ``webhook_source`` and checked
by ``core.egress`` then too.

Severity rules (product-notes.md section 11): Slack and Teams get medium and above only (low is
email-only, for the digest); a low-severity event of a ``digest_batch`` type waits for the daily
digest of a recipient who gets one (``digest_batching``); critical deliveries go into the
interactive lane, ahead of other queued work.
"""

import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import structlog
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from xplorr.core.db import is_postgres
from xplorr.core.jobs import queue
from xplorr.core.jobs.registry import JobContext, Lane
from xplorr.core.settings import Settings
from xplorr.core.tenancy import Role
from xplorr.notifications.events import Audience, Notification, Severity
from xplorr.notifications.models import Channel, DeliveryStatus, NotificationDelivery
from xplorr.users.models import NotificationPreference, User, UserStatus
from xplorr.users.principals import with_account_grants
from xplorr.users.schemas import NotificationPreferences

log = structlog.get_logger("xplorr.notifications")

DELIVER_JOB = "notifications.deliver"
WEBHOOK_MIN_SEVERITY = Severity.MEDIUM


@dataclass(frozen=True, slots=True)
class EmailTarget:
    address: str
    user_id: uuid.UUID | None = None  # an org user (None: an address an admin typed)

    @property
    def key(self) -> str:
        return self.address.strip().lower()


@dataclass(frozen=True, slots=True)
class WebhookTarget:
    """A Slack or Teams webhook held by ``source`` (a name registered with ``webhook_source``)
    on its row ``source_id``."""

    channel: Channel
    source: str
    source_id: uuid.UUID
    # True: the source applied its own policy (channel routing's per-channel toggles); the
    # hub's medium-and-above rule for webhooks is not applied again.
    routed: bool = False

    @property
    def key(self) -> str:
        return f"{self.source}:{self.source_id}"


Target = EmailTarget | WebhookTarget
TargetSource = Callable[[AsyncSession, Notification], Awaitable[Sequence[Target]]]
# (db, settings, org id, source row id, channel) -> the webhook URL, or None when it is gone
WebhookResolver = Callable[
    [AsyncSession, Settings, uuid.UUID, uuid.UUID, Channel], Awaitable[str | None]
]

# How a source that is not a webhook URL sends (a chat app's bot: Slack chat.postMessage,
# Microsoft Graph): (job context, the delivery row, its event) -> the delivery's new status.
ChannelSender = Callable[
    [JobContext, NotificationDelivery, Notification], Awaitable[DeliveryStatus]
]

TARGET_SOURCES: dict[str, TargetSource] = {}
WEBHOOK_SOURCES: dict[str, WebhookResolver] = {}
CHANNEL_SENDERS: dict[str, ChannelSender] = {}


def target_source(name: str) -> Callable[[TargetSource], TargetSource]:
    """Register a function adding targets to every event (it decides which events): the org
    settings' Slack/Teams webhook, channel routing. Register in the area's ``jobs.py``."""

    def register(fn: TargetSource) -> TargetSource:
        TARGET_SOURCES[name] = fn
        return fn

    return register


def webhook_source(name: str) -> Callable[[WebhookResolver], WebhookResolver]:
    """Register how to read the URL of a ``WebhookTarget(source=name)`` at send time."""

    def register(fn: WebhookResolver) -> WebhookResolver:
        existing = WEBHOOK_SOURCES.get(name)
        if existing is not None and existing is not fn:
            raise ValueError(f"webhook source {name!r} is already registered")
        WEBHOOK_SOURCES[name] = fn
        return fn

    return register


def channel_sender(name: str) -> Callable[[ChannelSender], ChannelSender]:
    """Register how a ``WebhookTarget(source=name)`` is sent when no URL is behind it (a chat
    app's bot posting to a channel): ``notifications.deliver`` calls it instead of POSTing."""

    def register(fn: ChannelSender) -> ChannelSender:
        CHANNEL_SENDERS[name] = fn
        return fn

    return register


# name -> (db, org id) -> whether the org routes chat notifications to channels of its own
ChannelRouting = Callable[[AsyncSession, uuid.UUID], Awaitable[bool]]
CHANNEL_ROUTING: dict[str, ChannelRouting] = {}


def channel_routing(name: str) -> Callable[[ChannelRouting], ChannelRouting]:
    """Register a check "this org has chat channels configured" (channel routing): while any
    says yes, the org's settings webhook is not a fallback target (product-notes.md section
    25: "with no channels, fall back to the org webhook URL")."""

    def register(fn: ChannelRouting) -> ChannelRouting:
        CHANNEL_ROUTING[name] = fn
        return fn

    return register


async def routes_to_channels(db: AsyncSession, org_id: uuid.UUID) -> bool:
    for has_channels in CHANNEL_ROUTING.values():
        if await has_channels(db, org_id):
            return True
    return False


# name -> (db, org id) -> the addresses (lower case) that get a daily digest of the org
DigestRecipients = Callable[[AsyncSession, uuid.UUID], Awaitable[frozenset[str]]]
DIGEST_BATCHING: dict[str, DigestRecipients] = {}


def digest_batching(name: str) -> Callable[[DigestRecipients], DigestRecipients]:
    """Register who gets a daily digest: a low-severity event of a ``digest_batch`` type is
    not emailed on its own to those addresses; its delivery waits, ``batched``, for their next
    digest (section 11: "Low => batched into the daily digest"), which takes it with
    ``notifications.batching.take_batched``. Everyone else still gets it at once."""

    def register(fn: DigestRecipients) -> DigestRecipients:
        DIGEST_BATCHING[name] = fn
        return fn

    return register


async def _digest_recipients(db: AsyncSession, event: Notification) -> frozenset[str]:
    if not (event.digest_batch and event.severity == Severity.LOW):
        return frozenset()
    found: set[str] = set()
    for recipients in DIGEST_BATCHING.values():
        found |= await recipients(db, event.org_id)
    return frozenset(found)


def _preference_on(event: Notification, stored: dict[str, bool] | None) -> bool:
    if event.preference is None:
        return True
    defaults = NotificationPreferences().model_dump()
    value = (stored or {}).get(event.preference, defaults.get(event.preference, True))
    return bool(value)


async def _may_see(db: AsyncSession, user: User, account_id: uuid.UUID | None) -> bool:
    """The user's account grants as they are now (``users.principals``)."""
    from xplorr.core.tenancy import Principal

    who = await with_account_grants(
        db, user, Principal(user_id=user.id, org_id=user.org_id, role=user.role, email=user.email)
    )
    if who.account_ids is None:
        return True
    return account_id is not None and account_id in who.account_ids


async def user_targets(db: AsyncSession, event: Notification) -> list[EmailTarget]:
    """The org users the event's audience and their preferences select."""
    if event.audience == Audience.NONE:
        return []
    stmt = select(User).where(User.org_id == event.org_id, User.status == UserStatus.ACTIVE)
    if event.audience == Audience.ADMINS:
        stmt = stmt.where(User.role.in_([Role.OWNER, Role.ADMIN]))
    elif event.audience == Audience.USER:
        stmt = stmt.where(User.id == getattr(event, "user_id", None))
    users = list((await db.scalars(stmt.order_by(User.email))).all())
    if not users:
        return []
    prefs = {
        row.user_id: row.settings
        for row in (
            await db.scalars(
                select(NotificationPreference).where(
                    NotificationPreference.org_id == event.org_id,
                    NotificationPreference.user_id.in_([u.id for u in users]),
                )
            )
        ).all()
    }
    found = []
    for user in users:
        if not _preference_on(event, prefs.get(user.id)):
            continue
        if event.audience != Audience.USER and not await _may_see(db, user, event.cloud_account_id):
            continue
        found.append(EmailTarget(user.email, user.id))
    return found


def allowed(event: Notification, target: Target) -> bool:
    """Section 11: webhooks get medium and above, and only the types meant for channels."""
    if isinstance(target, WebhookTarget):
        if target.routed:
            return event.webhooks
        return event.webhooks and event.severity.rank >= WEBHOOK_MIN_SEVERITY.rank
    return True


async def resolve_targets(
    db: AsyncSession, event: Notification, extra: Sequence[Target] = ()
) -> list[Target]:
    """Every target of ``event``, deduplicated (an address once, a webhook once), in order:
    org users, then the caller's, then the registered sources'."""
    found: list[Target] = [*await user_targets(db, event), *extra]
    for source in TARGET_SOURCES.values():
        found.extend(await source(db, event))
    seen: set[tuple[str, str]] = set()
    out: list[Target] = []
    for target in found:
        channel = target.channel.value if isinstance(target, WebhookTarget) else "email"
        ident = (channel, target.key)
        if ident in seen or not allowed(event, target):
            continue
        seen.add(ident)
        out.append(target)
    return out


async def notify(
    db: AsyncSession, event: Notification, *, targets: Sequence[Target] = ()
) -> list[uuid.UUID]:
    """Queue ``event`` for every target (``targets``: the caller's own, e.g. an alert rule's
    notifyEmails and webhook), in the caller's transaction. -> the ids of the deliveries this
    call created (none for targets that already had this event key)."""
    created: list[uuid.UUID] = []
    payload = event.model_dump(mode="json")
    lane = Lane.INTERACTIVE if event.severity == Severity.CRITICAL else Lane.DEFAULT
    insert = pg_insert if is_postgres(db) else sqlite_insert
    batched = await _digest_recipients(db, event)
    for target in await resolve_targets(db, event, targets):
        channel = target.channel if isinstance(target, WebhookTarget) else Channel.EMAIL
        wait = isinstance(target, EmailTarget) and target.key in batched
        stmt = (
            insert(NotificationDelivery)
            .values(
                id=uuid.uuid4(),
                org_id=event.org_id,
                event_type=event.type.value,
                event_key=event.event_key,
                severity=event.severity.value,
                cloud_account_id=event.cloud_account_id,
                channel=channel,
                target=target.key,
                user_id=target.user_id if isinstance(target, EmailTarget) else None,
                payload=payload,
                status=DeliveryStatus.BATCHED if wait else DeliveryStatus.PENDING,
            )
            .on_conflict_do_nothing(index_elements=["org_id", "event_key", "channel", "target"])
            .returning(NotificationDelivery.id)
        )
        delivery_id = (await db.execute(stmt)).scalar()
        if delivery_id is None:
            continue  # this occurrence already went (or goes) to this target
        created.append(delivery_id)
        if wait:
            continue  # the recipient's next daily digest takes it
        await queue.enqueue(
            db, DELIVER_JOB, {"delivery_id": str(delivery_id)}, org_id=event.org_id, lane=lane
        )
    if created:
        log.info(
            "notification_queued",
            type=event.type.value,
            key=event.event_key,
            deliveries=len(created),
        )
    return created
