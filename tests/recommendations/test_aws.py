"""The recommendations an AWS account gets, against moto's server, through the real chain:
the inventory refresh a cost import queues (run by a real worker) reads EC2, EBS, Elastic IPs,
ELBv2 and Classic load balancers and the CloudWatch datapoints put here (CPU, and request
counts), then announces ``inventory.refreshed``, which queues the recommendation refresh. Each
rule finds exactly the resources it should, priced to the cent; a later refresh keeps ids and
statuses and finds the snapshot that has grown old and the load balancer that served no
request."""

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
from xplorr.core.tenancy import org_scope
from xplorr.costs.events import CostDataChanged
from xplorr.inventory import service as inventory
from xplorr.inventory.jobs import REFRESH_JOB
from xplorr.inventory.models import InventoryResource
from xplorr.orgs.models import Org
from xplorr.recommendations import rules, service
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
    # Two load balancers with a healthy target: one serves requests, the other none.
    for name in ("served", "quiet"):
        ids[name] = elb.create_load_balancer(Name=name, Subnets=subnets)["LoadBalancers"][0][
            "LoadBalancerArn"
        ]
        group = elb.create_target_group(Name=name, Protocol="HTTP", Port=80, VpcId=vpc)[
            "TargetGroups"
        ][0]["TargetGroupArn"]
        elb.register_targets(TargetGroupArn=group, Targets=[{"Id": ids["busy"]}])
        elb.create_listener(
            LoadBalancerArn=ids[name],
            Protocol="HTTP",
            Port=80,
            DefaultActions=[{"Type": "forward", "TargetGroupArn": group}],
        )
    # A Classic Load Balancer whose instances are gone, still getting a few requests.
    aws.client("elb", "us-east-1").create_load_balancer(
        LoadBalancerName="legacy",
        Listeners=[{"Protocol": "HTTP", "LoadBalancerPort": 80, "InstancePort": 80}],
        AvailabilityZones=["us-east-1a"],
    )
    ids["classic"] = f"arn:aws:elasticloadbalancing:us-east-1:{ACCOUNT}:loadbalancer/legacy"
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
    requests = [  # (namespace, dimension, datapoints on 3 days)
        ("AWS/ApplicationELB", "LoadBalancer", ids["served"].split(":loadbalancer/")[1], 100.0),
        ("AWS/ELB", "LoadBalancerName", "legacy", 20.0),
        ("AWS/ApplicationELB", "LoadBalancer", "app/other/0123456789abcdef", 5.0),  # not ours
    ]
    for namespace, dimension, value, count in requests:
        cw.put_metric_data(
            Namespace=namespace,
            MetricData=[
                {
                    "MetricName": "RequestCount",
                    "Dimensions": [{"Name": dimension, "Value": value}],
                    "Timestamp": noon - timedelta(days=d),
                    "Value": count,
                    "Unit": "Count",
                }
                for d in (1, 2, 3)
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
        f"delete_idle_load_balancer:{ids['classic']}": Decimal("18.25"),  # 0.025 x 730
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
    assert (idle.evidence["price_source"], idle.evidence["price_date"]) == (
        "shipped table",
        "2024-11-01",
    )
    # The requests CloudWatch counted (no datapoint: none); "quiet" has a healthy target and
    # no request, but was created within the window: not flagged (yet).
    lbs = {
        r.name: r.attributes
        for r in await inventory.account_resources(db, org_scope(org.id), account.id)
        if r.resource_type == rules.LOAD_BALANCER
    }
    assert {
        n: (a["lb_type"], a["healthy_targets"], a.get("requests_14d")) for n, a in lbs.items()
    } == {
        "empty": ("application", 0, 0),
        "served": ("application", 1, 300),
        "quiet": ("application", 1, 0),
        "legacy": ("classic", 0, 60),
    }
    assert (lbs["legacy"]["requests_metric"], lbs["quiet"]["requests_metric"]) == (
        "AWS/ELB RequestCount",
        "AWS/ApplicationELB RequestCount",
    )
    legacy = found[f"delete_idle_load_balancer:{ids['classic']}"]
    assert legacy.evidence["requests_14d"] == 60
    assert "--load-balancer-name legacy" in legacy.how_to_apply["cli"]

    # A refresh 100 days later: the snapshot of the deleted volume is now old enough; ids and
    # statuses are kept. (Closing what AWS no longer lists is tested in test_engine.) moto
    # dates every load balancer now: "quiet" is given the creation date of one made a month
    # before the window CloudWatch was read over, and is found idle despite its target.
    found[f"stop_idle_instance:{ids['idle']}"].status = RecommendationStatus.DISMISSED
    quiet_row = await db.scalar(
        select(InventoryResource).where(InventoryResource.resource_id == ids["quiet"])
    )
    assert quiet_row is not None
    start = datetime.fromisoformat(quiet_row.attributes["requests_window_start"])
    quiet_row.attributes = {
        **quiet_row.attributes,
        "created_at": (start - timedelta(days=30)).isoformat(),
    }
    await db.commit()
    later = await service.refresh_account(db, account, now=clock.now() + timedelta(days=100))
    assert sorted(r.fingerprint for r in later.new) == sorted(
        [
            f"delete_orphan_snapshot:{ids['snap']}",
            f"delete_idle_load_balancer:{ids['quiet']}",
        ]
    )
    new = {r.type: r for r in later.new}
    assert new["delete_orphan_snapshot"].estimated_monthly_savings == Decimal("1.50")
    assert new["delete_orphan_snapshot"].evidence["source_volume_exists"] is False
    quiet = new["delete_idle_load_balancer"]
    assert quiet.estimated_monthly_savings == Decimal("16.43")
    assert {k: quiet.evidence[k] for k in ("healthy_targets", "requests_14d", "no_requests")} == {
        "healthy_targets": 1,
        "requests_14d": 0,
        "no_requests": True,
    }
    again = await recs(db)
    assert {k: again[k].id for k in found} == {k: r.id for k, r in found.items()}
    assert again[f"stop_idle_instance:{ids['idle']}"].status is RecommendationStatus.DISMISSED
    assert {r.status for k, r in again.items() if k in found} == {
        RecommendationStatus.OPEN,
        RecommendationStatus.DISMISSED,
    }
