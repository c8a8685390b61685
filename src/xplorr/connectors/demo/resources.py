"""What a demo AWS account's inventory has beyond its bill: deterministic instance facts
(type, CloudWatch-shaped daily CPU over 14 days: some idle, some oversized, most busy) and a
few resources a FinOps engineer would clean up (unattached volumes, old snapshots of deleted
volumes, an unassociated Elastic IP, a load balancer without healthy targets and one whose
healthy targets served no request in 14 days, a stopped instance keeping its volumes), so the
demo's recommendations have real evidence to show.

Pure data, no I/O: ``inventory.bill`` merges it into the bill-derived snapshot of a demo
account. The same ids and figures come back every run (seeded by the resource id and the
account), with dates relative to the account's last day of data.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Final

from xplorr.connectors.demo.generator import DEFAULT_ACCOUNTS

CPU_DAYS: Final = 14
# The generator's AWS accounts (``generator.DEFAULT_ACCOUNTS``): only these get the additions.
AWS_ACCOUNTS: Final = frozenset(a.sub_account_id for a in DEFAULT_ACCOUNTS if a.provider == "aws")
INSTANCE_TYPES: Final = (
    "m5.xlarge",
    "m5.2xlarge",
    "c5.xlarge",
    "r5.large",
    "t3.large",
    "m4.xlarge",
    "m5.large",
    "c4.2xlarge",
)


def _unit(*parts: str) -> float:
    """A stable number in [0, 1) from ``parts``."""
    digest = hashlib.sha256("|".join(parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def _hex(n: int, *parts: str) -> str:
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:n]


def cpu_daily(resource_id: str, through: date, average: float, peak: float) -> list[dict[str, Any]]:
    """Daily average and maximum of the 14 days through ``through``, as the AWS collector
    stores CloudWatch's ``CPUUtilization``."""
    out = []
    for i in range(CPU_DAYS):
        day = through - timedelta(days=CPU_DAYS - 1 - i)
        wobble = _unit(resource_id, day.isoformat()) - 0.5
        avg = max(0.1, average * (1 + 0.3 * wobble))
        out.append(
            {
                "date": day.isoformat(),
                "average": round(avg, 2),
                "maximum": round(max(avg, peak * (1 + 0.1 * wobble)), 2),
            }
        )
    return out


def instance_facts(resource_id: str, through: date) -> tuple[str, dict[str, Any]]:
    """(status, attributes) of a demo EC2 instance: 20 % idle (1-4 % CPU), 20 % oversized
    (10-25 % average, peaks under 40 %), the rest busy."""
    kind = _unit(resource_id, "kind")
    itype = INSTANCE_TYPES[int(_unit(resource_id, "type") * len(INSTANCE_TYPES))]
    if kind < 0.2:
        average, peak = 1 + 3 * _unit(resource_id, "avg"), 6.0
    elif kind < 0.4:
        average, peak = 10 + 15 * _unit(resource_id, "avg"), 30.0
    else:
        average, peak = 45 + 25 * _unit(resource_id, "avg"), 92.0
    daily = cpu_daily(resource_id, through, average, peak)
    return "Running", {
        "instance_type": itype,
        "cpu_daily": daily,
        "cpu_average_14d": round(sum(d["average"] for d in daily) / len(daily), 2),
        "cpu_maximum_14d": max(d["maximum"] for d in daily),
    }


# AWS's own type names, as the AWS collector reports them (``connectors.aws.inventory``)
INSTANCE: Final = "AWS::EC2::Instance"
VOLUME: Final = "AWS::EC2::Volume"
SNAPSHOT: Final = "AWS::EC2::Snapshot"
EIP: Final = "AWS::EC2::EIP"
LOAD_BALANCER: Final = "AWS::ElasticLoadBalancingV2::LoadBalancer"


@dataclass(frozen=True, slots=True)
class DemoResource:
    service: str
    resource_type: str  # AWS's type (INSTANCE...)
    resource_id: str
    name: str
    status: str
    attributes: dict[str, Any] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)


