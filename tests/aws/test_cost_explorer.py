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


def _accounts_answer() -> dict[str, Any]:
    return ce_answer(
        [ce_day("2026-11-05", "2026-11-06", [ce_group([LINKED], "0", "0")])],
        DimensionValueAttributes=[{"Value": LINKED, "Attributes": {"description": "prod"}}],
    )


def _usage_pages() -> list[dict[str, Any]]:
    page1 = ce_answer(
        [
            ce_day(
                "2026-11-05",
                "2026-11-06",
                [
                    ce_group(
                        ["Amazon Elastic Compute Cloud - Compute", "us-east-1"],
                        "12.3456789",
                        "10.5",
                        "24",
                    ),
                    ce_group(["Amazon Simple Storage Service", "eu-west-1"], "0.015", "0.015", "3"),
                ],
            )
        ],
        token="page-2",
    )
    page2 = ce_answer(
        [
            ce_day(
                "2026-12-01",
                "2026-12-02",
                [
                    ce_group(
                        ["Amazon Elastic Compute Cloud - Compute", "us-east-1"], "4.00", "3.50"
                    ),
                    ce_group(["AWS Cost Explorer", "NoRegion"], "0.01", "0.01"),
                ],
            )
        ]
    )
    return [page1, page2]


def _other_answer() -> dict[str, Any]:
    return ce_answer(
        [
            ce_day(
                "2026-11-30",
                "2026-12-01",
                [
                    ce_group(["Tax", "Tax"], "1.20", "1.20", "0"),
                    ce_group(["Credit", "Amazon Elastic Compute Cloud - Compute"], "-5", "-5", "0"),
                    ce_group(
                        ["RIFee", "Amazon Elastic Compute Cloud - Compute"], "7.30", "0.40", "0"
                    ),
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
        moto.queue_ce_results([_accounts_answer(), *_usage_pages(), _other_answer()])
        account = await _account(db, org, moto)
        run = await sync(client_for, admin, account, worker)
        assert run["state"] == "succeeded", run
        detail = run["detail"]
        assert detail["apiCalls"] == {"ce:GetCostAndUsage": 4}
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
                ).where(CostRecord.cloud_account_id == account.id)
            )
        ).all()
        by = {(r.service_name, r.usage_date, r.charge_category): r for r in rows}
        ec2 = by[("Amazon Elastic Compute Cloud - Compute", date(2026, 11, 5), "Usage")]
        assert (ec2.region, ec2.billed_cost, ec2.effective_cost) == (
            "us-east-1",
            Decimal("12.3456789"),
            Decimal("10.5"),
        )
        assert (ec2.sub_account_id, ec2.sub_account_name) == (LINKED, "prod")
        assert by[("AWS Cost Explorer", date(2026, 12, 1), "Usage")].region is None
        assert by[("Tax", date(2026, 11, 30), "Tax")].billed_cost == Decimal("1.2")
        credit = by[("Amazon Elastic Compute Cloud - Compute", date(2026, 11, 30), "Credit")]
        assert credit.billed_cost == Decimal(-5)
        fee = by[("Amazon Elastic Compute Cloud - Compute", date(2026, 11, 30), "Purchase")]
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
        usage = ce_answer(
            [
                ce_day(
                    "2026-11-05",
                    "2026-11-06",
                    [ce_group(["Amazon Elastic Compute Cloud - Compute", "us-east-1"], "10", "10")],
                )
            ]
        )
        tagged = ce_answer(
            [
                ce_day(
                    "2026-11-05",
                    "2026-11-06",
                    [
                        ce_group(["Amazon Elastic Compute Cloud - Compute", "team$web"], "6", "6"),
                        ce_group(["Amazon Elastic Compute Cloud - Compute", "team$"], "4", "4"),
                    ],
                )
            ]
        )
        moto.queue_ce_results([_accounts_answer(), usage, ce_answer([]), tagged])
        account = await _account(db, org, moto, costTagKeys=["team", "env"])
        run = await sync(client_for, admin, account, worker)
        assert run["state"] == "succeeded", run
        assert run["detail"]["apiCalls"] == {"ce:GetCostAndUsage": 4}
        [warning] = run["detail"]["warnings"]
        assert "'team' only" in warning
        await db.rollback()
        rows = (
            await db.execute(
                select(CostRecord.tags, CostRecord.region, CostRecord.billed_cost).where(
                    CostRecord.cloud_account_id == account.id
                )
            )
        ).all()
        assert {(json.dumps(r.tags), r.region, r.billed_cost) for r in rows} == {
            ('{"team": "web"}', "us-east-1", Decimal(6)),
            ("null", "us-east-1", Decimal(4)),
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
        moto.queue_ce_results([_accounts_answer(), *_usage_pages(), _other_answer()])
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
        moto.queue_ce_results([_accounts_answer(), *_usage_pages(), _other_answer()])
        account = await _account(db, org, moto)
        assert (await sync(client_for, admin, account, worker))["state"] == "succeeded"
        restated = ce_answer(
            [
                ce_day(
                    "2026-12-01",
                    "2026-12-02",
                    [ce_group(["Amazon Elastic Compute Cloud - Compute", "us-east-1"], "5", "5")],
                )
            ]
        )
        moto.queue_ce_results([_accounts_answer(), restated, ce_answer([])])
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
