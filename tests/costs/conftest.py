"""Fixtures of the cost tests: two cloud accounts of org A with a small, hand-summed set of
cost rows (credits, two currencies, tags, a day on each side of September 2024), and one
account of another organization whose costs must never show."""

import uuid
from dataclasses import dataclass
from datetime import date

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from tests.factories.cloud_accounts import make_account
from tests.factories.costs import add_costs
from xplorr.cloud_accounts.models import CloudAccount, Provider
from xplorr.core.tenancy import Principal, Role
from xplorr.orgs.models import Org

SEPT = (date(2024, 9, 1), date(2024, 9, 30))


def principal(
    org: Org, *, role: Role = Role.ADMIN, account_ids: frozenset[uuid.UUID] | None = None
) -> Principal:
    return Principal(
        user_id=uuid.uuid4(),
        org_id=org.id,
        role=role,
        email="reader@example.com",
        account_ids=account_ids,
    )


@dataclass(frozen=True)
class Dataset:
    aws: CloudAccount
    gcp: CloudAccount
    foreign: CloudAccount


# Rows of org A. In September 2024 (USD, billed): AmazonEC2 10.009, AmazonS3 3.25,
# Compute Engine 20.125, BigQuery 3 -> 36.384; EUR: AmazonEC2 7.00. Outside: 100 on 08-31,
# 1.11 (Tax, no region) on 10-01.
AWS_ROWS = [
    {
        "usage_date": "2024-08-31",
        "billed_cost": "100",
        "tags": {"env": "prod"},
    },
    {
        "usage_date": "2024-09-01",
        "billed_cost": "10.005",
        "effective_cost": "8.000000001",
        "list_cost": "12",
        "tags": {"env": "prod", "team": "a"},
        "resource_id": "i-1",
        "sku_id": "sku-1",
    },
    {
        "usage_date": "2024-09-01",
        "billed_cost": "0.004",
        "tags": {"env": "prod"},
        "resource_id": "i-2",
        "sku_id": "sku-1",
    },
    {
        "usage_date": "2024-09-02",
        "billed_cost": "5.50",
        "service_name": "AmazonS3",
        "service_category": "Storage",
        "region": "us-west-2",
        "tags": {"env": "dev"},
        "resource_id": "bucket-1",
    },
    {
        "usage_date": "2024-09-02",
        "billed_cost": "-2.25",
        "service_name": "AmazonS3",
        "service_category": "Storage",
        "region": "us-west-2",
        "charge_category": "Credit",
    },
    {
        "usage_date": "2024-09-30",
        "billed_cost": "7.00",
        "currency": "EUR",
        "region": "eu-west-1",
        "tags": {"env": "prod"},
    },
    {
        "usage_date": "2024-10-01",
        "billed_cost": "1.11",
        "service_name": "Tax",
        "service_category": None,
        "region": None,
        "charge_category": "Tax",
    },
]
GCP_ROWS = [
    {
        "usage_date": "2024-09-15",
        "billed_cost": "20.125",
        "service_name": "Compute Engine",
        "region": "us-central1",
        "tags": {"env": None, "team": "b"},
    },
    {
        "usage_date": "2024-09-16",
        "billed_cost": "3",
        "service_name": "BigQuery",
        "service_category": "Analytics",
        "region": "us-central1",
        "tags": {"team": "b"},
    },
    {
        "usage_date": "2024-09-16",
        "billed_cost": "0",
        "service_name": "BigQuery",
        "service_category": "Analytics",
        "region": "us-central1",
        "tags": {"other": 1},
    },
]


@pytest.fixture
async def dataset(db: AsyncSession, org: Org, other_org: Org) -> Dataset:
    aws = await make_account(db, org, provider=Provider.AWS, name="Prod AWS")
    gcp = await make_account(db, org, provider=Provider.GCP, name="Data GCP")
    foreign = await make_account(db, other_org, provider=Provider.AWS, name="Globex AWS")
    await add_costs(db, aws, AWS_ROWS)
    await add_costs(db, gcp, GCP_ROWS)
    await add_costs(
        db,
        foreign,
        [{"usage_date": "2024-09-10", "billed_cost": "999", "tags": {"env": "prod"}}],
    )
    return Dataset(aws=aws, gcp=gcp, foreign=foreign)
