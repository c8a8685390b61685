"""Channel routing configuration (admins): which Slack or Teams channel gets which of the org's
notifications. The routing itself is ``channels.routing``; the chat apps' installs are
``slack`` and ``teams``."""

import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from xplorr.channels.models import ChannelConfig, ChatProvider, ScopeType
from xplorr.channels.schemas import ChannelCreate, ChannelOut, ChannelUpdate
from xplorr.cloud_accounts.models import CloudAccount
from xplorr.core import audit
from xplorr.core.errors import Conflict, ValidationFailed
from xplorr.core.pagination import Page, PageParams, paginate
from xplorr.core.tenancy import Principal, get_in_org, org_select
from xplorr.costs.query import tag_key_problem

# provider -> "is its app installed in this org?" (registered by the slack and teams areas, so
# this area imports neither).
InstalledCheck = Callable[[AsyncSession, uuid.UUID], Awaitable[bool]]
INSTALLED: dict[ChatProvider, InstalledCheck] = {}


class ProviderNotInstalled(Conflict):
    code = "CHANNEL_PROVIDER_NOT_INSTALLED"


def to_out(row: ChannelConfig) -> ChannelOut:
    return ChannelOut.model_validate(row)


async def _check_scope(
    db: AsyncSession, who: Principal, scope_type: ScopeType, values: Sequence[str]
) -> list[str]:
    """The scope's values, checked for its type (deduplicated, order kept); foreign account ids
    are 404 like every id in a body."""
    unique = list(dict.fromkeys(values))
    if scope_type == ScopeType.ALL:
        if unique:
            raise ValidationFailed.on("scope_values", 'Must be empty for scope_type "all".')
        return []
    if not unique:
        raise ValidationFailed.on("scope_values", f'At least one value for "{scope_type}".')
    if scope_type == ScopeType.ACCOUNTS:
        out = []
        for value in unique:
            try:
                ident = uuid.UUID(value)
            except ValueError:
                raise ValidationFailed.on("scope_values", "Cloud account ids (UUIDs).") from None
            await get_in_org(db, CloudAccount, ident, who)
            out.append(str(ident))
        return out
    if scope_type == ScopeType.TAGS:
        for value in unique:
            key, sep, tag_value = value.partition(":")
            if not sep or not key.strip() or not tag_value.strip():
                raise ValidationFailed.on("scope_values", 'Tags as "key:value" (team:data).')
            if (problem := tag_key_problem(key.strip())) is not None:
                raise ValidationFailed.on("scope_values", problem)
        return [
            f"{k.strip()}:{v.strip()}" for k, _, v in (value.partition(":") for value in unique)
        ]
    return unique


async def _require_installed(db: AsyncSession, who: Principal, provider: ChatProvider) -> None:
    check = INSTALLED.get(provider)
    if check is None or not await check(db, who.org_id):
        raise ProviderNotInstalled(
            f"Install the {provider.value.capitalize()} app first "
            f"(GET /{provider.value}/install): its bot posts to the channel."
        )


async def _clear_default(db: AsyncSession, who: Principal, keep: uuid.UUID | None) -> None:
    """One default channel per org: setting a new one unsets the previous."""
    stmt = update(ChannelConfig).where(
        ChannelConfig.org_id == who.org_id, ChannelConfig.is_default.is_(True)
    )
    if keep is not None:
        stmt = stmt.where(ChannelConfig.id != keep)
    await db.execute(stmt.values(is_default=False))


async def list_channels(db: AsyncSession, who: Principal, page: PageParams) -> Page[ChannelOut]:
    stmt = org_select(ChannelConfig, who).order_by(
        ChannelConfig.is_default.desc(), ChannelConfig.channel_name, ChannelConfig.id
    )
    return await paginate(db, stmt, page, to_out)


async def create_channel(db: AsyncSession, who: Principal, data: ChannelCreate) -> ChannelConfig:
    await _require_installed(db, who, data.provider)
    if data.provider == ChatProvider.TEAMS and data.channel_id.count("/") != 1:
        raise ValidationFailed.on("channel_id", 'Teams channels as "<team id>/<channel id>".')
    values = await _check_scope(db, who, data.scope_type, data.scope_values)
    if data.is_default:
        await _clear_default(db, who, None)
    row = ChannelConfig(
        id=uuid.uuid4(),
        org_id=who.org_id,
        provider=data.provider,
        channel_id=data.channel_id,
        channel_name=data.channel_name,
        scope_type=data.scope_type,
        scope_values=values,
        notify=data.notify.model_dump(),
        timezone=data.timezone,
        is_default=data.is_default,
        created_by=who.user_id,
    )
    try:
        async with db.begin_nested():
            db.add(row)
    except IntegrityError:
        raise Conflict(
            f"The {data.provider.value} channel {data.channel_id} is already configured.",
            code="CHANNEL_EXISTS",
        ) from None
    await audit.record(db, "channel.created", who=who, target=row, details=_details(row))
    return row


def _details(row: ChannelConfig) -> dict[str, Any]:
    return {
        "provider": row.provider.value,
        "channel_id": row.channel_id,
        "scope_type": row.scope_type.value,
        "scope_values": list(row.scope_values),
        "notify": dict(row.notify),
        "is_default": row.is_default,
    }


async def update_channel(
    db: AsyncSession, who: Principal, channel_id: uuid.UUID, data: ChannelUpdate
) -> ChannelConfig:
    row = await get_in_org(db, ChannelConfig, channel_id, who, for_update=True)
    changes = data.model_dump(exclude_unset=True)
    for field, value in changes.items():
        if value is None:
            raise ValidationFailed.on(field, "May not be null.")
    scope_type = changes.get("scope_type", row.scope_type)
    if "scope_type" in changes or "scope_values" in changes:
        row.scope_values = await _check_scope(
            db, who, scope_type, changes.get("scope_values", row.scope_values)
        )
        row.scope_type = scope_type
    if data.notify is not None:
        row.notify = data.notify.model_dump()
    for field in ("channel_name", "timezone"):
        if field in changes:
            setattr(row, field, changes[field])
    if changes.get("is_default") is True and not row.is_default:
        await _clear_default(db, who, row.id)
        await db.flush()
    if "is_default" in changes:
        row.is_default = changes["is_default"]
    await db.flush()
    await audit.record(db, "channel.updated", who=who, target=row, details=_details(row))
    return row


async def delete_channel(db: AsyncSession, who: Principal, channel_id: uuid.UUID) -> None:
    row = await get_in_org(db, ChannelConfig, channel_id, who, for_update=True)
    await audit.record(db, "channel.deleted", who=who, target=row, details=_details(row))
    await db.delete(row)
    await db.flush()
