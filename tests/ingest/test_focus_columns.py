"""The FOCUS columns stored for the next areas (commitments, contracted cost, pricing quantity,
subcategory, resource name, availability zone): read from the export, folded by day with the
other dimensions (hourly rows of one charge add up; rows differing in one of them do not),
exact on both databases."""

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.ingest.focus_rows import COLUMNS, hourly, write_csv
from xplorr.cloud_accounts.models import CloudAccount
from xplorr.costs.models import CostRecord
from xplorr.ingest.pipeline import import_files

NEW = (
    "CommitmentDiscountId",
    "CommitmentDiscountStatus",
    "CommitmentDiscountType",
    "CommitmentDiscountCategory",
    "ChargeFrequency",
    "ContractedCost",
    "PricingQuantity",
    "PricingUnit",
    "ServiceSubcategory",
    "ResourceName",
    "AvailabilityZone",
)
COMMITTED = {
    "CommitmentDiscountId": "arn:aws:ec2:ri-1",
    "CommitmentDiscountStatus": "Used",
    "CommitmentDiscountType": "Reserved Instance",
    "CommitmentDiscountCategory": "Usage",
    "ChargeFrequency": "Usage-Based",
    "ContractedCost": "0.100000001",
    "PricingQuantity": "0.25",
    "PricingUnit": "Hours",
    "ServiceSubcategory": "Virtual Machines",
    "ResourceName": "web-1",
    "AvailabilityZone": "us-east-1a",
}


async def test_new_columns_are_stored_and_fold_by_day(
    db: AsyncSession, account: CloudAccount, tmp_path: Path
) -> None:
    rows = [
        *hourly(day="2024-09-03", hours=24, **COMMITTED),
        # Another zone: its own row, not folded into the other.
        *hourly(day="2024-09-03", hours=2, **{**COMMITTED, "AvailabilityZone": "us-east-1b"}),
    ]
    path = write_csv(tmp_path / "new.csv", rows, (*COLUMNS, *NEW))
    await import_files(
        db,
        account,
        [path],
        source=str(path),
        snapshot_at=datetime(2024, 9, 20, tzinfo=UTC),
        fingerprint="new-columns",
    )
    await db.commit()
    stored = (
        await db.scalars(
            select(CostRecord)
            .where(CostRecord.cloud_account_id == account.id)
            .order_by(CostRecord.availability_zone)
        )
    ).all()
    assert [(r.availability_zone, r.usage_date) for r in stored] == [
        ("us-east-1a", date(2024, 9, 3)),
        ("us-east-1b", date(2024, 9, 3)),
    ]
    a, b = stored
    assert (a.contracted_cost, b.contracted_cost) == (
        Decimal("2.400000024"),
        Decimal("0.200000002"),
    )
    assert (a.pricing_quantity, b.pricing_quantity) == (Decimal("6"), Decimal("0.5"))
    assert (a.billed_cost, b.billed_cost) == (Decimal("36"), Decimal("3"))
    assert (
        a.commitment_discount_id,
        a.commitment_discount_status,
        a.commitment_discount_type,
        a.commitment_discount_category,
        a.charge_frequency,
        a.pricing_unit,
        a.service_subcategory,
        a.resource_name,
    ) == (
        "arn:aws:ec2:ri-1",
        "Used",
        "Reserved Instance",
        "Usage",
        "Usage-Based",
        "Hours",
        "Virtual Machines",
        "web-1",
    )


async def test_files_without_them_store_nulls(
    db: AsyncSession, account: CloudAccount, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "old.csv", hourly(day="2024-09-03", hours=3))
    await import_files(
        db,
        account,
        [path],
        source=str(path),
        snapshot_at=datetime(2024, 9, 20, tzinfo=UTC),
        fingerprint="old-columns",
    )
    await db.commit()
    (r,) = (
        await db.scalars(select(CostRecord).where(CostRecord.cloud_account_id == account.id))
    ).all()
    assert (r.contracted_cost, r.pricing_quantity, r.availability_zone, r.charge_frequency) == (
        None,
        None,
        None,
        None,
    )
    assert r.billed_cost == Decimal("4.5")
