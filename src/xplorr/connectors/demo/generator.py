"""Deterministic, realistic FOCUS 1.2 cost data: the demo connector's source and the benchmark's.

``generate()`` yields Arrow record batches with the columns of a FOCUS export (``SCHEMA``), day by
day over whole billing months, for accounts on AWS, Microsoft Azure and Google Cloud:

- a catalogue of resources per account (stable ids in each provider's own format) spread over
  ~16 real services per provider and their regions, with a long-tail (lognormal) daily cost;
- tags (``env``, ``team``, ``cost-center``, ``application``) on most resources, none or only some
  of them on the rest;
- monthly growth, a weekend dip on the resources that follow office hours, a few spikes on chosen
  days, resources that come and go, and one new service per provider from mid-period on;
- AWS rows carry their usage type in ``SkuMeter`` as AWS's FOCUS 1.2 export does
  (``USE1-BoxUsage:m5.large``, ``EU-NatGateway-Hours``, ``USE1-DataTransfer-Out-Bytes``,
  ``USE1-USW2-AWS-Out-Bytes``, ``USE1-PublicIPv4:InUseAddress``...), so network categories and
  instance families show on the demo;
- commitment-covered usage (``Committed``, BilledCost 0, amortised EffectiveCost) with its
  monthly ``Purchase`` row, spot usage (``Dynamic``), monthly ``Tax`` rows per service and a few
  negative ``Credit`` rows.

Money and quantities are ``decimal128`` (never binary floats an ingest would have to trust),
timestamps ``timestamp[s, UTC]`` as a Parquet export carries them; write the batches to CSV with
``to_csv_batch()`` for the text form of a CSV export (``2026-05-01T00:00:00Z``). The same seed and
arguments give the same bytes. The number of rows grows linearly with ``scale``: ``scale=1`` is
about 3,300 rows per month for a default-sized account.
"""

from __future__ import annotations

import math
import random
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any, Literal

import pyarrow as pa
import pyarrow.compute as pc

ProviderSlug = Literal["aws", "azure", "gcp"]

MONEY = pa.decimal128(18, 6)
QUANTITY = pa.decimal128(38, 6)
TIMESTAMP = pa.timestamp("s", tz="UTC")

SCHEMA = pa.schema(
    [
        ("ProviderName", pa.string()),
        ("BillingAccountId", pa.string()),
        ("BillingAccountName", pa.string()),
        ("SubAccountId", pa.string()),
        ("SubAccountName", pa.string()),
        ("BillingPeriodStart", TIMESTAMP),
        ("BillingPeriodEnd", TIMESTAMP),
        ("ChargePeriodStart", TIMESTAMP),
        ("ChargePeriodEnd", TIMESTAMP),
        ("ChargeCategory", pa.string()),
        ("ChargeClass", pa.string()),
        ("ChargeDescription", pa.string()),
        ("ChargeFrequency", pa.string()),
        ("PricingCategory", pa.string()),
        ("BilledCost", MONEY),
        ("EffectiveCost", MONEY),
        ("ListCost", MONEY),
        ("ContractedCost", MONEY),
        ("BillingCurrency", pa.string()),
        ("ConsumedQuantity", QUANTITY),
        ("ConsumedUnit", pa.string()),
        ("ServiceName", pa.string()),
        ("ServiceCategory", pa.string()),
        ("ServiceSubcategory", pa.string()),
        ("RegionId", pa.string()),
        ("RegionName", pa.string()),
        ("ResourceId", pa.string()),
        ("ResourceName", pa.string()),
        ("ResourceType", pa.string()),
        ("SkuId", pa.string()),
        ("SkuMeter", pa.string()),  # AWS: the usage type, as AWS's FOCUS 1.2 export has it
        ("CommitmentDiscountId", pa.string()),
        ("Tags", pa.string()),
    ]
)
COLUMNS: tuple[str, ...] = tuple(SCHEMA.names)

# Rows of one account per month at scale 1 and weight 1 (about 110 resources x 30 days).
BASE_RESOURCES = 110


@dataclass(frozen=True)
class DemoAccountSpec:
    """One account of the generated data: a billing account and the sub-account (AWS account,
    Azure subscription, GCP project) the resources live in. ``weight`` sizes it (rows and cost)."""

    provider: ProviderSlug
    billing_account_id: str
    billing_account_name: str
    sub_account_id: str
    sub_account_name: str
    weight: float = 1.0


DEFAULT_ACCOUNTS: tuple[DemoAccountSpec, ...] = (
    DemoAccountSpec("aws", "100000000001", "Demo Corp Payer", "200000000011", "prod-platform", 1.0),
    DemoAccountSpec(
        "azure",
        "8a1b2c3d-0000-4a00-9000-000000000001",
        "Demo Corp MCA",
        "11111111-1111-4111-8111-111111111111",
        "prod-apps",
        0.7,
    ),
    DemoAccountSpec(
        "gcp", "01A2B3-C4D5E6-F70819", "Demo Corp Billing", "democorp-data-481627", "data", 0.5
    ),
)

PROVIDER_NAMES: dict[str, str] = {
    "aws": "AWS",
    "azure": "Microsoft Azure",
    "gcp": "Google Cloud",
}


@dataclass(frozen=True)
class _Service:
    name: str
    category: str
    subcategory: str
    resource_type: str
    unit: str
    unit_price: float  # list price per ConsumedUnit
    share: float  # share of the account's resources
    daily_cost: float  # median daily list cost of one resource
    sigma: float  # lognormal spread of the daily cost across resources
    weekend: float  # 0..1: how much of its usage stops on weekends
    id_template: str
    kind: Literal["", "compute", "db"] = ""  # compute: committed or spot; db: committed
    global_: bool = False  # no region
    new: bool = False  # appears mid-period


_AZ = "/subscriptions/{sub}/resourceGroups/{rg}/providers/"

