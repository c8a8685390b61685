import uuid
from typing import Any

from fastapi import APIRouter, Response

from xplorr.auth.deps import AdminUser
from xplorr.channels import service
from xplorr.channels.schemas import ChannelCreate, ChannelOut, ChannelUpdate
from xplorr.core.db import DbSession
from xplorr.core.errors import ErrorEnvelope
from xplorr.core.pagination import Page, Pagination

router = APIRouter(prefix="/channels", tags=["integrations"])
ROUTE_ORDER = 139  # mounting order under /api/v1 (core.areas.routers)

_CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {
        "model": ErrorEnvelope,
        "description": "CHANNEL_EXISTS (that channel is configured already), "
        "CHANNEL_PROVIDER_NOT_INSTALLED (install the Slack or Teams app first).",
    }
}


@router.get("", response_model=Page[ChannelOut])
async def list_channels(db: DbSession, who: AdminUser, page: Pagination) -> Page[ChannelOut]:
    """The organization's channel routing (owners and admins), the default channel first.

    Each notification goes to every channel whose scope matches it (``all``; its cloud
    account for ``accounts``; a ``key:value`` tag of its cost for ``tags``; its service for
    ``services``) and whose toggle for its type is on; the default channel gets what no other
    channel took; with no channel at all, the organization's webhook."""
    return await service.list_channels(db, who, page)


@router.post("", status_code=201, response_model=ChannelOut, responses=_CONFLICT)
async def create_channel(body: ChannelCreate, db: DbSession, who: AdminUser) -> ChannelOut:
    """Route notifications to a Slack or Teams channel (owners and admins; the provider's app
    must be installed: its bot posts). ``is_default`` true makes it the organization's one
    default channel (a previous default stops being one). Audited."""
    return service.to_out(await service.create_channel(db, who, body))


@router.patch("/{channel_id}", response_model=ChannelOut)
async def update_channel(
    channel_id: uuid.UUID, body: ChannelUpdate, db: DbSession, who: AdminUser
) -> ChannelOut:
    """Change a channel's name, scope, toggles, time zone or default flag (owners and admins;
    audited). The provider and channel id stay: delete and create to move a route."""
    return service.to_out(await service.update_channel(db, who, channel_id, body))


@router.delete("/{channel_id}", status_code=204)
async def delete_channel(channel_id: uuid.UUID, db: DbSession, who: AdminUser) -> Response:
    """Stop routing to a channel (owners and admins; audited). Deliveries already queued for
    it are skipped."""
    await service.delete_channel(db, who, channel_id)
    return Response(status_code=204)
