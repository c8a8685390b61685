"""The commitments an AWS account owns: EC2 Reserved Instances (``ec2:DescribeReservedInstances``,
per region), Savings Plans (``savingsplans:DescribeSavingsPlans``, one global endpoint), RDS
reserved DB instances (``rds:DescribeReservedDBInstances``) and ElastiCache reserved cache nodes
(``elasticache:DescribeReservedCacheNodes``), per region.

Blocking (boto3): call ``read_commitments`` through ``session.run``. The regions are
``inventory.region_list``'s (``XPLORR_AWS_INVENTORY_REGIONS``, else the account's enabled
regions). Only live commitments are asked for (active, or paid for and about to start): a
retired one has nothing left to expire. A call the credentials may not make is kept as a
warning naming it (the other readers still run); AWS being unavailable raises
``AwsUnavailable`` for the job to retry.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from functools import partial
from typing import Any, Literal

from botocore.exceptions import BotoCoreError, ClientError

from xplorr.connectors.aws.inventory import region_list
from xplorr.connectors.aws.session import AwsCallError, AwsSession, classify

SAVINGS_PLANS_REGION = "us-east-1"  # savingsplans.amazonaws.com: one endpoint for every region
LIVE_RI_STATES = ["active", "payment-pending"]
LIVE_SP_STATES = ["active", "queued", "payment-pending"]
LIVE_RESERVATION_STATES = frozenset({"active", "payment-pending"})
HOURS_PER_MONTH = Decimal(730)  # AWS prices hourly commitments over 730 hours a month

Kind = Literal["reserved_instance", "savings_plan"]


@dataclass(frozen=True, slots=True)
class FoundCommitment:
    """One owned commitment as AWS describes it. ``hourly_cost`` is the recurring price per
    hour of the whole commitment (a Savings Plan's hourly commitment, an RI's recurring
    charges and usage price times its count); ``upfront_cost`` its one-time fee."""

    commitment_id: str
    kind: Kind
    service: str  # ec2 | rds | elasticache | savingsplans
    region: str | None
    description: str
    resource_type: str | None  # instance / node class, or the plan's EC2 instance family
    count: int
    state: str
    start: datetime | None
    end: datetime | None
    payment_option: str | None
    hourly_cost: Decimal | None
    upfront_cost: Decimal | None
    currency: str | None


@dataclass
class CommitmentScan:
    commitments: list[FoundCommitment] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    complete: set[str] = field(default_factory=set)  # "<service>:<region or global>" read fully


def _dec(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def _aware(value: Any) -> datetime | None:
    """botocore parses timestamps to aware datetimes; Savings Plans give ISO strings."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if not isinstance(value, datetime):
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _end(start: datetime | None, seconds: Any) -> datetime | None:
    if start is None or seconds in (None, ""):
        return None
    return start + timedelta(seconds=int(seconds))


def _hourly(item: Any, count: int) -> Decimal | None:
    """Recurring hourly charges plus the usage price, for the whole reservation."""
    total = Decimal(0)
    known = False
    for charge in item.get("RecurringCharges") or []:
        amount = _dec(charge.get("RecurringChargeAmount") or charge.get("Amount"))
        if amount is not None and (
            charge.get("RecurringChargeFrequency") or charge.get("Frequency")
        ) in (None, "Hourly"):
            total += amount
            known = True
    usage = _dec(item.get("UsagePrice"))
    if usage is not None:
        total += usage
        known = True
    return total * count if known else None


def _pages(client: Any, operation: str, key: str, **kwargs: Any) -> Iterator[dict[str, Any]]:
    for page in client.get_paginator(operation).paginate(**kwargs):
        yield from page.get(key, [])


def _savings_plans(client: Any) -> Iterator[dict[str, Any]]:
    """DescribeSavingsPlans has no paginator in botocore: follow ``nextToken`` by hand."""
    token: str | None = None
    while True:
        kwargs: dict[str, Any] = {"states": LIVE_SP_STATES, "maxResults": 1000}
        if token:
            kwargs["nextToken"] = token
        answer = client.describe_savings_plans(**kwargs)
        yield from answer.get("savingsPlans", [])
        token = answer.get("nextToken")
        if not token:
            return


