"""One name per service: the same service is spelled differently across FOCUS versions and
exports of one provider (AWS's CUR-based FOCUS 1.0 writes the product code ``AmazonEC2``, FOCUS
1.1+ and the Data Exports write ``Amazon Elastic Compute Cloud``). The rollups, every grouping
and every filter use the name on the right; the raw rows (``cost_records.service_name``) keep
what the export said. A filter on either spelling matches both.

The table is data, reviewed like code: add a row when an export shows a new spelling
(``tests/costs/test_services.py`` checks it is consistent).
"""

from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any, Final

from sqlalchemy import ColumnElement, String, case, literal_column

# Exported spelling -> the name Xplorr shows (the FOCUS 1.1+ ServiceName of the provider).
SERVICE_NAMES: Final[Mapping[str, str]] = {
    # AWS product codes (CUR, FOCUS 1.0 exports) -> FOCUS ServiceName
    "AmazonEC2": "Amazon Elastic Compute Cloud",
    "AmazonS3": "Amazon Simple Storage Service",
    "AmazonRDS": "Amazon Relational Database Service",
    "AmazonDynamoDB": "Amazon DynamoDB",
    "AmazonVPC": "Amazon Virtual Private Cloud",
    "AmazonCloudWatch": "Amazon CloudWatch",
    "AWSLambda": "AWS Lambda",
    "AWSGlue": "AWS Glue",
    "AmazonECS": "Amazon Elastic Container Service",
    "AmazonEKS": "Amazon Elastic Kubernetes Service",
    "Amazon Elastic Container Service for Kubernetes": "Amazon Elastic Kubernetes Service",
    "AmazonECR": "Amazon EC2 Container Registry (ECR)",
    "AmazonEFS": "Amazon Elastic File System",
    "AWSELB": "Elastic Load Balancing",
    "AmazonRoute53": "Amazon Route 53",
    "AmazonSNS": "Amazon Simple Notification Service",
    "AWSQueueService": "Amazon Simple Queue Service",
    "AmazonSQS": "Amazon Simple Queue Service",
    "AmazonCloudFront": "Amazon CloudFront",
    "AmazonApiGateway": "Amazon API Gateway",
    "awskms": "AWS Key Management Service",
    "AWSCloudTrail": "AWS CloudTrail",
    "AWSSecurityHub": "AWS Security Hub",
    "AmazonStates": "AWS Step Functions",
    "AWSSystemsManager": "AWS Systems Manager",
    "awswaf": "AWS WAF",
    "AmazonRedshift": "Amazon Redshift",
    "AmazonElastiCache": "Amazon ElastiCache",
    "AmazonKinesis": "Amazon Kinesis",
    "AmazonSageMaker": "Amazon SageMaker",
    "AmazonBedrock": "Amazon Bedrock",
    "AWSDataTransfer": "AWS Data Transfer",
    "AWSBackup": "AWS Backup",
    "AWSConfig": "AWS Config",
    "AWSSecretsManager": "AWS Secrets Manager",
    "AmazonGuardDuty": "Amazon GuardDuty",
    "AmazonAthena": "Amazon Athena",
    "AmazonMSK": "Amazon Managed Streaming for Apache Kafka",
    "AmazonES": "Amazon OpenSearch Service",
    "AmazonCognito": "Amazon Cognito",
    "AmazonLightsail": "Amazon Lightsail",
    # Azure: older meter categories -> current service names
    "Azure DB for MySQL": "Azure Database for MySQL",
    "Azure DB for PostgreSQL": "Azure Database for PostgreSQL",
}


def canonical(name: str) -> str:
    """The name shown for an exported service name."""
    return SERVICE_NAMES.get(name, name)


def _spellings() -> dict[str, frozenset[str]]:
    groups: dict[str, set[str]] = defaultdict(set)
    for raw, target in SERVICE_NAMES.items():
        groups[target] |= {raw, target}
    return {target: frozenset(names) for target, names in groups.items()}


_SPELLINGS: Final = _spellings()


def spellings(names: Iterable[str]) -> frozenset[str]:
    """``names`` and every spelling that means the same service (what a filter must match on
    the raw rows, where both spellings live)."""
    out: set[str] = set()
    for name in names:
        out |= _SPELLINGS.get(canonical(name), {name})
        out.add(name)
    return frozenset(out)


def _quoted(text: str) -> Any:
    return literal_column("'" + text.replace("'", "''") + "'", String)


def canonical_sql(column: Any) -> ColumnElement[str]:
    """``column`` (a service name) mapped to its shown name in SQL: a CASE over the table,
    written with inline literals (no bound parameters), so the same expression can be selected
    and grouped by on PostgreSQL."""
    groups: dict[str, list[str]] = defaultdict(list)
    for raw, target in sorted(SERVICE_NAMES.items()):
        groups[target].append(raw)
    return case(
        *(
            (column.in_([_quoted(r) for r in raws]), _quoted(target))
            for target, raws in sorted(groups.items())
        ),
        else_=column,
    )
