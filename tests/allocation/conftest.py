"""A hand-summed month for the allocation tests: the last full calendar month before today
(what a preview reads when the data says nothing newer), days D1 and D2, billed USD.

| day | team=api (EC2) | team=data (EC2) | untagged EKS | untagged S3 |
|-----|----------------|-----------------|--------------|-------------|
| D1  | 30             | 10              | 20           | 5           |
| D2  | 10             | 30              | 40           | -           |

Without allocation, by tag:team: api 40, data 40, untagged 65; total 145.
"""

from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from tests.factories.cloud_accounts import make_account
from tests.factories.costs import add_costs
from xplorr.cloud_accounts.models import CloudAccount
from xplorr.core import clock
from xplorr.orgs.models import Org

EKS = "Amazon Elastic Kubernetes Service"


def last_full_month() -> tuple[date, date]:
    end = clock.now().date().replace(day=1) - timedelta(days=1)
    return end.replace(day=1), end


@dataclass(frozen=True)
class Month:
    account: CloudAccount
    start: date
    end: date

    @property
    def params(self) -> dict[str, str]:
        return {"startDate": self.start.isoformat(), "endDate": self.end.isoformat()}


@pytest.fixture
async def month(db: AsyncSession, org: Org) -> Month:
    start, end = last_full_month()
    d1, d2 = start, start + timedelta(days=1)
    account = await make_account(db, org, name="prod")
    ec2 = {"service_name": "Amazon Elastic Compute Cloud"}
    await add_costs(
        db,
        account,
        [
            {"usage_date": d1, "billed_cost": "30", "tags": {"team": "api"}, **ec2},
            {"usage_date": d1, "billed_cost": "10", "tags": {"team": "data"}, **ec2},
            {"usage_date": d1, "billed_cost": "20", "service_name": EKS},
            {"usage_date": d1, "billed_cost": "5", "service_name": "Amazon Simple Storage Service"},
            {"usage_date": d2, "billed_cost": "10", "tags": {"team": "api"}, **ec2},
            {"usage_date": d2, "billed_cost": "30", "tags": {"team": "data"}, **ec2},
            {"usage_date": d2, "billed_cost": "40", "service_name": EKS, "tags": {"env": "x"}},
        ],
    )
    return Month(account, start, end)
