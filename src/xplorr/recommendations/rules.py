"""The recommendation rules: small pure functions over domain objects, each finding what one
kind of waste looks like in an account's inventory (``Facts``) and pricing it from the facts'
price book (``prices.PriceBook``: the Pricing API's prices where they were read, else the
shipped table; each finding's evidence names the source and date of its prices). No database,
no cloud call: the engine (``service.refresh_account``) reads the inventory, the cost store and
the stored prices through their modules and hands the facts over.

Thresholds (issue 17): idle = average CPU under 5 % over the last 14 days; rightsizing = CPU
p95 under 40 %, one size down. The inventory keeps CloudWatch's daily average and daily maximum
per day (``connectors.aws.inventory``), not the hourly samples: a p95 over the window is at most
the highest daily maximum, so "the highest daily maximum stays under 40 %" is what the rule
checks (a stricter test than p95 < 40 %: it never recommends a downsize the p95 would not). A
CPU rule needs at least ``MIN_CPU_DAYS`` days of data.
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Final

from xplorr.core import money
from xplorr.inventory.types import ResourceType
from xplorr.recommendations import prices

IDLE_CPU_PERCENT: Final = Decimal(5)
RIGHTSIZE_CPU_PERCENT: Final = Decimal(40)
CPU_WINDOW_DAYS: Final = 14
MIN_CPU_DAYS: Final = 7
SNAPSHOT_MIN_AGE_DAYS: Final = 90
REQUEST_WINDOW_DAYS: Final = 14

# The inventory's types (one set for every cloud: inventory.types); the AWS rules read AWS rows.
INSTANCE: Final = ResourceType.VIRTUAL_MACHINE.value
VOLUME: Final = ResourceType.DISK.value
SNAPSHOT: Final = ResourceType.DISK_SNAPSHOT.value
EIP: Final = ResourceType.PUBLIC_IP.value
LOAD_BALANCER: Final = ResourceType.LOAD_BALANCER.value


@dataclass(frozen=True, slots=True)
class Resource:
    """One inventory resource as the rules see it."""

    resource_id: str
    resource_type: str
    provider: str = "aws"
    region: str | None = None
    name: str | None = None
    status: str | None = None
    attributes: Mapping[str, Any] = field(default_factory=dict)
    tags: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Facts:
    resources: Sequence[Resource]
    now: datetime
    book: prices.PriceBook = prices.SHIPPED_BOOK

    def of_type(self, resource_type: str) -> list[Resource]:
        return [r for r in self.resources if r.resource_type == resource_type]


@dataclass(frozen=True, slots=True)
class HowTo:
    console_steps: tuple[str, ...]
    cli: str | None = None
    terraform: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "console_steps": list(self.console_steps),
            "cli": self.cli,
            "terraform": self.terraform,
        }


@dataclass(frozen=True, slots=True)
class Finding:
    """What a rule found. ``subject`` identifies it within its type and account (a resource
    id; for cost rules a service and currency): the fingerprint is ``type:subject``."""

    type: str
    category: str
    subject: str
    title: str
    description: str
    savings: Decimal  # per month, rounded to the currency's minor unit
    currency: str
    evidence: dict[str, Any]
    risk: str
    how_to_apply: HowTo
    provider: str = "aws"
    resource_id: str | None = None
    resource_name: str | None = None
    region: str | None = None

    @property
    def fingerprint(self) -> str:
        return f"{self.type}:{self.subject}"


Rule = Callable[[Facts], list[Finding]]


def _usd(amount: Decimal) -> Decimal:
    return money.round_money(amount, prices.CURRENCY)


def _text(amount: Decimal) -> str:
    return money.plain(amount)


def _label(r: Resource) -> str:
    return r.name if r.name and r.name != r.resource_id else r.resource_id


def _price_basis(r: Resource, book: prices.PriceBook, *quotes: prices.Quote) -> dict[str, Any]:
    """Where the prices of ``quotes`` come from, and the resource's region."""
    return {
        **book.basis(*quotes),
        "resource_region": r.region,
        "hours_per_month": int(prices.HOURS_PER_MONTH),
    }