# fmt: off
SERVICES: dict[str, tuple[_Service, ...]] = {
    "aws": (
        _Service("Amazon Elastic Compute Cloud", "Compute", "Virtual Machines", "Instance", "Hrs", 0.192, 0.22, 9.0, 1.1, 0.5, "arn:aws:ec2:{region}:{sub}:instance/i-{hex17}", "compute"),  # noqa: E501
        _Service("Amazon Simple Storage Service", "Storage", "Object Storage", "Bucket", "GB-Mo", 0.023, 0.14, 2.5, 1.8, 0.0, "arn:aws:s3:::{name}-{hex8}"),  # noqa: E501
        _Service("Amazon Relational Database Service", "Databases", "Relational Databases", "DB Instance", "Hrs", 0.34, 0.07, 16.0, 0.9, 0.1, "arn:aws:rds:{region}:{sub}:db:{name}", "db"),  # noqa: E501
        _Service("Amazon DynamoDB", "Databases", "NoSQL Databases", "Table", "WriteCapacityUnit-Hrs", 0.00065, 0.05, 2.0, 1.5, 0.3, "arn:aws:dynamodb:{region}:{sub}:table/{name}"),  # noqa: E501
        _Service("AWS Lambda", "Compute", "Serverless Compute", "Function", "GB-Seconds", 1.66667e-05, 0.1, 0.6, 1.7, 0.6, "arn:aws:lambda:{region}:{sub}:function:{name}"),  # noqa: E501
        _Service("Amazon Elastic Kubernetes Service", "Compute", "Containers", "Cluster", "Hrs", 0.1, 0.02, 2.4, 0.1, 0.0, "arn:aws:eks:{region}:{sub}:cluster/{name}"),  # noqa: E501
        _Service("Amazon Elastic Container Service", "Compute", "Containers", "Service", "vCPU-Hours", 0.04048, 0.04, 5.0, 1.2, 0.4, "arn:aws:ecs:{region}:{sub}:service/{name}"),  # noqa: E501
        _Service("Amazon CloudFront", "Networking", "Content Delivery", "Distribution", "GB", 0.085, 0.03, 6.0, 1.4, 0.3, "arn:aws:cloudfront::{sub}:distribution/E{HEX13}", global_=True),  # noqa: E501
        _Service("Amazon Virtual Private Cloud", "Networking", "Network Connectivity", "NAT Gateway", "Hrs", 0.045, 0.05, 3.0, 0.8, 0.2, "arn:aws:ec2:{region}:{sub}:natgateway/nat-{hex17}"),  # noqa: E501
        _Service("Amazon CloudWatch", "Management and Governance", "Observability", "Log Group", "GB", 0.5, 0.08, 1.0, 1.5, 0.2, "arn:aws:logs:{region}:{sub}:log-group:/aws/{name}"),  # noqa: E501
        _Service("Amazon ElastiCache", "Databases", "Caching", "Cache Cluster", "Hrs", 0.068, 0.03, 5.0, 0.9, 0.0, "arn:aws:elasticache:{region}:{sub}:cluster:{name}", "db"),  # noqa: E501
        _Service("Amazon Simple Queue Service", "Integration", "Messaging", "Queue", "Requests", 4e-07, 0.04, 0.3, 1.5, 0.5, "arn:aws:sqs:{region}:{sub}:{name}"),  # noqa: E501
        _Service("Amazon Redshift", "Analytics", "Data Warehouses", "Cluster", "Hrs", 1.086, 0.01, 40.0, 0.6, 0.1, "arn:aws:redshift:{region}:{sub}:cluster:{name}"),  # noqa: E501
        _Service("AWS Glue", "Analytics", "Data Processing", "Job", "DPU-Hours", 0.44, 0.03, 4.0, 1.3, 0.6, "arn:aws:glue:{region}:{sub}:job/{name}"),  # noqa: E501
        _Service("Amazon Route 53", "Networking", "Network Infrastructure", "Hosted Zone", "Queries", 4e-07, 0.02, 0.5, 0.7, 0.0, "arn:aws:route53:::hostedzone/Z{HEX13}", global_=True),  # noqa: E501
        _Service("AWS Key Management Service", "Security", "Secret Management", "Key", "Keys", 0.0333, 0.04, 0.2, 0.5, 0.0, "arn:aws:kms:{region}:{sub}:key/{uuid}"),  # noqa: E501
        _Service("Amazon Bedrock", "AI and Machine Learning", "Generative AI", "Provisioned Model", "1K tokens", 0.003, 0.03, 20.0, 1.0, 0.4, "arn:aws:bedrock:{region}:{sub}:provisioned-model/{hex12}", new=True),  # noqa: E501
    ),
    "azure": (
        _Service("Virtual Machines", "Compute", "Virtual Machines", "Virtual Machine", "1 Hour", 0.192, 0.22, 8.0, 1.1, 0.5, _AZ + "Microsoft.Compute/virtualMachines/vm-{name}", "compute"),  # noqa: E501
        _Service("Storage", "Storage", "Object Storage", "Storage Account", "1 GB/Month", 0.0184, 0.14, 2.0, 1.8, 0.0, _AZ + "Microsoft.Storage/storageAccounts/st{hex12}"),  # noqa: E501
        _Service("Azure SQL Database", "Databases", "Relational Databases", "SQL Database", "1 vCore Hour", 0.505, 0.06, 14.0, 0.9, 0.1, _AZ + "Microsoft.Sql/servers/sql-{name}/databases/{name}", "db"),  # noqa: E501
        _Service("Azure Cosmos DB", "Databases", "NoSQL Databases", "Cosmos DB Account", "100 RU/s Hours", 0.008, 0.04, 6.0, 1.2, 0.2, _AZ + "Microsoft.DocumentDB/databaseAccounts/cosmos-{name}"),  # noqa: E501
        _Service("Azure Kubernetes Service", "Compute", "Containers", "Managed Cluster", "1 Hour", 0.1, 0.03, 2.4, 0.1, 0.0, _AZ + "Microsoft.ContainerService/managedClusters/aks-{name}"),  # noqa: E501
        _Service("Functions", "Compute", "Serverless Compute", "Function App", "GB Seconds", 1.6e-05, 0.08, 0.5, 1.6, 0.6, _AZ + "Microsoft.Web/sites/func-{name}"),  # noqa: E501
        _Service("Azure App Service", "Web", "Application Platforms", "App Service Plan", "1 Hour", 0.146, 0.06, 3.5, 0.8, 0.0, _AZ + "Microsoft.Web/serverFarms/asp-{name}"),  # noqa: E501
        _Service("Azure Monitor", "Management and Governance", "Observability", "Log Analytics Workspace", "1 GB", 2.76, 0.06, 2.0, 1.4, 0.2, _AZ + "Microsoft.OperationalInsights/workspaces/log-{name}"),  # noqa: E501
        _Service("Virtual Network", "Networking", "Network Connectivity", "Virtual Network", "1 GB", 0.01, 0.05, 0.8, 1.0, 0.2, _AZ + "Microsoft.Network/virtualNetworks/vnet-{name}"),  # noqa: E501
        _Service("Azure Front Door", "Networking", "Content Delivery", "Front Door Profile", "1 GB", 0.083, 0.02, 4.0, 1.2, 0.3, _AZ + "Microsoft.Cdn/profiles/afd-{name}", global_=True),  # noqa: E501
        _Service("Azure Cache for Redis", "Databases", "Caching", "Redis Cache", "1 Hour", 0.055, 0.03, 4.0, 0.8, 0.0, _AZ + "Microsoft.Cache/Redis/redis-{name}", "db"),  # noqa: E501
        _Service("Key Vault", "Security", "Secret Management", "Key Vault", "10K Operations", 0.03, 0.04, 0.2, 0.6, 0.1, _AZ + "Microsoft.KeyVault/vaults/kv-{hex8}"),  # noqa: E501
        _Service("Azure Data Factory", "Analytics", "Data Processing", "Data Factory", "1K Activity Runs", 1.0, 0.03, 3.0, 1.3, 0.6, _AZ + "Microsoft.DataFactory/factories/adf-{name}"),  # noqa: E501
        _Service("Azure Synapse Analytics", "Analytics", "Data Warehouses", "Synapse Workspace", "100 DWU Hours", 1.2, 0.01, 30.0, 0.6, 0.2, _AZ + "Microsoft.Synapse/workspaces/syn-{name}"),  # noqa: E501
        _Service("Service Bus", "Integration", "Messaging", "Service Bus Namespace", "1M Operations", 0.05, 0.04, 0.7, 1.0, 0.3, _AZ + "Microsoft.ServiceBus/namespaces/sb-{name}"),  # noqa: E501
        _Service("Azure OpenAI", "AI and Machine Learning", "Generative AI", "Cognitive Services Account", "1K Tokens", 0.01, 0.03, 18.0, 1.0, 0.4, _AZ + "Microsoft.CognitiveServices/accounts/oai-{name}", new=True),  # noqa: E501
    ),
    "gcp": (
        _Service("Compute Engine", "Compute", "Virtual Machines", "VM Instance", "Hours", 0.19, 0.22, 8.0, 1.1, 0.5, "//compute.googleapis.com/projects/{sub}/zones/{region}-a/instances/{name}", "compute"),  # noqa: E501
        _Service("Cloud Storage", "Storage", "Object Storage", "Bucket", "GiB-Months", 0.02, 0.14, 2.0, 1.8, 0.0, "//storage.googleapis.com/projects/_/buckets/{name}-{hex8}"),  # noqa: E501
        _Service("Cloud SQL", "Databases", "Relational Databases", "Cloud SQL Instance", "Hours", 0.41, 0.06, 12.0, 0.9, 0.1, "//cloudsql.googleapis.com/projects/{sub}/instances/{name}", "db"),  # noqa: E501
        _Service("BigQuery", "Analytics", "Data Warehouses", "Dataset", "TiB", 6.25, 0.06, 10.0, 1.6, 0.6, "//bigquery.googleapis.com/projects/{sub}/datasets/{name_}"),  # noqa: E501
        _Service("Kubernetes Engine", "Compute", "Containers", "Cluster", "Hours", 0.1, 0.03, 2.4, 0.1, 0.0, "//container.googleapis.com/projects/{sub}/locations/{region}/clusters/gke-{name}"),  # noqa: E501
        _Service("Cloud Run", "Compute", "Serverless Compute", "Cloud Run Service", "vCPU-Seconds", 2.4e-05, 0.06, 1.5, 1.5, 0.5, "//run.googleapis.com/projects/{sub}/locations/{region}/services/{name}"),  # noqa: E501
        _Service("Cloud Functions", "Compute", "Serverless Compute", "Cloud Function", "GiB-Seconds", 2.5e-06, 0.05, 0.4, 1.5, 0.6, "//cloudfunctions.googleapis.com/projects/{sub}/locations/{region}/functions/{name}"),  # noqa: E501
        _Service("Cloud Monitoring", "Management and Governance", "Observability", "Metric", "MiB", 0.258, 0.05, 0.8, 1.2, 0.1, "//monitoring.googleapis.com/projects/{sub}/metricDescriptors/custom.googleapis.com/{name}", global_=True),  # noqa: E501
        _Service("Cloud Logging", "Management and Governance", "Observability", "Log Bucket", "GiB", 0.5, 0.05, 1.0, 1.4, 0.2, "//logging.googleapis.com/projects/{sub}/locations/{region}/buckets/{name}"),  # noqa: E501
        _Service("Networking", "Networking", "Network Connectivity", "Cloud NAT Gateway", "GiB", 0.045, 0.05, 2.0, 1.0, 0.2, "//compute.googleapis.com/projects/{sub}/regions/{region}/routers/nat-{name}"),  # noqa: E501
        _Service("Cloud Pub/Sub", "Integration", "Messaging", "Topic", "TiB", 40.0, 0.04, 0.6, 1.2, 0.3, "//pubsub.googleapis.com/projects/{sub}/topics/{name}"),  # noqa: E501
        _Service("Cloud Memorystore for Redis", "Databases", "Caching", "Redis Instance", "GiB-Hours", 0.049, 0.03, 3.5, 0.8, 0.0, "//redis.googleapis.com/projects/{sub}/locations/{region}/instances/{name}", "db"),  # noqa: E501
        _Service("Cloud Spanner", "Databases", "Relational Databases", "Spanner Instance", "Node-Hours", 0.9, 0.01, 22.0, 0.5, 0.0, "//spanner.googleapis.com/projects/{sub}/instances/{name}"),  # noqa: E501
        _Service("Cloud CDN", "Networking", "Content Delivery", "Backend Service", "GiB", 0.08, 0.02, 3.0, 1.2, 0.3, "//compute.googleapis.com/projects/{sub}/global/backendServices/cdn-{name}", global_=True),  # noqa: E501
        _Service("Secret Manager", "Security", "Secret Management", "Secret", "Secret Versions", 0.002, 0.04, 0.1, 0.5, 0.0, "//secretmanager.googleapis.com/projects/{sub}/secrets/{name}", global_=True),  # noqa: E501
        _Service("Vertex AI", "AI and Machine Learning", "Machine Learning", "Endpoint", "Node-Hours", 0.75, 0.03, 18.0, 1.0, 0.4, "//aiplatform.googleapis.com/projects/{sub}/locations/{region}/endpoints/{digits}", new=True),  # noqa: E501
    ),
}
# fmt: on

