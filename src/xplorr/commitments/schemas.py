"""``/commitments/analysis`` (snake_case: the reference documents no body)."""

import uuid
from datetime import date
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

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
    advice_source: Literal["ai", "rules"] = Field(
        description="ai: written by the configured LLM (XPLORR_LLM_*, model in advice_model) "
        "from the figures of this answer, checked against them; rules: deterministic advice "
        "from the same figures (no LLM configured, or its answer was late, failed or did not "
        "hold to the figures: advice_note says which)."
    )
    advice_model: str | None = Field(description="The LLM model, when advice_source is ai.")
    advice_note: str = Field(description="Who wrote the advice, or why the rules did.")
    notes: list[str]


class LlmAdvice(BaseModel):
    """One piece of advice, as the LLM must write it (``extra="forbid"``: nothing else)."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["coverage_low", "coverage_high", "commit", "underused", "expiring"]
    severity: Literal["info", "low", "medium", "high"]
    title: Annotated[str, Field(min_length=1, max_length=160)]
    detail: Annotated[str, Field(min_length=1, max_length=800)]
    estimated_monthly_savings: Annotated[Decimal | None, Field(ge=0, le=Decimal("1e12"))] = None


class LlmAdviceAnswer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    advice: Annotated[list[LlmAdvice], Field(min_length=1, max_length=8)]


class AdviceGap(BaseModel):
    service: str
    instance_family: str | None
    resource_type: str | None
    region: str | None
    average_daily_on_demand_cost: DecimalNumber
    average_daily_on_demand_hours: DecimalNumber | None
    days_run: int
    consistency_score: DecimalNumber
    estimated_monthly_savings: DecimalNumber


class AdviceCommitment(BaseModel):
    kind: str
    service: str
    region: str | None
    resource_type: str | None
    count: int
    expires_on: date | None
    days_left: int | None
    monthly_cost: DecimalNumber | None
    utilization_percent: DecimalNumber | None


class AdviceFigures(BaseModel):
    """What the LLM is shown: the analysis's own figures, aggregated (no account, commitment or
    resource id, no cost row). ``steady_gap_savings`` is the most any advice may claim."""

    currency: str
    start_date: date
    end_date: date
    days: int
    definitions: dict[str, str]
    assumed_discount: DecimalNumber
    totals: PricingTotals
    coverage_percent: DecimalNumber | None
    utilization_percent: DecimalNumber | None
    target_coverage_percent: list[int]
    unused_commitment_cost: DecimalNumber
    steady_gap_savings: DecimalNumber
    coverage_gaps: list[AdviceGap]
    commitments: list[AdviceCommitment]
