"""Owned AWS commitments through the real job (``commitments.collect_account``), boto3 signing
real requests to a local server that speaks the four APIs' protocols (moto implements none of
them: see ``aws_double``). Reservations and plans become rows with their terms and prices; a
refused call keeps its rows and names itself; a retired commitment goes; refused keys fail the
job at once, naming the call."""

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.commitments.aws_double import AwsDouble, serve
from tests.factories.cloud_accounts import make_account
from tests.mail import run_jobs
from xplorr.cloud_accounts.models import CloudAccount, Provider
from xplorr.commitments.models import Commitment
from xplorr.core.jobs import queue
from xplorr.core.jobs.models import Job, JobStatus
from xplorr.core.settings import Settings
from xplorr.orgs.models import Org

KEYS = {
    "accessKeyId": "AKIAEXAMPLEKEY000001",
    "secretAccessKey": "aws-secret-access-key-for-tests-only",
    "region": "us-east-1",
}
SP_ARN = "arn:aws:savingsplans::123456789012:savingsplan/5f1c-aaaa"
SP2_ARN = "arn:aws:savingsplans::123456789012:savingsplan/9d2e-bbbb"


@pytest.fixture(scope="module")
def aws_server() -> Iterator[tuple[str, AwsDouble]]:
    yield from serve()


@pytest.fixture
def double(aws_server: tuple[str, AwsDouble]) -> Iterator[AwsDouble]:
    _, state = aws_server
    state.reset()
    yield state
    state.reset()


@pytest.fixture
def aws_settings(settings: Settings, aws_server: tuple[str, AwsDouble]) -> Settings:
    return settings.model_copy(
        update={
            "aws_endpoint_url": aws_server[0],
            "aws_inventory_regions": ["us-east-1", "eu-west-1"],
            "aws_max_attempts": 1,
        }
    )


def arrange(double: AwsDouble) -> None:
    double.reserved_instances += [
        {
            "reservedInstancesId": "ri-0a1b2c3d",
            "instanceType": "m5.large",
            "start": "2025-12-20T00:00:00.000Z",
            "end": "2026-12-20T00:00:00.000Z",
            "duration": 31536000,
            "fixedPrice": "0.0",
            "usagePrice": "0.0",
            "instanceCount": 2,
            "productDescription": "Linux/UNIX",
            "state": "active",
            "currencyCode": "USD",
            "offeringType": "No Upfront",
            "recurringCharges": ["item", [{"frequency": "Hourly", "amount": "0.062"}]],
        },
        {  # retired: not asked for
            "reservedInstancesId": "ri-old",
            "instanceType": "c5.large",
            "start": "2023-01-01T00:00:00.000Z",
            "end": "2024-01-01T00:00:00.000Z",
            "duration": 31536000,
            "instanceCount": 1,
            "state": "retired",
        },
    ]
    double.reserved_db.append(
        {
            "_region": "eu-west-1",
            "ReservedDBInstanceId": "rds-ri-orders",
            "DBInstanceClass": "db.r6g.large",
            "StartTime": "2024-03-01T00:00:00Z",
            "Duration": 94608000,  # 3 years
            "FixedPrice": "1200.00",
            "UsagePrice": "0.0",
            "CurrencyCode": "USD",
            "DBInstanceCount": 1,
            "ProductDescription": "postgresql",
            "OfferingType": "Partial Upfront",
            "MultiAZ": True,
            "State": "active",
            "RecurringCharges": [
                "RecurringCharge",
                [{"RecurringChargeAmount": "0.046", "RecurringChargeFrequency": "Hourly"}],
            ],
        }
    )
    double.reserved_cache.append(
        {
            "ReservedCacheNodeId": "cache-ri-sessions",
            "CacheNodeType": "cache.m5.large",
            "StartTime": "2025-06-01T00:00:00Z",
            "Duration": 31536000,
            "FixedPrice": "0.0",
            "UsagePrice": "0.0",
            "CacheNodeCount": 3,
            "ProductDescription": "redis",
            "OfferingType": "No Upfront",
            "State": "active",
            "RecurringCharges": [
                "RecurringCharge",
                [{"RecurringChargeAmount": "0.1", "RecurringChargeFrequency": "Hourly"}],
            ],
        }
    )
    double.savings_plans += [
        {
            "savingsPlanId": "5f1c-aaaa",
            "savingsPlanArn": SP_ARN,
            "start": "2025-12-24T00:00:00.000Z",
            "end": "2026-12-24T00:00:00.000Z",
            "state": "active",
            "savingsPlanType": "Compute",
            "paymentOption": "No Upfront",
            "currency": "USD",
            "commitment": "2.5",
            "upfrontPaymentAmount": "0",
            "recurringPaymentAmount": "2.5",
            "termDurationInSeconds": 31536000,
        },
        {
            "savingsPlanId": "9d2e-bbbb",
            "savingsPlanArn": SP2_ARN,
            "start": "2026-01-01T00:00:00.000Z",
            "end": "2029-01-01T00:00:00.000Z",
            "state": "active",
            "savingsPlanType": "EC2Instance",
            "ec2InstanceFamily": "r6i",
            "region": "eu-west-1",
            "paymentOption": "All Upfront",
            "currency": "USD",
            "commitment": "0.75",
            "upfrontPaymentAmount": "19710",
            "termDurationInSeconds": 94608000,
        },
    ]


