"""``/costs`` answers. Amounts are exact sums rounded to their currency's minor units and
written as JSON numbers with exact digits (``core.money``)."""

import datetime as dt
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from xplorr.core.money import DecimalNumber
from xplorr.costs.query import CostMetric

Amount = Annotated[
    DecimalNumber,
    Field(
        description="Exact sum rounded to the currency's ISO 4217 minor units (JPY 0, USD 2, "
        "KWD 3), half up."
    ),
]
Percent = Annotated[DecimalNumber, Field(description="Percent, 2 decimals (half up).")]


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
    cost: Amount
    percentage: Percent = Field(description="Share of totalCost in percent (0 when it is 0).")
    direct: Amount | None = Field(
        None, description="With allocate=true: the group's own cost (else null)."
    )
    allocated: Amount | None = Field(
        None,
        description="With allocate=true: the shared cost allocation rules moved onto it "
        "(cost = direct + allocated; else null).",
    )


class CurrencyTotal(_Out):
    currency: str
    total_cost: Amount


class CostBreakdownOut(_Out):
    """``GET /costs``."""

    data: list[CostItem]
    total_cost: Amount
    currency: str | None = Field(
        description="The currency of data and totalCost: the requested one, else the "
        "organization's reporting currency (until that setting exists: the currency most of "
        "the caller's cloud accounts bill in; ties alphabetical); null when the caller can see "
        "no cost data at all."
    )
    currencies: list[CurrencyTotal] = Field(
        description="Every currency present in the range with its total: the answer's currency "
        "first, then alphabetical."
    )
    start_date: dt.date
    end_date: dt.date
    group_by: str
    metric: CostMetric
    allocated: bool = Field(
        False,
        description="allocate=true: shared cost moved by the allocation rules targeting the "
        "grouped tag key; the shared source no longer appears as its own group.",
    )


class TrendPoint(_Out):
    date: dt.date
    cost: Amount


class CostTrendOut(_Out):
    """``GET /costs/trend``."""

    data: list[TrendPoint] = Field(description="Every day of the range, 0 on days without cost.")
    total_cost: Amount
    previous_period_total: Amount = Field(
        description="Total of the equally long period just before startDate."
    )
    change_percent: Percent | None = Field(
        description="(totalCost - previousPeriodTotal) / |previousPeriodTotal| x 100, from the "
        "exact sums; null when the previous total is 0."
    )
    currency: str | None
    currencies: list[CurrencyTotal] = Field(
        description="Every currency present in the range with its total: the answer's currency "
        "first, then alphabetical."
    )
    start_date: dt.date
    end_date: dt.date
    previous_start_date: dt.date
    previous_end_date: dt.date
    metric: CostMetric
