"""The cost-data rule, for any provider (FOCUS imports included): steady on-demand spend that a
commitment would cover.

Input: per provider, service category, service and currency, the daily on-demand usage cost
(FOCUS ``PricingCategory`` "Standard", ``ChargeCategory`` "Usage") of the last
``WINDOW_DAYS`` days. A service of a commitment-eligible category (compute and databases) that
ran on demand every one of those days has a floor it never went under: a commitment sized to
that floor is always fully used. The saving is the floor's monthly amount times
``ASSUMED_DISCOUNT``, the low end of what a one-year, no-upfront Savings Plan or reservation
gives (20-40 %, product-notes section 19): an estimate meant to be conservative.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Final

from xplorr.core import money
from xplorr.recommendations.rules import Finding, HowTo

WINDOW_DAYS: Final = 30
ASSUMED_DISCOUNT: Final = Decimal("0.20")
DAYS_PER_MONTH: Final = Decimal(365) / Decimal(12)
ELIGIBLE_CATEGORIES: Final = frozenset({"Compute", "Databases"})
MIN_MONTHLY_SAVINGS: Final = Decimal(1)


@dataclass(frozen=True, slots=True)
class OnDemandSeries:
    provider: str  # aws | azure | gcp | other
    service_category: str | None
    service: str
    currency: str
    daily: Sequence[Decimal]  # one amount per day of the window, oldest first (0: none)
    first_day: str
    last_day: str


_HOW: Final[Mapping[str, HowTo]] = {
    "aws": HowTo(
        (
            "Billing and Cost Management console -> Savings Plans -> Purchase Savings Plans.",
            "Choose Compute Savings Plan, 1 year, No upfront, and the hourly commitment shown "
            "in the evidence.",
            "Review the coverage in Savings & Coverage after the next sync.",
        ),
        cli=(
            "aws savingsplans describe-savings-plans-offerings --plan-types Compute "
            "--durations 31536000 --payment-options 'No Upfront'\n"
            "aws savingsplans create-savings-plan --savings-plan-offering-id <offering-id> "
            "--commitment <hourly-commitment>"
        ),
    ),
    "azure": HowTo(
        (
            "Azure portal -> Savings plans (or Reservations) -> Add.",
            "Pick the scope and term (1 year), and the hourly commitment shown in the evidence.",
        ),
        cli=(
            "az billing-benefits savings-plan-order-alias create --name <name> "
            "--billing-scope-id <scope> --term P1Y --commitment amount=<hourly> "
            "currency-code=<currency> grain=Hourly --applied-scope-type Shared"
        ),
    ),
    "gcp": HowTo(
        (
            "Google Cloud console -> Billing -> Committed use discounts -> Purchase.",
            "Choose a spend-based commitment for the service, 1 year, of the hourly amount "
            "shown in the evidence.",
        ),
        cli="gcloud compute commitments create <name> --region <region> --plan 12-month "
        "--resources vcpu=<n>,memory=<size>",
    ),
}
_GENERIC: Final = HowTo(
    (
        "In the provider's console, open its commitment offers (reservations, savings plans "
        "or committed use discounts).",
        "Buy a one-year commitment of the hourly amount shown in the evidence.",
    ),
)


def steady_on_demand(series: Sequence[OnDemandSeries]) -> list[Finding]:
    out = []
    for s in series:
        if s.service_category not in ELIGIBLE_CATEGORIES or len(s.daily) < WINDOW_DAYS:
            continue
        days = list(s.daily)[-WINDOW_DAYS:]
        floor = min(days)
        if floor <= 0:
            continue  # a day without on-demand use: nothing is steady
        covered = floor * DAYS_PER_MONTH
        savings = money.round_money(covered * ASSUMED_DISCOUNT, s.currency)
        if savings < MIN_MONTHLY_SAVINGS:
            continue
        average = sum(days, Decimal(0)) / len(days)
        hourly = money.round_money(floor / 24, s.currency)
        cur = s.currency
        out.append(
            Finding(
                type="commitment_purchase",
                category="commitment",
                subject=f"{s.provider}:{s.service}:{cur}",
                title=f"Cover {s.service}'s steady on-demand spend with a commitment",
                description=(
                    f"{s.service} ran on demand every day of the last {WINDOW_DAYS} days, never "
                    f"under {money.plain(money.round_money(floor, cur))} {cur} a day (average "
                    f"{money.plain(money.round_money(average, cur))}). A one-year commitment of "
                    f"{money.plain(hourly)} {cur} an hour is always used in full; at a "
                    f"{money.plain(ASSUMED_DISCOUNT * 100)} % discount it saves about "
                    f"{money.plain(savings)} {cur} a month."
                ),
                savings=savings,
                currency=cur,
                evidence={
                    "source": "cost data (FOCUS PricingCategory Standard, ChargeCategory Usage)",
                    "window": f"{s.first_day}..{s.last_day}",
                    "days_with_on_demand_use": sum(1 for d in days if d > 0),
                    "window_days": WINDOW_DAYS,
                    "daily_floor": money.plain(money.round_money(floor, cur)),
                    "daily_average": money.plain(money.round_money(average, cur)),
                    "suggested_hourly_commitment": money.plain(hourly),
                    "monthly_on_demand_covered": money.plain(money.round_money(covered, cur)),
                    "assumed_discount_percent": money.plain(ASSUMED_DISCOUNT * 100),
                    "days_per_month": "365/12",
                },
                risk="low",
                how_to_apply=_HOW.get(s.provider, _GENERIC),
                provider=s.provider,
            )
        )
    return out