@dataclass(frozen=True, slots=True)
class Cpu:
    days: int
    average: Decimal
    maximum: Decimal
    first_day: str
    last_day: str


def cpu_of(r: Resource) -> Cpu | None:
    """The instance's daily CPU series (``cpu_daily``: date, average, maximum), or None with
    fewer than ``MIN_CPU_DAYS`` days."""
    daily = [
        d
        for d in r.attributes.get("cpu_daily") or []
        if isinstance(d, Mapping) and "average" in d and "maximum" in d
    ]
    daily = sorted(daily, key=lambda d: str(d.get("date")))[-CPU_WINDOW_DAYS:]
    if len(daily) < MIN_CPU_DAYS:
        return None
    averages = [Decimal(str(d["average"])) for d in daily]
    return Cpu(
        days=len(daily),
        average=(sum(averages, Decimal(0)) / len(averages)).quantize(Decimal("0.01")),
        maximum=max(Decimal(str(d["maximum"])) for d in daily),
        first_day=str(daily[0].get("date")),
        last_day=str(daily[-1].get("date")),
    )


def _cpu_evidence(cpu: Cpu) -> dict[str, Any]:
    return {
        "metric": "CloudWatch AWS/EC2 CPUUtilization, daily average and maximum",
        "window": f"{cpu.first_day}..{cpu.last_day}",
        "days_with_data": cpu.days,
        "cpu_average_percent": _text(cpu.average),
        "cpu_max_daily_maximum_percent": _text(cpu.maximum),
    }


def _running(r: Resource) -> bool:
    return (r.status or "").lower() == "running"


# --- EC2 ------------------------------------------------------------------------------------


def idle_instances(facts: Facts) -> list[Finding]:
    """Running instances whose average CPU over the last 14 days is under 5 %: stop them."""
    out = []
    for r in facts.of_type(INSTANCE):
        itype = r.attributes.get("instance_type")
        quote = facts.book.quote("ec2", itype, r.region)
        cpu = cpu_of(r)
        if not _running(r) or cpu is None or quote is None or cpu.average >= IDLE_CPU_PERCENT:
            continue
        hourly = quote.price
        savings = _usd(prices.monthly(hourly))
        out.append(
            Finding(
                type="stop_idle_instance",
                category="idle",
                subject=r.resource_id,
                title=f"Stop idle EC2 instance {_label(r)}",
                description=(
                    f"{_label(r)} ({itype}) averaged {_text(cpu.average)} % CPU over "
                    f"{cpu.days} days (threshold {IDLE_CPU_PERCENT} %). Stopping it saves its "
                    f"compute hours; its EBS volumes keep costing until they are deleted."
                ),
                savings=savings,
                currency=prices.CURRENCY,
                evidence={
                    **_cpu_evidence(cpu),
                    "threshold_percent": _text(IDLE_CPU_PERCENT),
                    "instance_type": itype,
                    "hourly_price": _text(hourly),
                    **_price_basis(r, facts.book, quote),
                },
                risk="medium",
                how_to_apply=HowTo(
                    (
                        "Open the EC2 console, Instances, and select the instance.",
                        "Check with its owner (tags) that nothing depends on it.",
                        "Instance state -> Stop instance (or Terminate if it is not needed).",
                    ),
                    cli=(
                        f"aws ec2 stop-instances --region {r.region} --instance-ids {r.resource_id}"
                    ),
                    terraform=(
                        'resource "aws_ec2_instance_state" "this" {\n'
                        f'  instance_id = "{r.resource_id}"\n  state       = "stopped"\n}}'
                    ),
                ),
                resource_id=r.resource_id,
                resource_name=r.name,
                region=r.region,
            )
        )
    return out


