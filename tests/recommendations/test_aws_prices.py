"""On-demand prices refreshed through the Pricing API by the real refresh job, boto3 signing real
requests to a local server speaking the Price List Query API's JSON protocol (moto has no
``pricing``: see ``tests.commitments.aws_double``), one product a page so the reader follows
``NextToken``. The prices the inventory needs are read once (fresh for a week), stored with
the day they were read, and priced with: per region, never mixed with the shipped table in
one saving, the source and date in the evidence. A denied ``pricing:GetProducts`` is asked
once, not again for a week: the shipped table prices, and the evidence says why."""

from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from structlog.testing import capture_logs

from tests.commitments.aws_double import AwsDouble
from tests.factories.cloud_accounts import make_account
from tests.factories.inventory import make_resource
from tests.recommendations.test_aws_purchase import refresh
from tests.recommendations.test_rules import cpu
from xplorr.cloud_accounts.models import CloudAccount, Provider
from xplorr.core import clock, money
from xplorr.core.settings import Settings
from xplorr.orgs.models import Org
from xplorr.recommendations import aws_prices, prices
from xplorr.recommendations.models import PricePoint, PriceRefresh, Recommendation

KEYS = {
    "accessKeyId": "AKIAEXAMPLEKEY000003",
    "secretAccessKey": "aws-secret-access-key-for-pricing-tests",
    "region": "eu-west-1",
}
IRELAND = "EU (Ireland)"


def ec2_product(itype: str, location: str, price: str, *, os: str = "Linux") -> dict[str, Any]:
    """An EC2 instance product as GetProducts describes it (a Reserved term beside the
    on-demand one: only the latter is the list price)."""
    sku = f"SKU{abs(hash((itype, location, os, price))) % 10**12:012d}"
    region = {"EU (Ireland)": "eu-west-1", "US East (N. Virginia)": "us-east-1"}[location]
    return {
        "product": {
            "productFamily": "Compute Instance",
            "attributes": {
                "instanceType": itype,
                "location": location,
                "regionCode": region,
                "operatingSystem": os,
                "tenancy": "Shared",
                "preInstalledSw": "NA",
                "licenseModel": "No License required",
                "capacitystatus": "Used",
                "operation": "RunInstances",
                "usagetype": f"EU-BoxUsage:{itype}",
                "servicecode": "AmazonEC2",
            },
            "sku": sku,
        },
        "serviceCode": "AmazonEC2",
        "terms": {
            "OnDemand": {
                f"{sku}.JRTCKXETXF": {
                    "offerTermCode": "JRTCKXETXF",
                    "sku": sku,
                    "effectiveDate": "2026-11-01T00:00:00Z",
                    "priceDimensions": {
                        f"{sku}.JRTCKXETXF.6YS6EN2CT7": {
                            "unit": "Hrs",
                            "endRange": "Inf",
                            "beginRange": "0",
                            "description": f"${price} per On Demand {os} {itype} Instance Hour",
                            "appliesTo": [],
                            "rateCode": f"{sku}.JRTCKXETXF.6YS6EN2CT7",
                            "pricePerUnit": {"USD": f"{price}000000"},
                        }
                    },
                    "termAttributes": {},
                }
            },
            "Reserved": {
                f"{sku}.4NA7Y494T4": {
                    "offerTermCode": "4NA7Y494T4",
                    "sku": sku,
                    "effectiveDate": "2026-11-01T00:00:00Z",
                    "priceDimensions": {
                        f"{sku}.4NA7Y494T4.6YS6EN2CT7": {
                            "unit": "Hrs",
                            "beginRange": "0",
                            "endRange": "Inf",
                            "pricePerUnit": {"USD": "0.0100000000"},
                        }
                    },
                    "termAttributes": {
                        "LeaseContractLength": "1yr",
                        "OfferingClass": "standard",
                        "PurchaseOption": "No Upfront",
                    },
                }
            },
        },
        "version": "20261101000000",
        "publicationDate": "2026-11-01T00:00:00Z",
    }


def ebs_product(volume_type: str, location: str, price: str) -> dict[str, Any]:
    sku = f"EBS{volume_type}{location[:2]}"
    return {
        "product": {
            "productFamily": "Storage",
            "attributes": {
                "volumeApiName": volume_type,
                "location": location,
                "storageMedia": "SSD-backed",
                "usagetype": f"EU-EBS:VolumeUsage.{volume_type}",
                "servicecode": "AmazonEC2",
            },
            "sku": sku,
        },
        "serviceCode": "AmazonEC2",
        "terms": {
            "OnDemand": {
                f"{sku}.JRTCKXETXF": {
                    "sku": sku,
                    "effectiveDate": "2026-10-01T00:00:00Z",
                    "priceDimensions": {
                        f"{sku}.JRTCKXETXF.6YS6EN2CT7": {
                            "unit": "GB-Mo",
                            "beginRange": "0",
                            "endRange": "Inf",
                            "pricePerUnit": {"USD": price},
                        }
                    },
                }
            }
        },
    }


