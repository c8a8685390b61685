"""The resource inventory: one row per cloud resource a collector has seen.

A collector (each cloud's API collector, registered by its connector; the bill-derived one of
demo accounts) writes rows through ``inventory.service.apply_snapshot``: a resource seen again
gets a new ``last_seen_at``; one missing from a complete snapshot of its scope (account, and
region for regional collectors) is marked ``deleted_at``, not removed, and purged 30 days later.
Costs are not stored here: they are read from the cost store through ``costs.query`` by
``resource_id`` when the inventory is listed.
"""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from xplorr.core.models import Base, JSONType, OrgOwned


class InventoryResource(OrgOwned, Base):
    __tablename__ = "inventory_resources"
    __table_args__ = (
        UniqueConstraint("cloud_account_id", "resource_id"),
        Index("ix_inventory_resources_org_type", "org_id", "resource_type"),
    )
    cloud_account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("cloud_accounts.id", ondelete="CASCADE"), index=True
    )
    provider: Mapped[str] = mapped_column(String(16))  # aws | azure | gcp
    region: Mapped[str | None] = mapped_column(String(100))  # None: global (S3 list, CDN...)
    service: Mapped[str] = mapped_column(String(200))  # "Amazon EC2", "Virtual Machines"...
    # The inventory's type, one vocabulary for every cloud ("Virtual Machine", "Disk"...), and
    # the provider's own ("AWS::EC2::Instance", "Microsoft.Compute/disks"...): inventory.types.
    resource_type: Mapped[str] = mapped_column(String(100))
    native_type: Mapped[str] = mapped_column(String(200))
    # The provider's id as its bill names it where it can (ARN for AWS resources whose bill line
    # carries the ARN, else the bare id: i-..., vol-..., nat-...): the join key to cost rows.
    resource_id: Mapped[str] = mapped_column(Text)
    name: Mapped[str | None] = mapped_column(String(500))
    status: Mapped[str | None] = mapped_column(String(64))  # Running, Stopped, Available...
    tags: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    # Type-specific facts: instance type, volume size, attachment, VPC, CPU statistics...
    attributes: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    source: Mapped[str] = mapped_column(String(16))  # api (a cloud API) | bill (cost rows)
    first_seen_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    deleted_at: Mapped[datetime | None]  # gone from the last snapshot; purged 30 days later


class InventoryRefresh(OrgOwned, Base):
    """The newest inventory refresh of one cloud account (``inventory.refresh``, one row per
    account, replaced by each refresh): when its snapshot started, and what its collector could
    not read (a denied call: those resources kept their rows as they were). ``GET /sync/status``
    shows them beside the account's newest sync run."""

    __tablename__ = "inventory_refreshes"
    cloud_account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("cloud_accounts.id", ondelete="CASCADE"), unique=True
    )
    refreshed_at: Mapped[datetime]
    warnings: Mapped[list[str]] = mapped_column(JSONType, default=list)