def rightsize_instances(facts: Facts) -> list[Finding]:
    """Running, not idle instances whose CPU never exceeded 40 % on any day: one size down."""
    out = []
    for r in facts.of_type(INSTANCE):
        itype = str(r.attributes.get("instance_type") or "")
        smaller = facts.book.one_size_down(itype, r.region)
        pair = facts.book.pair("ec2", itype, smaller, r.region) if smaller else None
        cpu = cpu_of(r)
        if (
            not _running(r)
            or cpu is None
            or pair is None
            or smaller is None
            or cpu.average < IDLE_CPU_PERCENT  # idle: stopping it is the recommendation
            or cpu.maximum >= RIGHTSIZE_CPU_PERCENT
        ):
            continue
        hourly, target = pair[0].price, pair[1].price
        savings = _usd(prices.monthly(hourly - target))
        out.append(
            Finding(
                type="rightsize_instance",
                category="rightsizing",
                subject=r.resource_id,
                title=f"Downsize {_label(r)} from {itype} to {smaller}",
                description=(
                    f"{_label(r)}'s CPU stayed under {RIGHTSIZE_CPU_PERCENT} % every day for "
                    f"{cpu.days} days (highest daily maximum {_text(cpu.maximum)} %, so its "
                    f"p95 is lower still). {smaller} has half the vCPUs and memory; check "
                    "memory use before resizing."
                ),
                savings=savings,
                currency=prices.CURRENCY,
                evidence={
                    **_cpu_evidence(cpu),
                    "threshold_percent": _text(RIGHTSIZE_CPU_PERCENT),
                    "p95_bound": "highest daily maximum (p95 <= maximum)",
                    "instance_type": itype,
                    "hourly_price": _text(hourly),
                    "recommended_type": smaller,
                    "recommended_hourly_price": _text(target),
                    **_price_basis(r, facts.book, *pair),
                },
                risk="medium",
                how_to_apply=HowTo(
                    (
                        "Open the EC2 console, Instances, and stop the instance "
                        "(in a maintenance window).",
                        f"Actions -> Instance settings -> Change instance type -> {smaller}.",
                        "Start the instance and watch its CPU and memory for a week.",
                    ),
                    cli=(
                        f"aws ec2 stop-instances --region {r.region} --instance-ids "
                        f"{r.resource_id}\naws ec2 modify-instance-attribute --region {r.region} "
                        f'--instance-id {r.resource_id} --instance-type "{{\\"Value\\": '
                        f'\\"{smaller}\\"}}"\naws ec2 start-instances --region {r.region} '
                        f"--instance-ids {r.resource_id}"
                    ),
                    terraform=(
                        f"# in the aws_instance resource of {r.resource_id}:\n"
                        f'instance_type = "{smaller}"'
                    ),
                ),
                resource_id=r.resource_id,
                resource_name=r.name,
                region=r.region,
            )
        )
    return out


def previous_generation(facts: Facts) -> list[Finding]:
    """Running instances of a previous-generation family: the current family of the same size
    costs less for at least the same performance."""
    out = []
    for r in facts.of_type(INSTANCE):
        itype = str(r.attributes.get("instance_type") or "")
        newer = facts.book.successor(itype, r.region)
        pair = facts.book.pair("ec2", itype, newer, r.region) if newer else None
        if not _running(r) or pair is None or newer is None:
            continue
        hourly, target = pair[0].price, pair[1].price
        if target >= hourly:
            continue
        out.append(
            Finding(
                type="upgrade_previous_generation",
                category="modernization",
                subject=r.resource_id,
                title=f"Move {_label(r)} from {itype} to {newer}",
                description=(
                    f"{itype} is a previous-generation type; {newer} has the same size, newer "
                    f"processors and costs {_text(hourly - target)} USD an hour less."
                ),
                savings=_usd(prices.monthly(hourly - target)),
                currency=prices.CURRENCY,
                evidence={
                    "instance_type": itype,
                    "hourly_price": _text(hourly),
                    "recommended_type": newer,
                    "recommended_hourly_price": _text(target),
                    **_price_basis(r, facts.book, *pair),
                },
                risk="medium",
                how_to_apply=HowTo(
                    (
                        "Check that the AMI supports the newer type (ENA and NVMe drivers).",
                        "Stop the instance, Actions -> Instance settings -> Change instance "
                        f"type -> {newer}, start it.",
                    ),
                    cli=(
                        f"aws ec2 modify-instance-attribute --region {r.region} --instance-id "
                        f'{r.resource_id} --instance-type "{{\\"Value\\": \\"{newer}\\"}}"'
                    ),
                    terraform=f'instance_type = "{newer}"',
                ),
                resource_id=r.resource_id,
                resource_name=r.name,
                region=r.region,
            )
        )
    return out