async def arrange(db: AsyncSession, account: CloudAccount) -> None:
    idle, busy = cpu(2.0, 9.0), cpu(20.0, 35.0)
    for rid, itype, region, daily in (
        ("i-idle-eu", "t3.large", "eu-west-1", idle),
        ("i-big-eu", "m5.2xlarge", "eu-west-1", busy),
        ("i-idle-us", "t3.large", "us-east-1", idle),
    ):
        await make_resource(
            db, account, rid, region=region, attributes={"instance_type": itype, "cpu_daily": daily}
        )
    await make_resource(
        db,
        account,
        "vol-free-eu",
        region="eu-west-1",
        service="Amazon EBS",
        resource_type="Disk",
        status="Available",
        attributes={"size_gib": 200, "volume_type": "gp2", "attached": False},
    )


async def recs(db: AsyncSession, account: CloudAccount) -> dict[str, Recommendation]:
    rows = (
        await db.scalars(
            select(Recommendation)
            .where(Recommendation.cloud_account_id == account.id)
            .execution_options(populate_existing=True)
        )
    ).all()
    return {r.fingerprint: r for r in rows}


async def test_prices_read_stored_and_used_then_a_denied_account_keeps_the_table(
    db: AsyncSession, org: Org, double: AwsDouble, aws_settings: Settings
) -> None:
    double.products += [
        ec2_product("t3.large", IRELAND, "0.0912"),
        ec2_product("t3.large", IRELAND, "0.1648", os="Windows"),  # filtered out
        ec2_product("m5.2xlarge", IRELAND, "0.428"),
        ec2_product("m5.xlarge", IRELAND, "0.214"),
        # Two products disagreeing: left out (and on two pages: NextToken followed).
        ec2_product("m5.large", IRELAND, "0.107"),
        ec2_product("m5.large", IRELAND, "0.115"),
        ebs_product("gp2", IRELAND, "0.11"),
        ebs_product("gp3", IRELAND, "0.088"),
    ]
    account = await make_account(db, org, provider=Provider.AWS, credentials=KEYS)
    await arrange(db, account)
    with capture_logs() as logs:
        await refresh(db, aws_settings, org, None)

    # What was asked: each price the inventory needs, in its region, with the filters.
    asked = {
        (
            {f["Field"]: f["Value"] for f in r["Filters"]}.get("instanceType")
            or {f["Field"]: f["Value"] for f in r["Filters"]}["volumeApiName"],
            {f["Field"]: f["Value"] for f in r["Filters"]}["location"],
        )
        for r in double.pricing_requests
    }
    assert asked == {
        *((t, IRELAND) for t in ("t3.large", "t3.medium", "t3.small")),
        *((t, IRELAND) for t in ("m5.2xlarge", "m5.xlarge", "m5.large")),
        ("gp2", IRELAND),
        ("gp3", IRELAND),
        *((t, "US East (N. Virginia)") for t in ("t3.large", "t3.medium", "t3.small")),
    }
    first = double.pricing_requests[0]
    assert (first["ServiceCode"], first["FormatVersion"], first["MaxResults"]) == (
        "AmazonEC2",
        "aws_v1",
        100,
    )
    ec2_filters = next(
        {f["Field"]: f["Value"] for f in r["Filters"]}
        for r in double.pricing_requests
        if any(f["Value"] == "m5.xlarge" for f in r["Filters"])
    )
    assert ec2_filters == {
        "location": IRELAND,
        "instanceType": "m5.xlarge",
        "operatingSystem": "Linux",
        "tenancy": "Shared",
        "preInstalledSw": "NA",
        "licenseModel": "No License required",
        "capacitystatus": "Used",
    }
    assert {f["Type"] for r in double.pricing_requests for f in r["Filters"]} == {"TERM_MATCH"}
    assert len([r for r in double.pricing_requests if r.get("NextToken")]) == 1  # m5.large p2
    assert {region for action, region in double.calls if action == "GetProducts"} == {"us-east-1"}
    assert all(double.signed)

    points = {
        (p.kind, p.item, p.region): p
        for p in (await db.scalars(select(PricePoint).where(PricePoint.org_id == org.id))).all()
    }
    today = clock.now().date()
    t3 = points[("ec2", "t3.large", "eu-west-1")]
    assert (t3.price, t3.unit, t3.currency, t3.source, t3.fetched_at.date()) == (
        Decimal("0.0912"),
        "Hrs",
        "USD",
        "pricing-api",
        today,
    )
    assert t3.effective_date == "2026-11-01T00:00:00Z"
    assert points[("ebs", "gp3", "eu-west-1")].price == Decimal("0.088")
    assert points[("ec2", "t3.large", "us-east-1")].price is None  # not listed: remembered
    assert points[("ec2", "m5.large", "eu-west-1")].price is None  # ambiguous: kept none
    [status] = (await db.scalars(select(PriceRefresh))).all()
    assert (status.cloud_account_id, status.outcome, status.items_read) == (
        account.id,
        "partial",
        5,
    )
    assert status.warning == (
        "pricing:GetProducts: 2 different on-demand prices for m5.large in eu-west-1 "
        "(0.107, 0.115); kept none"
    )
    assert [e["warning"] for e in logs if e["event"] == "price_refresh_unavailable"] == [
        status.warning
    ]

    found = await recs(db, account)
    assert {k: money.plain(r.estimated_monthly_savings.normalize()) for k, r in found.items()} == {
        "stop_idle_instance:i-idle-eu": "66.58",  # 0.0912 x 730 (eu-west-1, Pricing API)
        "stop_idle_instance:i-idle-us": "60.74",  # 0.0832 x 730: the shipped table
        "rightsize_instance:i-big-eu": "156.22",  # (0.428 - 0.214) x 730
        "delete_unattached_ebs_volume:vol-free-eu": "22",  # 200 x 0.11
        "migrate_gp2_to_gp3:vol-free-eu": "4.4",  # 200 x (0.11 - 0.088)
    }
    eu = found["stop_idle_instance:i-idle-eu"].evidence
    assert (eu["price_source"], eu["price_date"], eu["price_region"], eu["hourly_price"]) == (
        "pricing-api",
        today.isoformat(),
        "eu-west-1",
        "0.0912",
    )
    us = found["stop_idle_instance:i-idle-us"].evidence
    assert (us["price_source"], us["price_date"], "price_warning" in us) == (
        "shipped table",
        prices.PRICES_AS_OF,
        False,
    )
    big = found["rightsize_instance:i-big-eu"].evidence
    assert (big["recommended_price_source"], big["recommended_hourly_price"]) == (
        "pricing-api",
        "0.214",
    )

    # Fresh for a week: the next refresh asks nothing.
    double.pricing_requests.clear()
    await refresh(db, aws_settings, org, account)
    assert double.pricing_requests == []

    # Another account of the org may not call the Pricing API: asked once (no retry), the
    # shipped table prices its instance in us-west-2, its evidence says why; not asked again.
    denied = await make_account(db, org, provider=Provider.AWS, credentials=KEYS, name="denied")
    await make_resource(
        db,
        denied,
        "i-idle-or",
        region="us-west-2",
        attributes={"instance_type": "m5.large", "cpu_daily": cpu(1.0, 3.0)},
    )
    double.denied["GetProducts"] = "AccessDeniedException"
    with capture_logs() as logs:
        await refresh(db, aws_settings, org, None)
    assert len(double.pricing_requests) == 1
    status = await db.scalar(
        select(PriceRefresh)
        .where(PriceRefresh.cloud_account_id == denied.id)
        .execution_options(populate_existing=True)
    )
    assert status is not None
    assert (status.outcome, status.items_read) == ("denied", 0)
    assert status.warning == (
        "pricing:GetProducts failed: AccessDeniedException: User: "
        "arn:aws:iam::123456789012:user/x is not authorized to perform: pricing:GetProducts "
        f"(permission denied) (prices from the shipped table of {prices.PRICES_AS_OF})"
    )
    warned = [e for e in logs if e["event"] == "price_refresh_unavailable"]
    assert [(e["log_level"], e["account"]) for e in warned] == [("warning", str(denied.id))]
    [rec] = (await recs(db, denied)).values()
    assert (rec.estimated_monthly_savings, rec.evidence["price_source"]) == (
        Decimal("70.08"),  # 0.096 x 730
        "shipped table",
    )
    assert rec.evidence["price_warning"] == status.warning
    assert not any(KEYS["secretAccessKey"] in str(e) for e in logs)
    double.pricing_requests.clear()
    await refresh(db, aws_settings, org, None)
    assert double.pricing_requests == []  # denied lately: not asked again
    assert aws_prices.DENIED_RETRY_DAYS == 7
