"""Channel routing: which of the org's Slack and Teams channels get a notification.

Rules (product-notes.md section 25), in ``route`` (pure; ``tests/channels/test_routing.py``
walks a table of cases):

1. The event's type names a toggle (``TOGGLES``); a type without one (welcome, sync complete)
   goes to no channel.
2. A non-default channel gets the event when its toggle for the type is on and its scope
   matches: ``all``; ``accounts``: the event's cloud account is listed (an org-wide event
   matches none); ``services``: the event's service, by its shown name (``AmazonEC2`` is
   ``Amazon Elastic Compute Cloud``; an anomaly's service, an alert rule's or a budget's
   service filter); ``tags``: a listed ``key:value`` tag is one of the
   event's tags (``facts_of``, per event type: an anomaly's are the tags on the day's cost of
   its account and service; a budget alert's or projected overrun's, the budget's tag filter;
   a recommendation's, and an approval's of a recommendation, the tags the inventory holds for
   its resource). An event without tags (an alert rule has no tag filter; failed syncs,
   digests, RI/SP expiries, cost-data recommendations, a budget with no tag filter) never
   matches a tag scope: the default channel gets it when nothing else did.
3. The default channel gets it when no other channel did and its own toggle is on (its scope
   is not consulted: it is the catch-all).
4. Anomalies, alerts and budget notices reach channels from medium severity up, as every
   webhook (section 11); digests, recommendations and approvals at any severity (their
   toggles are the opt-in).
5. The weekly summary (``EVERY_CHANNEL``) goes to every channel whose ``digest`` toggle is on,
   default or not, whatever its scope: section 25 says it "goes to every digest-enabled
   channel", as the daily digest does (``reports.chat``, rule 2). Its figures are the whole
   organization's.

With no channel configured at all, the org settings' webhooks get the event (``settings.jobs``,
told by ``channels.jobs.has_channels``), else the Slack install's incoming webhook
(``FALLBACKS``): the hub's default rules apply to them.
"""

import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from xplorr.budgets import service as budgets
from xplorr.channels.models import ChannelConfig, ChatProvider, ScopeType
from xplorr.core.jobs.registry import JobContext
from xplorr.core.tenancy import org_scope, org_select
from xplorr.costs import services as cost_services
from xplorr.costs.query import CostQuery, TagFilter, TagKey, totals_by_currency
from xplorr.notifications.events import (
    AlertTriggered,
    AnomalyDetected,
    ApprovalNotice,
    BudgetAlert,
    Notification,
    NotificationType,
    ProjectedOverrun,
    RecommendationNotice,
    Severity,
)
from xplorr.notifications.hub import Target, WebhookTarget
from xplorr.notifications.models import Channel, DeliveryStatus
from xplorr.recommendations import service as recommendations

SOURCE = "chat_channel"  # WebhookTarget source of a routed channel (its bot sends)

TOGGLES: dict[NotificationType, str] = {
    NotificationType.WEEKLY_DIGEST: "digest",
    NotificationType.WEEKLY_SUMMARY: "digest",
    NotificationType.ALERT_TRIGGERED: "alerts",
    NotificationType.SYNC_FAILED: "alerts",
    NotificationType.ANOMALY_DETECTED: "anomalies",
    NotificationType.BUDGET_ALERT: "budgets",
    NotificationType.PROJECTED_OVERRUN: "budgets",
    NotificationType.RECOMMENDATION: "recommendations",
    NotificationType.APPROVAL: "recommendations",
    NotificationType.RI_SP_EXPIRATION: "recommendations",
}
SEVERITY_GATED = frozenset({"alerts", "anomalies", "budgets"})
EVERY_CHANNEL = frozenset({NotificationType.WEEKLY_SUMMARY})  # rule 5
MIN_SEVERITY = Severity.MEDIUM


