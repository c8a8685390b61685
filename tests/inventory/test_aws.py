"""The AWS inventory against moto's server, through the refresh job a cost import queues:
two regions, tagged and untagged resources, attached and unattached volumes, a NAT gateway, a
load balancer with target health, RDS, S3, CloudWatch CPU read back; a resource gone from AWS
marked deleted; a denied permission leaving its rows untouched with a warning; a sync that
imports nothing refreshing the inventory all the same."""

import io
import json
import zipfile
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from httpx import AsyncClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from tests.aws.billing_data import ce_answer, ce_day, ce_group, sync
from tests.aws.moto_server import MotoAws
from tests.conftest import ClientFor
from tests.factories.cloud_accounts import _test_settings, make_account
from tests.mail import run_jobs
from xplorr.cloud_accounts.credentials import store_credentials
from xplorr.cloud_accounts.models import CloudAccount, Provider
from xplorr.core import clock
from xplorr.core.events import emit
from xplorr.core.jobs.runner import Worker
from xplorr.core.settings import Settings
from xplorr.costs.events import CostDataChanged
from xplorr.inventory.models import InventoryResource
from xplorr.orgs.models import Org
from xplorr.users.models import User

REGIONS = ["us-east-1", "eu-west-1"]
# An account of its own, reached by assuming a role: moto's default account owns ~1,300 public
# AMI snapshots per region, which "snapshots owned by the account" would list.
ACCOUNT = "222222222222"
ROLE = {"roleName": "xplorr-readonly", "externalId": "xplorr-ext-1", "region": "us-east-1"}


class Account:
    """boto3 clients as the role of ``ACCOUNT`` (what the collector will see)."""

    def __init__(self, moto: MotoAws) -> None:
        creds = moto.client("sts").assume_role(
            RoleArn=f"arn:aws:iam::{ACCOUNT}:role/arrange", RoleSessionName="arrange"
        )["Credentials"]
        self.moto = moto
        self.session = {
            "aws_access_key_id": creds["AccessKeyId"],
            "aws_secret_access_key": creds["SecretAccessKey"],
            "aws_session_token": creds["SessionToken"],
        }

    def client(self, service: str, region: str | None = None) -> Any:
        return self.moto.client(service, region, **self.session)


AMI = "ami-12c6146b"  # one of moto's default AMIs


