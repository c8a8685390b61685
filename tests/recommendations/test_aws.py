"""The recommendations an AWS account gets, against moto's server, through the real chain:
the inventory refresh a cost import queues (run by a real worker) reads EC2, EBS, Elastic IPs,
ELBv2 and the CloudWatch datapoints put here, then announces ``inventory.refreshed``, which
queues the recommendation refresh. Each rule finds exactly the resources it should, priced to
the cent; a later refresh keeps ids and statuses and finds the snapshot that has grown old."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.aws.moto_server import MotoAws
from tests.factories.cloud_accounts import make_account
from tests.inventory.test_aws import AMI, ROLE, Account
from tests.mail import run_jobs
from xplorr.cloud_accounts.models import Provider
from xplorr.core import clock
from xplorr.core.jobs import queue
from xplorr.core.settings import Settings
from xplorr.costs.events import CostDataChanged
from xplorr.inventory.jobs import REFRESH_JOB
from xplorr.orgs.models import Org
from xplorr.recommendations import service
from xplorr.recommendations.models import Recommendation, RecommendationStatus

ACCOUNT = "222222222222"  # the role's account (tests.inventory.test_aws.ROLE)


def run(ec2: Any, itype: str, name: str) -> str:
    return str(
        ec2.run_instances(
            ImageId=AMI,
            InstanceType=itype,
            MinCount=1,
            MaxCount=1,
            TagSpecifications=[
                {"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": name}]}
            ],
        )["Instances"][0]["InstanceId"]
    )


def arrange(aws: Account) -> dict[str, str]:
    ec2 = aws.client("ec2", "us-east-1")
    ids = {
        "idle": run(ec2, "t3.large", "idle"),  # 2-3 % CPU
        "oversized": run(ec2, "m5.2xlarge", "oversized"),  # 10-30 %
        "busy": run(ec2, "m5.large", "busy"),  # 50-90 %
        "old": run(ec2, "m4.xlarge", "old"),  # busy, previous generation
        "stopped": run(ec2, "t3.micro", "stopped"),
    }
    ec2.stop_instances(InstanceIds=[ids["stopped"]])
    ids["free_vol"] = ec2.create_volume(Size=100, AvailabilityZone="us-east-1a", VolumeType="gp3")[
        "VolumeId"
    ]
    doomed = ec2.create_volume(Size=30, AvailabilityZone="us-east-1a", VolumeType="gp3")["VolumeId"]
    ids["snap"] = ec2.create_snapshot(VolumeId=doomed)["SnapshotId"]
    ec2.delete_volume(VolumeId=doomed)
    ids["eip"] = ec2.allocate_address(Domain="vpc")["AllocationId"]
    used = ec2.allocate_address(Domain="vpc")["AllocationId"]
    ec2.associate_address(AllocationId=used, InstanceId=ids["busy"])
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=f"us-east-1{z}")[
            "Subnet"
        ]["SubnetId"]
        for i, z in ((1, "a"), (2, "b"))
    ]
    elb = aws.client("elbv2", "us-east-1")
    ids["empty_lb"] = elb.create_load_balancer(Name="empty", Subnets=subnets)["LoadBalancers"][0][
        "LoadBalancerArn"
    ]
    # Its target group lost its targets (moto answers TargetGroupNotFound for a load balancer
    # without any group, where AWS answers an empty list).
    tg = elb.create_target_group(Name="empty", Protocol="HTTP", Port=80, VpcId=vpc)["TargetGroups"][
        0
    ]["TargetGroupArn"]
    elb.create_listener(
        LoadBalancerArn=ids["empty_lb"],
        Protocol="HTTP",
        Port=80,
        DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}],
    )
    cw = aws.client("cloudwatch", "us-east-1")
    noon = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
    series = {"idle": (2.0, 3.0), "oversized": (10.0, 30.0), "busy": (50.0, 90.0),
              "old": (50.0, 90.0)}  # fmt: skip
    cw.put_metric_data(
        Namespace="AWS/EC2",
        MetricData=[
            {
                "MetricName": "CPUUtilization",
                "Dimensions": [{"Name": "InstanceId", "Value": ids[name]}],
                "Timestamp": noon - timedelta(days=d, hours=h),
                "Value": value,
                "Unit": "Percent",
            }
            for name, values in series.items()
            for d in range(1, 15)
            for h, value in enumerate(values)
        ],
    )
    return ids


async def after_import(db: AsyncSession, settings: Settings, account: Any) -> None:
    """What a cost import queues for the inventory (only that subscriber: the others have
    nothing to do here), run by a real worker; the chain goes on from there."""
    today = clock.now().date()
    event = CostDataChanged(
        org_id=account.org_id, cloud_account_id=account.id, first_day=today, last_day=today
    )
    await queue.enqueue(db, REFRESH_JOB, event.model_dump(mode="json"), org_id=account.org_id)
    await db.commit()
    await run_jobs(settings)


async def recs(db: AsyncSession) -> dict[str, Recommendation]:
    await db.commit()
    rows = (
        await db.scalars(select(Recommendation).execution_options(populate_existing=True))
    ).all()
    return {r.fingerprint: r for r in rows}


@pytest.mark.usefixtures("admin")
async def test_moto_account_gets_priced_recommendations(
    moto: MotoAws, settings: Settings, db: AsyncSession, org: Org, monkeypatch: pytest.MonkeyPatch
) -> None:
    # moto gives every account ~1,300 snapshots of its default AMIs per region (read at the
    # account's first call after the reset): left out, the scans take a second, not fifteen.
    monkeypatch.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
    aws = Account(moto)
    ids = arrange(aws)
    settings = settings.model_copy(update={"aws_inventory_regions": ["us-east-1"]})
    account = await make_account(
        db, org, provider=Provider.AWS, provider_account_id=ACCOUNT, credentials=ROLE
    )
    await after_import(db, settings, account)  # inventory -> recommendations

    volumes = aws.client("ec2", "us-east-1").describe_volumes()["Volumes"]
    gp2 = {v["VolumeId"]: Decimal(v["Size"]) * Decimal("0.02") for v in volumes
           if v["VolumeType"] == "gp2"}  # fmt: skip
    stopped_root = [
        v for v in volumes if any(a["InstanceId"] == ids["stopped"] for a in v["Attachments"])
    ]
    stopped_cost = sum(
        Decimal(v["Size"]) * {"gp2": Decimal("0.10"), "gp3": Decimal("0.08")}[v["VolumeType"]]
        for v in stopped_root
    )
    expected = {
        f"stop_idle_instance:{ids['idle']}": Decimal("60.74"),  # 0.0832 x 730
        f"rightsize_instance:{ids['oversized']}": Decimal("140.16"),  # (0.384-0.192) x 730
        f"upgrade_previous_generation:{ids['old']}": Decimal("5.84"),  # (0.20-0.192) x 730
        f"delete_unattached_ebs_volume:{ids['free_vol']}": Decimal("8.00"),  # 100 x 0.08
        f"release_unassociated_eip:{ids['eip']}": Decimal("3.65"),  # 0.005 x 730
        f"delete_idle_load_balancer:{ids['empty_lb']}": Decimal("16.43"),  # 0.0225 x 730
        **{f"migrate_gp2_to_gp3:{vid}": amount for vid, amount in gp2.items()},
    }
    if stopped_cost:
        expected[f"stopped_instance_volumes:{ids['stopped']}"] = stopped_cost
    found = await recs(db)
    assert {k: r.estimated_monthly_savings for k, r in found.items()} == expected
    idle = found[f"stop_idle_instance:{ids['idle']}"]
    assert (idle.evidence["cpu_average_percent"], idle.evidence["days_with_data"]) == ("2.50", 14)
    assert idle.resource_name == "idle"
    assert idle.cloud_account_id == account.id

    # A refresh 100 days later: the snapshot of the deleted volume is now old enough; ids and
    # statuses are kept. (Closing what AWS no longer lists is tested in test_engine.)
    found[f"stop_idle_instance:{ids['idle']}"].status = RecommendationStatus.DISMISSED
    await db.commit()
    later = await service.refresh_account(db, account, now=clock.now() + timedelta(days=100))
    assert [r.fingerprint for r in later.new] == [f"delete_orphan_snapshot:{ids['snap']}"]
    assert later.new[0].estimated_monthly_savings == Decimal("1.50")  # 30 GiB x 0.05
    assert later.new[0].evidence["source_volume_exists"] is False
    again = await recs(db)
    assert {k: again[k].id for k in found} == {k: r.id for k, r in found.items()}
    assert again[f"stop_idle_instance:{ids['idle']}"].status is RecommendationStatus.DISMISSED
    assert {r.status for k, r in again.items() if k in found} == {
        RecommendationStatus.OPEN,
        RecommendationStatus.DISMISSED,
    }
