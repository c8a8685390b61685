"""Reserved Instance and Savings Plans purchases AWS recommends for an account (Cost Explorer:
``connectors.aws.purchase_recommendations``), as recommendations of their own types:
``purchase_reserved_instances`` (one per EC2, RDS or ElastiCache recommendation detail) and
``purchase_savings_plan`` (the Compute Savings Plan), with AWS's own estimated monthly saving
and currency and the figures it gives as evidence. Nothing here is computed by Xplorr: the
saving is AWS's estimate, rounded to the currency's minor unit.

The offer asked for is the organization's preferred term and payment option (settings
``commitment_term``, ``commitment_payment_option``; default one year, no upfront): AWS's
saving is for that offer, and the evidence, title and how-to name it.

The fingerprint is what is recommended, not AWS's recommendation id (new every day): the
source (``ri:ec2``), the account, region, instance or node type, platform/engine and tenancy or
deployment; not the term or payment option, so that a recommendation keeps its id and status
when the organization changes its preferred offer (its figures follow). So a recommendation
keeps its id and status across refreshes while AWS keeps recommending it, and one AWS stops
recommending is closed like the others. A source that could not be read this time (denied,
AWS unavailable: see the connector) closes nothing: its stored recommendations are kept as
they were.

The read happens in the refresh job before the engine's transaction writes
(``read_accounts``): no database connection is held while Cost Explorer answers.
"""

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Final

import structlog

from xplorr.cloud_accounts.credentials import decrypt_credentials
from xplorr.cloud_accounts.models import CloudAccount, Provider
from xplorr.connectors.aws import session as aws
from xplorr.connectors.aws.purchase_recommendations import (
    SAVINGS_PLANS_SOURCE,
    Offer,
    OfferTerms,
    PurchaseScan,
    ReservationAdvice,
    SavingsPlanAdvice,
    read_purchase_recommendations,
)
from xplorr.connectors.aws.regions import REGION_CODES  # Cost Explorer names locations
from xplorr.core import money
from xplorr.core.crypto import CryptoError
from xplorr.core.jobs.registry import JobContext
from xplorr.recommendations.rules import Finding, HowTo
from xplorr.settings.service import get_org_settings

log = structlog.get_logger("xplorr.recommendations")
_CAMEL: Final = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")

RI_TYPE: Final = "purchase_reserved_instances"
SP_TYPE: Final = "purchase_savings_plan"
TYPES: Final = (RI_TYPE, SP_TYPE)
TERM_SECONDS: Final = {"ONE_YEAR": 31536000, "THREE_YEARS": 94608000}
TERM_LABEL: Final = {"ONE_YEAR": "1 year", "THREE_YEARS": "3 years"}
PAYMENT_LABEL: Final = {
    "NO_UPFRONT": "No Upfront",
    "PARTIAL_UPFRONT": "Partial Upfront",
    "ALL_UPFRONT": "All Upfront",
}
LOOKBACK_DAYS: Final = {"SEVEN_DAYS": 7, "THIRTY_DAYS": 30, "SIXTY_DAYS": 60}


@dataclass(frozen=True, slots=True)
class PurchaseRead:
    """One account's read: its findings and the sources read in full (``PurchaseScan``)."""

    findings: tuple[Finding, ...]
    complete: frozenset[str]


def findings_of(read: PurchaseRead | None) -> list[Finding]:
    return [] if read is None else list(read.findings)


def unread(read: PurchaseRead | None, fingerprint: str) -> bool:
    """Whether ``fingerprint`` is a purchase recommendation whose source was not read in full
    this refresh (no read at all: a refresh run without AWS): it must not be closed."""
    kind, _, rest = fingerprint.partition(":")
    if kind not in TYPES:
        return False
    source = ":".join(rest.split(":")[:2])
    return read is None or source not in read.complete


