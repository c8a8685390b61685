"""Inventory refresh time: ``inventory.service.apply_snapshot`` of N resources into one account,
or (``--through-aws``) the whole refresh job through the AWS collector against moto's server.

    .venv/bin/python bench/inventory_refresh.py [--resources 10000] [--pg-url postgresql+psycopg://...]
    .venv/bin/python bench/inventory_refresh.py --through-aws [--resources 1000] [--pg-url ...]

Times, on a freshly migrated database (SQLite in a temp directory by default): the first
snapshot (every resource inserted), a second one (every resource updated, 1% gone, 1% new) and
a third identical to the second (steady state), each in one transaction as the refresh job
commits it. Default size: 2,000 resources (a few seconds).

``--through-aws`` creates about N resources in moto (a ``ThreadedMotoServer`` on loopback, one
region): half EC2 instances (running, each with its root volume, so one CloudWatch call each),
a quarter unattached EBS volumes, a quarter security groups; then runs ``inventory.refresh``
twice through a real job worker, as a sync queues it (``sync.succeeded``): credentials
decrypted, every Describe call of the region paginated, CPU per running instance, the snapshot
recorded. Creating the resources is not timed. moto answers from memory on loopback, so the
time is Xplorr's (and boto3's) share of a refresh, not AWS's latency.
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


KEY_ID = "AKIABENCHMOTOKEY0001"
KEY_SECRET = "benchMotoSecretKey000000000000000000000x"  # noqa: S105 (moto accepts any)
SECRET = "bench-secret-key-bench-secret-key-0123456789"  # noqa: S105 (a throwaway database)
REGION = "us-east-1"


def create_in_moto(endpoint: str, resources: int) -> None:
    """About ``resources`` resources in moto's ``REGION`` (not timed)."""
    import boto3

    ec2 = boto3.client(
        "ec2",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=KEY_ID,
        aws_secret_access_key=KEY_SECRET,
    )
    image = ec2.register_image(Name="bench", RootDeviceName="/dev/xvda")["ImageId"]
    instances = resources // 2
    for done in range(0, instances, 100):
        count = min(100, instances - done)
        ec2.run_instances(ImageId=image, InstanceType="t3.micro", MinCount=count, MaxCount=count)
    for n in range(resources // 4):
        ec2.create_volume(AvailabilityZone=f"{REGION}a", Size=8 + n % 100)
    for n in range(resources - instances - resources // 4):
        ec2.create_security_group(GroupName=f"bench-{n}", Description="bench")


async def through_aws(resources: int, url: str, tmp: Path, endpoint: str) -> None:
    from sqlalchemy import func, select, update

    from xplorr.cloud_accounts.credentials import store_credentials
    from xplorr.cloud_accounts.models import AccountStatus
    from xplorr.core.events import emit
    from xplorr.core.jobs.models import Job, JobStatus
    from xplorr.core.jobs.registry import SCHEDULES
    from xplorr.core.jobs.runner import Worker, load_job_modules
    from xplorr.core.settings import Settings
    from xplorr.inventory.models import InventoryResource
    from xplorr.sync.events import SyncSucceeded

    await asyncio.to_thread(upgrade, url)
    settings = Settings(  # type: ignore[call-arg]
        database_url=url,
        data_dir=tmp,
        secret_key=SECRET,
        aws_endpoint_url=endpoint,
        aws_inventory_regions=[REGION],
    )
    engine = make_engine(settings.db_url)
    sessions = make_sessionmaker(engine)
    async with sessions() as db, db.begin():
        org = Org(name="Bench", slug=f"bench-{uuid.uuid4().hex[:8]}")
        db.add(org)
        await db.flush()
        account = CloudAccount(
            id=uuid.uuid4(),
            org_id=org.id,
            provider=Provider.AWS,
            name="bench",
            provider_account_id="123456789012",
            status=AccountStatus.ACTIVE,
        )
        keys = {"accessKeyId": KEY_ID, "secretAccessKey": KEY_SECRET, "region": REGION}
        await store_credentials(db, settings, account, keys)
        db.add(account)
    load_job_modules()
    SCHEDULES.clear()  # only the refresh runs
    worker = Worker(settings, engine)
    print(f"| refresh through the AWS collector (moto, {resources:,} created) | seconds | rows |")
    print("|---|---:|---:|")
    for label in ("first", "second (unchanged)"):
        started = time.perf_counter()
        async with sessions() as db, db.begin():
            event = SyncSucceeded(org_id=org.id, cloud_account_id=account.id, periods_imported=0)
            [job] = await emit(db, event)
        refresh = job.id
        status = JobStatus.QUEUED
        while status in (JobStatus.QUEUED, JobStatus.RUNNING):
            await worker.tick()
            await asyncio.gather(*worker.running.values())
            async with sessions() as db:
                status = await db.scalar(select(Job.status).where(Job.id == refresh))
        took = time.perf_counter() - started
        if status != JobStatus.SUCCEEDED:
            raise SystemExit(f"the refresh job ended {status}: see the log above")
        # What the refresh queued in turn (recommendations...) is not the refresh: cancelled.
        async with sessions() as db, db.begin():
            await db.execute(
                update(Job).where(Job.status == JobStatus.QUEUED).values(status=JobStatus.CANCELLED)
            )
        async with sessions() as db:
            by_type = (
                await db.execute(
                    select(InventoryResource.native_type, func.count())
                    .where(InventoryResource.cloud_account_id == account.id)
                    .group_by(InventoryResource.native_type)
                )
            ).all()
        rows = sum(n for _, n in by_type)
        print(f"| {label} | {took:.2f} | {rows:,} |")
    print("rows by type:", ", ".join(f"{t} {n:,}" for t, n in sorted(by_type)))
    await engine.dispose()


def run_through_aws(resources: int, pg_url: str | None, tmp: Path) -> None:
    import logging
    import os

    from moto.server import ThreadedMotoServer

    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": KEY_ID,
            "AWS_SECRET_ACCESS_KEY": KEY_SECRET,
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            # Not moto's ~1,300 stock AMIs, whose snapshots it lists as the account's own.
            "MOTO_EC2_LOAD_DEFAULT_AMIS": "false",
        }
    )
    logging.getLogger("werkzeug").setLevel(logging.CRITICAL)  # moto's request log
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    try:
        create_in_moto(endpoint, resources)
        url = pg_url or f"sqlite+aiosqlite:///{tmp / 'bench.db'}"
        asyncio.run(through_aws(resources, url, tmp, endpoint))
    finally:
        server.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--resources", type=int, default=2000)
    parser.add_argument("--pg-url", default=None)
    parser.add_argument(
        "--through-aws",
        action="store_true",
        help="time the whole refresh job through the AWS collector against moto's server",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.through_aws:
            run_through_aws(args.resources, args.pg_url, Path(tmp))
        else:
            db_url = args.pg_url or f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
            asyncio.run(main(args.resources, db_url))
