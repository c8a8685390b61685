"""Cost Explorer's RI and Savings Plans purchase recommendations through the real refresh jobs,
boto3 signing real requests to a local server speaking Cost Explorer's JSON protocol (moto
implements neither call: see ``tests.commitments.aws_double``), one detail per page so the
reader follows ``NextPageToken``. Each detail becomes a recommendation with AWS's saving to the
cent and its figures as evidence; a refresh keeps ids and statuses and closes what AWS stopped
recommending; a denied or unavailable Cost Explorer, or refused keys, give none, close nothing
and log a warning naming the call, and the refresh still succeeds."""

from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from structlog.testing import capture_logs

from tests.commitments.aws_double import AwsDouble
from tests.factories.cloud_accounts import make_account
from tests.factories.settings import make_org_settings
from tests.mail import run_jobs
from xplorr.cloud_accounts.models import CloudAccount, Provider
from xplorr.core.jobs import queue
from xplorr.core.jobs.models import Job, JobStatus
from xplorr.core.settings import Settings
from xplorr.inventory.events import InventoryRefreshed
from xplorr.orgs.models import Org
from xplorr.recommendations.models import ClosedBy, Recommendation, RecommendationStatus

KEYS = {
    "accessKeyId": "AKIAEXAMPLEKEY000002",
    "secretAccessKey": "aws-secret-access-key-for-purchase-tests",
    "region": "us-east-1",
}
EC2 = "Amazon Elastic Compute Cloud - Compute"
RDS = "Amazon Relational Database Service"
CACHE = "Amazon ElastiCache"
PAYER = "123456789012"
RI = "GetReservationPurchaseRecommendation"
OFFER = ("SIXTY_DAYS", "ONE_YEAR", "NO_UPFRONT")


def ec2(itype: str, region: str, count: str, savings: str, **more: str) -> dict[str, Any]:
    return {
        "AccountId": PAYER,
        "InstanceDetails": {
            "EC2InstanceDetails": {
                "Family": itype.split(".")[0],
                "InstanceType": itype,
                "Region": region,
                "Platform": "Linux/UNIX",
                "Tenancy": "Shared",
                "CurrentGeneration": True,
                "SizeFlexEligible": True,
            }
        },
        "RecommendedNumberOfInstancesToPurchase": count,
        "CurrencyCode": "USD",
        "EstimatedMonthlySavingsAmount": savings,
        **more,
    }


