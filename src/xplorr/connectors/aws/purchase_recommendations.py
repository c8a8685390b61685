"""What AWS itself recommends buying: Cost Explorer's Reserved Instance purchase recommendations
(``ce:GetReservationPurchaseRecommendation`` for EC2, RDS and ElastiCache) and its Savings Plans
purchase recommendation (``ce:GetSavingsPlansPurchaseRecommendation``, Compute Savings Plans).

Every call asks for the same offer (``Offer``: the organization's preferred term and payment
option, which the API takes as ``TermInYears`` ONE_YEAR | THREE_YEARS and ``PaymentOption``
NO_UPFRONT | PARTIAL_UPFRONT | ALL_UPFRONT; by default one year, no upfront), over the longest
lookback the API offers (60 days: a commitment should match usage that lasted, not last
week's), at the API's default account scope (the payer account's view when Xplorr is
connected to the management account, the account's own otherwise). One offer, not all six:
each call costs $0.01, and AWS answers each offer with its own figures (a larger upfront
payment, a larger discount), which the organization compares by changing the setting.

Both APIs page with ``NextPageToken`` and botocore has no paginator for them: the token is
followed by hand.

Blocking (boto3): call ``read_purchase_recommendations`` through ``session.run``. A source
(one service's RI recommendations, the Savings Plans one) that cannot be read is left out of
``complete`` with a warning naming the call, and the others are still read: a denied call
(the credentials lack ``ce:Get*PurchaseRecommendation``) or any other refusal retrying cannot
fix (refused keys stop the read: every call would meet them). AWS unavailable (5xx,
throttled past botocore's own retries, unreachable) stops the read at once with a warning
too: the remaining calls would meet the same outage, and these recommendations are read
again at the next refresh (after each sync and daily), which is the retry that can help;
Cost Explorer regenerates them about once a day.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Final

from xplorr.connectors.aws.session import (
    CE_REGION,
    AwsCallError,
    AwsSession,
    AwsUnavailable,
    call,
)

TERM: Final = "ONE_YEAR"
PAYMENT_OPTION: Final = "NO_UPFRONT"
TERMS: Final = ("ONE_YEAR", "THREE_YEARS")
PAYMENT_OPTIONS: Final = ("NO_UPFRONT", "PARTIAL_UPFRONT", "ALL_UPFRONT")
LOOKBACK: Final = "SIXTY_DAYS"
SAVINGS_PLANS_TYPE: Final = "COMPUTE_SP"
# Our short name -> the Service value Cost Explorer expects.
RI_SERVICES: Final = {
    "ec2": "Amazon Elastic Compute Cloud - Compute",
    "rds": "Amazon Relational Database Service",
    "elasticache": "Amazon ElastiCache",
}
SAVINGS_PLANS_SOURCE: Final = "savings_plans:compute"


@dataclass(frozen=True, slots=True)
class Offer:
    """What to ask Cost Explorer for (Cost Explorer's own values)."""

    term: str = TERM
    payment_option: str = PAYMENT_OPTION

    def __post_init__(self) -> None:
        if self.term not in TERMS or self.payment_option not in PAYMENT_OPTIONS:
            raise ValueError(f"not an offer Cost Explorer takes: {self}")


@dataclass(frozen=True, slots=True)
class OfferTerms:
    """What one recommendation set was computed for (the API echoes the request)."""

    term: str
    payment_option: str
    lookback: str
    account_scope: str | None


@dataclass(frozen=True, slots=True)
class ReservationAdvice:
    service: str  # ec2 | rds | elasticache
    terms: OfferTerms
    detail: dict[str, Any]  # a ReservationPurchaseRecommendationDetail as AWS sent it
    generated_at: str | None


@dataclass(frozen=True, slots=True)
class SavingsPlanAdvice:
    plan_type: str
    terms: OfferTerms
    detail: dict[str, Any]  # a SavingsPlansPurchaseRecommendationDetail as AWS sent it
    generated_at: str | None


@dataclass
class PurchaseScan:
    reservations: list[ReservationAdvice] = field(default_factory=list)
    savings_plans: list[SavingsPlanAdvice] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    # Sources read in full ("ri:ec2", "savings_plans:compute"): only their absent
    # recommendations mean AWS stopped recommending them.
    complete: set[str] = field(default_factory=set)


def _terms(answer: dict[str, Any]) -> OfferTerms:
    return OfferTerms(
        term=str(answer.get("TermInYears") or TERM),
        payment_option=str(answer.get("PaymentOption") or PAYMENT_OPTION),
        lookback=str(answer.get("LookbackPeriodInDays") or LOOKBACK),
        account_scope=answer.get("AccountScope"),
    )


def _pages(operation: str, method: Any, **kwargs: Any) -> Iterator[dict[str, Any]]:
    token: str | None = None
    while True:
        page = call(operation, method, **kwargs, **({"NextPageToken": token} if token else {}))
        yield page
        token = page.get("NextPageToken") or None
        if not token:
            return


def _reservations(client: Any, service: str, offer: Offer) -> list[ReservationAdvice]:
    out = []
    for page in _pages(
        "ce:GetReservationPurchaseRecommendation",
        client.get_reservation_purchase_recommendation,
        Service=RI_SERVICES[service],
        LookbackPeriodInDays=LOOKBACK,
        TermInYears=offer.term,
        PaymentOption=offer.payment_option,
        **(
            {"ServiceSpecification": {"EC2Specification": {"OfferingClass": "STANDARD"}}}
            if service == "ec2"
            else {}
        ),
    ):
        generated = (page.get("Metadata") or {}).get("GenerationTimestamp")
        for rec in page.get("Recommendations") or []:
            terms = _terms(rec)
            out += [
                ReservationAdvice(service, terms, detail, generated)
                for detail in rec.get("RecommendationDetails") or []
            ]
    return out


def _savings_plans(client: Any, offer: Offer) -> list[SavingsPlanAdvice]:
    out = []
    for page in _pages(
        "ce:GetSavingsPlansPurchaseRecommendation",
        client.get_savings_plans_purchase_recommendation,
        SavingsPlansType=SAVINGS_PLANS_TYPE,
        LookbackPeriodInDays=LOOKBACK,
        TermInYears=offer.term,
        PaymentOption=offer.payment_option,
    ):
        generated = (page.get("Metadata") or {}).get("GenerationTimestamp")
        rec = page.get("SavingsPlansPurchaseRecommendation") or {}
        terms = _terms(rec)
        plan_type = str(rec.get("SavingsPlansType") or SAVINGS_PLANS_TYPE)
        out += [
            SavingsPlanAdvice(plan_type, terms, detail, generated)
            for detail in rec.get("SavingsPlansPurchaseRecommendationDetails") or []
        ]
    return out


def read_purchase_recommendations(session: AwsSession, offer: Offer | None = None) -> PurchaseScan:
    """Every purchase recommendation Cost Explorer has for the account for ``offer`` (default
    one year, no upfront; blocking; see the module docstring for what a failure leaves)."""
    offer = offer or Offer()
    scan = PurchaseScan()
    client = session.client("ce", CE_REGION)
    reads: list[tuple[str, Callable[[], None]]] = [
        (f"ri:{service}", partial(_add_reservations, scan, client, service, offer))
        for service in RI_SERVICES
    ]
    reads.append((SAVINGS_PLANS_SOURCE, partial(_add_savings_plans, scan, client, offer)))
    for source, read in reads:
        try:
            read()
        except AwsCallError as exc:  # denied, refused keys, invalid: retrying cannot help
            scan.warnings.append(exc.failure.message)
            if exc.failure.bad_credentials:
                return scan  # every other call would be refused the same way
            continue
        except AwsUnavailable as exc:
            scan.warnings.append(f"{exc.failure.message} (read again at the next refresh)")
            return scan
        scan.complete.add(source)
    return scan


def _add_reservations(scan: PurchaseScan, client: Any, service: str, offer: Offer) -> None:
    scan.reservations += _reservations(client, service, offer)


def _add_savings_plans(scan: PurchaseScan, client: Any, offer: Offer) -> None:
    scan.savings_plans += _savings_plans(client, offer)