@dataclass(frozen=True, slots=True)
class _Priced:
    size: Decimal  # GiB
    vtype: str
    quote: prices.Quote

    @property
    def price(self) -> Decimal:
        return self.quote.price


def _volume_month(v: Resource, book: prices.PriceBook) -> _Priced | None:
    """A volume's size, type and price per GiB-month, when the book prices its type."""
    size = v.attributes.get("size_gib")
    vtype = str(v.attributes.get("volume_type") or "")
    quote = book.quote("ebs", vtype, v.region)
    if not isinstance(size, int | float) or size <= 0 or quote is None:
        return None
    return _Priced(Decimal(int(size)), vtype, quote)


def stopped_instance_volumes(facts: Facts) -> list[Finding]:
    """Stopped instances: no compute is billed, but their EBS volumes are."""
    volumes = {v.resource_id: v for v in facts.of_type(VOLUME)}
    out = []
    for r in facts.of_type(INSTANCE):
        if (r.status or "").lower() != "stopped":
            continue
        parts: list[tuple[str, _Priced]] = []
        for vid in r.attributes.get("volume_ids") or []:
            v = volumes.get(str(vid))
            priced = _volume_month(v, facts.book) if v is not None else None
            if v is not None and priced is not None:
                parts.append((v.resource_id, priced))
        if not parts:
            continue
        total = sum((p.size * p.price for _, p in parts), Decimal(0))
        ids = " ".join(vid for vid, _ in parts)
        out.append(
            Finding(
                type="stopped_instance_volumes",
                category="unused",
                subject=r.resource_id,
                title=f"Stopped instance {_label(r)} still pays for {len(parts)} EBS volume(s)",
                description=(
                    f"{_label(r)} is stopped; its volumes ({ids}) still cost "
                    f"{_text(_usd(total))} USD a month. Terminate it (snapshot first), or "
                    "snapshot and delete the volumes if it is kept for later."
                ),
                savings=_usd(total),
                currency=prices.CURRENCY,
                evidence={
                    "instance_status": r.status,
                    "volumes": [
                        {
                            "volume_id": vid,
                            "size_gib": int(p.size),
                            "volume_type": p.vtype,
                            "price_per_gib_month": _text(p.price),
                            "monthly_cost": _text(_usd(p.size * p.price)),
                            **p.quote.evidence(),
                        }
                        for vid, p in parts
                    ],
                    **_price_basis(r, facts.book, *(p.quote for _, p in parts[:1])),
                },
                risk="medium",
                how_to_apply=HowTo(
                    (
                        "Confirm with the owner that the instance is no longer needed.",
                        "EC2 console -> Volumes: Create snapshot of each volume.",
                        "Instances -> Instance state -> Terminate instance.",
                    ),
                    cli="\n".join(
                        [
                            *(
                                f"aws ec2 create-snapshot --region {r.region} --volume-id {vid}"
                                for vid, *_ in parts
                            ),
                            f"aws ec2 terminate-instances --region {r.region} --instance-ids "
                            f"{r.resource_id}",
                        ]
                    ),
                ),
                resource_id=r.resource_id,
                resource_name=r.name,
                region=r.region,
            )
        )
    return out


# --- EBS ------------------------------------------------------------------------------------