# (RegionId, RegionName, weight): most of an account's resources sit in its first regions.
REGIONS: dict[str, tuple[tuple[str, str, float], ...]] = {
    "aws": (
        ("us-east-1", "US East (N. Virginia)", 0.45),
        ("us-west-2", "US West (Oregon)", 0.18),
        ("eu-west-1", "Europe (Ireland)", 0.14),
        ("eu-central-1", "Europe (Frankfurt)", 0.08),
        ("us-east-2", "US East (Ohio)", 0.06),
        ("ap-southeast-1", "Asia Pacific (Singapore)", 0.05),
        ("ap-northeast-1", "Asia Pacific (Tokyo)", 0.04),
    ),
    "azure": (
        ("westeurope", "West Europe", 0.40),
        ("eastus", "East US", 0.22),
        ("northeurope", "North Europe", 0.14),
        ("eastus2", "East US 2", 0.09),
        ("uksouth", "UK South", 0.07),
        ("westus2", "West US 2", 0.05),
        ("southeastasia", "Southeast Asia", 0.03),
    ),
    "gcp": (
        ("us-central1", "Iowa", 0.42),
        ("europe-west1", "Belgium", 0.20),
        ("us-east1", "South Carolina", 0.14),
        ("europe-west4", "Netherlands", 0.10),
        ("asia-southeast1", "Singapore", 0.08),
        ("asia-northeast1", "Tokyo", 0.06),
    ),
}

