"""``/unit-economics`` bodies, snake_case as the reference writes them."""

import datetime as dt
from decimal import Decimal
from typing import Annotated, Final, Literal

from pydantic import BaseModel, ConfigDict, Field

from xplorr.core.dates import IsoDay
from xplorr.core.money import DecimalNumber
from xplorr.core.text import Name
from xplorr.unit_economics.models import MetricType

MAX_BULK: Final = 5000
UnitValue = Annotated[Decimal, Field(ge=0, le=Decimal(10**15), max_digits=24, decimal_places=9)]
MetricDay = Annotated[IsoDay, Field(ge=dt.date(1900, 1, 1), le=dt.date(2999, 12, 31))]


class UnitMetricIn(BaseModel):
    """One data point: the value of a business metric on one day (a second post for the same
    name and day replaces it)."""

    model_config = ConfigDict(extra="forbid")
    name: Name = Field(description="The metric, e.g. 'Active Customers'.")
    metric_type: MetricType = Field(
        description="api_calls, transactions, customers, requests or custom."
    )
    value: UnitValue = Field(
        description="The count that day (>= 0; 0 is stored, never divided by)."
    )
    date: MetricDay


class UnitMetricOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    name: str
    metric_type: MetricType
    value: DecimalNumber
    date: dt.date
    created: bool = Field(
        description="true: a new day (201); false: the day's value replaced (200)."
    )


class MetricSummary(BaseModel):
    name: str
    metric_type: MetricType = Field(description="The kind of the newest value.")
    days: int = Field(description="Days with a value.")
    first_date: dt.date
    last_date: dt.date


class MetricNamesOut(BaseModel):
    """The metrics the organization records, by name (at most 500)."""

    data: list[MetricSummary]


class BulkResult(BaseModel):
    """A bulk post or CSV upload: how many days were new and how many replaced."""

    created: int
    replaced: int


class UnitDay(BaseModel):
    date: dt.date
    cost: DecimalNumber = Field(description="That day's cost in scope, rounded to the currency.")
    units: DecimalNumber
    cost_per_unit: DecimalNumber = Field(description="cost / units, 6 decimals (half up).")


class UnitTotals(BaseModel):
    cost: DecimalNumber = Field(description="Cost of the days with a value.")
    units: DecimalNumber
    cost_per_unit: DecimalNumber | None = Field(description="null when units add up to 0.")


class UnitTrend(BaseModel):
    """Cost per unit of the first half of the days with a value against the second half (the
    middle day of an odd count is in neither): beyond +/-5 % increasing or decreasing, else
    stable."""

    direction: Literal["increasing", "decreasing", "stable"]
    first_half_cost_per_unit: DecimalNumber
    second_half_cost_per_unit: DecimalNumber
    change_percent: DecimalNumber | None = Field(
        description="(second - first) / first in percent, 2 decimals; null when first is 0."
    )
    threshold_percent: DecimalNumber


class UnitEconomicsOut(BaseModel):
    """``GET /unit-economics``."""

    metric_name: str
    metric_type: MetricType
    start_date: dt.date
    end_date: dt.date
    currency: str | None
    data: list[UnitDay] = Field(description="Days with a value above 0, oldest first.")
    totals: UnitTotals
    trend: UnitTrend | None = Field(description="null with fewer than two days of values.")
