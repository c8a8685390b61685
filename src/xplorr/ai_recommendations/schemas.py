"""``/ai-recommendations``: the figures an LLM is shown (aggregates only), the answer it must
give (``LlmAnswer``, validated), and the response (snake_case: the reference gives no body)."""

import datetime as dt
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from xplorr.core.money import DecimalNumber

Text = Annotated[str, Field(min_length=1, max_length=800)]


class ServiceFigure(BaseModel):
    service: str
    cost: DecimalNumber
    previous_cost: DecimalNumber
    change: DecimalNumber
    change_percent: DecimalNumber | None


class AnomalyFigure(BaseModel):
    date: dt.date
    scope: str
    service: str | None
    currency: str
    actual_cost: DecimalNumber
    baseline_cost: DecimalNumber
    percent_above: DecimalNumber | None
    severity: str


class RecommendationFigure(BaseModel):
    """Open recommendations of one type (titles name resources: only the type is shown)."""

    type: str
    category: str | None = None
    count: int
    estimated_monthly_savings: DecimalNumber
    currency: str


class RecommendationFigures(BaseModel):
    available: bool = Field(
        default=True, description="Whether the recommendation engine's figures are included."
    )
    open_count: int
    monthly_savings: DecimalNumber = Field(
        description="What the open recommendations in the figures' currency would save a month "
        "together: alternatives for the same spend (the actions on one resource, an account's "
        "commitment purchases) count once, the largest."
    )
    top: list[RecommendationFigure]


class GapFigure(BaseModel):
    service: str
    instance_family: str | None
    region: str | None
    average_daily_on_demand_cost: DecimalNumber
    consistency_score: DecimalNumber
    estimated_monthly_savings: DecimalNumber


class ExpiringFigure(BaseModel):
    kind: str
    description: str
    expires_on: dt.date
    days_left: int


class CoverageFigures(BaseModel):
    coverage_percent: DecimalNumber | None
    utilization_percent: DecimalNumber | None
    on_demand: DecimalNumber
    reserved: DecimalNumber
    savings_plan: DecimalNumber
    spot: DecimalNumber
    top_gaps: list[GapFigure]
    expiring_within_60_days: list[ExpiringFigure]


class Figures(BaseModel):
    """The organization's aggregated figures: no raw cost rows, account names, resource ids,
    credentials or personal data (what is sent to the LLM)."""

    period_start: dt.date
    period_end: dt.date
    currency: str | None
    total_cost: DecimalNumber
    previous_total_cost: DecimalNumber
    change_percent: DecimalNumber | None
    top_services: list[ServiceFigure]
    movers: list[ServiceFigure]
    open_anomalies: int
    anomalies: list[AnomalyFigure]
    recommendations: RecommendationFigures
    coverage: CoverageFigures


Category = Literal["spend_trend", "anomaly", "savings", "commitment", "other"]
Level = Literal["info", "low", "medium", "high"]


class Insight(BaseModel):
    """One insight, as the LLM must write it (``extra="forbid"``: nothing else is accepted)."""

    model_config = ConfigDict(extra="forbid")

    title: Annotated[str, Field(min_length=1, max_length=160)]
    summary: Text
    category: Category
    severity: Level
    estimated_monthly_savings: Annotated[Decimal | None, Field(ge=0, le=Decimal("1e12"))] = None
    actions: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=300)]], Field(max_length=5)
    ] = Field(default_factory=list)


class LlmAnswer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    insights: Annotated[list[Insight], Field(min_length=1, max_length=8)]


class InsightOut(BaseModel):
    title: str
    summary: str
    category: Category
    severity: Level
    estimated_monthly_savings: DecimalNumber | None
    actions: list[str]


class AiRecommendationsOut(BaseModel):
    """Insights over the organization's aggregated figures, by an LLM or by rules."""

    source: Literal["llm", "rules"] = Field(
        description="llm: written by the configured LLM (XPLORR_LLM_*); rules: deterministic "
        "insights from the same figures (no LLM configured, or its answer was late or invalid: "
        "notes say which)."
    )
    model: str | None = Field(description="The LLM model, when source is llm.")
    generated_at: dt.datetime
    cached: bool = Field(description="An LLM answer from earlier today for the same accounts.")
    currency: str | None
    insights: list[InsightOut]
    figures: Figures
    notes: list[str]
