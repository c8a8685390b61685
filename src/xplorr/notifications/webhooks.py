"""Slack and Teams webhook URLs that an area keeps for the hub (an alert rule's, the org's):
checked with the hub's egress rules for their channel when saved (a 422 naming the field),
sealed under the org's data key in the area's registered column with a masked hint beside it,
and opened at send time by the area's resolver (``hub.webhook_source``)."""

from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.ext.asyncio import AsyncSession

from xplorr.core import egress
from xplorr.core.crypto import OrgCipher
from xplorr.core.errors import ValidationFailed
from xplorr.core.secrets import SealedColumn
from xplorr.core.settings import Settings
from xplorr.notifications.jobs import SLACK_HOSTS, SLACK_PATHS
from xplorr.notifications.models import Channel


def egress_rules(channel: Channel) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(hosts, path prefixes) a URL of ``channel`` may use: Slack webhooks live on
    hooks.slack.com under its webhook paths; Teams Workflows URLs on many Azure hosts."""
    return (SLACK_HOSTS, SLACK_PATHS) if channel == Channel.SLACK else ((), ())


def mask(url: str) -> str:
    """``https://hooks.slack.com/…wxyz``: enough to recognise it, nothing to reuse."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}/…{url[-4:]}"


async def check(settings: Settings, channel: Channel, url: str, *, field: str) -> str:
    """A URL the hub may post to, or 422 naming ``field`` (security guide 1.11)."""
    hosts, paths = egress_rules(channel)
    try:
        return await egress.validate_url(url, settings, hosts=hosts, path_prefixes=paths)
    except egress.EgressRefused as exc:
        raise ValidationFailed.on(field, str(exc)) from exc


async def store(
    db: AsyncSession,
    settings: Settings,
    row: Any,
    channel: Channel,
    url: str | None,
    *,
    field: str,
    column: SealedColumn,
    hint: str,
) -> None:
    """Check ``url`` and seal it into ``row``'s ``column`` with its masked ``hint``; None
    clears all three."""
    if url is None:
        setattr(row, column.ciphertext, None)
        setattr(row, column.key_version, None)
        setattr(row, hint, None)
        return
    checked = await check(settings, channel, url, field=field)
    cipher = await OrgCipher.load(db, settings, row.org_id)
    await cipher.seal_column(db, column, row, checked.encode())
    setattr(row, hint, mask(checked))


async def read(db: AsyncSession, settings: Settings, row: Any, column: SealedColumn) -> str | None:
    """The URL sealed in ``row``'s ``column``, or None when it is not set."""
    if getattr(row, column.ciphertext) is None:
        return None
    cipher = await OrgCipher.load(db, settings, row.org_id)
    return cipher.open_column(column, row).decode()
