"""The console's "Test connection" for AWS: which permission groups the credentials have.

``sts:GetCallerIdentity`` first (after assuming the role, for an IAM-role account): if it
fails, nothing else is tried. Then one cheap call per permission group of the least-privilege
policy (product notes section 8), each once (no retries: a denied call answers at once), and
the export bucket's listing when one is configured. Each answers ``ok``, ``denied`` (with AWS's
error code) or ``error`` (anything else: AWS's code, or the SDK's error name). Nothing is
saved; no secret is in the answer.

The Cost Explorer check is one ``GetCostAndUsage`` of one day and one metric: it costs the
customer $0.01, like every Cost Explorer call. Credits (``billing:GetCredits``) and Invoices
(``invoicing:ListInvoiceSummaries``) are answered by the payer account only: a member
account's keys get ``denied`` or an error there, which is what the group means.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

from xplorr.connectors import Check, ProbeResult
from xplorr.connectors.aws.session import (
    AwsCallError,
    AwsSession,
    AwsUnavailable,
    BaseKeys,
    call,
    open_session,
)
from xplorr.core import clock
from xplorr.core.settings import Settings

PROBE_ATTEMPTS = 1


def _probes(
    session: AwsSession, credentials: Mapping[str, Any], account_id: str
) -> list[tuple[str, str, Any]]:
    """(group, operation, zero-argument call) per permission group of the account reached."""

    def client(service: str, region: str | None = None) -> Any:
        return session.client(service, region, attempts=PROBE_ATTEMPTS)

    today = clock.now().date()
    yesterday = today - timedelta(days=1)
    ce, ec2, cloudwatch = client("ce"), client("ec2"), client("cloudwatch")
    pricing, cloudtrail = client("pricing"), client("cloudtrail")
    # The Billing and Invoicing APIs answer in us-east-1 only.
    billing, invoicing = client("billing", "us-east-1"), client("invoicing", "us-east-1")
    month_start = clock.now().replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    probes: list[tuple[str, str, Any]] = [
        (
            "CostAndCommitments",
            "ce:GetCostAndUsage",
            lambda: ce.get_cost_and_usage(
                TimePeriod={"Start": yesterday.isoformat(), "End": today.isoformat()},
                Granularity="DAILY",
                Metrics=["UnblendedCost"],
            ),
        ),
        ("Commitments", "ec2:DescribeReservedInstances", ec2.describe_reserved_instances),
        (
            "Credits",
            "billing:GetCredits",
            lambda: billing.get_credits(accountId=account_id, startDate=month_start),
        ),
        ("Inventory", "ec2:DescribeRegions", ec2.describe_regions),
        (
            "IdleDetection",
            "cloudwatch:GetMetricStatistics",
            lambda: cloudwatch.get_metric_statistics(
                Namespace="AWS/EC2",
                MetricName="CPUUtilization",
                StartTime=clock.now() - timedelta(hours=1),
                EndTime=clock.now(),
                Period=3600,
                Statistics=["Average"],
            ),
        ),
        (
            "Pricing",
            "pricing:GetProducts",
            lambda: pricing.get_products(ServiceCode="AmazonEC2", MaxResults=1),
        ),
        (
            "Invoices",
            "invoicing:ListInvoiceSummaries",
            lambda: invoicing.list_invoice_summaries(
                Selector={"ResourceType": "ACCOUNT_ID", "Value": account_id}, MaxResults=1
            ),
        ),
        ("AuditLog", "cloudtrail:LookupEvents", lambda: cloudtrail.lookup_events(MaxResults=1)),
    ]
    bucket = credentials.get("exportBucket")
    if bucket:
        s3 = client("s3", credentials.get("exportRegion") or None)
        prefix = str(credentials.get("exportPrefix") or "")
        probes.append(
            (
                "Export",
                "s3:ListBucket",
                lambda: s3.list_objects_v2(Bucket=str(bucket), Prefix=prefix, MaxKeys=1),
            )
        )
    return probes


def _check(group: str, operation: str, func: Callable[[], Any]) -> Check:
    try:
        call(operation, func)
    except (AwsCallError, AwsUnavailable) as exc:
        failure = exc.failure
        status = "denied" if failure.denied else "error"
        return Check(group, operation, status, failure.code, failure.message)
    return Check(group, operation, "ok")


def probe(
    settings: Settings,
    account_id: str,
    credentials: Mapping[str, Any],
    *,
    base: BaseKeys | None = None,
) -> ProbeResult:
    """Test the credentials (blocking: run in a thread)."""
    try:
        session = open_session(settings, account_id, credentials, base=base, purpose="test")
        identity = session.identity()
    except (AwsCallError, AwsUnavailable) as exc:
        return ProbeResult(ok=False, error=str(exc), error_code=exc.failure.code)
    result = ProbeResult(
        ok=True,
        account_id=identity["account"],
        arn=identity["arn"],
        account_matches=identity["account"] == account_id,
    )
    for group, operation, func in _probes(session, credentials, identity["account"]):
        result.checks.append(_check(group, operation, func))
    return result