class Routable(Protocol):
    """What routing reads of a channel (a ``ChannelConfig``, or a test's plain object)."""

    @property
    def scope_type(self) -> ScopeType: ...
    @property
    def scope_values(self) -> list[str]: ...
    @property
    def notify(self) -> dict[str, bool]: ...
    @property
    def is_default(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class Facts:
    """What a scope is matched against: the event's cloud account, its service (shown name)
    and the ``key:value`` tags it carries (rule 2: only those some channel is scoped to)."""

    account_id: uuid.UUID | None = None
    service: str | None = None
    tags: frozenset[str] = frozenset()


def scope_matches(channel: Routable, facts: Facts) -> bool:
    values = channel.scope_values
    if channel.scope_type == ScopeType.ALL:
        return True
    if channel.scope_type == ScopeType.ACCOUNTS:
        return facts.account_id is not None and str(facts.account_id) in values
    if channel.scope_type == ScopeType.SERVICES:
        if facts.service is None:
            return False
        shown = {cost_services.canonical(v).casefold() for v in values}
        return cost_services.canonical(facts.service).casefold() in shown
    return any(tag in facts.tags for tag in values)


def toggle_of(event: Notification) -> str | None:
    toggle = TOGGLES.get(event.type)
    if toggle is None or not event.webhooks:
        return None
    if toggle in SEVERITY_GATED and event.severity.rank < MIN_SEVERITY.rank:
        return None
    return toggle


R = TypeVar("R", bound=Routable)


def route(event: Notification, channels: Sequence[R], facts: Facts) -> list[R]:
    """The channels that get ``event`` (rules 1-5 of the module's docstring)."""
    toggle = toggle_of(event)
    if toggle is None:
        return []
    on = [c for c in channels if c.notify.get(toggle, True)]
    if event.type in EVERY_CHANNEL:
        return on
    taken = [c for c in on if not c.is_default and scope_matches(c, facts)]
    if taken:
        return taken
    return [c for c in on if c.is_default][:1]


def tag_values(channels: Sequence[Routable]) -> set[str]:
    return {v for c in channels if c.scope_type == ScopeType.TAGS for v in c.scope_values}


async def _anomaly_tags(db: AsyncSession, event: AnomalyDetected, tags: set[str]) -> set[str]:
    """Which of ``tags`` are on the anomaly day's cost of its account and service (a non-zero
    tagged amount in any currency, read through the cost query module)."""
    who = org_scope(event.org_id)
    found = set()
    for tag in sorted(tags):
        key, _, value = tag.partition(":")
        query = CostQuery(
            start=event.day,
            end=event.day,
            account_ids=None
            if event.cloud_account_id is None
            else frozenset({event.cloud_account_id}),
            services=None if event.service is None else frozenset({event.service}),
            tags=(TagFilter(key=TagKey(key), values=frozenset({value})),),
        )
        totals = await totals_by_currency(db, who, query)
        if any(amount != 0 for amount in totals.values()):
            found.add(tag)
    return found


async def facts_of(db: AsyncSession, event: Notification, tags: set[str]) -> Facts:
    """The event's account, service and which of ``tags`` (the org's tag-scoped channels'
    values) it carries (rule 2 of the module's docstring). A budget event reads its budget
    (service and tag filters); cost data and the inventory are read only when some channel is
    scoped to tags."""
    who = org_scope(event.org_id)
    service: str | None = None
    found: set[str] = set()
    if isinstance(event, AnomalyDetected):
        service = event.service
        if tags:
            found = await _anomaly_tags(db, event, tags)
    elif isinstance(event, AlertTriggered):
        service = event.service_filter  # a rule has a service filter, no tag filter
    elif isinstance(event, BudgetAlert | ProjectedOverrun):
        budget = await budgets.budget_of(db, who, event.budget_id)
        if budget is not None:
            service = budget.service_name
            tag = budgets.tag_of(budget)
            found = {tag} & tags if tag is not None else set()
    elif (
        isinstance(event, RecommendationNotice | ApprovalNotice)
        and event.recommendation_id is not None
        and tags
    ):
        on_resource = await recommendations.resource_tags(db, who, event.recommendation_id)
        found = set(on_resource & tags)
    return Facts(account_id=event.cloud_account_id, service=service, tags=frozenset(found))


_CHANNEL = {ChatProvider.SLACK: Channel.SLACK, ChatProvider.TEAMS: Channel.TEAMS}

# With no channel configured: the org's webhooks, registered by whoever holds them with a
# priority (the org settings' webhook URLs 0, the Slack install's incoming webhook 10): per
# chat channel (Slack, Teams) the first that has one is used.
FallbackSource = Callable[[AsyncSession, Notification], Awaitable[Sequence[WebhookTarget]]]
FALLBACKS: dict[str, tuple[int, FallbackSource]] = {}

# How a routed channel of each provider is posted to (registered by the slack and teams areas).
ChannelPoster = Callable[[JobContext, ChannelConfig, Notification], Awaitable[DeliveryStatus]]
POSTERS: dict[ChatProvider, ChannelPoster] = {}


async def channel_targets(db: AsyncSession, event: Notification) -> list[Target]:
    """The hub's target source for channel routing (registered in ``channels.jobs``)."""
    channels = list((await db.scalars(org_select(ChannelConfig, org_scope(event.org_id)))).all())
    if not channels:
        found: dict[Channel, Target] = {}
        for _, fallback in sorted(FALLBACKS.values(), key=lambda item: item[0]):
            for target in await fallback(db, event):
                found.setdefault(target.channel, target)
        return list(found.values())
    if toggle_of(event) is None:
        return []
    facts = await facts_of(db, event, tag_values(channels))
    return [
        WebhookTarget(_CHANNEL[c.provider], SOURCE, c.id, routed=True)
        for c in route(event, channels, facts)
    ]
