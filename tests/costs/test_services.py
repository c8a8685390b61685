"""One name per service (``costs.services``): the shipped table is consistent, the AWS FOCUS
1.0 sample's product codes all map to the FOCUS 1.1+ names, groupings show the mapped name,
filters match either spelling, and the raw rows keep what the export said."""

import csv

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import ClientFor
from tests.costs.conftest import Dataset
from tests.ingest.conftest import AWS, SAMPLES
from xplorr.costs.models import CostRecord
from xplorr.costs.services import SERVICE_NAMES, canonical, spellings
from xplorr.users.models import User

SEPT = {"startDate": "2024-09-01", "endDate": "2024-09-30"}


def test_the_table_is_consistent() -> None:
    for raw, shown in SERVICE_NAMES.items():
        assert raw != shown
        assert shown not in SERVICE_NAMES, f"{shown} would map again"
        assert canonical(canonical(raw)) == shown
    assert canonical("Amazon Bedrock") == "Amazon Bedrock"  # unknown names pass through
    assert spellings(["Amazon Simple Queue Service"]) == {
        "Amazon Simple Queue Service",
        "AmazonSQS",
        "AWSQueueService",
    }
    assert spellings(["AmazonEC2"]) == {"AmazonEC2", "Amazon Elastic Compute Cloud"}


def test_every_product_code_of_the_aws_sample_maps() -> None:
    with (SAMPLES / AWS).open(encoding="utf-8-sig") as f:
        names = {row["ServiceName"] for row in csv.DictReader(f)}
    assert names == {
        "AWSGlue",
        "AWSLambda",
        "AmazonCloudWatch",
        "AmazonDynamoDB",
        "AmazonEC2",
        "AmazonRDS",
        "AmazonS3",
        "AmazonVPC",
    }
    assert {canonical(n) for n in names} == {
        "AWS Glue",
        "AWS Lambda",
        "Amazon CloudWatch",
        "Amazon DynamoDB",
        "Amazon Elastic Compute Cloud",
        "Amazon Relational Database Service",
        "Amazon Simple Storage Service",
        "Amazon Virtual Private Cloud",
    }


async def test_grouped_by_the_shown_name_filtered_by_either_raw_rows_untouched(
    client_for: ClientFor, admin: User, db: AsyncSession, dataset: Dataset
) -> None:
    client = client_for(admin)
    body = (await client.get("/costs", params={**SEPT, "provider": "aws"})).json()
    assert [d["key"] for d in body["data"]] == [
        "Amazon Elastic Compute Cloud",
        "Amazon Simple Storage Service",
    ]
    for name in ("AmazonEC2", "Amazon Elastic Compute Cloud"):
        r = await client.get("/costs", params={**SEPT, "service": name})
        assert r.json()["totalCost"] == 10.01
        r = await client.get("/costs", params={**SEPT, "service": name, "groupBy": "resource"})
        assert r.json()["totalCost"] == 10.01  # from the raw rows
    raw = await db.scalars(
        select(CostRecord.service_name).where(CostRecord.cloud_account_id == dataset.aws.id)
    )
    assert set(raw) == {"AmazonEC2", "AmazonS3", "Tax"}