def arrange(moto: Account) -> dict[str, str]:
    ec2 = moto.client("ec2", "us-east-1")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24", AvailabilityZone="us-east-1a")[
        "Subnet"
    ]["SubnetId"]
    subnet2 = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.2.0/24", AvailabilityZone="us-east-1b")[
        "Subnet"
    ]["SubnetId"]
    web = ec2.run_instances(
        ImageId=AMI,
        InstanceType="m5.large",
        MinCount=1,
        MaxCount=1,
        SubnetId=subnet,
        TagSpecifications=[
            {
                "ResourceType": "instance",
                "Tags": [{"Key": "Name", "Value": "web-1"}, {"Key": "env", "Value": "prod"}],
            }
        ],
    )["Instances"][0]["InstanceId"]
    idle = ec2.run_instances(ImageId=AMI, InstanceType="t3.micro", MinCount=1, MaxCount=1)[
        "Instances"
    ][0]["InstanceId"]
    ec2.stop_instances(InstanceIds=[idle])
    vol = ec2.create_volume(
        Size=100,
        AvailabilityZone="us-east-1a",
        VolumeType="gp3",
        TagSpecifications=[{"ResourceType": "volume", "Tags": [{"Key": "team", "Value": "data"}]}],
    )["VolumeId"]
    snap = ec2.create_snapshot(VolumeId=vol)["SnapshotId"]
    eip = ec2.allocate_address(Domain="vpc")["AllocationId"]
    eip2 = ec2.allocate_address(Domain="vpc")["AllocationId"]
    nat = ec2.create_nat_gateway(SubnetId=subnet, AllocationId=eip2)["NatGateway"]["NatGatewayId"]
    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
    elb = moto.client("elbv2", "us-east-1")
    lb = elb.create_load_balancer(
        Name="web", Subnets=[subnet, subnet2], Tags=[{"Key": "env", "Value": "prod"}]
    )["LoadBalancers"][0]["LoadBalancerArn"]
    tg = elb.create_target_group(Name="web", Protocol="HTTP", Port=80, VpcId=vpc)["TargetGroups"][
        0
    ]["TargetGroupArn"]
    elb.register_targets(TargetGroupArn=tg, Targets=[{"Id": web}])
    elb.create_listener(
        LoadBalancerArn=lb,
        Protocol="HTTP",
        Port=80,
        DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}],
    )
    rds = moto.client("rds", "us-east-1")
    db_arn = rds.create_db_instance(
        DBInstanceIdentifier="orders",
        DBInstanceClass="db.t3.medium",
        Engine="postgres",
        AllocatedStorage=20,
        MasterUsername="admin",
        MasterUserPassword="secret-password-1",
        Tags=[{"Key": "env", "Value": "prod"}],
    )["DBInstance"]["DBInstanceArn"]
    s3 = moto.client("s3", "us-east-1")
    s3.create_bucket(Bucket="logs-tagged")
    s3.put_bucket_tagging(
        Bucket="logs-tagged", Tagging={"TagSet": [{"Key": "env", "Value": "prod"}]}
    )
    s3.create_bucket(
        Bucket="eu-untagged", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    iam = moto.client("iam")
    role = iam.create_role(RoleName="fn", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as z:
        z.writestr("main.py", "def handler(e, c):\n    return 1\n")
    fn = moto.client("lambda", "us-east-1").create_function(
        FunctionName="resize",
        Runtime="python3.12",
        Role=role,
        Handler="main.handler",
        Code={"ZipFile": code.getvalue()},
    )["FunctionArn"]
    eu = moto.client("ec2", "eu-west-1")
    eu_vm = eu.run_instances(ImageId="ami-03cf127a", MinCount=1, MaxCount=1)["Instances"][0][
        "InstanceId"
    ]
    cw = moto.client("cloudwatch", "us-east-1")
    today = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
    cw.put_metric_data(
        Namespace="AWS/EC2",
        MetricData=[
            {
                "MetricName": "CPUUtilization",
                "Dimensions": [{"Name": "InstanceId", "Value": web}],
                "Timestamp": today - timedelta(days=d),
                "Value": value,
                "Unit": "Percent",
            }
            for d, value in ((2, 10.0), (2, 30.0), (3, 4.0))
        ],
    )
    return {
        "web": web,
        "idle": idle,
        "vol": vol,
        "snap": snap,
        "eip": eip,
        "nat": nat,
        "igw": igw,
        "vpc": vpc,
        "lb": lb,
        "db": db_arn,
        "fn": fn,
        "eu_vm": eu_vm,
        "subnet": subnet,
    }


async def refresh(db: AsyncSession, settings: Settings, account: CloudAccount) -> None:
    today = clock.now().date()
    await emit(
        db,
        CostDataChanged(
            org_id=account.org_id, cloud_account_id=account.id, first_day=today, last_day=today
        ),
    )
    await db.commit()
    await run_jobs(settings)


async def inventory_status(client: AsyncClient, account: CloudAccount) -> dict[str, Any]:
    """The account's newest inventory refresh as ``GET /sync/status`` shows it to a user."""
    r = await client.get("/sync/status")
    assert r.status_code == 200
    [row] = [a for a in r.json()["data"] if a["accountId"] == str(account.id)]
    return {k: row[k] for k in ("inventoryRefreshedAt", "inventoryWarnings")}


async def inventory(db: AsyncSession) -> dict[str, InventoryResource]:
    await db.commit()
    rows = (
        await db.scalars(select(InventoryResource).execution_options(populate_existing=True))
    ).all()
    return {r.resource_id: r for r in rows}


@pytest.mark.slow
async def test_two_regions_with_tags_health_cpu_and_deletions(
    moto: MotoAws, settings: Settings, db: AsyncSession, org: Org
) -> None:
    aws = Account(moto)
    ids = arrange(aws)
    settings = settings.model_copy(update={"aws_inventory_regions": REGIONS})
    account = await make_account(
        db, org, provider=Provider.AWS, provider_account_id=ACCOUNT, credentials=ROLE
    )
    await refresh(db, settings, account)
    found = await inventory(db)
    web = found[ids["web"]]
    assert (web.resource_type, web.native_type, web.name, web.status, web.region) == (
        "Virtual Machine",
        "AWS::EC2::Instance",
        "web-1",
        "Running",
        "us-east-1",
    )
    assert web.tags == {"Name": "web-1", "env": "prod"}
    assert web.attributes["instance_type"] == "m5.large"
    assert web.attributes["arn"] == f"arn:aws:ec2:us-east-1:{ACCOUNT}:instance/{ids['web']}"
    days = {d["date"]: (d["average"], d["maximum"]) for d in web.attributes["cpu_daily"]}
    two, three = ((datetime.now(UTC) - timedelta(days=n)).date().isoformat() for n in (2, 3))
    assert days == {two: (20.0, 30.0), three: (4.0, 4.0)}
    assert web.attributes["cpu_maximum_14d"] == 30.0
    idle = found[ids["idle"]]
    assert (idle.status, idle.tags, idle.name) == ("Stopped", {}, ids["idle"])
    assert "cpu_daily" not in idle.attributes
    vol = found[ids["vol"]]
    assert (vol.resource_type, vol.status, vol.tags) == (
        "Disk",
        "Available",
        {"team": "data"},
    )
    assert (vol.attributes["attached"], vol.attributes["size_gib"]) == (False, 100)
    # AWS's types under the inventory's (inventory.types), AWS's own kept
    assert {(r.resource_type, r.native_type) for r in found.values()} == {
        ("Virtual Machine", "AWS::EC2::Instance"),
        ("Disk", "AWS::EC2::Volume"),
        ("Disk Snapshot", "AWS::EC2::Snapshot"),
        ("Public IP Address", "AWS::EC2::EIP"),
        ("Virtual Network", "AWS::EC2::VPC"),
        ("Subnet", "AWS::EC2::Subnet"),
        ("Security Group", "AWS::EC2::SecurityGroup"),
        ("NAT Gateway", "AWS::EC2::NatGateway"),
        ("Internet Gateway", "AWS::EC2::InternetGateway"),
        ("Load Balancer", "AWS::ElasticLoadBalancingV2::LoadBalancer"),
        ("Managed Database", "AWS::RDS::DBInstance"),
        ("Serverless Function", "AWS::Lambda::Function"),
        ("Object Storage Bucket", "AWS::S3::Bucket"),
    }
    assert found[ids["eip"]].status == "Unassociated"
    nat = found[ids["nat"]]
    assert (nat.resource_type, nat.attributes["vpc_id"]) == ("NAT Gateway", ids["vpc"])
    assert found[ids["igw"]].attributes["vpc_id"] == ids["vpc"]
    lb = found[ids["lb"]]
    assert (lb.resource_type, lb.name, lb.tags) == ("Load Balancer", "web", {"env": "prod"})
    assert lb.attributes["targets"] == 1
    assert found[ids["db"]].tags == {"env": "prod"}
    assert found[ids["db"]].attributes["instance_class"] == "db.t3.medium"
    assert (found["logs-tagged"].tags, found["logs-tagged"].region) == (
        {"env": "prod"},
        "us-east-1",
    )
    assert (found["eu-untagged"].tags, found["eu-untagged"].region) == ({}, "eu-west-1")
    eu_vm = found[ids["eu_vm"]]
    assert (eu_vm.region, eu_vm.tags) == ("eu-west-1", {})
    assert {r.source for r in found.values()} == {"api"}
    assert all(r.deleted_at is None for r in found.values())

    # Gone from AWS: marked deleted at the next refresh, not removed.
    aws.client("ec2", "eu-west-1").terminate_instances(InstanceIds=[ids["eu_vm"]])
    aws.client("s3").delete_bucket(Bucket="eu-untagged")
    aws.client("ec2", "us-east-1").delete_volume(VolumeId=ids["vol"])
    await refresh(db, settings, account)
    found = await inventory(db)
    assert found[ids["vol"]].deleted_at is not None
    assert found["eu-untagged"].deleted_at is not None
    # moto keeps a terminated instance listed (as AWS does for about an hour): its state shows.
    assert found[ids["eu_vm"]].status == "Terminated"
    assert found[ids["web"]].deleted_at is None


@pytest.mark.slow
async def test_denied_permission_keeps_its_rows_and_reads_the_rest(
    moto: MotoAws,
    settings: Settings,
    db: AsyncSession,
    org: Org,
    admin: User,
    client_for: ClientFor,
) -> None:
    aws = Account(moto)
    ids = arrange(aws)
    settings = settings.model_copy(update={"aws_inventory_regions": ["us-east-1"]})
    account = await make_account(
        db, org, provider=Provider.AWS, provider_account_id=ACCOUNT, credentials=ROLE
    )
    await refresh(db, settings, account)
    assert ids["nat"] in await inventory(db)
    client = client_for(admin)
    clean = await inventory_status(client, account)
    assert clean["inventoryRefreshedAt"] is not None
    assert clean["inventoryWarnings"] == []
    account = await db.get_one(CloudAccount, account.id)  # the request expunged it
    # Keys of a user of that account whose policy denies one call of the Inventory group.
    iam = aws.client("iam")
    iam.create_user(UserName="reader")
    iam.put_user_policy(
        UserName="reader",
        PolicyName="reader",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Action": "*", "Resource": "*"},
                    {"Effect": "Deny", "Action": "ec2:DescribeNatGateways", "Resource": "*"},
                ],
            }
        ),
    )
    key = iam.create_access_key(UserName="reader")["AccessKey"]
    await store_credentials(
        db,
        _test_settings(),
        account,
        {
            "accessKeyId": key["AccessKeyId"],
            "secretAccessKey": key["SecretAccessKey"],
            "region": "us-east-1",
        },
    )
    await db.commit()
    aws.client("ec2", "us-east-1").delete_nat_gateway(NatGatewayId=ids["nat"])
    aws.client("ec2", "us-east-1").terminate_instances(InstanceIds=[ids["idle"]])
    moto.enforce_iam()
    await refresh(db, settings, account)
    found = await inventory(db)
    nat = found[ids["nat"]]
    assert (nat.deleted_at, nat.status) == (None, "Available")  # not re-checked: kept as it was
    assert found[ids["idle"]].status == "Terminated"  # the rest was read
    # The user is told what was not read, and why
    status = await inventory_status(client, account)
    assert status["inventoryRefreshedAt"] > clean["inventoryRefreshedAt"]
    denied = "ec2:DescribeNatGateways"
    assert [w for w in status["inventoryWarnings"] if w.startswith(denied)] == [
        f"{denied} failed: AccessDenied: User: arn:aws:iam::{ACCOUNT}:user/reader is not "
        f"authorized to perform: {denied} (permission denied) in us-east-1"
    ]
    assert not any(key["SecretAccessKey"] in w for w in status["inventoryWarnings"])