def unattached_volumes(facts: Facts) -> list[Finding]:
    """EBS volumes attached to no instance: their whole price is waste."""
    out = []
    for v in facts.of_type(VOLUME):
        priced = _volume_month(v, facts.book)
        if v.attributes.get("attached") is not False or priced is None:
            continue
        size, price, vtype = priced.size, priced.price, priced.vtype
        monthly = size * price
        out.append(
            Finding(
                type="delete_unattached_ebs_volume",
                category="unused",
                subject=v.resource_id,
                title=f"Delete unattached EBS volume {_label(v)}",
                description=(
                    f"{_label(v)} ({int(size)} GiB {vtype}) is attached to no instance and costs "
                    f"{_text(_usd(monthly))} USD a month. Snapshot it first if its data may be "
                    "needed (a full snapshot costs at most "
                    f"{_text(_usd(size * prices.SNAPSHOT_GB_MONTH))} USD a month)."
                ),
                savings=_usd(monthly),
                currency=prices.CURRENCY,
                evidence={
                    "state": v.status,
                    "size_gib": int(size),
                    "volume_type": vtype,
                    "price_per_gib_month": _text(price),
                    "created_at": v.attributes.get("created_at"),
                    **_price_basis(v, facts.book, priced.quote),
                },
                risk="medium",
                how_to_apply=HowTo(
                    (
                        "EC2 console -> Elastic Block Store -> Volumes, select the volume.",
                        "Actions -> Create snapshot (keep its data).",
                        "Actions -> Delete volume.",
                    ),
                    cli=(
                        f"aws ec2 create-snapshot --region {v.region} --volume-id {v.resource_id}\n"
                        f"aws ec2 delete-volume --region {v.region} --volume-id {v.resource_id}"
                    ),
                    terraform=f"# remove the aws_ebs_volume resource of {v.resource_id} and apply",
                ),
                resource_id=v.resource_id,
                resource_name=v.name,
                region=v.region,
            )
        )
    return out


def gp2_to_gp3(facts: Facts) -> list[Finding]:
    """gp2 volumes: gp3 is 20 % cheaper per GiB with a better baseline (3,000 IOPS)."""
    out = []
    for v in facts.of_type(VOLUME):
        priced = _volume_month(v, facts.book)
        pair = facts.book.pair("ebs", "gp2", "gp3", v.region)
        if priced is None or priced.vtype != "gp2" or pair is None:
            continue
        if pair[1].price >= pair[0].price:
            continue
        size, gp2, gp3 = priced.size, pair[0].price, pair[1].price
        out.append(
            Finding(
                type="migrate_gp2_to_gp3",
                category="modernization",
                subject=v.resource_id,
                title=f"Change {_label(v)} from gp2 to gp3",
                description=(
                    f"{_label(v)} is a {int(size)} GiB gp2 volume; gp3 costs "
                    f"{_text(gp3)} instead of {_text(gp2)} USD per GiB-month, and the change is "
                    "online (no detach, no downtime)."
                ),
                savings=_usd(size * (gp2 - gp3)),
                currency=prices.CURRENCY,
                evidence={
                    "size_gib": int(size),
                    "volume_type": "gp2",
                    "price_per_gib_month": _text(gp2),
                    "recommended_type": "gp3",
                    "recommended_price_per_gib_month": _text(gp3),
                    **_price_basis(v, facts.book, *pair),
                },
                risk="low",
                how_to_apply=HowTo(
                    (
                        "EC2 console -> Volumes, select the volume.",
                        "Actions -> Modify volume -> Volume type gp3 -> Modify.",
                    ),
                    cli=(
                        f"aws ec2 modify-volume --region {v.region} --volume-id {v.resource_id} "
                        "--volume-type gp3"
                    ),
                    terraform='type = "gp3"  # in the aws_ebs_volume resource',
                ),
                resource_id=v.resource_id,
                resource_name=v.name,
                region=v.region,
            )
        )
    return out


def _backs_image(s: Resource) -> bool:
    """A snapshot made for an AMI (AWS: "Created by CreateImage(i-...) for ami-..."): deleting
    it would break the image, so it is the AMI that would have to go first."""
    description = str(s.attributes.get("description") or "")
    return "ami-" in description or "CreateImage" in description


