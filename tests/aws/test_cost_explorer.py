"""Cost Explorer through moto's server (answers queued on /moto-api/static/ce/...): the planned
calls, paginated, stored to the cent by service, region, linked account and charge category,
calls counted on the run; a later sync re-reads only the restated months; a denied export falls
back to Cost Explorer with a warning; a denied Cost Explorer fails readably."""

import json
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from tests.aws.billing_data import ce_answer, ce_day, ce_group, sync
from tests.aws.moto_server import MotoAws
from tests.conftest import ClientFor
from tests.factories.cloud_accounts import make_account
from tests.sync.conftest import cents, stored_sums
from xplorr.cloud_accounts.models import CloudAccount, Provider
from xplorr.connectors.aws.cost_explorer import sync_range
from xplorr.core.jobs.runner import Worker
from xplorr.core.settings import Settings
from xplorr.costs.models import CostRecord
from xplorr.orgs.models import Org
from xplorr.users.models import User

LINKED = "210987654321"


@pytest.fixture
def worker(settings: Settings, engine: AsyncEngine) -> Worker:
    return Worker(settings, engine)


async def _account(db: AsyncSession, org: Org, moto: MotoAws, **extra: Any) -> CloudAccount:
    return await make_account(
        db,
        org,
        provider=Provider.AWS,
        provider_account_id=moto.account_id,
        credentials=moto.key_credentials(**extra),
    )


def _accounts_answer(regions: tuple[str, ...] = ("us-east-1", "eu-west-1", "NoRegion")):
    """Call 1: the linked accounts and the regions each has costs in."""
    return ce_answer(
        [ce_day("2026-11-05", "2026-11-06", [ce_group([LINKED, r], "0", "0") for r in regions])],
        DimensionValueAttributes=[{"Value": LINKED, "Attributes": {"description": "prod"}}],
    )


EC2 = "Amazon Elastic Compute Cloud - Compute"


def _usage_answers() -> list[dict[str, Any]]:
    """Calls 2..5: usage by [SERVICE, USAGE_TYPE] per region, in the order asked (NoRegion,
    eu-west-1, us-east-1: sorted), us-east-1 on two pages."""
    no_region = ce_answer(
        [
            ce_day(
                "2026-12-01",
                "2026-12-02",
                [ce_group(["AWS Cost Explorer", "USE1-APIRequest"], "0.01", "0.01")],
            )
        ]
    )
    eu = ce_answer(
        [
            ce_day(
                "2026-11-05",
                "2026-11-06",
                [
                    ce_group(
                        ["Amazon Simple Storage Service", "EU-TimedStorage-ByteHrs"],
                        "0.015",
                        "0.015",
                        "3",
                        "GB-Mo",
                    )
                ],
            )
        ]
    )
    us1 = ce_answer(
        [
            ce_day(
                "2026-11-05",
                "2026-11-06",
                [ce_group([EC2, "BoxUsage:m5.large"], "12.3456789", "10.5", "24", "Hrs")],
            )
        ],
        token="page-2",
    )
    us2 = ce_answer(
        [
            ce_day(
                "2026-12-01",
                "2026-12-02",
                [ce_group([EC2, "BoxUsage:m5.large"], "4.00", "3.50", "8", "Hrs")],
            )
        ]
    )
    return [no_region, eu, us1, us2]


def _other_answer() -> dict[str, Any]:
    """The last call: the other charges by [RECORD_TYPE, SERVICE]."""
    return ce_answer(
        [
            ce_day(
                "2026-11-30",
                "2026-12-01",
                [
                    ce_group(["Tax", "Tax"], "1.20", "1.20", "0"),
                    ce_group(["Credit", EC2], "-5", "-5", "0"),
                    ce_group(["RIFee", EC2], "7.30", "0.40", "0"),
                ],
            )
        ]
    )


