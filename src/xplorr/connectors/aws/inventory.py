"""The AWS resource inventory of one account: what its APIs list, region by region.

For every region read (``XPLORR_AWS_INVENTORY_REGIONS``, else every region enabled for the
account: ``ec2:DescribeRegions``): EC2 instances, EBS volumes (attached or not), snapshots the
account owns, Elastic IPs, VPCs, subnets, security groups, NAT gateways, internet gateways, ELBv2
load balancers with their target groups' health and Classic Load Balancers with their
instances' health, RDS instances and Lambda functions; S3 buckets once (each in its own region).
Every list call goes through its paginator. Running instances get CloudWatch
``CPUUtilization`` over the last 14 days (daily average and maximum), which the idle and
rightsizing recommendations read; Application and Classic Load Balancers get their
``RequestCount`` over the same days (``AWS/ApplicationELB`` by ``LoadBalancer``, ``AWS/ELB`` by
``LoadBalancerName``, daily sums), which the idle load balancer recommendation reads. ELB
publishes a datapoint only for a period that had requests, so no datapoint is zero requests;
``requests_window_start`` says from when the count runs, for the rule to tell a quiet load
balancer from one created within the window.

A call AWS refuses (a permission the role lacks, a region not opted in) costs only what it
would have listed: the scan says which (region, resource type) it read completely
(``Scan.scopes``) and carries a readable warning for the rest, so the inventory keeps the
rows it could not re-check instead of marking them deleted. Blocking: run it in a thread
(``session.run``).

Resource ids are those the bill uses where AWS has one (CUR ``line_item_resource_id``): bare
ids for EC2 resources (``i-...``, ``vol-...``, ``nat-...``), the bucket name for S3, ARNs for
load balancers, RDS and Lambda; ``attributes["arn"]`` holds the ARN where it differs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, Final

from botocore.exceptions import BotoCoreError, ClientError

from xplorr.connectors.aws.session import AwsCallError, AwsSession, call, classify

CPU_DAYS: Final = 14
REQUEST_DAYS: Final = 14
TAG_BATCH: Final = 20  # elbv2:DescribeTags takes at most 20 ARNs
CLASSIC_TAG_BATCH: Final = 20  # elb:DescribeTags takes at most 20 names
ANY_REGION: Final = "*"  # a scope of every region (inventory.service.ANY_REGION)

# AWS's own type names (CloudFormation's); ``inventory.types`` maps them onto the inventory's.
INSTANCE = "AWS::EC2::Instance"
VOLUME = "AWS::EC2::Volume"
SNAPSHOT = "AWS::EC2::Snapshot"
EIP = "AWS::EC2::EIP"
VPC = "AWS::EC2::VPC"
SUBNET = "AWS::EC2::Subnet"
SECURITY_GROUP = "AWS::EC2::SecurityGroup"
NAT = "AWS::EC2::NatGateway"
IGW = "AWS::EC2::InternetGateway"
LOAD_BALANCER = "AWS::ElasticLoadBalancingV2::LoadBalancer"
CLASSIC_LOAD_BALANCER = "AWS::ElasticLoadBalancing::LoadBalancer"
RDS = "AWS::RDS::DBInstance"
LAMBDA = "AWS::Lambda::Function"
BUCKET = "AWS::S3::Bucket"
REGIONAL_TYPES: Final = (
    INSTANCE,
    VOLUME,
    SNAPSHOT,
    EIP,
    VPC,
    SUBNET,
    SECURITY_GROUP,
    NAT,
    IGW,
    LOAD_BALANCER,
    CLASSIC_LOAD_BALANCER,
    RDS,
    LAMBDA,
)


@dataclass(frozen=True, slots=True)
class FoundResource:
    region: str | None
    service: str
    resource_type: str
    resource_id: str
    name: str | None
    status: str | None
    tags: dict[str, str]
    attributes: dict[str, Any]
    provider: str = "aws"


@dataclass
class Scan:
    resources: list[FoundResource] = field(default_factory=list)
    scopes: set[tuple[str | None, str]] = field(default_factory=set)  # read completely
    regions: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _tags(items: Iterable[Mapping[str, Any]] | None) -> dict[str, str]:
    return {str(t["Key"]): str(t.get("Value", "")) for t in items or () if "Key" in t}


def _iso(value: Any) -> str | None:
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
    return None


def _title(state: str | None) -> str | None:
    return state.replace("-", " ").capitalize() if state else None


def _pages(client: Any, operation: str, key: str, **kwargs: Any) -> Iterator[dict[str, Any]]:
    for page in client.get_paginator(operation).paginate(**kwargs):
        yield from page.get(key, [])


def region_list(session: AwsSession) -> list[str]:
    """The configured regions, else the regions enabled for the account."""
    if session.settings.aws_inventory_regions:
        return list(session.settings.aws_inventory_regions)
    ec2 = session.client("ec2")
    answer = call("ec2:DescribeRegions", ec2.describe_regions)
    return sorted(r["RegionName"] for r in answer.get("Regions", []) if "RegionName" in r)


class _Reader:
    def __init__(self, session: AwsSession, scan: Scan, account_id: str) -> None:
        self.session = session
        self.scan = scan
        self.account = account_id

    def guarded(
        self, region: str | None, types: tuple[str, ...], operation: str, read: Callable[[], None]
    ) -> None:
        """Run ``read``; on a refusal keep a warning and leave ``types`` out of the scopes."""
        try:
            read()
        except (ClientError, BotoCoreError) as exc:
            failure = classify(exc, operation)
            if not isinstance(failure, AwsCallError):
                raise failure from exc
            where = f" in {region}" if region else ""
            self.scan.warnings.append(f"{failure.failure.message}{where}")
            return
        self.scan.scopes.update((region, t) for t in types)

    def add(self, r: FoundResource) -> None:
        self.scan.resources.append(r)

    # --- EC2 family ---------------------------------------------------------------------

    def instances(self, region: str) -> None:
        ec2 = self.session.client("ec2", region)
        cw = self.session.client("cloudwatch", region)
        running: list[FoundResource] = []
        for reservation in _pages(ec2, "describe_instances", "Reservations"):
            for i in reservation.get("Instances", []):
                tags = _tags(i.get("Tags"))
                iid = i["InstanceId"]
                r = FoundResource(
                    region,
                    "Amazon EC2",
                    INSTANCE,
                    iid,
                    tags.get("Name") or iid,
                    _title(i.get("State", {}).get("Name")),
                    tags,
                    {
                        "arn": f"arn:aws:ec2:{region}:{self.account}:instance/{iid}",
                        "instance_type": i.get("InstanceType"),
                        "launch_time": _iso(i.get("LaunchTime")),
                        "availability_zone": i.get("Placement", {}).get("AvailabilityZone"),
                        "vpc_id": i.get("VpcId"),
                        "subnet_id": i.get("SubnetId"),
                        "private_ip": i.get("PrivateIpAddress"),
                        "public_ip": i.get("PublicIpAddress"),
                        "platform": i.get("PlatformDetails") or i.get("Platform"),
                        "volume_ids": [
                            m["Ebs"]["VolumeId"]
                            for m in i.get("BlockDeviceMappings", [])
                            if "Ebs" in m and "VolumeId" in m["Ebs"]
                        ],
                    },
                )
                self.add(r)
                if r.status == "Running":
                    running.append(r)
        for r in running:
            self.guarded(region, (), "cloudwatch:GetMetricStatistics", partial(self._cpu, cw, r))

    def _cpu(self, cw: Any, r: FoundResource) -> None:
        end = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        answer = cw.get_metric_statistics(
            Namespace="AWS/EC2",
            MetricName="CPUUtilization",
            Dimensions=[{"Name": "InstanceId", "Value": r.resource_id}],
            StartTime=end - timedelta(days=CPU_DAYS),
            EndTime=end,
            Period=86400,
            Statistics=["Average", "Maximum"],
        )
        points = sorted(answer.get("Datapoints", []), key=lambda p: p["Timestamp"])
        daily = [
            {
                "date": p["Timestamp"].date().isoformat(),
                "average": round(float(p["Average"]), 2),
                "maximum": round(float(p["Maximum"]), 2),
            }
            for p in points
            if "Average" in p and "Maximum" in p
        ]
        r.attributes["cpu_daily"] = daily
        if daily:
            r.attributes["cpu_average_14d"] = round(
                sum(d["average"] for d in daily) / len(daily), 2
            )
            r.attributes["cpu_maximum_14d"] = max(d["maximum"] for d in daily)

    def volumes(self, region: str) -> None:
        ec2 = self.session.client("ec2", region)
        for v in _pages(ec2, "describe_volumes", "Volumes"):
            tags = _tags(v.get("Tags"))
            attached = [a["InstanceId"] for a in v.get("Attachments", []) if "InstanceId" in a]
            self.add(
                FoundResource(
                    region,
                    "Amazon EBS",
                    VOLUME,
                    v["VolumeId"],
                    tags.get("Name") or v["VolumeId"],
                    "In use" if v.get("State") == "in-use" else _title(v.get("State")),
                    tags,
                    {
                        "arn": f"arn:aws:ec2:{region}:{self.account}:volume/{v['VolumeId']}",
                        "size_gib": v.get("Size"),
                        "volume_type": v.get("VolumeType"),
                        "iops": v.get("Iops"),
                        "encrypted": v.get("Encrypted"),
                        "availability_zone": v.get("AvailabilityZone"),
                        "attached": bool(attached),
                        "instance_ids": attached,
                        "created_at": _iso(v.get("CreateTime")),
                    },
                )
            )

    def snapshots(self, region: str) -> None:
        ec2 = self.session.client("ec2", region)
        for s in _pages(ec2, "describe_snapshots", "Snapshots", OwnerIds=["self"]):
            tags = _tags(s.get("Tags"))
            self.add(
                FoundResource(
                    region,
                    "Amazon EBS",
                    SNAPSHOT,
                    s["SnapshotId"],
                    tags.get("Name") or s["SnapshotId"],
                    _title(s.get("State")),
                    tags,
                    {
                        "arn": f"arn:aws:ec2:{region}::snapshot/{s['SnapshotId']}",
                        "volume_id": s.get("VolumeId"),
                        "size_gib": s.get("VolumeSize"),
                        "started_at": _iso(s.get("StartTime")),
                        "description": s.get("Description") or None,
                    },
                )
            )

    def addresses(self, region: str) -> None:
        ec2 = self.session.client("ec2", region)
        for a in call("ec2:DescribeAddresses", ec2.describe_addresses).get("Addresses", []):
            ident = a.get("AllocationId") or a.get("PublicIp", "")
            tags = _tags(a.get("Tags"))
            associated = bool(a.get("AssociationId") or a.get("InstanceId"))
            self.add(
                FoundResource(
                    region,
                    "Amazon VPC",
                    EIP,
                    ident,
                    tags.get("Name") or a.get("PublicIp"),
                    "Associated" if associated else "Unassociated",
                    tags,
                    {
                        "public_ip": a.get("PublicIp"),
                        "instance_id": a.get("InstanceId"),
                        "network_interface_id": a.get("NetworkInterfaceId"),
                        "association_id": a.get("AssociationId"),
                    },
                )
            )

    def network(self, region: str) -> None:
        ec2 = self.session.client("ec2", region)
        for v in _pages(ec2, "describe_vpcs", "Vpcs"):
            tags = _tags(v.get("Tags"))
            self.add(
                FoundResource(
                    region,
                    "Amazon VPC",
                    VPC,
                    v["VpcId"],
                    tags.get("Name") or v["VpcId"],
                    _title(v.get("State")),
                    tags,
                    {
                        "cidr": v.get("CidrBlock"),
                        "is_default": v.get("IsDefault"),
                        "vpc_id": v["VpcId"],
                    },
                )
            )
        for s in _pages(ec2, "describe_subnets", "Subnets"):
            tags = _tags(s.get("Tags"))
            self.add(
                FoundResource(
                    region,
                    "Amazon VPC",
                    SUBNET,
                    s["SubnetId"],
                    tags.get("Name") or s["SubnetId"],
                    _title(s.get("State")),
                    tags,
                    {
                        "vpc_id": s.get("VpcId"),
                        "cidr": s.get("CidrBlock"),
                        "availability_zone": s.get("AvailabilityZone"),
                    },
                )
            )
        for g in _pages(ec2, "describe_security_groups", "SecurityGroups"):
            tags = _tags(g.get("Tags"))
            self.add(
                FoundResource(
                    region,
                    "Amazon VPC",
                    SECURITY_GROUP,
                    g["GroupId"],
                    tags.get("Name") or g.get("GroupName"),
                    None,
                    tags,
                    {"vpc_id": g.get("VpcId"), "group_name": g.get("GroupName")},
                )
            )
        for ig in _pages(ec2, "describe_internet_gateways", "InternetGateways"):
            tags = _tags(ig.get("Tags"))
            vpcs = [a["VpcId"] for a in ig.get("Attachments", []) if "VpcId" in a]
            self.add(
                FoundResource(
                    region,
                    "Amazon VPC",
                    IGW,
                    ig["InternetGatewayId"],
                    tags.get("Name") or ig["InternetGatewayId"],
                    "Attached" if vpcs else "Detached",
                    tags,
                    {"vpc_id": vpcs[0] if vpcs else None, "vpc_ids": vpcs},
                )
            )

    def nat_gateways(self, region: str) -> None:
        ec2 = self.session.client("ec2", region)
        for n in _pages(ec2, "describe_nat_gateways", "NatGateways"):
            tags = _tags(n.get("Tags"))
            nid = n["NatGatewayId"]
            self.add(
                FoundResource(
                    region,
                    "Amazon VPC",
                    NAT,
                    nid,
                    tags.get("Name") or nid,
                    _title(n.get("State")),
                    tags,
                    {
                        "arn": f"arn:aws:ec2:{region}:{self.account}:natgateway/{nid}",
                        "vpc_id": n.get("VpcId"),
                        "subnet_id": n.get("SubnetId"),
                        "connectivity": n.get("ConnectivityType"),
                        "public_ips": [
                            a["PublicIp"]
                            for a in n.get("NatGatewayAddresses", [])
                            if "PublicIp" in a
                        ],
                        "created_at": _iso(n.get("CreateTime")),
                    },
                )
            )

    def load_balancers(self, region: str) -> None:
        """ELBv2 (application, network, gateway) then Classic Load Balancers: one step, so a
        refused Classic listing leaves every load balancer of the region as it was."""
        elb = self.session.client("elbv2", region)
        cw = self.session.client("cloudwatch", region)
        found = list(_pages(elb, "describe_load_balancers", "LoadBalancers"))
        tags: dict[str, dict[str, str]] = {}
        arns = [lb["LoadBalancerArn"] for lb in found]
        for i in range(0, len(arns), TAG_BATCH):
            answer = elb.describe_tags(ResourceArns=arns[i : i + TAG_BATCH])
            for d in answer.get("TagDescriptions", []):
                tags[d["ResourceArn"]] = _tags(d.get("Tags"))
        for lb in found:
            arn = lb["LoadBalancerArn"]
            groups = []
            for tg in _pages(elb, "describe_target_groups", "TargetGroups", LoadBalancerArn=arn):
                health = elb.describe_target_health(TargetGroupArn=tg["TargetGroupArn"])
                states = [
                    d.get("TargetHealth", {}).get("State", "unknown")
                    for d in health.get("TargetHealthDescriptions", [])
                ]
                groups.append(
                    {
                        "name": tg.get("TargetGroupName"),
                        "targets": len(states),
                        "healthy": sum(1 for s in states if s == "healthy"),
                    }
                )
            r = FoundResource(
                region,
                "Elastic Load Balancing",
                LOAD_BALANCER,
                arn,
                lb.get("LoadBalancerName"),
                _title(lb.get("State", {}).get("Code")),
                tags.get(arn, {}),
                {
                    "lb_type": lb.get("Type"),
                    "scheme": lb.get("Scheme"),
                    "vpc_id": lb.get("VpcId"),
                    "dns_name": lb.get("DNSName"),
                    "target_groups": groups,
                    "targets": sum(g["targets"] for g in groups),
                    "healthy_targets": sum(g["healthy"] for g in groups),
                    "created_at": _iso(lb.get("CreatedTime")),
                },
            )
            self.add(r)
            if lb.get("Type") == "application":
                # The metric's dimension is the ARN's tail: app/<name>/<id>.
                dimension = {"Name": "LoadBalancer", "Value": arn.split(":loadbalancer/", 1)[-1]}
                read = partial(self._requests, cw, r, "AWS/ApplicationELB", dimension)
                self.guarded(region, (), "cloudwatch:GetMetricStatistics", read)
        self.classic_load_balancers(region, cw)

    def classic_load_balancers(self, region: str, cw: Any) -> None:
        elb = self.session.client("elb", region)
        found = list(_pages(elb, "describe_load_balancers", "LoadBalancerDescriptions"))
        names = [lb["LoadBalancerName"] for lb in found]
        tags: dict[str, dict[str, str]] = {}
        for i in range(0, len(names), CLASSIC_TAG_BATCH):
            answer = elb.describe_tags(LoadBalancerNames=names[i : i + CLASSIC_TAG_BATCH])
            for d in answer.get("TagDescriptions", []):
                tags[d["LoadBalancerName"]] = _tags(d.get("Tags"))
        for lb in found:
            name = lb["LoadBalancerName"]
            states = [
                s.get("State", "Unknown")
                for s in elb.describe_instance_health(LoadBalancerName=name).get(
                    "InstanceStates", []
                )
            ]
            r = FoundResource(
                region,
                "Elastic Load Balancing",
                CLASSIC_LOAD_BALANCER,
                f"arn:aws:elasticloadbalancing:{region}:{self.account}:loadbalancer/{name}",
                name,
                "Active",  # a Classic Load Balancer has no state of its own
                tags.get(name, {}),
                {
                    "lb_type": "classic",
                    "scheme": lb.get("Scheme"),
                    "vpc_id": lb.get("VPCId"),
                    "dns_name": lb.get("DNSName"),
                    "targets": len(states),
                    "healthy_targets": sum(1 for s in states if s == "InService"),
                    "instance_ids": [
                        i["InstanceId"] for i in lb.get("Instances", []) if "InstanceId" in i
                    ],
                    "created_at": _iso(lb.get("CreatedTime")),
                },
            )
            self.add(r)
            dimension = {"Name": "LoadBalancerName", "Value": name}
            read = partial(self._requests, cw, r, "AWS/ELB", dimension)
            self.guarded(region, (), "cloudwatch:GetMetricStatistics", read)

    def _requests(
        self, cw: Any, r: FoundResource, namespace: str, dimension: dict[str, str]
    ) -> None:
        """The load balancer's ``RequestCount`` summed over the last ``REQUEST_DAYS`` whole
        days (no datapoint: no request that day)."""
        end = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        start = end - timedelta(days=REQUEST_DAYS)
        answer = cw.get_metric_statistics(
            Namespace=namespace,
            MetricName="RequestCount",
            Dimensions=[dimension],
            StartTime=start,
            EndTime=end,
            Period=86400,
            Statistics=["Sum"],
        )
        total = sum(float(p["Sum"]) for p in answer.get("Datapoints", []) if "Sum" in p)
        r.attributes["requests_14d"] = round(total)
        r.attributes["requests_metric"] = f"{namespace} RequestCount"
        r.attributes["requests_window_start"] = start.isoformat()
        r.attributes["requests_window_end"] = end.isoformat()

    def databases(self, region: str) -> None:
        rds = self.session.client("rds", region)
        for d in _pages(rds, "describe_db_instances", "DBInstances"):
            self.add(
                FoundResource(
                    region,
                    "Amazon RDS",
                    RDS,
                    d["DBInstanceArn"],
                    d.get("DBInstanceIdentifier"),
                    _title(d.get("DBInstanceStatus")),
                    _tags(d.get("TagList")),
                    {
                        "instance_class": d.get("DBInstanceClass"),
                        "engine": d.get("Engine"),
                        "engine_version": d.get("EngineVersion"),
                        "storage_gib": d.get("AllocatedStorage"),
                        "multi_az": d.get("MultiAZ"),
                        "vpc_id": (d.get("DBSubnetGroup") or {}).get("VpcId"),
                    },
                )
            )

    def functions(self, region: str) -> None:
        lam = self.session.client("lambda", region)
        for f in _pages(lam, "list_functions", "Functions"):
            self.add(
                FoundResource(
                    region,
                    "AWS Lambda",
                    LAMBDA,
                    f["FunctionArn"],
                    f.get("FunctionName"),
                    _title(f.get("State")) or "Active",
                    {},
                    {
                        "runtime": f.get("Runtime"),
                        "memory_mb": f.get("MemorySize"),
                        "last_modified": f.get("LastModified"),
                    },
                )
            )

    def buckets(self) -> None:
        s3 = self.session.client("s3")
        for b in call("s3:ListBuckets", s3.list_buckets).get("Buckets", []):
            name = b["Name"]
            location: str | None = s3.get_bucket_location(Bucket=name).get("LocationConstraint")
            region = location or "us-east-1"  # AWS answers null for us-east-1
            try:
                tags = _tags(s3.get_bucket_tagging(Bucket=name).get("TagSet"))
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "NoSuchTagSet":
                    raise
                tags = {}
            self.add(
                FoundResource(
                    region,
                    "Amazon S3",
                    BUCKET,
                    name,
                    name,
                    "Available",
                    tags,
                    {"arn": f"arn:aws:s3:::{name}", "created_at": _iso(b.get("CreationDate"))},
                )
            )
        self.scan.scopes.add((ANY_REGION, BUCKET))  # the listing is global


def scan_account(session: AwsSession) -> Scan:
    """Read the account's inventory (blocking). Refused calls become warnings (module doc);
    a region list that cannot be read at all fails the scan."""
    scan = Scan()
    scan.regions = region_list(session)
    reader = _Reader(session, scan, session.target.account_id)
    for region in scan.regions:
        steps: tuple[tuple[tuple[str, ...], str, Callable[[str], None]], ...] = (
            ((INSTANCE,), "ec2:DescribeInstances", reader.instances),
            ((VOLUME,), "ec2:DescribeVolumes", reader.volumes),
            ((SNAPSHOT,), "ec2:DescribeSnapshots", reader.snapshots),
            ((EIP,), "ec2:DescribeAddresses", reader.addresses),
            ((VPC, SUBNET, SECURITY_GROUP, IGW), "ec2:DescribeVpcs", reader.network),
            ((NAT,), "ec2:DescribeNatGateways", reader.nat_gateways),
            (
                (LOAD_BALANCER, CLASSIC_LOAD_BALANCER),
                "elasticloadbalancing:DescribeLoadBalancers",
                reader.load_balancers,
            ),
            ((RDS,), "rds:DescribeDBInstances", reader.databases),
            ((LAMBDA,), "lambda:ListFunctions", reader.functions),
        )
        for types, operation, read in steps:
            reader.guarded(region, types, operation, partial(read, region))
    # Buckets: one global listing; when it is refused, no bucket is re-checked.
    reader.guarded(None, (), "s3:ListBuckets", reader.buckets)
    scan.warnings = list(dict.fromkeys(scan.warnings))
    return scan