def orphan_snapshots(facts: Facts) -> list[Finding]:
    """Snapshots older than 90 days whose source volume no longer exists (those backing an
    AMI left out)."""
    live_volumes = {v.resource_id for v in facts.of_type(VOLUME)}
    cutoff = facts.now - timedelta(days=SNAPSHOT_MIN_AGE_DAYS)
    out = []
    for s in facts.of_type(SNAPSHOT):
        started_text = s.attributes.get("started_at")
        size = s.attributes.get("size_gib")
        volume = s.attributes.get("volume_id")
        if not isinstance(started_text, str) or not isinstance(size, int | float) or size <= 0:
            continue
        started = datetime.fromisoformat(started_text)
        if started > cutoff or (volume and volume in live_volumes) or _backs_image(s):
            continue
        age = (facts.now - started).days
        monthly = Decimal(int(size)) * prices.SNAPSHOT_GB_MONTH
        out.append(
            Finding(
                type="delete_orphan_snapshot",
                category="unused",
                subject=s.resource_id,
                title=f"Delete snapshot {_label(s)} of a deleted volume",
                description=(
                    f"{_label(s)} is {age} days old and its volume ({volume or 'unknown'}) no "
                    "longer exists. Check that no AMI or backup plan uses it, then delete it. "
                    "Snapshots are billed for the blocks they store: the saving is at most the "
                    "full-size figure shown."
                ),
                savings=_usd(monthly),
                currency=prices.CURRENCY,
                evidence={
                    "started_at": started_text,
                    "age_days": age,
                    "min_age_days": SNAPSHOT_MIN_AGE_DAYS,
                    "source_volume_id": volume,
                    "source_volume_exists": False,
                    "size_gib": int(size),
                    "price_per_gib_month": _text(prices.SNAPSHOT_GB_MONTH),
                    **_price_basis(s, facts.book, prices.table_quote(prices.SNAPSHOT_GB_MONTH)),
                },
                risk="medium",
                how_to_apply=HowTo(
                    (
                        "EC2 console -> Elastic Block Store -> Snapshots, select the snapshot.",
                        "Check AMIs (Images -> AMIs) do not reference it.",
                        "Actions -> Delete snapshot.",
                    ),
                    cli=(
                        f"aws ec2 delete-snapshot --region {s.region} --snapshot-id {s.resource_id}"
                    ),
                ),
                resource_id=s.resource_id,
                resource_name=s.name,
                region=s.region,
            )
        )
    return out


# --- network --------------------------------------------------------------------------------


def unassociated_eips(facts: Facts) -> list[Finding]:
    """Elastic IPs associated with nothing: AWS bills every public IPv4 address hourly."""
    out = []
    for a in facts.of_type(EIP):
        if (a.status or "").lower() != "unassociated":
            continue
        ip = a.attributes.get("public_ip") or a.resource_id
        out.append(
            Finding(
                type="release_unassociated_eip",
                category="unused",
                subject=a.resource_id,
                title=f"Release unassociated Elastic IP {ip}",
                description=(
                    f"{ip} is associated with no instance or network interface and is billed "
                    f"{_text(prices.EIP_IDLE_HOURLY)} USD an hour."
                ),
                savings=_usd(prices.monthly(prices.EIP_IDLE_HOURLY)),
                currency=prices.CURRENCY,
                evidence={
                    "public_ip": ip,
                    "association": None,
                    "hourly_price": _text(prices.EIP_IDLE_HOURLY),
                    **_price_basis(a, facts.book, prices.table_quote(prices.EIP_IDLE_HOURLY)),
                },
                risk="low",
                how_to_apply=HowTo(
                    (
                        "VPC console -> Elastic IPs, select the address.",
                        "Actions -> Release Elastic IP addresses.",
                    ),
                    cli=(
                        f"aws ec2 release-address --region {a.region} "
                        f"--allocation-id {a.resource_id}"
                    ),
                ),
                resource_id=a.resource_id,
                resource_name=a.name,
                region=a.region,
            )
        )
    return out