def arrange(double: AwsDouble) -> None:
    double.ri_advice[EC2] = [
        ec2(
            "m5.large",
            "US East (N. Virginia)",
            "4",
            "123.456",
            RecommendedNormalizedUnitsToPurchase="16",
            MinimumNumberOfInstancesUsedPerHour="4",
            MaximumNumberOfInstancesUsedPerHour="6",
            AverageNumberOfInstancesUsedPerHour="4.6",
            AverageUtilization="87.5",
            EstimatedBreakEvenInMonths="0",
            EstimatedMonthlySavingsPercentage="44.04",
            EstimatedMonthlyOnDemandCost="280.32",
            EstimatedReservationCostForLookbackPeriod="313.72",
            UpfrontCost="0.0",
            RecurringStandardMonthlyCost="156.86",
        ),
        ec2("c5.xlarge", "EU (Ireland)", "1", "45.005"),
        ec2("t3.micro", "EU (Ireland)", "1", "0.00"),  # no saving: no recommendation
    ]
    double.ri_advice[RDS] = [
        {
            "AccountId": PAYER,
            "InstanceDetails": {
                "RDSInstanceDetails": {
                    "InstanceType": "db.r6g.large",
                    "Region": "EU (Ireland)",
                    "DatabaseEngine": "PostgreSQL",
                    "DeploymentOption": "Multi-AZ",
                    "LicenseModel": "No license required",
                }
            },
            "RecommendedNumberOfInstancesToPurchase": "1",
            "CurrencyCode": "USD",
            "EstimatedMonthlySavingsAmount": "61.2",
        }
    ]
    double.ri_advice[CACHE] = [
        {
            "AccountId": PAYER,
            "InstanceDetails": {
                "ElastiCacheInstanceDetails": {
                    "NodeType": "cache.m5.large",
                    "Region": "US East (N. Virginia)",
                    "ProductDescription": "redis",
                }
            },
            "RecommendedNumberOfInstancesToPurchase": "3",
            "CurrencyCode": "USD",
            "EstimatedMonthlySavingsAmount": "30.995",
        }
    ]
    double.sp_advice.append(
        {
            "AccountId": PAYER,
            "SavingsPlansDetails": {"OfferingId": "off-1"},
            "UpfrontCost": "0",
            "EstimatedROI": "38.2",
            "CurrencyCode": "USD",
            "EstimatedSPCost": "1776.96",
            "EstimatedOnDemandCost": "120.4",
            "EstimatedOnDemandCostWithCurrentCommitment": "3810.12",
            "EstimatedSavingsAmount": "1912.76",
            "EstimatedSavingsPercentage": "50.2",
            "HourlyCommitmentToPurchase": "1.234",
            "EstimatedAverageUtilization": "99.1",
            "EstimatedMonthlySavingsAmount": "210.5049",
            "CurrentMinimumHourlyOnDemandSpend": "2.1",
            "CurrentMaximumHourlyOnDemandSpend": "3.4",
            "CurrentAverageHourlyOnDemandSpend": "2.6",
            "RecommendationDetailId": "d-1",
        }
    )


async def refresh(
    db: AsyncSession, settings: Settings, org: Org, account: CloudAccount | None
) -> Job:
    """The daily refresh of the org (``account`` None), or the one an inventory refresh of
    ``account`` queues; run by a real worker."""
    if account is None:
        job = await queue.enqueue(
            db, "recommendations.refresh_org", {}, org_id=org.id, max_attempts=1
        )
    else:
        event = InventoryRefreshed(org_id=org.id, cloud_account_id=account.id)
        job = await queue.enqueue(
            db,
            "recommendations.refresh",
            event.model_dump(mode="json"),
            org_id=org.id,
            max_attempts=1,
        )
    await db.commit()
    await run_jobs(settings)
    await db.commit()
    done = await db.get(Job, job.id, populate_existing=True)
    assert done is not None
    assert done.status == JobStatus.SUCCEEDED, done.last_error
    return done


async def purchases(db: AsyncSession, account: CloudAccount) -> dict[str, Recommendation]:
    rows = (
        await db.scalars(
            select(Recommendation)
            .where(Recommendation.cloud_account_id == account.id)
            .execution_options(populate_existing=True)
        )
    ).all()
    return {r.resource_name or "": r for r in rows if r.category == "commitment"}


