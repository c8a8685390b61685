"""apply_snapshot (seen, updated, gone, back, purged; region scoping), the bill-derived
inventory of demo accounts, and the refresh job queued by every cost import."""

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.factories.cloud_accounts import make_account
from tests.factories.costs import add_costs
from tests.mail import run_jobs
from xplorr.cloud_accounts.models import Provider
from xplorr.core import clock
from xplorr.core.events import emit, subscribers
from xplorr.core.settings import Settings
from xplorr.costs.events import CostDataChanged
from xplorr.inventory import bill
from xplorr.inventory.models import InventoryResource
from xplorr.inventory.service import Observed, apply_snapshot
from xplorr.orgs.models import Org


def res(rid: str, region: str | None = "us-east-1", **kw) -> Observed:
    return Observed(
        "aws", region, "Amazon EC2", "Virtual Machine", rid, native_type="AWS::EC2::Instance", **kw
    )


async def rows(db: AsyncSession) -> dict[str, InventoryResource]:
    await db.commit()
    found = (
        await db.scalars(select(InventoryResource).execution_options(populate_existing=True))
    ).all()
    return {r.resource_id: r for r in found}


class TestApplySnapshot:
    async def test_seen_updated_gone_back_and_purged(self, db: AsyncSession, org: Org) -> None:
        account = await make_account(db, org, provider=Provider.AWS)
        t0 = clock.now()
        r = await apply_snapshot(
            db, account, [res("i-1", tags={"env": "a"}), res("i-2")], source="api", now=t0
        )
        assert (r.added, r.updated, r.gone, r.purged) == (2, 0, 0, 0)
        t1 = t0 + timedelta(hours=1)
        r = await apply_snapshot(
            db, account, [res("i-1", status="Stopped", tags={"env": "b"})], source="api", now=t1
        )
        assert (r.added, r.updated, r.gone) == (0, 1, 1)
        found = await rows(db)
        assert (found["i-1"].status, found["i-1"].tags) == ("Stopped", {"env": "b"})
        assert (found["i-1"].first_seen_at, found["i-1"].last_seen_at) == (t0, t1)
        assert found["i-2"].deleted_at == t1  # marked, not removed
        t2 = t1 + timedelta(days=1)
        r = await apply_snapshot(db, account, [res("i-1"), res("i-2")], source="api", now=t2)
        assert (r.added, r.updated, r.gone) == (0, 2, 0)
        assert (await rows(db))["i-2"].deleted_at is None  # back
        await apply_snapshot(db, account, [res("i-1")], source="api", now=t2)
        r = await apply_snapshot(
            db, account, [res("i-1")], source="api", now=t2 + timedelta(days=31)
        )
        assert r.purged == 1
        assert set(await rows(db)) == {"i-1"}

    async def test_only_the_scopes_read_are_swept(self, db: AsyncSession, org: Org) -> None:
        account = await make_account(db, org, provider=Provider.AWS)
        await apply_snapshot(
            db, account, [res("i-east"), res("i-west", "us-west-2"), res("b", None)], source="api"
        )
        # us-west-2 could not be read this time: its rows keep their state.
        r = await apply_snapshot(
            db,
            account,
            [],
            source="api",
            scopes=[("us-east-1", "AWS::EC2::Instance"), (None, "AWS::EC2::Instance")],
        )
        assert r.gone == 2
        found = await rows(db)
        assert found["i-west"].deleted_at is None
        assert found["i-east"].deleted_at is not None

    async def test_other_sources_and_accounts_untouched(
        self, db: AsyncSession, org: Org, other_org: Org
    ) -> None:
        account = await make_account(db, org, provider=Provider.AWS)
        theirs = await make_account(db, other_org, provider=Provider.AWS)
        await apply_snapshot(db, account, [res("i-bill")], source="bill")
        await apply_snapshot(db, theirs, [res("i-x")], source="api")
        r = await apply_snapshot(db, account, [], source="api")
        assert r.gone == 0
        assert all(row.deleted_at is None for row in (await rows(db)).values())


