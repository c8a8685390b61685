"""The cost store: FOCUS-shaped rows at daily grain, the rollups the common queries read, and
one row per imported billing period (which snapshot it came from).

Only ``costs.query`` reads these tables and only ``costs.store`` writes them (ARCHITECTURE.md
"Cost data"): the engine under them can change without touching their callers.
"""

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, Date, ForeignKey, Index, Integer, Numeric, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from xplorr.core.models import Base, IdMixin, JSONType, Money

# SQLite only auto-increments an INTEGER PRIMARY KEY.
BigId = BigInteger().with_variant(Integer(), "sqlite")
Quantity = Numeric(38, 9, asdecimal=True)


class _AccountDay:
    """Columns every cost table shares: whose, which account, which billing period and day."""

    # No foreign key on org_id: the account's (cascading from the org through cloud_accounts)
    # already guarantees it, and every foreign key costs a lookup per row of a bulk insert
    # (~9 s per million rows on PostgreSQL).
    org_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    cloud_account_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("cloud_accounts.id", ondelete="CASCADE")
    )
    billing_period: Mapped[date] = mapped_column(Date)  # first day of the billing month
    usage_date: Mapped[date] = mapped_column(Date)  # ChargePeriodStart's UTC day
    currency: Mapped[str] = mapped_column(String(3))  # BillingCurrency
    billed_cost: Mapped[Decimal] = mapped_column(Money)
    effective_cost: Mapped[Decimal] = mapped_column(Money)
    list_cost: Mapped[Decimal] = mapped_column(Money)