# Per provider: negotiated discount on list (Standard), tax rate, commitment id template,
# commitment discount, and the name of the commitment's purchase row.
_PROVIDER_TERMS: dict[str, tuple[float, float, str, str]] = {
    "aws": (0.06, 0.07, "arn:aws:savingsplans::{sub}:savingsplan/{uuid}", "Savings Plan"),
    "azure": (
        0.03,
        0.10,
        "/providers/Microsoft.Capacity/reservationOrders/{uuid}/reservations/{uuid2}",
        "Reservation",
    ),
    "gcp": (
        0.0,
        0.08,
        "projects/{sub}/regions/us-central1/commitments/cud-compute-{digits}",
        "Committed use discount",
    ),
}
_COMMITTED_DISCOUNT = 0.28  # EffectiveCost of committed usage = 72% of list
_SPOT_PRICE = 0.32  # spot usage at 32% of list

_TEAMS = (
    ("platform", "cc-1042"),
    ("payments", "cc-2087"),
    ("data", "cc-3110"),
    ("search", "cc-4120"),
    ("mobile", "cc-5230"),
    ("ml", "cc-6300"),
)
_APPS = {
    "platform": ("api-gateway", "auth", "web-frontend"),
    "payments": ("checkout", "billing", "ledger"),
    "data": ("etl", "analytics", "warehouse"),
    "search": ("search-index", "recommendations"),
    "mobile": ("mobile-api", "push"),
    "ml": ("training", "inference"),
}
_ENVS = (("prod", 0.55), ("staging", 0.25), ("dev", 0.20))


# AWS usage types (what AWS's bill names each charge by: network categories and instance
# families are read from them), by service and the resource's variant (0..3): a template with
# ``{p}`` the region's usage-type prefix, ``{to}`` another region's, and the ConsumedUnit when
# it is not the service's. No random draw: the rest of the data stays as it was.
_AWS_USAGE_TYPES: dict[str, tuple[tuple[str, str | None], ...]] = {
    "Amazon Elastic Compute Cloud": (
        ("{p}BoxUsage:m5.large", None),
        ("{p}BoxUsage:m5.xlarge", None),
        ("{p}BoxUsage:c6i.large", None),
        ("{p}BoxUsage:r6g.xlarge", None),
    ),
    "Amazon Simple Storage Service": (
        ("{p}TimedStorage-ByteHrs", None),
        ("{p}Requests-Tier1", "Requests"),
        ("{p}DataTransfer-Out-Bytes", "GB"),  # internet egress
        ("{p}{to}-AWS-Out-Bytes", "GB"),  # cross-region replication
    ),
    "Amazon Relational Database Service": (
        ("{p}InstanceUsage:db.r6g.large", None),
        ("{p}InstanceUsage:db.m6g.large", None),
        ("{p}Multi-AZUsage:db.r6g.xlarge", None),
        ("{p}InstanceUsage:db.t4g.medium", None),
    ),
    "Amazon DynamoDB": (
        ("{p}WriteCapacityUnit-Hrs", None),
        ("{p}ReadCapacityUnit-Hrs", "ReadCapacityUnit-Hrs"),
        ("{p}TimedStorage-ByteHrs", "GB-Mo"),
        ("{p}WriteCapacityUnit-Hrs", None),
    ),
    "AWS Lambda": (
        ("{p}Lambda-GB-Second", None),
        ("{p}Request", "Requests"),
        ("{p}Lambda-GB-Second-ARM", None),
        ("{p}Request-ARM", "Requests"),
    ),
    "Amazon Elastic Kubernetes Service": (("{p}AmazonEKS-Hours:perCluster", None),) * 4,
    "Amazon Elastic Container Service": (
        ("{p}Fargate-vCPU-Hours:perCPU", None),
        ("{p}Fargate-GB-Hours", "GB-Hours"),
        ("{p}Fargate-vCPU-Hours:perCPU", None),
        ("{p}Fargate-GB-Hours", "GB-Hours"),
    ),
    "Amazon CloudFront": (  # edge-location groups, not regions
        ("US-DataTransfer-Out-Bytes", None),
        ("EU-DataTransfer-Out-Bytes", None),
        ("US-Requests-Tier1", "Requests"),
        ("EU-Requests-Tier1", "Requests"),
    ),
    "Amazon Virtual Private Cloud": (  # the NAT gateways
        ("{p}NatGateway-Hours", None),
        ("{p}NatGateway-Bytes", "GB"),
        ("{p}NatGateway-Hours", None),
        ("{p}PublicIPv4:InUseAddress", None),  # the gateway's public address
    ),
    "Amazon CloudWatch": (
        ("{p}TimedStorage-ByteHrs", None),
        ("{p}DataProcessing-Bytes", None),
        ("{p}CW:Requests", "Requests"),
        ("{p}CW:MetricMonitorUsage", "Metrics"),
    ),
    "Amazon ElastiCache": (
        ("{p}NodeUsage:cache.m5.large", None),
        ("{p}NodeUsage:cache.r6g.large", None),
        ("{p}NodeUsage:cache.t4g.medium", None),
        ("{p}NodeUsage:cache.m6g.large", None),
    ),
    "Amazon Simple Queue Service": (
        ("{p}Requests-RBP", None),
        ("{p}Requests-FIFO-RBP", None),
        ("{p}Requests-RBP", None),
        ("{p}Requests-FIFO-RBP", None),
    ),
    "Amazon Redshift": (
        ("{p}Node:ra3.xlplus", None),
        ("{p}Node:ra3.4xlarge", None),
        ("{p}Node:dc2.large", None),
        ("{p}Node:ra3.xlplus", None),
    ),
    "AWS Glue": (
        ("{p}ETL-DPU-Hour", None),
        ("{p}Crawler-DPU-Hour", None),
        ("{p}ETL-Flex-DPU-Hour", None),
        ("{p}ETL-DPU-Hour", None),
    ),
    "Amazon Route 53": (
        ("HostedZone", "HostedZone"),
        ("DNS-Queries", None),
        ("DNS-Queries", None),
        ("HostedZone", "HostedZone"),
    ),
    "AWS Key Management Service": (
        ("{p}KMS-Keys", None),
        ("{p}KMS-Requests", "Requests"),
        ("{p}KMS-Keys", None),
        ("{p}KMS-Requests", "Requests"),
    ),
    "Amazon Bedrock": (
        ("{p}Claude3Sonnet-input-tokens", None),
        ("{p}Claude3Sonnet-output-tokens", None),
        ("{p}Claude3Haiku-input-tokens", None),
        ("{p}TitanEmbeddings-input-tokens", None),
    ),
}
# RegionId -> the prefix of its usage types (AWS's billing region codes).
_AWS_USAGE_PREFIXES: dict[str, str] = {
    "us-east-1": "USE1",
    "us-east-2": "USE2",
    "us-west-2": "USW2",
    "eu-west-1": "EU",
    "eu-central-1": "EUC1",
    "ap-southeast-1": "APS1",
    "ap-northeast-1": "APN1",
}


