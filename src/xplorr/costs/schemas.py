"""``/costs`` answers. Amounts are exact sums rounded to cents and written as JSON numbers."""

import datetime as dt
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer
from pydantic.alias_generators import to_camel

from xplorr.costs.query import Metric


def _number(value: Decimal) -> float:
    # A Decimal already rounded to cents (or to 0.01 %): the shortest float repr writes exactly
    # its digits (up to 15 significant digits, i.e. amounts below 10^13).
    return float(value)


Cents = Annotated[
    Decimal,
    PlainSerializer(_number, return_type=float, when_used="json"),
    Field(description="Exact sum rounded to cents (half up)."),
]
Percent = Annotated[
    Decimal,
    PlainSerializer(_number, return_type=float, when_used="json"),
    Field(description="Percent, 2 decimals (half up)."),
]


class _Out(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class CostItem(_Out):
    """One group of ``GET /costs``."""

    key: str | None = Field(
        description="The group's value: service name, provider slug, region id, YYYY-MM-DD, "
        "cloud account id or tag value. null: no region, or untagged for a tag."
    )
    name: str = Field(
        description="Display name: 'AWS' / 'Microsoft Azure' / 'Google Cloud', the account's "
        "name, 'untagged', '(none)' for a missing region; else the key."
    )
    cost: Cents
    percentage: Percent = Field(description="Share of totalCost in percent (0 when it is 0).")


class CurrencyTotal(_Out):
    currency: str
    total_cost: Cents


class CostBreakdownOut(_Out):
    """``GET /costs``."""

    data: list[CostItem]
    total_cost: Cents
    currency: str | None = Field(
        description="The currency of data and totalCost: the requested one, else the one with "
        "the largest total; null when the range holds no cost at all."
    )
    currencies: list[CurrencyTotal] = Field(
        description="Every currency present in the range with its total, largest first."
    )
    start_date: dt.date
    end_date: dt.date
    group_by: str
    metric: Metric


class TrendPoint(_Out):
    date: dt.date
    cost: Cents


class CostTrendOut(_Out):
    """``GET /costs/trend``."""

    data: list[TrendPoint] = Field(description="Every day of the range, 0 on days without cost.")
    total_cost: Cents
    previous_period_total: Cents = Field(
        description="Total of the equally long period just before startDate."
    )
    change_percent: Percent | None = Field(
        description="(totalCost - previousPeriodTotal) / |previousPeriodTotal| x 100, from the "
        "exact sums; null when the previous total is 0."
    )
    currency: str | None
    currencies: list[CurrencyTotal] = Field(
        description="Every currency present in the range with its total, largest first."
    )
    start_date: dt.date
    end_date: dt.date
    previous_start_date: dt.date
    previous_end_date: dt.date
    metric: Metric
