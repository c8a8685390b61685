"""``/commitments/analysis`` (snake_case: the reference documents no body)."""

import uuid
from datetime import date
from typing import Literal

from pydantic import BaseModel, Field

from xplorr.core.money import DecimalNumber


class PricingTotals(BaseModel):
    on_demand: DecimalNumber
    reserved: DecimalNumber
    savings_plan: DecimalNumber
    spot: DecimalNumber
    other: DecimalNumber
    total: DecimalNumber


class PricingDay(PricingTotals):
    date: date


class CoverageGap(BaseModel):
    provider: str
    service: str
    instance_family: str | None = Field(
        description="From the AWS usage type (m5, db.r6g, cache.m5) when the bill has it."
    )
    resource_type: str | None
    region: str | None
    average_daily_on_demand_cost: DecimalNumber = Field(
        description="On-demand EffectiveCost of the last 30 days divided by 30."
    )
    average_daily_on_demand_hours: DecimalNumber | None = Field(
        description="On-demand hours of the last 30 days divided by 30, when billed in hours."
    )
    days_run: int = Field(description="Days of the last 30 with on-demand usage.")
    consistency_score: DecimalNumber = Field(description="days_run / 30, 0..1.")
    estimated_monthly_savings: DecimalNumber = Field(
        description="Committing to the steady part (the lowest day of the 30 when it ran every "
        "day) at the assumed discount (assumptions.savings_plan_discount)."
    )


class OwnedCommitment(BaseModel):
    id: uuid.UUID
    cloud_account_id: uuid.UUID
    provider: str
    commitment_id: str
    kind: Literal["reserved_instance", "savings_plan"]
    service: str
    region: str | None
    description: str
    resource_type: str | None
    count: int
    state: str
    start_date: date | None
    expires_on: date | None
    days_left: int | None
    payment_option: str | None
    hourly_cost: DecimalNumber | None
    monthly_cost: DecimalNumber | None = Field(description="hourly_cost x 730 hours.")
    upfront_cost: DecimalNumber | None
    currency: str | None
    utilization_percent: DecimalNumber | None = Field(
        description="Of this commitment, from the bill's lines naming it (None: not in the bill "
        "of the period)."
    )
    source: Literal["api", "demo"] = Field(
        description="api: read from the provider (AWS DescribeReservedInstances, "
        "DescribeSavingsPlans, RDS and ElastiCache reservations); demo: the demo's bill, with "
        "a made-up term."
    )


class Advice(BaseModel):
    kind: Literal["coverage_low", "coverage_high", "commit", "underused", "expiring"]
    severity: Literal["info", "low", "medium", "high"]
    title: str
    detail: str
    estimated_monthly_savings: DecimalNumber | None = None


class CurrencyTotal(BaseModel):
    currency: str
    total_cost: DecimalNumber


class CommitmentAnalysisOut(BaseModel):
    """Spend by pricing model, coverage and utilisation, gaps, owned commitments, advice."""

    account_id: uuid.UUID | None
    days: int
    start_date: date
    end_date: date
    currency: str | None = Field(description="Every amount is in this currency; others apart.")
    currencies: list[CurrencyTotal]
    definitions: dict[str, str]
    assumptions: dict[str, DecimalNumber]
    totals: PricingTotals
    coverage_percent: DecimalNumber | None
    utilization_percent: DecimalNumber | None
    target_coverage_percent: list[int] = Field(description="[60, 80]: the usual target band.")
    daily: list[PricingDay]
    coverage_gaps: list[CoverageGap]
    commitments: list[OwnedCommitment]
    advice: list[Advice]
    advice_source: Literal["rules"] = Field(
        description="rules: deterministic advice from these figures (LLM insights over them are "
        "at /ai-recommendations)."
    )
    notes: list[str]