class TestBillInventory:
    async def test_demo_inventory_is_what_the_bill_names(self, db: AsyncSession, org: Org) -> None:
        account = await make_account(db, org, provider=Provider.DEMO)
        today = clock.now().date()
        arn = "arn:aws:ec2:us-east-1:200000000011:instance/i-0123456789abcdef0"
        await add_costs(
            db,
            account,
            [
                {
                    "usage_date": today - timedelta(days=3),
                    "billed_cost": "1",
                    "resource_id": arn,
                    "resource_type": "Instance",
                    "service_name": "Amazon Elastic Compute Cloud",
                    "tags": {"env": "dev"},
                },
                {
                    "usage_date": today - timedelta(days=1),
                    "billed_cost": "1",
                    "resource_id": arn,
                    "resource_type": "Instance",
                    "service_name": "Amazon Elastic Compute Cloud",
                    "tags": {"env": "prod"},
                    "resource_name": "web-1",
                },
                {
                    "usage_date": today - timedelta(days=20),
                    "billed_cost": "2",
                    "resource_id": "arn:aws:s3:::logs-1a2b3c4d",
                    "resource_type": "Bucket",
                    "service_name": "Amazon Simple Storage Service",
                    "region": None,
                },
                {
                    "usage_date": today - timedelta(days=45),
                    "billed_cost": "3",
                    "resource_id": "arn:aws:lambda:us-east-1:200000000011:function:old",
                    "resource_type": "Function",
                    "service_name": "AWS Lambda",
                },
                {"usage_date": today - timedelta(days=1), "billed_cost": "0.5"},  # no resource
            ],
        )
        result = await bill.collect_from_bill(db, account)
        assert (result.added, result.gone) == (2, 0)
        found = await rows(db)
        assert set(found) == {arn, "arn:aws:s3:::logs-1a2b3c4d"}  # the 45-day-old one is out
        vm = found[arn]
        # The bill's ResourceType "Instance" under the inventory's type, with AWS's own
        assert (vm.provider, vm.region, vm.resource_type, vm.name, vm.status, vm.source) == (
            "aws",
            "us-east-1",
            "Virtual Machine",
            "web-1",
            "Active",
            "bill",
        )
        assert vm.native_type == "AWS::EC2::Instance"
        assert vm.tags == {"env": "prod"}  # from its newest row
        assert vm.attributes["last_billed"] == (today - timedelta(days=1)).isoformat()
        bucket = found["arn:aws:s3:::logs-1a2b3c4d"]
        assert (bucket.resource_type, bucket.name, bucket.status, bucket.region) == (
            "Object Storage Bucket",
            "logs-1a2b3c4d",
            "Inactive",
            None,
        )

    async def test_refresh_job_follows_every_cost_import(
        self, db: AsyncSession, org: Org, settings: Settings
    ) -> None:
        assert "inventory.refresh" in subscribers(CostDataChanged)
        account = await make_account(db, org, provider=Provider.DEMO)
        focus = await make_account(db, org, provider=Provider.FOCUS)
        today = clock.now().date()
        for acc in (account, focus):
            await add_costs(
                db,
                acc,
                [
                    {
                        "usage_date": today - timedelta(days=1),
                        "billed_cost": "1",
                        "resource_id": "r-1",
                    }
                ],
            )
            await emit(
                db,
                CostDataChanged(
                    org_id=org.id, cloud_account_id=acc.id, first_day=today, last_day=today
                ),
            )
        await db.commit()
        await run_jobs(settings)
        found = await rows(db)
        assert [(r.cloud_account_id, r.resource_id) for r in found.values()] == [
            (account.id, "r-1")
        ]

    async def test_one_snapshot_for_the_events_of_one_sync(
        self, db: AsyncSession, org: Org, settings: Settings
    ) -> None:
        account = await make_account(db, org, provider=Provider.DEMO)
        today = clock.now().date()
        await add_costs(
            db,
            account,
            [{"usage_date": today - timedelta(days=1), "billed_cost": "1", "resource_id": "r-1"}],
        )
        for _period in range(3):  # one event per billing period imported
            await emit(
                db,
                CostDataChanged(
                    org_id=org.id, cloud_account_id=account.id, first_day=today, last_day=today
                ),
            )
        await db.commit()
        await run_jobs(settings)
        (row,) = (await rows(db)).values()
        assert row.first_seen_at == row.last_seen_at  # the later two saw it was done
        # A later import is refreshed again.
        await emit(
            db,
            CostDataChanged(
                org_id=org.id, cloud_account_id=account.id, first_day=today, last_day=today
            ),
        )
        await db.commit()
        await run_jobs(settings)
        (row,) = (await rows(db)).values()
        assert row.last_seen_at > row.first_seen_at