async def test_purchase_recommendations_refresh_denied_and_unavailable(
    db: AsyncSession, org: Org, double: AwsDouble, aws_settings: Settings
) -> None:
    arrange(double)
    account = await make_account(db, org, provider=Provider.AWS, credentials=KEYS)
    await refresh(db, aws_settings, org, None)
    recs = await purchases(db, account)
    names = {
        "m5.large (Linux/UNIX)": ("purchase_reserved_instances", "us-east-1", "123.46"),
        "c5.xlarge (Linux/UNIX)": ("purchase_reserved_instances", "eu-west-1", "45.01"),
        "db.r6g.large (PostgreSQL)": ("purchase_reserved_instances", "eu-west-1", "61.20"),
        "cache.m5.large (redis)": ("purchase_reserved_instances", "us-east-1", "31.00"),
        "Compute Savings Plan": ("purchase_savings_plan", None, "210.50"),
    }
    assert {
        n: (r.type, r.region, str(r.estimated_monthly_savings.quantize(Decimal("0.01"))))
        for n, r in recs.items()
    } == names
    assert {r.currency for r in recs.values()} == {"USD"}
    assert {r.estimated_monthly_savings for r in recs.values()} == {
        Decimal(v) for _, _, v in names.values()
    }

    m5 = recs["m5.large (Linux/UNIX)"]
    assert m5.title == "Buy 4 x m5.large (Linux/UNIX) EC2 Reserved Instance(s) in us-east-1"
    assert (m5.risk, m5.status, m5.resource_id) == ("medium", RecommendationStatus.OPEN, None)
    assert m5.evidence == {
        "source": "AWS Cost Explorer (ce:GetReservationPurchaseRecommendation)",
        "service": "ec2",
        "account_id": PAYER,
        "lookback_days": 60,
        "term": "ONE_YEAR",
        "payment_option": "NO_UPFRONT",
        "account_scope": "PAYER",
        "generated_at": "2026-12-02T08:00:00Z",
        "instance_details": double.ri_advice[EC2][0]["InstanceDetails"]["EC2InstanceDetails"],
        "currency": "USD",
        "recommended_number_of_instances_to_purchase": "4",
        "recommended_normalized_units_to_purchase": "16",
        "minimum_number_of_instances_used_per_hour": "4",
        "maximum_number_of_instances_used_per_hour": "6",
        "average_number_of_instances_used_per_hour": "4.6",
        "average_utilization": "87.5",
        "estimated_break_even_in_months": "0",
        "estimated_monthly_savings_amount": "123.456",
        "estimated_monthly_savings_percentage": "44.04",
        "estimated_monthly_on_demand_cost": "280.32",
        "estimated_reservation_cost_for_lookback_period": "313.72",
        "upfront_cost": "0.0",
        "recurring_standard_monthly_cost": "156.86",
    }
    assert m5.how_to_apply["cli"] == (
        "aws ec2 describe-reserved-instances-offerings --region us-east-1 --instance-type "
        'm5.large --product-description "Linux/UNIX" --offering-class standard --offering-type '
        '"No Upfront" --min-duration 31536000 --max-duration 31536000\n'
        "aws ec2 purchase-reserved-instances-offering --region us-east-1 "
        "--reserved-instances-offering-id <offering id> --instance-count 4"
    )
    assert m5.how_to_apply["console_steps"][1] == (
        "EC2 console -> Reserved Instances -> Purchase Reserved Instances."
    )
    rds = recs["db.r6g.large (PostgreSQL)"]
    assert "--multi-az" in rds.how_to_apply["cli"]
    assert "--db-instance-count 1" in rds.how_to_apply["cli"]
    cache = recs["cache.m5.large (redis)"]
    assert "--cache-node-count 3" in cache.how_to_apply["cli"]
    sp = recs["Compute Savings Plan"]
    assert sp.title == "Buy a Compute Savings Plan of 1.234 USD an hour"
    assert sp.risk == "low"
    assert {
        k: sp.evidence[k]
        for k in (
            "hourly_commitment_to_purchase",
            "estimated_average_utilization",
            "estimated_on_demand_cost_with_current_commitment",
            "estimated_sp_cost",
            "estimated_roi",
            "lookback_days",
            "term",
            "payment_option",
            "savings_plans_type",
        )
    } == {
        "hourly_commitment_to_purchase": "1.234",
        "estimated_average_utilization": "99.1",
        "estimated_on_demand_cost_with_current_commitment": "3810.12",
        "estimated_sp_cost": "1776.96",
        "estimated_roi": "38.2",
        "lookback_days": 60,
        "term": "ONE_YEAR",
        "payment_option": "NO_UPFRONT",
        "savings_plans_type": "COMPUTE_SP",
    }
    assert sp.how_to_apply["cli"].endswith(
        "--savings-plan-offering-id <offering id> --commitment 1.234"
    )
    # What was asked: 1 year, no upfront, 60-day lookback, each page followed (3 EC2 pages).
    assert {
        (r["action"], r.get("Service"), r.get("SavingsPlansType"), r["LookbackPeriodInDays"],
         r["TermInYears"], r["PaymentOption"], r.get("NextPageToken"))
        for r in double.ce_requests
    } == {
        (RI, EC2, None, *OFFER, t) for t in (None, "1", "2")
    } | {
        (RI, s, None, *OFFER, None) for s in (RDS, CACHE)
    } | {
        ("GetSavingsPlansPurchaseRecommendation", None, "COMPUTE_SP", *OFFER, None)
    }  # fmt: skip
    assert len(double.ce_requests) == 6
    assert all(double.signed)
    assert {region for _, region in double.calls} == {"us-east-1"}

    # Next refresh (after an inventory refresh): AWS now recommends more m5.large savings and
    # no longer the c5.xlarge. Ids and statuses stay; the c5 one is closed as fixed.
    ids = {n: r.id for n, r in recs.items()}
    m5.status = RecommendationStatus.IN_PROGRESS
    await db.commit()
    double.ri_advice[EC2][0]["EstimatedMonthlySavingsAmount"] = "130.1"
    del double.ri_advice[EC2][1]
    await refresh(db, aws_settings, org, account)
    again = await purchases(db, account)
    assert {n: r.id for n, r in again.items()} == ids
    m5 = again["m5.large (Linux/UNIX)"]
    assert (m5.status, m5.estimated_monthly_savings) == (
        RecommendationStatus.IN_PROGRESS,
        Decimal("130.10"),
    )
    c5 = again["c5.xlarge (Linux/UNIX)"]
    assert (c5.status, c5.closed_by, c5.realized_monthly_savings) == (
        RecommendationStatus.APPLIED,
        ClosedBy.FIXED,
        Decimal("45.01"),
    )
    assert {
        r.status for n, r in again.items() if n not in ("m5.large (Linux/UNIX)", c5.resource_name)
    } == {RecommendationStatus.OPEN}

    # The account may no longer call Cost Explorer, and a second one never could: no new
    # recommendation, none closed, a warning per account naming the call; the refresh works.
    other = await make_account(db, org, provider=Provider.AWS, credentials=KEYS, name="other")
    double.denied.update(
        {
            "GetReservationPurchaseRecommendation": "AccessDeniedException",
            "GetSavingsPlansPurchaseRecommendation": "AccessDeniedException",
        }
    )
    before = {n: (r.status, r.estimated_monthly_savings) for n, r in again.items()}
    with capture_logs() as logs:
        await refresh(db, aws_settings, org, None)
    assert await purchases(db, other) == {}
    kept = await purchases(db, account)
    assert {n: (r.status, r.estimated_monthly_savings) for n, r in kept.items()} == before
    warned = [e for e in logs if e["event"] == "purchase_recommendations_unavailable"]
    assert {(e["log_level"], e["account"]) for e in warned} == {
        ("warning", str(account.id)),
        ("warning", str(other.id)),
    }
    assert len(warned) == 8  # 3 RI services and the Savings Plan, for each account
    assert all("(permission denied)" in e["warning"] for e in warned)
    assert any(
        e["warning"].startswith(
            "ce:GetSavingsPlansPurchaseRecommendation failed: AccessDeniedException"
        )
        for e in warned
    )
    assert not any(KEYS["secretAccessKey"] in str(e) for e in logs)

    # Cost Explorer unavailable, or the keys refused: the read stops at the first call (the
    # rest would meet the same), closes nothing, and says why.
    failing = {"GetReservationPurchaseRecommendation", "GetSavingsPlansPurchaseRecommendation"}
    cases = [
        (
            set(failing),
            {},
            2,  # each account's first call tried once (XPLORR_AWS_MAX_ATTEMPTS=1), then no more
            "ce:GetReservationPurchaseRecommendation failed: ServiceUnavailable: try later "
            "(read again at the next refresh)",
        ),
        (
            set(),
            dict.fromkeys(failing, "UnrecognizedClientException"),
            2,
            "ce:GetReservationPurchaseRecommendation failed: UnrecognizedClientException: User: "
            "arn:aws:iam::123456789012:user/x is not authorized to perform: "
            "ce:GetReservationPurchaseRecommendation (the AWS credentials were refused; update "
            "them)",
        ),
    ]
    for unavailable, denied, calls, warning in cases:
        double.denied.clear()
        double.denied.update(denied)
        double.unavailable.clear()
        double.unavailable.update(unavailable)
        double.calls.clear()
        with capture_logs() as logs:
            await refresh(db, aws_settings, org, None)
        assert len(double.calls) == calls
        warned = [e for e in logs if e["event"] == "purchase_recommendations_unavailable"]
        assert [e["warning"] for e in warned] == [warning] * 2
        kept = await purchases(db, account)
        assert {n: (r.status, r.estimated_monthly_savings) for n, r in kept.items()} == before