def _usage_type(
    provider: str, svc: _Service, variant: int, region_id: str | None, pricing: str
) -> tuple[str | None, str | None]:
    """(the AWS usage type of a resource's usage, its ConsumedUnit if not the service's);
    (None, None) for other providers."""
    if provider != "aws":
        return None, None
    template, unit = _AWS_USAGE_TYPES[svc.name][variant]
    prefix = _AWS_USAGE_PREFIXES.get(region_id or "", "")
    other = "USW2" if prefix == "USE1" else "USE1"
    usage_type = template.format(p=f"{prefix}-" if prefix else "", to=other)
    if pricing == "Dynamic":
        usage_type = usage_type.replace("BoxUsage:", "SpotUsage:")
    return usage_type, unit


@dataclass
class _Account:
    spec: DemoAccountSpec
    static: pa.Table  # one row per resource: the columns that never change, plus model inputs
    services: tuple[_Service, ...]
    growth: float  # monthly growth rate
    tax_rate: float
    commitment_id: str | None
    spikes: dict[int, list[tuple[int, float]]]  # day index -> [(service index, multiplier)]
    credit_months: set[int]


def _hex(rng: random.Random, n: int) -> str:
    return f"{rng.getrandbits(4 * n):0{n}x}"


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _weighted(rng: random.Random, items: Sequence[tuple[Any, float]]) -> Any:
    return rng.choices([i for i, _ in items], weights=[w for _, w in items])[0]