async def collect(db: AsyncSession, settings: Settings, account: CloudAccount) -> Job:
    job = await queue.enqueue(
        db,
        "commitments.collect_account",
        {"cloud_account_id": str(account.id)},
        org_id=account.org_id,
        max_attempts=1,
    )
    await db.commit()
    await run_jobs(settings)
    await db.commit()
    done = await db.get(Job, job.id, populate_existing=True)
    assert done is not None
    return done


async def stored(db: AsyncSession, account: CloudAccount) -> dict[str, Commitment]:
    rows = (
        await db.scalars(
            select(Commitment)
            .where(Commitment.cloud_account_id == account.id)
            .execution_options(populate_existing=True)
        )
    ).all()
    return {r.commitment_id: r for r in rows}


async def test_reservations_and_plans_refusals_and_retirement(
    db: AsyncSession, org: Org, double: AwsDouble, aws_settings: Settings
) -> None:
    arrange(double)
    account = await make_account(db, org, provider=Provider.AWS, credentials=KEYS)
    job = await collect(db, aws_settings, account)
    assert job.status == JobStatus.SUCCEEDED, job.last_error
    rows = await stored(db, account)
    assert set(rows) == {"ri-0a1b2c3d", "rds-ri-orders", "cache-ri-sessions", SP_ARN, SP2_ARN}
    ri = rows["ri-0a1b2c3d"]
    assert (ri.kind, ri.service, ri.region, ri.resource_type, ri.count) == (
        "reserved_instance",
        "ec2",
        "us-east-1",
        "m5.large",
        2,
    )
    assert ri.end_at == datetime(2026, 12, 20, tzinfo=UTC)
    assert ri.hourly_cost == Decimal("0.124")  # 0.062 x 2 instances
    assert (ri.payment_option, ri.currency, ri.source, ri.provider) == (
        "No Upfront",
        "USD",
        "api",
        "aws",
    )
    rds = rows["rds-ri-orders"]
    assert rds.end_at == datetime(2027, 3, 1, tzinfo=UTC)  # StartTime + 3 years of seconds
    assert (rds.upfront_cost, rds.hourly_cost) == (Decimal("1200.00"), Decimal("0.046"))
    assert rds.description == "1 x db.r6g.large (postgresql Multi-AZ)"
    cache = rows["cache-ri-sessions"]
    assert (cache.hourly_cost, cache.count, cache.end_at, cache.region) == (
        Decimal("0.3"),
        3,
        datetime(2026, 6, 1, tzinfo=UTC),
        "us-east-1",
    )
    assert rds.region == "eu-west-1"
    sp = rows[SP_ARN]
    assert (sp.kind, sp.hourly_cost, sp.end_at, sp.region) == (
        "savings_plan",
        Decimal("2.5"),
        datetime(2026, 12, 24, tzinfo=UTC),
        None,
    )
    sp2 = rows[SP2_ARN]
    assert (sp2.resource_type, sp2.region, sp2.upfront_cost) == ("r6i", "eu-west-1", Decimal(19710))
    # Every region asked, every request signed, the plans paged (one per page here).
    assert sorted(double.calls) == sorted(
        [
            ("DescribeSavingsPlans", "us-east-1"),
            ("DescribeSavingsPlans", "us-east-1"),
            *[
                (action, region)
                for region in ("us-east-1", "eu-west-1")
                for action in (
                    "DescribeReservedInstances",
                    "DescribeReservedDBInstances",
                    "DescribeReservedCacheNodes",
                )
            ],
        ]
    )
    assert all(double.signed)

    # The EC2 reservation retires; RDS refuses this time: its row is kept as it was.
    double.reserved_instances.clear()
    double.denied["DescribeReservedDBInstances"] = "AccessDenied"
    job = await collect(db, aws_settings, account)
    assert job.status == JobStatus.SUCCEEDED, job.last_error
    rows = await stored(db, account)
    assert set(rows) == {"rds-ri-orders", "cache-ri-sessions", SP_ARN, SP2_ARN}

    # Refused keys: the job fails at once (no retry can help), naming the call; nothing goes.
    double.denied["DescribeSavingsPlans"] = "UnrecognizedClientException"
    job = await collect(db, aws_settings, account)
    assert job.status == JobStatus.DEAD
    assert job.attempts == 1
    assert "savingsplans:DescribeSavingsPlans failed: UnrecognizedClientException" in (
        job.last_error or ""
    )
    assert KEYS["secretAccessKey"] not in (job.last_error or "")
    assert set(await stored(db, account)) == {"rds-ri-orders", "cache-ri-sessions", SP_ARN, SP2_ARN}
