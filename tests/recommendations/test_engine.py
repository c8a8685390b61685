"""The engine over the inventory and the cost store: what a refresh finds, that a refresh keeps
ids and statuses, closes what is gone or fixed as applied with the realised saving, reopens what
comes back, and announces the largest new findings through the hub."""

from datetime import timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tests.factories.cloud_accounts import make_account
from tests.factories.costs import add_costs, mark_imported
from tests.factories.inventory import make_resource
from xplorr.cloud_accounts.models import Provider
from xplorr.core import clock
from xplorr.core.tenancy import org_scope
from xplorr.inventory.models import InventoryResource
from xplorr.notifications.models import NotificationDelivery
from xplorr.orgs.models import Org
from xplorr.recommendations import service
from xplorr.recommendations.models import ClosedBy, Recommendation, RecommendationStatus


def cpu(average: float, days: int = 14) -> list[dict[str, object]]:
    today = clock.now().date()
    return [
        {"date": (today - timedelta(days=days - i)).isoformat(), "average": average,
         "maximum": average * 3}
        for i in range(days)
    ]  # fmt: skip


async def recs(db: AsyncSession) -> dict[str, Recommendation]:
    await db.commit()
    rows = (
        await db.scalars(select(Recommendation).execution_options(populate_existing=True))
    ).all()
    return {r.fingerprint: r for r in rows}


@pytest.mark.usefixtures("admin")  # the notices' recipient
async def test_refresh_keeps_ids_and_statuses_and_closes_what_is_gone(
    db: AsyncSession, org: Org
) -> None:
    aws = await make_account(db, org, provider=Provider.AWS, name="prod")
    await make_resource(
        db, aws, "i-idle", name="idle", attributes={"instance_type": "t3.large",
                                                    "cpu_daily": cpu(1.0)}
    )  # fmt: skip
    await make_resource(
        db,
        aws,
        "vol-free",
        service="Amazon EBS",
        resource_type="Disk",
        status="Available",
        attributes={"size_gib": 100, "volume_type": "gp3", "attached": False},
    )
    await make_resource(
        db,
        aws,
        "eipalloc-1",
        service="Amazon VPC",
        resource_type="Public IP Address",
        status="Unassociated",
        attributes={"public_ip": "198.51.100.1"},
    )
    focus = await make_account(db, org, provider=Provider.FOCUS, name="focus")
    today = clock.now().date()
    await add_costs(
        db,
        focus,
        [
            {"usage_date": today - timedelta(days=d), "billed_cost": "48", "provider": "azure",
             "service_name": "Virtual Machines", "pricing_category": "Standard"}
            for d in range(1, 31)
        ],
    )  # fmt: skip
    await mark_imported(db, focus)

    first = await service.refresh_account(db, aws)
    await service.refresh_account(db, focus)
    found = await recs(db)
    assert sorted(found) == [
        "commitment_purchase:azure:Virtual Machines:USD",
        "delete_unattached_ebs_volume:vol-free",
        "release_unassociated_eip:eipalloc-1",
        "stop_idle_instance:i-idle",
    ]
    assert len(first.new) == 3
    idle = found["stop_idle_instance:i-idle"]
    assert (str(idle.estimated_monthly_savings), idle.status) == (
        "60.740000000",
        RecommendationStatus.OPEN,
    )
    commitment = found["commitment_purchase:azure:Virtual Machines:USD"]
    assert (commitment.provider, commitment.cloud_account_id) == ("azure", focus.id)
    # 48 a day x 365/12 x 20 % = 292.00
    assert commitment.estimated_monthly_savings == 292
    # The largest new ones (>= 25 a month) go through the hub once each.
    notices = (
        await db.scalars(
            select(NotificationDelivery.event_key).where(
                NotificationDelivery.event_type == "recommendation"
            )
        )
    ).all()
    assert sorted(set(notices)) == sorted(
        {f"recommendation:{idle.id}", f"recommendation:{commitment.id}"}
    )

    ids = {k: r.id for k, r in found.items()}
    idle.status = RecommendationStatus.DISMISSED
    found["release_unassociated_eip:eipalloc-1"].status = RecommendationStatus.IN_PROGRESS
    await db.commit()
    again = await service.refresh_account(db, aws)
    assert (len(again.new), again.updated, again.closed) == (0, 3, 0)
    found = await recs(db)
    assert {k: r.id for k, r in found.items()} == ids
    assert found["stop_idle_instance:i-idle"].status is RecommendationStatus.DISMISSED
    assert found["release_unassociated_eip:eipalloc-1"].status is RecommendationStatus.IN_PROGRESS

    # The address is released (gone from the inventory) and the volume attached (fixed).
    await db.execute(
        update(InventoryResource)
        .where(InventoryResource.resource_id == "eipalloc-1")
        .values(deleted_at=clock.now())
    )
    volume = await db.scalar(
        select(InventoryResource).where(InventoryResource.resource_id == "vol-free")
    )
    assert volume is not None
    volume.attributes = {**volume.attributes, "attached": True}
    await db.commit()
    closed = await service.refresh_account(db, aws)
    assert closed.closed == 2
    found = await recs(db)
    eip = found["release_unassociated_eip:eipalloc-1"]
    vol = found["delete_unattached_ebs_volume:vol-free"]
    assert (eip.status, eip.closed_by, str(eip.realized_monthly_savings)) == (
        RecommendationStatus.APPLIED,
        ClosedBy.RESOURCE_GONE,
        "3.650000000",
    )
    assert (vol.status, vol.closed_by, vol.realized_monthly_savings) == (
        RecommendationStatus.APPLIED,
        ClosedBy.FIXED,
        8,
    )
    assert found["stop_idle_instance:i-idle"].status is RecommendationStatus.DISMISSED

    # Detached again: the same recommendation reopens.
    volume = await db.scalar(
        select(InventoryResource).where(InventoryResource.resource_id == "vol-free")
    )
    assert volume is not None
    volume.attributes = {**volume.attributes, "attached": False}
    await db.commit()
    reopened = await service.refresh_account(db, aws)
    assert reopened.reopened == 1
    vol = (await recs(db))["delete_unattached_ebs_volume:vol-free"]
    assert (vol.id, vol.status, vol.closed_by, vol.realized_monthly_savings) == (
        ids["delete_unattached_ebs_volume:vol-free"],
        RecommendationStatus.OPEN,
        None,
        None,
    )
    open_now = await service.open_recommendations(db, org_scope(org.id))
    assert [r.fingerprint for r in open_now] == [
        "commitment_purchase:azure:Virtual Machines:USD",
        "delete_unattached_ebs_volume:vol-free",
    ]