class TestCostExplorer:
    async def test_planned_calls_paginated_and_stored_to_the_cent(
        self,
        moto: MotoAws,
        db: AsyncSession,
        org: Org,
        admin: User,
        client_for: ClientFor,
        worker: Worker,
    ) -> None:
        moto.queue_ce_results([_accounts_answer(), *_usage_answers(), _other_answer()])
        account = await _account(db, org, moto)
        run = await sync(client_for, admin, account, worker)
        assert run["state"] == "succeeded", run
        detail = run["detail"]
        # accounts and regions, 3 regions (one on two pages), the other charges
        assert detail["apiCalls"] == {"ce:GetCostAndUsage": 6}
        assert detail["periodsImported"] == ["2026-11", "2026-12"]
        assert detail["warnings"] == []
        # 12.3456789 + 0.015 + 4 + 0.01 + 1.20 - 5 + 7.30
        assert detail["totals"] == {"USD": "19.8706789"}
        assert cents(await stored_sums(db, account)) == {"": Decimal("19.87")}
        await db.rollback()
        rows = (
            await db.execute(
                select(
                    CostRecord.service_name,
                    CostRecord.region,
                    CostRecord.sub_account_id,
                    CostRecord.sub_account_name,
                    CostRecord.charge_category,
                    CostRecord.billed_cost,
                    CostRecord.effective_cost,
                    CostRecord.usage_date,
                    CostRecord.usage_type,
                    CostRecord.consumed_quantity,
                    CostRecord.consumed_unit,
                ).where(CostRecord.cloud_account_id == account.id)
            )
        ).all()
        by = {(r.service_name, r.usage_date, r.charge_category): r for r in rows}
        ec2 = by[(EC2, date(2026, 11, 5), "Usage")]
        assert (ec2.region, ec2.billed_cost, ec2.effective_cost) == (
            "us-east-1",
            Decimal("12.3456789"),
            Decimal("10.5"),
        )
        assert (ec2.usage_type, ec2.consumed_quantity, ec2.consumed_unit) == (
            "BoxUsage:m5.large",
            Decimal(24),
            "Hrs",
        )
        s3 = by[("Amazon Simple Storage Service", date(2026, 11, 5), "Usage")]
        assert (s3.region, s3.usage_type) == ("eu-west-1", "EU-TimedStorage-ByteHrs")
        assert (ec2.sub_account_id, ec2.sub_account_name) == (LINKED, "prod")
        assert by[("AWS Cost Explorer", date(2026, 12, 1), "Usage")].region is None
        assert by[("Tax", date(2026, 11, 30), "Tax")].billed_cost == Decimal("1.2")
        credit = by[(EC2, date(2026, 11, 30), "Credit")]
        assert (credit.billed_cost, credit.usage_type) == (Decimal(-5), None)
        fee = by[(EC2, date(2026, 11, 30), "Purchase")]
        assert (fee.billed_cost, fee.effective_cost) == (Decimal("7.3"), Decimal("0.4"))

    async def test_a_tag_key_splits_usage_by_its_values(
        self,
        moto: MotoAws,
        db: AsyncSession,
        org: Org,
        admin: User,
        client_for: ClientFor,
        worker: Worker,
    ) -> None:
        s3 = "Amazon Simple Storage Service"
        out = "USE1-DataTransfer-Out-Bytes"  # billed under EC2 and S3: asked on its own

        def day(*groups: dict[str, Any]) -> dict[str, Any]:
            return ce_answer([ce_day("2026-11-05", "2026-11-06", list(groups))])

        usage = day(
            ce_group([EC2, "BoxUsage:m5.large"], "10", "10"),
            ce_group([EC2, out], "1", "1"),
            ce_group([s3, out], "2", "2"),
        )
        by_usage_type = day(
            ce_group(["BoxUsage:m5.large", "team$web"], "6", "6"),
            ce_group(["BoxUsage:m5.large", "team$"], "4", "4"),
            ce_group([out, "team$web"], "3", "3"),  # two services: not used, asked below
        )
        shared = day(ce_group([EC2, "team$web"], "1", "1"), ce_group([s3, "team$"], "2", "2"))
        moto.queue_ce_results(
            [_accounts_answer(("us-east-1",)), usage, by_usage_type, shared, ce_answer([])]
        )
        account = await _account(db, org, moto, costTagKeys=["team", "env"])
        run = await sync(client_for, admin, account, worker)
        assert run["state"] == "succeeded", run
        assert run["detail"]["apiCalls"] == {"ce:GetCostAndUsage": 5}
        [warning] = run["detail"]["warnings"]
        assert "'team' only" in warning
        await db.rollback()
        rows = (
            await db.execute(
                select(
                    CostRecord.tags,
                    CostRecord.service_name,
                    CostRecord.usage_type,
                    CostRecord.region,
                    CostRecord.billed_cost,
                ).where(CostRecord.cloud_account_id == account.id)
            )
        ).all()
        assert {
            (json.dumps(r.tags), r.service_name, r.usage_type, r.region, r.billed_cost)
            for r in rows
        } == {
            ('{"team": "web"}', EC2, "BoxUsage:m5.large", "us-east-1", Decimal(6)),
            ("null", EC2, "BoxUsage:m5.large", "us-east-1", Decimal(4)),
            ('{"team": "web"}', EC2, out, "us-east-1", Decimal(1)),
            ("null", s3, out, "us-east-1", Decimal(2)),
        }

    async def test_a_denied_export_falls_back_to_cost_explorer_with_a_warning(
        self,
        moto: MotoAws,
        db: AsyncSession,
        org: Org,
        admin: User,
        client_for: ClientFor,
        worker: Worker,
    ) -> None:
        moto.client("s3").create_bucket(Bucket="locked-billing")
        moto.queue_ce_results([_accounts_answer(), *_usage_answers(), _other_answer()])
        keys = moto.iam_user(
            "ce-only", [{"Effect": "Allow", "Action": "ce:GetCostAndUsage", "Resource": "*"}]
        )
        moto.enforce_iam()
        account = await make_account(
            db,
            org,
            provider=Provider.AWS,
            provider_account_id=moto.account_id,
            credentials={**keys, "exportBucket": "locked-billing", "exportPrefix": "x"},
        )
        run = await sync(client_for, admin, account, worker)
        assert run["state"] == "succeeded", run
        [warning] = run["detail"]["warnings"]
        assert "s3://locked-billing/x could not be read" in warning
        assert "s3:ListBucket failed: AccessDenied" in warning
        assert cents(await stored_sums(db, account)) == {"": Decimal("19.87")}

    async def test_denied_cost_explorer_fails_readably(
        self,
        moto: MotoAws,
        db: AsyncSession,
        org: Org,
        admin: User,
        client_for: ClientFor,
        worker: Worker,
    ) -> None:
        keys = moto.iam_user(
            "nothing", [{"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"}]
        )
        moto.enforce_iam()
        account = await make_account(
            db, org, provider=Provider.AWS, provider_account_id=moto.account_id, credentials=keys
        )
        run = await sync(client_for, admin, account, worker)
        assert run["state"] == "failed"
        assert run["error"].startswith("ce:GetCostAndUsage failed: AccessDenied")
        assert keys["secretAccessKey"] not in run["error"]

    @pytest.mark.slow
    async def test_a_later_sync_rereads_the_restated_months(
        self,
        moto: MotoAws,
        db: AsyncSession,
        org: Org,
        admin: User,
        client_for: ClientFor,
        worker: Worker,
    ) -> None:
        moto.queue_ce_results([_accounts_answer(), *_usage_answers(), _other_answer()])
        account = await _account(db, org, moto)
        assert (await sync(client_for, admin, account, worker))["state"] == "succeeded"
        restated = ce_answer(
            [
                ce_day(
                    "2026-12-01",
                    "2026-12-02",
                    [ce_group([EC2, "BoxUsage:m5.large"], "5", "5")],
                )
            ]
        )
        moto.queue_ce_results([_accounts_answer(("us-east-1",)), restated, ce_answer([])])
        run = await sync(client_for, admin, account, worker)
        assert run["state"] == "succeeded", run
        assert run["detail"]["apiCalls"] == {"ce:GetCostAndUsage": 3}
        assert run["detail"]["periodsImported"] == ["2026-12"]
        # November kept (19.8606789 of it), December replaced: 5 instead of 4.01
        assert cents(await stored_sums(db, account)) == {"": Decimal("20.86")}


def test_sync_range() -> None:
    today = date(2026, 12, 3)
    assert sync_range(today, first_sync=True) == (date(2025, 12, 1), date(2026, 12, 4))
    assert sync_range(today, first_sync=False) == (date(2026, 11, 1), date(2026, 12, 4))
    assert sync_range(date(2026, 12, 20), first_sync=False) == (
        date(2026, 12, 1),
        date(2026, 12, 21),
    )
