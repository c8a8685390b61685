"""Inventory refresh time: ``inventory.service.apply_snapshot`` of N resources into one account.

    .venv/bin/python bench/inventory_refresh.py [--resources 10000] [--pg-url postgresql+psycopg://...]

Times, on a freshly migrated database (SQLite in a temp directory by default): the first
snapshot (every resource inserted), a second one (every resource updated, 1% gone, 1% new) and
a third identical to the second (steady state), each in one transaction as the refresh job
commits it. The AWS API calls are not included (moto's speed says nothing about AWS's). Default
size: 2,000 resources (a few seconds).
"""

import argparse
import asyncio
import tempfile
import time
import uuid
from pathlib import Path

from xplorr.cloud_accounts.models import CloudAccount, Provider
from xplorr.core.db import make_engine, make_sessionmaker
from xplorr.core.migrate import upgrade
from xplorr.inventory.service import Observed, apply_snapshot
from xplorr.orgs.models import Org

# (the inventory's type, AWS's): inventory.types
TYPES = (
    ("Virtual Machine", "AWS::EC2::Instance"),
    ("Disk", "AWS::EC2::Volume"),
    ("Disk Snapshot", "AWS::EC2::Snapshot"),
    ("Security Group", "AWS::EC2::SecurityGroup"),
    ("Object Storage Bucket", "AWS::S3::Bucket"),
)


def observed(n: int, start: int = 0) -> list[Observed]:
    return [
        Observed(
            provider="aws",
            region=("us-east-1", "eu-west-1", "ap-southeast-2")[i % 3],
            service="Amazon EC2",
            resource_type=TYPES[i % len(TYPES)][0],
            native_type=TYPES[i % len(TYPES)][1],
            resource_id=f"i-{i:017x}",
            name=f"resource-{i}",
            status="Running",
            tags={"env": ("prod", "dev")[i % 2], "team": f"team-{i % 7}"},
            attributes={"instance_type": "m5.large", "vpc_id": f"vpc-{i % 5}"},
        )
        for i in range(start, start + n)
    ]


async def main(resources: int, url: str) -> None:
    upgrade(url)
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    async with sessions() as db:
        org = Org(name="Bench", slug=f"bench-{uuid.uuid4().hex[:8]}")
        db.add(org)
        await db.flush()
        account = CloudAccount(
            org_id=org.id,
            provider=Provider.AWS,
            name="bench",
            provider_account_id="123456789012",
            credentials_encrypted=b"-",
        )
        db.add(account)
        await db.commit()
    first = observed(resources)
    churn = max(1, resources // 100)
    second = observed(resources - churn) + observed(churn, start=resources)
    print(f"| snapshot ({resources:,} resources) | seconds | added | updated | gone |")
    print("|---|---|---|---|---|")
    for label, snapshot in (("first", first), ("second", second), ("third", second)):
        async with sessions() as db:
            acc = await db.get(CloudAccount, account.id)
            assert acc is not None
            started = time.perf_counter()
            result = await apply_snapshot(db, acc, snapshot, source="api")
            await db.commit()
            took = time.perf_counter() - started
        print(f"| {label} | {took:.2f} | {result.added} | {result.updated} | {result.gone} |")
    await engine.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--resources", type=int, default=2000)
    parser.add_argument("--pg-url", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db_url = args.pg_url or f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        asyncio.run(main(args.resources, db_url))