async def test_a_sync_that_imports_nothing_still_refreshes_the_inventory(
    moto: MotoAws,
    settings: Settings,
    engine: AsyncEngine,
    db: AsyncSession,
    org: Org,
    admin: User,
    client_for: ClientFor,
) -> None:
    """The second sync finds its Cost Explorer month unchanged (no period imported, so no
    ``CostDataChanged``); the instance started since is in the inventory all the same."""
    aws = Account(moto)
    ec2 = aws.client("ec2", "us-east-1")
    account = await make_account(
        db, org, provider=Provider.AWS, provider_account_id=ACCOUNT, credentials=ROLE
    )
    day = clock.now().date() - timedelta(days=1)
    start, end = day.isoformat(), (day + timedelta(days=1)).isoformat()

    def bill() -> list[dict[str, Any]]:  # the same bill at each sync
        return [
            ce_answer([ce_day(start, end, [ce_group([ACCOUNT, "us-east-1"], "1", "1")])]),
            ce_answer([ce_day(start, end, [ce_group(["EC2", "BoxUsage:t3.micro"], "1", "1")])]),
            ce_answer([]),
        ]

    worker = Worker(settings, engine)
    first = ec2.run_instances(ImageId=AMI, InstanceType="t3.micro", MinCount=1, MaxCount=1)
    moto.queue_ce_results(bill(), account_id=ACCOUNT)
    run = await sync(client_for, admin, account, worker)
    assert run["detail"]["periodsImported"] == [f"{day:%Y-%m}"], run
    later = ec2.run_instances(ImageId=AMI, InstanceType="t3.micro", MinCount=1, MaxCount=1)
    moto.queue_ce_results(bill(), account_id=ACCOUNT)  # the later sync's range asks anew
    run = await sync(client_for, admin, account, worker)
    assert run["state"] == "succeeded", run
    assert run["detail"]["periodsImported"] == []
    assert [p["reason"] for p in run["detail"]["periodsSkipped"]] == ["unchanged"]
    found = await inventory(db)
    assert {first["Instances"][0]["InstanceId"], later["Instances"][0]["InstanceId"]} <= set(found)