def extras(account: str, region: str, through: date) -> list[DemoResource]:
    """The clean-up candidates of one demo AWS account (``account``: its AWS account id)."""

    def ident(prefix: str, name: str) -> str:
        return f"{prefix}-0{_hex(16, account, name)}"

    def ago(days: int) -> str:
        return datetime.combine(through - timedelta(days=days), time(3), tzinfo=UTC).isoformat()

    tags = {"env": "staging", "team": "platform"}
    window_end = datetime.combine(through + timedelta(days=1), time(0), tzinfo=UTC)
    quiet_requests = {  # as the AWS collector stores CloudWatch's RequestCount
        "requests_14d": 0,
        "requests_metric": "AWS/ApplicationELB RequestCount",
        "requests_window_start": (window_end - timedelta(days=CPU_DAYS)).isoformat(),
        "requests_window_end": window_end.isoformat(),
        "created_at": ago(200),
    }
    stopped = ident("i", "stopped-batch")
    stopped_vols = [ident("vol", "stopped-root"), ident("vol", "stopped-data")]
    return [
        DemoResource("Amazon EBS", VOLUME, ident("vol", "free-1"), "old-etl-scratch",
                     "Available", {"size_gib": 500, "volume_type": "gp2", "attached": False,
                                   "instance_ids": [], "created_at": ago(210)}, tags),
        DemoResource("Amazon EBS", VOLUME, ident("vol", "free-2"), "restore-test",
                     "Available", {"size_gib": 200, "volume_type": "gp3", "attached": False,
                                   "instance_ids": [], "created_at": ago(95)}, {}),
        DemoResource("Amazon EBS", VOLUME, ident("vol", "free-3"), "db-migration-io1",
                     "Available", {"size_gib": 100, "volume_type": "io1", "attached": False,
                                   "instance_ids": [], "created_at": ago(130)}, tags),
        DemoResource("Amazon EBS", SNAPSHOT, ident("snap", "old-1"), "pre-upgrade-2025",
                     "Completed", {"volume_id": ident("vol", "deleted-1"), "size_gib": 250,
                                   "started_at": ago(400), "description": "before the upgrade"}),
        DemoResource("Amazon EBS", SNAPSHOT, ident("snap", "old-2"), "nightly-legacy",
                     "Completed", {"volume_id": ident("vol", "deleted-2"), "size_gib": 80,
                                   "started_at": ago(150), "description": "nightly backup"}),
        DemoResource("Amazon VPC", EIP, f"eipalloc-0{_hex(16, account, 'eip')}",
                     "203.0.113.24", "Unassociated", {"public_ip": "203.0.113.24"}),
        DemoResource("Elastic Load Balancing", LOAD_BALANCER,
                     f"arn:aws:elasticloadbalancing:{region}:{account}:loadbalancer/app/"
                     f"legacy-api/{_hex(16, account, 'alb')}", "legacy-api", "Active",
                     {"lb_type": "application", "scheme": "internet-facing", "targets": 2,
                      "healthy_targets": 0, "requests_14d": 0, "target_groups": [
                          {"name": "legacy-api", "targets": 2, "healthy": 0}]}, tags),
        DemoResource("Elastic Load Balancing", LOAD_BALANCER,
                     f"arn:aws:elasticloadbalancing:{region}:{account}:loadbalancer/app/"
                     f"reports-internal/{_hex(16, account, 'quiet-alb')}", "reports-internal",
                     "Active", {"lb_type": "application", "scheme": "internal", "targets": 2,
                                "healthy_targets": 2, "target_groups": [
                                    {"name": "reports", "targets": 2, "healthy": 2}],
                                **quiet_requests}, tags),
        DemoResource("Amazon EC2", INSTANCE, stopped, "batch-runner-old", "Stopped",
                     {"instance_type": "m5.xlarge", "volume_ids": stopped_vols}, tags),
        DemoResource("Amazon EBS", VOLUME, stopped_vols[0], "batch-runner-root", "In use",
                     {"size_gib": 50, "volume_type": "gp2", "attached": True,
                      "instance_ids": [stopped]}, tags),
        DemoResource("Amazon EBS", VOLUME, stopped_vols[1], "batch-runner-data", "In use",
                     {"size_gib": 300, "volume_type": "gp3", "attached": True,
                      "instance_ids": [stopped]}, tags),
    ]  # fmt: skip