class _Reader:
    def __init__(self, session: AwsSession, scan: CommitmentScan) -> None:
        self.session = session
        self.scan = scan

    def guarded(
        self, scope: str, operation: str, read: Callable[[], list[FoundCommitment]]
    ) -> None:
        """Run ``read``; a refusal becomes a warning and leaves ``scope`` incomplete (its
        stored commitments are kept as they were, not dropped as gone)."""
        try:
            found = read()
        except (ClientError, BotoCoreError) as exc:
            failure = classify(exc, operation)
            if not isinstance(failure, AwsCallError) or failure.failure.bad_credentials:
                raise failure from exc  # retried, or (refused keys) fails the collection
            self.scan.warnings.append(failure.failure.message)
            return
        self.scan.commitments.extend(found)
        self.scan.complete.add(scope)

    def _reservation(
        self, ri: Any, service: str, region: str, fields: tuple[str, str, str], label: str
    ) -> FoundCommitment:
        """One EC2, RDS or ElastiCache reservation: ``fields`` names its id, instance or node
        class and count (each API spells them its own way); the rest is shared."""
        id_field, type_field, count_field = fields
        count = int(ri.get(count_field) or 1)
        start = _aware(ri.get("Start") or ri.get("StartTime"))
        rtype = ri.get(type_field)
        multi = " Multi-AZ" if ri.get("MultiAZ") else ""
        return FoundCommitment(
            commitment_id=ri[id_field],
            kind="reserved_instance",
            service=service,
            region=region,
            description=f"{count} x {rtype} ({ri.get('ProductDescription') or label}{multi})",
            resource_type=rtype,
            count=count,
            state=str(ri.get("State") or "active"),
            start=start,
            end=_aware(ri.get("End")) or _end(start, ri.get("Duration")),
            payment_option=ri.get("OfferingType"),
            hourly_cost=_hourly(ri, count),
            upfront_cost=_dec(ri.get("FixedPrice")),
            # ElastiCache reservations carry no currency: they are priced in US dollars.
            currency=ri.get("CurrencyCode") or "USD",
        )

    def ec2(self, region: str) -> list[FoundCommitment]:
        client = self.session.client("ec2", region)
        answer = client.describe_reserved_instances(
            Filters=[{"Name": "state", "Values": LIVE_RI_STATES}]
        )
        fields = ("ReservedInstancesId", "InstanceType", "InstanceCount")
        return [
            self._reservation(ri, "ec2", region, fields, "EC2")
            for ri in answer.get("ReservedInstances", [])
        ]

    def rds(self, region: str) -> list[FoundCommitment]:
        client = self.session.client("rds", region)
        fields = ("ReservedDBInstanceId", "DBInstanceClass", "DBInstanceCount")
        return [
            self._reservation(ri, "rds", region, fields, "RDS")
            for ri in _pages(client, "describe_reserved_db_instances", "ReservedDBInstances")
            if str(ri.get("State") or "active") in LIVE_RESERVATION_STATES
        ]

    def elasticache(self, region: str) -> list[FoundCommitment]:
        client = self.session.client("elasticache", region)
        fields = ("ReservedCacheNodeId", "CacheNodeType", "CacheNodeCount")
        return [
            self._reservation(ri, "elasticache", region, fields, "cache")
            for ri in _pages(client, "describe_reserved_cache_nodes", "ReservedCacheNodes")
            if str(ri.get("State") or "active") in LIVE_RESERVATION_STATES
        ]

    def savings_plans(self) -> list[FoundCommitment]:
        client = self.session.client("savingsplans", SAVINGS_PLANS_REGION)
        out = []
        for sp in _savings_plans(client):
            plan_type = sp.get("savingsPlanType") or "Compute"
            family = sp.get("ec2InstanceFamily") or None
            hourly = _dec(sp.get("commitment"))
            out.append(
                FoundCommitment(
                    commitment_id=sp.get("savingsPlanArn") or sp["savingsPlanId"],
                    kind="savings_plan",
                    service="savingsplans",
                    region=sp.get("region") or None,
                    description=f"{plan_type} Savings Plan, {hourly} {sp.get('currency') or 'USD'}"
                    f"/hour" + (f" ({family})" if family else ""),
                    resource_type=family,
                    count=1,
                    state=str(sp.get("state") or "active"),
                    start=_aware(sp.get("start")),
                    end=_aware(sp.get("end")),
                    payment_option=sp.get("paymentOption"),
                    hourly_cost=hourly,
                    upfront_cost=_dec(sp.get("upfrontPaymentAmount")),
                    currency=sp.get("currency") or "USD",
                )
            )
        return out


def read_commitments(session: AwsSession) -> CommitmentScan:
    """Every live commitment of the account (blocking; see the module docstring)."""
    scan = CommitmentScan()
    reader = _Reader(session, scan)
    regions: list[str] = []
    try:
        regions = region_list(session)
    except AwsCallError as exc:
        scan.warnings.append(exc.failure.message)
    reader.guarded("savingsplans:global", "savingsplans:DescribeSavingsPlans", reader.savings_plans)
    for region in regions:
        for service, operation, read in (
            ("ec2", "ec2:DescribeReservedInstances", reader.ec2),
            ("rds", "rds:DescribeReservedDBInstances", reader.rds),
            ("elasticache", "elasticache:DescribeReservedCacheNodes", reader.elasticache),
        ):
            reader.guarded(f"{service}:{region}", operation, partial(read, region))
    return scan
