"""Inventory rows for tests: ``make_resource(db, account, ...)`` (add, commit, return)."""

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from xplorr.cloud_accounts.models import CloudAccount
from xplorr.core import clock
from xplorr.inventory import types
from xplorr.inventory.models import InventoryResource


def _native(provider: str, resource_type: str) -> str:
    """The provider's API type of an inventory type (``inventory.types``), else the type."""
    for m in types.MAPPINGS:
        if m.provider == provider and m.resource_type == resource_type and m.native_type:
            return m.native_type
    return resource_type


async def make_resource(
    db: AsyncSession,
    account: CloudAccount,
    resource_id: str,
    *,
    provider: str = "aws",
    region: str | None = "us-east-1",
    service: str = "Amazon EC2",
    resource_type: str = "Virtual Machine",
    native_type: str | None = None,
    name: str | None = None,
    status: str | None = "Running",
    tags: dict[str, Any] | None = None,
    attributes: dict[str, Any] | None = None,
    source: str = "api",
    deleted_at: datetime | None = None,
) -> InventoryResource:
    now = clock.now()
    row = InventoryResource(
        org_id=account.org_id,
        cloud_account_id=account.id,
        provider=provider,
        region=region,
        service=service,
        resource_type=resource_type,
        native_type=native_type or _native(provider, resource_type),
        resource_id=resource_id,
        name=name,
        status=status,
        tags=tags or {},
        attributes=attributes or {},
        source=source,
        first_seen_at=now,
        last_seen_at=now,
        deleted_at=deleted_at,
    )
    db.add(row)
    await db.commit()
    return row


async def _tenant_resource(db: AsyncSession, org: Any, _user: Any) -> Any:
    from tests.factories.cloud_accounts import make_account

    account = await make_account(db, org)
    return (await make_resource(db, account, "i-tenant")).id


TENANT_FACTORIES = {InventoryResource: _tenant_resource}