def _dec(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def _terms_evidence(terms: OfferTerms, generated_at: str | None) -> dict[str, Any]:
    return {
        "lookback_days": LOOKBACK_DAYS.get(terms.lookback, terms.lookback),
        "term": terms.term,
        "payment_option": terms.payment_option,
        "account_scope": terms.account_scope,
        "generated_at": generated_at,
    }


def _offer_text(terms: OfferTerms, detail: dict[str, Any], currency: str) -> str:
    """``No Upfront, 1 year``; with the upfront payment when there is one."""
    text = (
        f"{PAYMENT_LABEL.get(terms.payment_option, terms.payment_option)}, "
        f"{TERM_LABEL.get(terms.term, terms.term)}"
    )
    upfront = _dec(detail.get("UpfrontCost"))
    if upfront is not None and upfront > 0:
        text += f", {money.plain(money.round_money(upfront, currency))} {currency} upfront"
    return text


def _kept(detail: dict[str, Any], names: Sequence[str]) -> dict[str, Any]:
    """AWS's figures as it sent them (decimal strings), under snake_case names."""
    out = {}
    for name in names:
        if detail.get(name) not in (None, ""):
            out[_CAMEL.sub("_", name).lower()] = detail[name]
    return out


@dataclass(frozen=True, slots=True)
class _Unit:
    """The reserved thing, whichever service: type, what it runs, where."""

    type: str
    variant: str  # platform, engine or cache product
    placement: str  # tenancy or deployment option
    region_name: str
    details: dict[str, Any]


def _unit(advice: ReservationAdvice) -> _Unit | None:
    details = advice.detail.get("InstanceDetails") or {}
    if advice.service == "ec2":
        d = details.get("EC2InstanceDetails") or {}
        kind, variant, placement = d.get("InstanceType"), d.get("Platform"), d.get("Tenancy")
    elif advice.service == "rds":
        d = details.get("RDSInstanceDetails") or {}
        kind, variant = d.get("InstanceType"), d.get("DatabaseEngine")
        placement = d.get("DeploymentOption")
    else:
        d = details.get("ElastiCacheInstanceDetails") or {}
        kind, variant, placement = d.get("NodeType"), d.get("ProductDescription"), None
    if not kind:
        return None
    return _Unit(str(kind), str(variant or ""), str(placement or ""), str(d.get("Region") or ""), d)


_RI_LABEL: Final = {"ec2": "EC2", "rds": "RDS", "elasticache": "ElastiCache"}


def _ri_how(service: str, unit: _Unit, region: str, count: str, payment: str, term: str) -> HowTo:
    seconds = TERM_SECONDS.get(term, 31536000)
    years = TERM_LABEL.get(term, term)
    if service == "ec2":
        console = (
            "EC2 console -> Reserved Instances -> Purchase Reserved Instances.",
            f"Region {region}: {unit.type}, {unit.variant}, {unit.placement or 'default'} "
            f"tenancy, standard offering class, {payment}, {years}; quantity {count}.",
        )
        cli = (
            f"aws ec2 describe-reserved-instances-offerings --region {region} "
            f'--instance-type {unit.type} --product-description "{unit.variant}" '
            f'--offering-class standard --offering-type "{payment}" '
            f"--min-duration {seconds} --max-duration {seconds}\n"
            f"aws ec2 purchase-reserved-instances-offering --region {region} "
            f"--reserved-instances-offering-id <offering id> --instance-count {count}"
        )
    elif service == "rds":
        multi = "--multi-az" if "multi" in unit.placement.lower() else "--no-multi-az"
        console = (
            "RDS console -> Reserved instances -> Purchase reserved DB instance.",
            f"Region {region}: {unit.variant}, {unit.type}, {unit.placement or 'Single-AZ'}, "
            f"{payment}, {years}; {count} DB instance(s).",
        )
        cli = (
            f"aws rds describe-reserved-db-instances-offerings --region {region} "
            f'--db-instance-class {unit.type} --product-description "{unit.variant}" '
            f'--duration {seconds} --offering-type "{payment}" {multi}\n'
            f"aws rds purchase-reserved-db-instances-offering --region {region} "
            f"--reserved-db-instances-offering-id <offering id> --db-instance-count {count}"
        )
    else:
        console = (
            "ElastiCache console -> Reserved nodes -> Purchase reserved nodes.",
            f"Region {region}: {unit.variant}, {unit.type}, {payment}, {years}; {count} node(s).",
        )
        cli = (
            f"aws elasticache describe-reserved-cache-nodes-offerings --region {region} "
            f'--cache-node-type {unit.type} --product-description "{unit.variant}" '
            f'--duration {seconds} --offering-type "{payment}"\n'
            f"aws elasticache purchase-reserved-cache-nodes-offering --region {region} "
            f"--reserved-cache-nodes-offering-id <offering id> --cache-node-count {count}"
        )
    return HowTo(
        (
            "Check the recommendation in the AWS Billing and Cost Management console -> "
            "Reservations -> Recommendations (same term, payment option and lookback).",
            *console,
        ),
        cli=cli,
    )


_RI_FIGURES: Final = (
    "RecommendedNumberOfInstancesToPurchase",
    "RecommendedNormalizedUnitsToPurchase",
    "MinimumNumberOfInstancesUsedPerHour",
    "MaximumNumberOfInstancesUsedPerHour",
    "AverageNumberOfInstancesUsedPerHour",
    "AverageUtilization",
    "EstimatedBreakEvenInMonths",
    "EstimatedMonthlySavingsAmount",
    "EstimatedMonthlySavingsPercentage",
    "EstimatedMonthlyOnDemandCost",
    "EstimatedReservationCostForLookbackPeriod",
    "UpfrontCost",
    "RecurringStandardMonthlyCost",
)


def reservation_finding(advice: ReservationAdvice) -> Finding | None:
    d = advice.detail
    unit = _unit(advice)
    savings = _dec(d.get("EstimatedMonthlySavingsAmount"))
    currency = str(d.get("CurrencyCode") or "USD")
    if unit is None or savings is None or savings <= 0:
        return None
    savings = money.round_money(savings, currency)
    region = REGION_CODES.get(unit.region_name, unit.region_name or None)
    count = str(d.get("RecommendedNumberOfInstancesToPurchase") or "1")
    terms = advice.terms
    payment = PAYMENT_LABEL.get(terms.payment_option, terms.payment_option)
    label = _RI_LABEL[advice.service]
    what = f"{unit.type} ({unit.variant})" if unit.variant else unit.type
    account = str(d.get("AccountId") or "-")
    subject = ":".join(
        ("ri", advice.service, account, unit.region_name, unit.type, unit.variant, unit.placement)
    )
    on_demand = d.get("EstimatedMonthlyOnDemandCost")
    utilisation = d.get("AverageUtilization")
    return Finding(
        type=RI_TYPE,
        category="commitment",
        subject=subject,
        title=f"Buy {count} x {what} {label} Reserved Instance(s) in {region or 'AWS'}",
        description=(
            f"AWS Cost Explorer recommends buying {count} {label} reservation(s) of {what} in "
            f"{unit.region_name or region} ({_offer_text(terms, d, currency)}), from the last "
            f"{LOOKBACK_DAYS.get(terms.lookback, terms.lookback)} days of usage: it estimates "
            f"{money.plain(savings)} {currency} a month saved"
            + (f" on {on_demand} {currency} of on-demand cost" if on_demand else "")
            + (f", at {utilisation} % average utilisation." if utilisation else ".")
        ),
        savings=savings,
        currency=currency,
        evidence={
            "source": "AWS Cost Explorer (ce:GetReservationPurchaseRecommendation)",
            "service": advice.service,
            "account_id": d.get("AccountId"),
            **_terms_evidence(terms, advice.generated_at),
            "instance_details": dict(unit.details),
            "currency": currency,
            **_kept(d, _RI_FIGURES),
        },
        risk="medium",  # a year of one instance type in one region
        how_to_apply=_ri_how(
            advice.service, unit, region or "<region>", count, payment, terms.term
        ),
        resource_name=what,
        region=region,
    )


_SP_FIGURES: Final = (
    "HourlyCommitmentToPurchase",
    "EstimatedAverageUtilization",
    "EstimatedMonthlySavingsAmount",
    "EstimatedSavingsAmount",
    "EstimatedSavingsPercentage",
    "EstimatedROI",
    "EstimatedSPCost",
    "EstimatedOnDemandCost",
    "EstimatedOnDemandCostWithCurrentCommitment",
    "CurrentMinimumHourlyOnDemandSpend",
    "CurrentMaximumHourlyOnDemandSpend",
    "CurrentAverageHourlyOnDemandSpend",
    "UpfrontCost",
)
_PLAN_LABEL: Final = {"COMPUTE_SP": "Compute", "EC2_INSTANCE_SP": "EC2 Instance"}
_CLI_PLAN: Final = {"COMPUTE_SP": "Compute", "EC2_INSTANCE_SP": "EC2Instance"}


def savings_plan_finding(advice: SavingsPlanAdvice) -> Finding | None:
    d = advice.detail
    savings = _dec(d.get("EstimatedMonthlySavingsAmount"))
    hourly = d.get("HourlyCommitmentToPurchase")
    currency = str(d.get("CurrencyCode") or "USD")
    if savings is None or savings <= 0 or not hourly:
        return None
    savings = money.round_money(savings, currency)
    terms = advice.terms
    payment = PAYMENT_LABEL.get(terms.payment_option, terms.payment_option)
    plan = _PLAN_LABEL.get(advice.plan_type, advice.plan_type)
    sp = d.get("SavingsPlansDetails") or {}
    account = str(d.get("AccountId") or "-")
    subject = ":".join(
        (
            SAVINGS_PLANS_SOURCE,
            account,
            advice.plan_type,
            str(sp.get("Region") or "-"),
            str(sp.get("InstanceFamily") or "-"),
        )
    )
    seconds = TERM_SECONDS.get(terms.term, 31536000)
    before = d.get("EstimatedOnDemandCostWithCurrentCommitment")
    lookback = LOOKBACK_DAYS.get(terms.lookback, terms.lookback)
    return Finding(
        type=SP_TYPE,
        category="commitment",
        subject=subject,
        title=f"Buy a {plan} Savings Plan of {hourly} {currency} an hour",
        description=(
            f"AWS Cost Explorer recommends a {plan} Savings Plan committing {hourly} {currency} "
            f"an hour ({_offer_text(terms, d, currency)}), from the last {lookback} days of "
            "usage: it "
            f"estimates {money.plain(savings)} {currency} a month saved"
            + (
                f", at {d['EstimatedAverageUtilization']} % average utilisation"
                if d.get("EstimatedAverageUtilization")
                else ""
            )
            + (f" (on-demand cost over the lookback: {before} {currency})." if before else ".")
        ),
        savings=savings,
        currency=currency,
        evidence={
            "source": "AWS Cost Explorer (ce:GetSavingsPlansPurchaseRecommendation)",
            "savings_plans_type": advice.plan_type,
            "account_id": d.get("AccountId"),
            "savings_plans_details": dict(sp),
            **_terms_evidence(terms, advice.generated_at),
            "currency": currency,
            "lookback_figures": "EstimatedSPCost, EstimatedOnDemandCost and "
            "EstimatedOnDemandCostWithCurrentCommitment cover the lookback period",
            **_kept(d, _SP_FIGURES),
        },
        risk="low",  # applies to any instance family, region, Fargate and Lambda
        how_to_apply=HowTo(
            (
                "AWS Billing and Cost Management console -> Savings Plans -> Recommendations: "
                f"{plan}, {TERM_LABEL.get(terms.term, terms.term)}, {payment}, {lookback}-day "
                "lookback.",
                f"Add the recommended commitment ({hourly} {currency}/hour) to the cart, review "
                "it, and submit the order.",
            ),
            cli=(
                "aws savingsplans describe-savings-plans-offerings --plan-types "
                f"{_CLI_PLAN.get(advice.plan_type, advice.plan_type)} "
                f'--durations {seconds} --payment-options "{payment}" --currencies {currency}\n'
                "aws savingsplans create-savings-plan --savings-plan-offering-id <offering id> "
                f"--commitment {hourly}"
            ),
        ),
        resource_name=f"{plan} Savings Plan",
    )


def findings(scan: PurchaseScan) -> list[Finding]:
    out = [f for a in scan.reservations if (f := reservation_finding(a)) is not None]
    out += [f for a in scan.savings_plans if (f := savings_plan_finding(a)) is not None]
    return out


@dataclass(frozen=True, slots=True)
class _Ticket:
    account_id: uuid.UUID
    provider_account_id: str
    credentials: dict[str, Any]
    offer: Offer


async def read_accounts(
    ctx: JobContext, accounts: Sequence[CloudAccount]
) -> dict[uuid.UUID, PurchaseRead | None]:
    """Cost Explorer's purchase recommendations for each AWS account of ``accounts`` for its
    organization's preferred offer, by account id (None: not read at all). Call it before the
    job writes: when the answer is not empty, it ended the job's transaction so that no
    connection waits on AWS, and the accounts must be read again. A failure is a logged
    warning naming the call, never a failed refresh (see the connector)."""
    tickets = []
    offers: dict[uuid.UUID, Offer] = {}
    for account in accounts:
        if account.provider is not Provider.AWS:
            continue
        try:
            credentials = await decrypt_credentials(ctx.db, ctx.settings, account)
        except CryptoError:
            log.warning(
                "purchase_recommendations_skipped",
                account=str(account.id),
                warning="the account's stored credentials cannot be decrypted",
            )
            continue
        if account.org_id not in offers:
            preferred = await get_org_settings(ctx.db, account.org_id)
            offers[account.org_id] = Offer(
                preferred.commitment_term.upper(), preferred.commitment_payment_option.upper()
            )
        tickets.append(
            _Ticket(account.id, account.provider_account_id, credentials, offers[account.org_id])
        )
    if not tickets:
        return {}
    await ctx.release_connection()
    out: dict[uuid.UUID, PurchaseRead | None] = {}
    for t in tickets:
        try:
            session = await aws.connect(
                ctx.settings, t.provider_account_id, t.credentials, purpose="recommendations"
            )
            scan = await aws.run(read_purchase_recommendations, session, t.offer)
        except (aws.AwsCallError, aws.AwsUnavailable) as exc:
            log.warning(
                "purchase_recommendations_unavailable", account=str(t.account_id), warning=str(exc)
            )
            out[t.account_id] = None
            continue
        for warning in scan.warnings:
            log.warning(
                "purchase_recommendations_unavailable", account=str(t.account_id), warning=warning
            )
        out[t.account_id] = PurchaseRead(tuple(findings(scan)), frozenset(scan.complete))
    return out