async def test_the_organizations_preferred_offer_is_asked_for_and_a_change_keeps_ids(
    db: AsyncSession, org: Org, double: AwsDouble, aws_settings: Settings
) -> None:
    preferred = await make_org_settings(
        db, org, commitment_term="three_years", commitment_payment_option="all_upfront"
    )
    double.ri_advice[EC2] = [ec2("m5.large", "EU (Ireland)", "2", "58.2", UpfrontCost="2190.4")]
    double.sp_advice.append(
        {
            "AccountId": PAYER,
            "CurrencyCode": "USD",
            "HourlyCommitmentToPurchase": "0.5",
            "EstimatedMonthlySavingsAmount": "90",
            "UpfrontCost": "13140",
        }
    )
    account = await make_account(db, org, provider=Provider.AWS, credentials=KEYS)
    await refresh(db, aws_settings, org, None)
    asked = {(r["TermInYears"], r["PaymentOption"]) for r in double.ce_requests}
    assert asked == {("THREE_YEARS", "ALL_UPFRONT")}
    recs = await purchases(db, account)
    ri, sp = recs["m5.large (Linux/UNIX)"], recs["Compute Savings Plan"]
    assert (ri.evidence["term"], ri.evidence["payment_option"], ri.evidence["upfront_cost"]) == (
        "THREE_YEARS",
        "ALL_UPFRONT",
        "2190.4",
    )
    assert "(All Upfront, 3 years, 2190.40 USD upfront)" in ri.description
    assert '--offering-type "All Upfront" --min-duration 94608000' in ri.how_to_apply["cli"]
    assert "All Upfront, 3 years; quantity 2." in ri.how_to_apply["console_steps"][2]
    assert "(All Upfront, 3 years, 13140.00 USD upfront)" in sp.description
    assert "--durations 94608000" in sp.how_to_apply["cli"]
    assert ri.fingerprint == (
        f"purchase_reserved_instances:ri:ec2:{PAYER}:EU (Ireland):m5.large:Linux/UNIX:Shared"
    )

    # Back to the default offer: the same recommendations (ids, statuses), AWS's new figures.
    ri.status = RecommendationStatus.IN_PROGRESS
    preferred.commitment_term, preferred.commitment_payment_option = "one_year", "no_upfront"
    await db.commit()
    double.ce_requests.clear()
    double.ri_advice[EC2][0]["EstimatedMonthlySavingsAmount"] = "31.5"
    await refresh(db, aws_settings, org, None)
    assert {(r["TermInYears"], r["PaymentOption"]) for r in double.ce_requests} == {
        ("ONE_YEAR", "NO_UPFRONT")
    }
    again = await purchases(db, account)
    assert {n: r.id for n, r in again.items()} == {n: r.id for n, r in recs.items()}
    ri = again["m5.large (Linux/UNIX)"]
    assert (ri.status, ri.estimated_monthly_savings, ri.evidence["term"]) == (
        RecommendationStatus.IN_PROGRESS,
        Decimal("31.50"),
        "ONE_YEAR",
    )