def _month_start(d: date, months: int = 0) -> date:
    m = d.year * 12 + d.month - 1 + months
    return date(m // 12, m % 12 + 1, 1)


def _resource_count(spec: DemoAccountSpec, scale: float) -> int:
    return max(len(SERVICES[spec.provider]), round(BASE_RESOURCES * scale * spec.weight))


def _per_service_counts(services: Sequence[_Service], total: int) -> list[int]:
    shares = [s.share for s in services]
    norm = sum(shares)
    raw = [total * s / norm for s in shares]
    counts = [max(1, math.floor(r)) for r in raw]
    order = sorted(range(len(raw)), key=lambda i: raw[i] - math.floor(raw[i]), reverse=True)
    for i in order[: max(0, total - sum(counts))]:
        counts[i] += 1
    return counts


def _build_account(
    rng: random.Random, spec: DemoAccountSpec, scale: float, n_days: int, month_starts: list[int]
) -> _Account:
    provider = spec.provider
    if provider not in SERVICES:
        raise ValueError(f"unknown provider {provider!r}: expected aws, azure or gcp")
    services = SERVICES[provider]
    regions = REGIONS[provider]
    discount, tax_rate, commitment_template, _ = _PROVIDER_TERMS[provider]
    commitment_id = commitment_template.format(
        sub=spec.sub_account_id,
        uuid=_uuid(rng),
        uuid2=_uuid(rng),
        digits=rng.randrange(10**6, 10**7),
    )
    new_day = month_starts[len(month_starts) // 2] + 9 if len(month_starts) > 1 else n_days // 2
    cols: dict[str, list[Any]] = {
        k: []
        for k in (
            "ChargeDescription",
            "PricingCategory",
            "ConsumedUnit",
            "ServiceName",
            "ServiceCategory",
            "ServiceSubcategory",
            "RegionId",
            "RegionName",
            "ResourceId",
            "ResourceName",
            "ResourceType",
            "SkuId",
            "SkuMeter",
            "CommitmentDiscountId",
            "Tags",
        )
    }
    model: dict[str, list[Any]] = {
        k: [] for k in ("base", "weekend", "billed_f", "eff_f", "contracted_f", "price", "svc")
    }
    first: list[int] = []
    last: list[int] = []
    skus = {(si, v): f"SKU-{_hex(rng, 24)}" for si in range(len(services)) for v in range(4)}
    names: set[str] = set()
    counts = _per_service_counts(services, _resource_count(spec, scale))
    for si, (svc, count) in enumerate(zip(services, counts, strict=True)):
        for _ in range(count):
            team, cost_center = rng.choice(_TEAMS)
            app = rng.choice(_APPS[team])
            env = _weighted(rng, _ENVS)
            tagged = rng.random()
            tags: str | None
            if tagged < 0.70:
                tags = (
                    f'{{"env":"{env}","team":"{team}","cost-center":"{cost_center}",'
                    f'"application":"{app}"}}'
                )
            elif tagged < 0.80:
                tags = f'{{"env":"{env}"}}'
            elif tagged < 0.85:
                tags = f'{{"team":"{team}","application":"{app}"}}'
            else:
                tags = None
            name = f"{app}-{env}-{_hex(rng, 4)}"
            while name in names:
                name = f"{app}-{env}-{_hex(rng, 4)}"
            names.add(name)
            region_id, region_name = (
                (None, None) if svc.global_ else _weighted(rng, [(r[:2], r[2]) for r in regions])
            )
            rg = f"rg-{team}-{env}"
            resource_id = svc.id_template.format(
                region=region_id,
                sub=spec.sub_account_id,
                name=name,
                name_=name.replace("-", "_"),
                rg=rg,
                hex8=_hex(rng, 8),
                hex12=_hex(rng, 12),
                hex17=_hex(rng, 17),
                HEX13=_hex(rng, 13).upper(),
                uuid=_uuid(rng),
                digits=rng.randrange(10**18, 10**19),
            )
            pricing, commitment = "Standard", None
            billed_f = eff_f = contracted_f = 1 - discount
            if svc.kind and env == "prod" and rng.random() < 0.45:
                pricing, commitment = "Committed", commitment_id
                billed_f, eff_f = 0.0, 1 - _COMMITTED_DISCOUNT
            elif svc.kind == "compute" and env != "prod" and rng.random() < 0.3:
                pricing = "Dynamic"
                billed_f = eff_f = contracted_f = _SPOT_PRICE
            variant = rng.randrange(4)
            cols["ChargeDescription"].append(f"{svc.name} {svc.resource_type} usage ({svc.unit})")
            cols["PricingCategory"].append(pricing)
            cols["ConsumedUnit"].append(svc.unit)
            cols["ServiceName"].append(svc.name)
            cols["ServiceCategory"].append(svc.category)
            cols["ServiceSubcategory"].append(svc.subcategory)
            cols["RegionId"].append(region_id)
            cols["RegionName"].append(region_name)
            cols["ResourceId"].append(resource_id)
            cols["ResourceName"].append(name)
            cols["ResourceType"].append(svc.resource_type)
            cols["SkuId"].append(skus[(si, variant)])
            meter, meter_unit = _usage_type(provider, svc, variant, region_id, pricing)
            cols["SkuMeter"].append(meter)
            if meter_unit:
                cols["ConsumedUnit"][-1] = meter_unit
            cols["CommitmentDiscountId"].append(commitment)
            cols["Tags"].append(tags)
            # Long tail: lognormal around the service's median; dev and staging cost less.
            env_size = {"prod": 1.0, "staging": 0.45, "dev": 0.25}[env]
            model["base"].append(
                svc.daily_cost * env_size * spec.weight * rng.lognormvariate(0.0, svc.sigma)
            )
            model["weekend"].append(svc.weekend * (1.0 if env == "prod" else 1.6))
            model["billed_f"].append(billed_f)
            model["eff_f"].append(eff_f)
            model["contracted_f"].append(contracted_f)
            model["price"].append(svc.unit_price * (1 + 0.25 * variant))
            model["svc"].append(si)
            if svc.new:
                start = min(n_days - 1, new_day + int(rng.expovariate(1 / 20)))
                end = n_days
            elif rng.random() < 0.2:  # resources that come and go
                start = rng.randrange(n_days)
                end = min(n_days, start + 1 + int(rng.expovariate(1 / 90)))
            else:
                start, end = 0, n_days
            first.append(start)
            last.append(end)
    static = pa.table(
        {
            **{k: pa.array(v, pa.string()) for k, v in cols.items()},
            **{k: pa.array(v, pa.float64()) for k, v in model.items() if k != "svc"},
            "svc": pa.array(model["svc"], pa.int32()),
            "first": pa.array(first, pa.int32()),
            "last": pa.array(last, pa.int32()),
        }
    )
    # Spikes: a big service of the account costs 4-7x on a few chosen days (the first spike
    # hits its biggest service, so that it shows in the account's total, and lands in the
    # data's last three days: a fresh demo has recent anomalies for the detector to find).
    spikes: dict[int, list[tuple[int, float]]] = {}
    by_cost = sorted(
        range(len(services)),
        key=lambda i: -sum(b for b, s in zip(model["base"], model["svc"], strict=True) if s == i),
    )
    lo = month_starts[1] if len(month_starts) > 1 else 0
    for spike in range(2 if n_days > 60 else 1):
        day = rng.randrange(lo, n_days)
        if spike == 0:
            day = max(lo, n_days - 1 - day % 3)
        svc_index = by_cost[0] if spike == 0 else rng.choice(by_cost[1:3])
        mult = rng.uniform(4.0, 7.0)
        for k in range(rng.randint(1, 2)):
            if day + k < n_days:
                spikes.setdefault(day + k, []).append((svc_index, mult))
    credit_months = set(rng.sample(range(len(month_starts)), k=min(3, len(month_starts))))
    return _Account(
        spec=spec,
        static=static,
        services=services,
        growth=rng.uniform(0.02, 0.05),
        tax_rate=tax_rate,
        commitment_id=commitment_id,
        spikes=spikes,
        credit_months=credit_months,
    )


def _ts(d: date) -> datetime:
    return datetime(d.year, d.month, d.day, tzinfo=UTC)


_STATIC_STRINGS = (
    "ChargeDescription",
    "PricingCategory",
    "ConsumedUnit",
    "ServiceName",
    "ServiceCategory",
    "ServiceSubcategory",
    "RegionId",
    "RegionName",
    "ResourceId",
    "ResourceName",
    "ResourceType",
    "SkuId",
    "SkuMeter",
    "CommitmentDiscountId",
    "Tags",
)


def _money(values: Any) -> Any:
    return pc.cast(pc.round(values, 6), MONEY)


def _usage_day(
    acct: _Account, day_index: int, d: date, period: tuple[date, date], seed: int
) -> tuple[pa.Table, Any, Any]:
    """The usage rows of one account on one day, and (service index, billed) for the taxes."""
    st = acct.static
    active = pc.and_(pc.less_equal(st["first"], day_index), pc.greater(st["last"], day_index))
    rows = st.filter(active)
    n = rows.num_rows
    months_in = day_index / 30.44
    factor = (1 + acct.growth) ** months_in
    # A slow wave on top of growth, so months differ by more than their length.
    factor *= 1 + 0.04 * math.sin(2 * math.pi * months_in / 6)
    u1 = pc.random(n, initializer=seed)
    u2 = pc.random(n, initializer=seed ^ 0x5DEECE66D)
    noise = pc.add(0.85, pc.multiply(0.15, pc.add(u1, u2)))
    cost = pc.multiply(pc.multiply(rows["base"], factor), noise)
    if d.weekday() >= 5:
        dip = pc.subtract(1.0, pc.multiply(0.35, pc.min_element_wise(rows["weekend"], 1.0)))
        cost = pc.multiply(cost, dip)
    for svc_index, mult in acct.spikes.get(day_index, ()):
        cost = pc.if_else(pc.equal(rows["svc"], svc_index), pc.multiply(cost, mult), cost)
    billed = pc.multiply(cost, rows["billed_f"])
    spec = acct.spec
    ts = {
        "BillingPeriodStart": _ts(period[0]),
        "BillingPeriodEnd": _ts(period[1]),
        "ChargePeriodStart": _ts(d),
        "ChargePeriodEnd": _ts(d + timedelta(days=1)),
    }
    consts = {
        "ProviderName": PROVIDER_NAMES[spec.provider],
        "BillingAccountId": spec.billing_account_id,
        "BillingAccountName": spec.billing_account_name,
        "SubAccountId": spec.sub_account_id,
        "SubAccountName": spec.sub_account_name,
        "ChargeCategory": "Usage",
        "ChargeFrequency": "Usage-Based",
        "BillingCurrency": "USD",
    }
    arrays: dict[str, Any] = {}
    for name, value in consts.items():
        arrays[name] = pa.repeat(pa.scalar(value, pa.string()), n)
    for name, moment in ts.items():
        arrays[name] = pa.repeat(pa.scalar(moment, TIMESTAMP), n)
    arrays["ChargeClass"] = pa.nulls(n, pa.string())
    for name in _STATIC_STRINGS:
        arrays[name] = rows[name]
    arrays["BilledCost"] = _money(billed)
    arrays["EffectiveCost"] = _money(pc.multiply(cost, rows["eff_f"]))
    arrays["ListCost"] = _money(cost)
    arrays["ContractedCost"] = _money(pc.multiply(cost, rows["contracted_f"]))
    arrays["ConsumedQuantity"] = pc.cast(pc.round(pc.divide(cost, rows["price"]), 6), QUANTITY)
    table = pa.table([arrays[c] for c in COLUMNS], schema=SCHEMA)
    return table, rows["svc"], billed


def _charge_rows(
    acct: _Account,
    d: date,
    period: tuple[date, date],
    rows: list[tuple[str, str, int, Decimal, Decimal, Decimal, str | None]],
) -> pa.Table:
    """Rows without a resource: (category, description, service index, billed, effective, list,
    commitment id)."""
    spec = acct.spec
    n = len(rows)

    def const(value: Any, type_: Any = None) -> Any:
        return pa.array([value] * n, type_ or pa.string())

    frequency = {"Purchase": "Recurring", "Tax": "One-Time", "Credit": "One-Time"}
    services = [acct.services[r[2]] for r in rows]
    arrays: dict[str, Any] = {
        "ProviderName": const(PROVIDER_NAMES[spec.provider]),
        "BillingAccountId": const(spec.billing_account_id),
        "BillingAccountName": const(spec.billing_account_name),
        "SubAccountId": const(spec.sub_account_id),
        "SubAccountName": const(spec.sub_account_name),
        "BillingPeriodStart": const(_ts(period[0]), TIMESTAMP),
        "BillingPeriodEnd": const(_ts(period[1]), TIMESTAMP),
        "ChargePeriodStart": const(_ts(d), TIMESTAMP),
        "ChargePeriodEnd": const(_ts(d + timedelta(days=1)), TIMESTAMP),
        "ChargeCategory": pa.array([r[0] for r in rows], pa.string()),
        "ChargeClass": const(None),
        "ChargeDescription": pa.array([r[1] for r in rows], pa.string()),
        "ChargeFrequency": pa.array([frequency[r[0]] for r in rows], pa.string()),
        "PricingCategory": pa.array(
            ["Standard" if r[0] == "Purchase" else None for r in rows], pa.string()
        ),
        "BilledCost": pa.array([r[3] for r in rows], MONEY),
        "EffectiveCost": pa.array([r[4] for r in rows], MONEY),
        "ListCost": pa.array([r[5] for r in rows], MONEY),
        "ContractedCost": pa.array([r[5] for r in rows], MONEY),
        "BillingCurrency": const("USD"),
        "ConsumedQuantity": const(None, QUANTITY),
        "ConsumedUnit": const(None),
        "ServiceName": pa.array([s.name for s in services], pa.string()),
        "ServiceCategory": pa.array([s.category for s in services], pa.string()),
        "ServiceSubcategory": pa.array([s.subcategory for s in services], pa.string()),
        "RegionId": const(None),
        "RegionName": const(None),
        "ResourceId": const(None),
        "ResourceName": const(None),
        "ResourceType": const(None),
        "SkuId": const(None),
        "SkuMeter": const(None),
        "CommitmentDiscountId": pa.array([r[6] for r in rows], pa.string()),
        "Tags": const(None),
    }
    return pa.table([arrays[c] for c in COLUMNS], schema=SCHEMA)


_CENT = Decimal("0.01")


def _cents(value: float) -> Decimal:
    return Decimal(repr(value)).quantize(_CENT, rounding=ROUND_HALF_EVEN)


def _purchase(acct: _Account, month_days: int, day_index: int) -> Decimal:
    """The monthly fee of the account's commitment: what its covered usage will cost, amortised."""
    st = acct.static
    committed = pc.and_(
        pc.equal(st["PricingCategory"], "Committed"),
        pc.and_(pc.less_equal(st["first"], day_index), pc.greater(st["last"], day_index)),
    )
    base = pc.sum(pc.multiply(st.filter(committed)["base"], st.filter(committed)["eff_f"]))
    daily = (base.as_py() or 0.0) * (1 + acct.growth) ** ((day_index + 15) / 30.44)
    return _cents(daily * month_days * 0.95)


def _plan(
    seed: int,
    start: date,
    months: int,
    accounts: Sequence[DemoAccountSpec] | None,
    scale: float,
    end: date | None,
) -> tuple[random.Random, list[date], list[int], list[_Account]]:
    """The days, the index of each month's first day, and the accounts' resource catalogues."""
    if months < 1:
        raise ValueError("months must be at least 1")
    if scale <= 0:
        raise ValueError("scale must be positive")
    specs = tuple(accounts) if accounts is not None else DEFAULT_ACCOUNTS
    if not specs:
        raise ValueError("no accounts to generate")
    stop = _month_start(start, months)
    if end is not None:
        stop = min(stop, end)
    days = [start + timedelta(days=i) for i in range(max(0, (stop - start).days))]
    month_starts = [i for i, d in enumerate(days) if i == 0 or d.day == 1]
    rng = random.Random(seed)  # noqa: S311 -- reproducible demo data, not a secret
    accts = (
        [_build_account(rng, spec, scale, len(days), month_starts) for spec in specs]
        if days
        else []
    )
    return rng, days, month_starts, accts


def generate(
    *,
    seed: int,
    start: date,
    months: int,
    accounts: Sequence[DemoAccountSpec] | None = None,
    scale: float = 1.0,
    batch_rows: int = 50_000,
    end: date | None = None,
) -> Iterator[pa.RecordBatch]:
    """FOCUS rows, day by day from ``start`` over ``months`` calendar months (the month of
    ``start`` first), stopping before ``end`` when it is given (a month cut short gets no tax or
    credit rows: those come with the invoice). Batches hold at most ``batch_rows`` rows."""
    if batch_rows < 1:
        raise ValueError("batch_rows must be at least 1")
    rng, days, month_starts, accts = _plan(seed, start, months, accounts, scale, end)
    n_days = len(days)
    if not n_days:
        return
    day_seeds = [rng.getrandbits(62) for _ in range(n_days * len(accts))]

    pending: list[pa.Table] = []
    pending_rows = 0
    month_svc: list[list[Any]] = [[] for _ in accts]
    month_billed: list[list[Any]] = [[] for _ in accts]
    month_index = -1
    for i, d in enumerate(days):
        period = (_month_start(d), _month_start(d, 1))
        if i in month_starts:
            month_index += 1
        last_of_month = d + timedelta(days=1) == period[1]
        for a, acct in enumerate(accts):
            if i in month_starts and acct.commitment_id is not None:
                fee = _purchase(acct, (period[1] - period[0]).days, i)
                if fee > 0:
                    label = _PROVIDER_TERMS[acct.spec.provider][3]
                    row = ("Purchase", f"{label} monthly fee", 0, fee, Decimal(0), fee)
                    pending.append(_charge_rows(acct, d, period, [(*row, acct.commitment_id)]))
                    pending_rows += 1
            table, svc, billed = _usage_day(acct, i, d, period, day_seeds[i * len(accts) + a])
            pending.append(table)
            pending_rows += table.num_rows
            month_svc[a].append(svc)
            month_billed[a].append(billed)
            if last_of_month:
                extra = _month_end_rows(acct, month_index, month_svc[a], month_billed[a])
                if extra:
                    pending.append(_charge_rows(acct, d, period, extra))
                    pending_rows += len(extra)
                month_svc[a], month_billed[a] = [], []
            elif i + 1 < n_days and days[i + 1].day == 1:
                month_svc[a], month_billed[a] = [], []
        while pending_rows >= batch_rows:
            combined = pa.concat_tables(pending).combine_chunks()
            yield from combined.slice(0, batch_rows).to_batches(max_chunksize=batch_rows)
            rest = combined.slice(batch_rows)
            pending, pending_rows = ([rest] if rest.num_rows else []), rest.num_rows
    if pending_rows:
        yield from pa.concat_tables(pending).combine_chunks().to_batches(max_chunksize=batch_rows)


def _month_end_rows(
    acct: _Account,
    month_index: int,
    svc_chunks: list[Any],
    billed_chunks: list[Any],
) -> list[tuple[str, str, int, Decimal, Decimal, Decimal, str | None]]:
    """Tax per service on the month's billed usage, and a promotional credit some months."""
    if not svc_chunks:
        return []
    table = pa.table(
        {"svc": pa.chunked_array(svc_chunks), "billed": pa.chunked_array(billed_chunks)}
    )
    sums = table.group_by("svc").aggregate([("billed", "sum")]).sort_by("svc").to_pydict()
    out: list[tuple[str, str, int, Decimal, Decimal, Decimal, str | None]] = []
    total = 0.0
    for svc_index, billed in zip(sums["svc"], sums["billed_sum"], strict=True):
        total += billed
        tax = _cents(billed * acct.tax_rate)
        if tax > 0:
            name = acct.services[svc_index].name
            out.append(("Tax", f"Tax on {name}", svc_index, tax, tax, tax, None))
    if month_index in acct.credit_months and total > 0:
        # Deterministic per account and month, independent of the shared rng's position.
        key = f"{month_index}:{acct.spec.sub_account_id}"
        share = random.Random(key).uniform(0.03, 0.08)  # noqa: S311 -- not a secret
        credit = -_cents(total * share)
        svc_index = int(sums["svc"][0])
        out.append(("Credit", "Promotional credit", svc_index, credit, credit, credit, None))
    return out


def count_rows(
    *,
    seed: int,
    start: date,
    months: int,
    accounts: Sequence[DemoAccountSpec] | None = None,
    scale: float = 1.0,
) -> int:
    """How many rows ``generate`` yields with these arguments (it generates them)."""
    return sum(
        b.num_rows
        for b in generate(
            seed=seed,
            start=start,
            months=months,
            accounts=accounts,
            scale=scale,
            batch_rows=1 << 20,
        )
    )


def scale_for_rows(
    rows: int,
    *,
    seed: int,
    start: date,
    months: int,
    accounts: Sequence[DemoAccountSpec] | None = None,
) -> float:
    """The ``scale`` giving about ``rows`` rows (within a few percent either way): sized on the
    resource catalogues themselves, without generating the rows."""
    scale = 1.0
    for _ in range(4):
        _, _, _, accts = _plan(seed, start, months, accounts, scale, None)
        resource_days = sum(
            pc.sum(pc.subtract(a.static["last"], a.static["first"])).as_py() for a in accts
        )
        scale = max(0.01, scale * rows / max(1, resource_days))
    return scale


def to_csv_batch(batch: pa.RecordBatch) -> pa.RecordBatch:
    """The batch as a CSV export carries it: timestamps as ``2026-05-01T00:00:00Z`` text."""
    arrays = []
    for field, column in zip(batch.schema, batch.columns, strict=True):
        if pa.types.is_timestamp(field.type):
            column = pc.strftime(column, format="%Y-%m-%dT%H:%M:%SZ")
        arrays.append(column)
    names = list(batch.schema.names)
    return pa.RecordBatch.from_arrays(arrays, names=names)