class CostRecord(_AccountDay, Base):
    """One FOCUS charge folded to a day: hourly rows of the same charge add up here."""

    __tablename__ = "cost_records"
    __table_args__ = (
        Index("ix_cost_records_account_period", "cloud_account_id", "billing_period"),
        Index("ix_cost_records_org_date", "org_id", "usage_date"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    provider: Mapped[str] = mapped_column(String(32))  # aws | azure | gcp | other slug
    provider_name: Mapped[str] = mapped_column(String(100))  # ProviderName as exported
    billing_account_id: Mapped[str] = mapped_column(String(200))
    sub_account_id: Mapped[str | None] = mapped_column(String(200))
    sub_account_name: Mapped[str | None] = mapped_column(String(200))
    service_name: Mapped[str] = mapped_column(String(200))
    service_category: Mapped[str | None] = mapped_column(String(100))
    service_subcategory: Mapped[str | None] = mapped_column(String(200))
    region: Mapped[str | None] = mapped_column(String(100))  # RegionId
    availability_zone: Mapped[str | None] = mapped_column(String(100))
    resource_id: Mapped[str | None] = mapped_column(Text)
    resource_name: Mapped[str | None] = mapped_column(Text)
    resource_type: Mapped[str | None] = mapped_column(String(200))
    charge_category: Mapped[str] = mapped_column(String(32))
    charge_frequency: Mapped[str | None] = mapped_column(String(32))  # One-Time | Recurring...
    pricing_category: Mapped[str | None] = mapped_column(String(32))
    commitment_discount_id: Mapped[str | None] = mapped_column(Text)
    commitment_discount_status: Mapped[str | None] = mapped_column(String(32))  # Used | Unused
    commitment_discount_type: Mapped[str | None] = mapped_column(String(200))
    commitment_discount_category: Mapped[str | None] = mapped_column(String(32))  # Spend | Usage
    sku_id: Mapped[str | None] = mapped_column(String(200))
    # The provider's usage type where its bill has one (AWS: CUR 2.0 ``line_item_usage_type``,
    # FOCUS ``x_UsageType`` / 1.2 ``SkuMeter``, Cost Explorer's USAGE_TYPE), e.g.
    # ``USE1-NatGateway-Hours``, ``BoxUsage:m5.large``: what network costs and instance
    # families are read from. Not FOCUS's SkuId, which AWS fills with an opaque product code.
    usage_type: Mapped[str | None] = mapped_column(String(200))
    consumed_quantity: Mapped[Decimal | None] = mapped_column(Quantity)
    consumed_unit: Mapped[str | None] = mapped_column(String(100))
    pricing_quantity: Mapped[Decimal | None] = mapped_column(Quantity)
    pricing_unit: Mapped[str | None] = mapped_column(String(100))
    contracted_cost: Mapped[Decimal | None] = mapped_column(Money)  # ContractedCost
    tags: Mapped[dict[str, Any] | None] = mapped_column(JSONType)


class CostRollup(_AccountDay, Base):
    """Daily sums per (account, provider, service, region, charge category, pricing category,
    currency): maintained at ingest, read by every query that needs no finer dimension.
    ``service_name`` is the shown name (``costs.services``), not always the exported one."""

    __tablename__ = "cost_rollups"
    __table_args__ = (
        Index("ix_cost_rollups_org_date", "org_id", "usage_date"),
        Index("ix_cost_rollups_account_period", "cloud_account_id", "billing_period"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    provider: Mapped[str] = mapped_column(String(32))
    provider_name: Mapped[str] = mapped_column(String(100))
    service_name: Mapped[str] = mapped_column(String(200))
    service_category: Mapped[str | None] = mapped_column(String(100))
    region: Mapped[str | None] = mapped_column(String(100))
    charge_category: Mapped[str] = mapped_column(String(32))
    pricing_category: Mapped[str | None] = mapped_column(String(32))
    row_count: Mapped[int] = mapped_column(Integer)


class CostServiceRollup(_AccountDay, Base):
    """Daily sums per (account, provider, service, service category, currency): cost_rollups
    without region and charge category, ~6x fewer rows. Built from cost_rollups; read by the
    queries that need no finer dimension (the /costs overview: by service, trend)."""

    __tablename__ = "cost_service_rollups"
    __table_args__ = (
        Index("ix_cost_service_rollups_org_date", "org_id", "usage_date"),
        Index("ix_cost_service_rollups_account_period", "cloud_account_id", "billing_period"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    provider: Mapped[str] = mapped_column(String(32))
    provider_name: Mapped[str] = mapped_column(String(100))
    service_name: Mapped[str] = mapped_column(String(200))
    service_category: Mapped[str | None] = mapped_column(String(100))
    row_count: Mapped[int] = mapped_column(Integer)


class CostTagRollup(_AccountDay, Base):
    """Daily sums per (account, tag key, tag value, provider, service, region, charge and
    service category, currency): tag group-bys and filters without scanning the rows. A row
    without the key is 'untagged' for it: total minus the key's tagged sums."""

    __tablename__ = "cost_tag_rollups"
    __table_args__ = (
        Index("ix_cost_tag_rollups_org_key_date", "org_id", "tag_key", "usage_date"),
        # A tag value filter (``tag=env:prod``, with a region, service... filter) reads only
        # that value's rows (of one region, for the tags driving a region); they are written in
        # this order, so those rows sit together on disk.
        Index(
            "ix_cost_tag_rollups_org_key_value_region_date",
            "org_id",
            "tag_key",
            "tag_value",
            "region",
            "usage_date",
        ),
        Index("ix_cost_tag_rollups_account_period", "cloud_account_id", "billing_period"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tag_key: Mapped[str] = mapped_column(String(200))
    tag_value: Mapped[str] = mapped_column(String(500))
    # The cost_rollups dimensions but pricing category, so a tag grouping or filter combined
    # with a provider, service, region or category filter is answered here too.
    provider: Mapped[str] = mapped_column(String(32))
    provider_name: Mapped[str] = mapped_column(String(100))
    service_name: Mapped[str] = mapped_column(String(200))
    service_category: Mapped[str | None] = mapped_column(String(100))
    region: Mapped[str | None] = mapped_column(String(100))
    charge_category: Mapped[str] = mapped_column(String(32))
    row_count: Mapped[int] = mapped_column(Integer)  # raw rows carrying the key (untagged = rest)


class CostMonthlyRollup(_AccountDay, Base):
    """``cost_rollups`` summed per calendar month of usage (``usage_date``: the month's first
    day): a range's whole months are read here, its partial months from the daily rollups."""

    __tablename__ = "cost_monthly_rollups"
    __table_args__ = (
        Index("ix_cost_monthly_rollups_org_date", "org_id", "usage_date"),
        Index("ix_cost_monthly_rollups_account_period", "cloud_account_id", "billing_period"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    provider: Mapped[str] = mapped_column(String(32))
    provider_name: Mapped[str] = mapped_column(String(100))
    service_name: Mapped[str] = mapped_column(String(200))
    service_category: Mapped[str | None] = mapped_column(String(100))
    region: Mapped[str | None] = mapped_column(String(100))
    charge_category: Mapped[str] = mapped_column(String(32))
    pricing_category: Mapped[str | None] = mapped_column(String(32))
    row_count: Mapped[int] = mapped_column(Integer)


class CostMonthlyTagRollup(_AccountDay, Base):
    """``cost_tag_rollups`` summed per calendar month of usage (``usage_date``: its first day)."""

    __tablename__ = "cost_monthly_tag_rollups"
    __table_args__ = (
        Index("ix_cost_monthly_tag_rollups_org_key_date", "org_id", "tag_key", "usage_date"),
        Index("ix_cost_monthly_tag_rollups_account_period", "cloud_account_id", "billing_period"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tag_key: Mapped[str] = mapped_column(String(200))
    tag_value: Mapped[str] = mapped_column(String(500))
    provider: Mapped[str] = mapped_column(String(32))
    provider_name: Mapped[str] = mapped_column(String(100))
    service_name: Mapped[str] = mapped_column(String(200))
    service_category: Mapped[str | None] = mapped_column(String(100))
    region: Mapped[str | None] = mapped_column(String(100))
    charge_category: Mapped[str] = mapped_column(String(32))
    row_count: Mapped[int] = mapped_column(Integer)


class CostTagValueRollup(_AccountDay, Base):
    """Daily sums per (account, tag key, tag value, currency): ``cost_tag_rollups`` without the
    provider, service, region and categories, a few rows per key and day. Read by the tag
    queries that filter on nothing else (tag keys and values, ``groupBy=tag:env``, a tag filter
    with a time or account grouping)."""

    __tablename__ = "cost_tag_value_rollups"
    __table_args__ = (
        Index("ix_cost_tag_value_rollups_org_key_date", "org_id", "tag_key", "usage_date"),
        Index("ix_cost_tag_value_rollups_account_period", "cloud_account_id", "billing_period"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tag_key: Mapped[str] = mapped_column(String(200))
    tag_value: Mapped[str] = mapped_column(String(500))
    row_count: Mapped[int] = mapped_column(Integer)


class CostMonthlyTagValueRollup(_AccountDay, Base):
    """``cost_tag_value_rollups`` summed per calendar month of usage (``usage_date``: its first
    day)."""

    __tablename__ = "cost_monthly_tag_value_rollups"
    __table_args__ = (
        Index("ix_cost_monthly_tag_value_rollups_org_key_date", "org_id", "tag_key", "usage_date"),
        Index(
            "ix_cost_monthly_tag_value_rollups_account_period", "cloud_account_id", "billing_period"
        ),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tag_key: Mapped[str] = mapped_column(String(200))
    tag_value: Mapped[str] = mapped_column(String(500))
    row_count: Mapped[int] = mapped_column(Integer)


class _RollupDims:
    """The ``cost_rollups`` dimensions, shared by the SKU and resource rollups."""

    provider: Mapped[str] = mapped_column(String(32))
    provider_name: Mapped[str] = mapped_column(String(100))
    service_name: Mapped[str] = mapped_column(String(200))  # the shown name (costs.services)
    service_category: Mapped[str | None] = mapped_column(String(100))
    region: Mapped[str | None] = mapped_column(String(100))
    charge_category: Mapped[str] = mapped_column(String(32))
    pricing_category: Mapped[str | None] = mapped_column(String(32))
    row_count: Mapped[int] = mapped_column(Integer)


class CostSkuRollup(_RollupDims, _AccountDay, Base):
    """Daily sums per (the ``cost_rollups`` dimensions, SkuId): ``groupBy=sku`` without the
    raw rows (a few hundred SKUs against millions of rows)."""

    __tablename__ = "cost_sku_rollups"
    __table_args__ = (
        Index("ix_cost_sku_rollups_org_date", "org_id", "usage_date"),
        Index("ix_cost_sku_rollups_account_period", "cloud_account_id", "billing_period"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    sku_id: Mapped[str | None] = mapped_column(String(200))


class CostMonthlySkuRollup(_RollupDims, _AccountDay, Base):
    """``cost_sku_rollups`` summed per calendar month of usage (``usage_date``: its first day)."""

    __tablename__ = "cost_monthly_sku_rollups"
    __table_args__ = (
        Index("ix_cost_monthly_sku_rollups_org_date", "org_id", "usage_date"),
        Index("ix_cost_monthly_sku_rollups_account_period", "cloud_account_id", "billing_period"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    sku_id: Mapped[str | None] = mapped_column(String(200))


class CostMonthlyResourceRollup(_RollupDims, _AccountDay, Base):
    """Monthly sums per (the ``cost_rollups`` dimensions, ResourceId), ``usage_date`` the
    month's first day: ``groupBy=resource`` and ``resourceId=`` read a range's whole months here
    (a resource's month is one row where the raw rows hold one per day), its other days from
    ``cost_records``. There is no daily resource rollup: it would be as large as the rows."""

    __tablename__ = "cost_monthly_resource_rollups"
    __table_args__ = (
        Index("ix_cost_monthly_resource_rollups_org_date", "org_id", "usage_date"),
        Index(
            "ix_cost_monthly_resource_rollups_org_resource_date",
            "org_id",
            "resource_id",
            "usage_date",
        ),
        Index(
            "ix_cost_monthly_resource_rollups_account_period", "cloud_account_id", "billing_period"
        ),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    resource_id: Mapped[str | None] = mapped_column(Text)


class CostResourceRunningTotal(Base):
    """Running totals of ``cost_monthly_resource_rollups`` within each calendar year: the row
    of month M holds the sums of January..M of M's year (``usage_date``: M's first day), and
    every (resource, dimensions) seen in a year has a row for each later month of that year up
    to the account's newest month. Whole months a..b of one year are then two rows per
    resource (b's minus the month before a's) instead of one per month: what a year of
    ``groupBy=resource`` reads. Rebuilt from the monthly rollup by ``costs.store``; no
    ``billing_period`` (a month's totals depend on every period before it)."""

    __tablename__ = "cost_resource_running_totals"
    __table_args__ = (
        Index("ix_cost_resource_running_totals_org_date", "org_id", "usage_date"),
        Index("ix_cost_resource_running_totals_account_date", "cloud_account_id", "usage_date"),
        Index(
            "ix_cost_resource_running_totals_org_resource_date",
            "org_id",
            "resource_id",
            "usage_date",
        ),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    org_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    cloud_account_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("cloud_accounts.id", ondelete="CASCADE")
    )
    usage_date: Mapped[date] = mapped_column(Date)  # the month's first day
    currency: Mapped[str] = mapped_column(String(3))
    provider: Mapped[str] = mapped_column(String(32))
    provider_name: Mapped[str] = mapped_column(String(100))
    service_name: Mapped[str] = mapped_column(String(200))
    service_category: Mapped[str | None] = mapped_column(String(100))
    region: Mapped[str | None] = mapped_column(String(100))
    charge_category: Mapped[str] = mapped_column(String(32))
    pricing_category: Mapped[str | None] = mapped_column(String(32))
    resource_id: Mapped[str | None] = mapped_column(Text)
    billed_cost: Mapped[Decimal] = mapped_column(Money)
    effective_cost: Mapped[Decimal] = mapped_column(Money)
    list_cost: Mapped[Decimal] = mapped_column(Money)
    row_count: Mapped[int] = mapped_column(Integer)


class CostImport(IdMixin, Base):
    """The snapshot a billing period of an account was last imported from.

    AWS (and other) exports rewrite a month cumulatively: every snapshot holds the whole period
    so far. Only the newest snapshot counts; an older one arriving later is skipped, and the
    same one again (same fingerprint) changes nothing."""

    __tablename__ = "cost_imports"
    __table_args__ = (
        Index("uq_cost_imports_period", "cloud_account_id", "billing_period", unique=True),
    )
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("orgs.id", ondelete="CASCADE"))
    cloud_account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("cloud_accounts.id", ondelete="CASCADE")
    )
    billing_period: Mapped[date] = mapped_column(Date)
    source: Mapped[str] = mapped_column(Text)  # file or snapshot directory (never credentials)
    snapshot_at: Mapped[datetime]
    fingerprint: Mapped[str] = mapped_column(String(64))
    rows_read: Mapped[int] = mapped_column(BigInteger)
    rows_stored: Mapped[int] = mapped_column(BigInteger)
    first_date: Mapped[date | None] = mapped_column(Date)
    last_date: Mapped[date | None] = mapped_column(Date)
    totals: Mapped[dict[str, Any]] = mapped_column(JSONType)  # {"USD": "123.45..."} BilledCost
    imported_at: Mapped[datetime]