def _when(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _no_requests(lb: Resource) -> bool:
    """The inventory counted no request over its whole window (``requests_14d`` 0), and the
    load balancer existed for all of it: one created within the window may just be new."""
    requests = lb.attributes.get("requests_14d")
    if isinstance(requests, bool) or not isinstance(requests, int) or requests != 0:
        return False
    created = _when(lb.attributes.get("created_at"))
    since = _when(lb.attributes.get("requests_window_start"))
    return created is not None and since is not None and created <= since


def _lb_cli(lb: Resource, lb_type: str) -> str:
    if lb_type == "classic":
        return (
            f"aws elb delete-load-balancer --region {lb.region} "
            f"--load-balancer-name {lb.name or lb.resource_id.rsplit('/', 1)[-1]}"
        )
    return (
        f"aws elbv2 delete-load-balancer --region {lb.region} --load-balancer-arn {lb.resource_id}"
    )


def idle_load_balancers(facts: Facts) -> list[Finding]:
    """Load balancers with no healthy target, or no request over the last 14 days (Application
    and Classic ones, whose requests the inventory counts from CloudWatch) even with healthy
    targets: they bill their hourly charge for nothing."""
    out = []
    for lb in facts.of_type(LOAD_BALANCER):
        healthy = lb.attributes.get("healthy_targets")
        requests = lb.attributes.get("requests_14d")
        lb_type = str(lb.attributes.get("lb_type") or "application")
        hourly = prices.LB_HOURLY.get(lb_type)
        no_targets = isinstance(healthy, int) and healthy == 0
        no_requests = _no_requests(lb)
        if hourly is None or not (no_targets or no_requests):
            continue
        window = (
            lb.attributes.get("requests_window_start"),
            lb.attributes.get("requests_window_end"),
        )
        reasons = []
        if no_targets:
            reasons.append("has no healthy target")
        if no_requests:
            reasons.append(
                f"served no request in {REQUEST_WINDOW_DAYS} days"
                + (f" ({healthy} healthy target(s) waiting)" if healthy else "")
            )
        name = lb.name or lb.resource_id
        out.append(
            Finding(
                type="delete_idle_load_balancer",
                category="idle",
                subject=lb.resource_id,
                title=f"Delete idle load balancer {name}",
                description=(
                    f"{name} ({lb_type}) {' and '.join(reasons)}; it is billed {_text(hourly)} "
                    "USD an hour before any capacity units."
                ),
                savings=_usd(prices.monthly(hourly)),
                currency=prices.CURRENCY,
                evidence={
                    "lb_type": lb_type,
                    "targets": lb.attributes.get("targets"),
                    "healthy_targets": healthy,
                    "requests_14d": requests,
                    "requests_metric": lb.attributes.get("requests_metric"),
                    "requests_window": f"{window[0]}..{window[1]}" if all(window) else None,
                    "created_at": lb.attributes.get("created_at"),
                    "no_healthy_target": no_targets,
                    "no_requests": no_requests,
                    "hourly_price": _text(hourly),
                    **_price_basis(lb, facts.book, prices.table_quote(hourly)),
                },
                risk="low",
                how_to_apply=HowTo(
                    (
                        "EC2 console -> Load Balancers, select it; check its listeners and DNS "
                        "name are not used.",
                        "Actions -> Delete load balancer.",
                    ),
                    cli=_lb_cli(lb, lb_type),
                ),
                resource_id=lb.resource_id,
                resource_name=lb.name,
                region=lb.region,
            )
        )
    return out


AWS_RULES: Final[tuple[Rule, ...]] = (
    idle_instances,
    rightsize_instances,
    previous_generation,
    stopped_instance_volumes,
    unattached_volumes,
    gp2_to_gp3,
    orphan_snapshots,
    unassociated_eips,
    idle_load_balancers,
)


def run_aws_rules(facts: Facts) -> list[Finding]:
    aws = Facts([r for r in facts.resources if r.provider == "aws"], facts.now, facts.book)
    return [f for rule in AWS_RULES for f in rule(aws)]
