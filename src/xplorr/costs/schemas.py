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
    percentage: Percent = Field(
        description="Share of totalCost in percent (0 when it is 0); in a nested group, share "
        "of its parent group."
    )
    other: bool = Field(
        default=False,
        description="True for the group summing everything beyond `limit` (key null, name "
        "'other').",
    )
    groups: "list[CostItem] | None" = Field(
        default=None,
        description="With thenBy: this group's cost by the second dimension (same shape, "
        "amounts adding up exactly to this group's cost); else null.",
    )
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
    then_by: str | None = Field(default=None, description="The second dimension, if asked.")
    metric: CostMetric
    allocated: bool = Field(
        False,
        description="allocate=true: shared cost moved by the allocation rules targeting the "
        "grouped tag key; the shared source no longer appears as its own group.",
    )


class TrendPoint(_Out):
    date: dt.date = Field(
        description="The day; by week its Monday, by month its first day (the first bucket "
        "may start before startDate: it holds only the days of the range)."
    )
    cost: Amount


class CostTrendOut(_Out):
    """``GET /costs/trend``."""

    data: list[TrendPoint] = Field(
        description="Every day (week, month) of the range, 0 without cost; the points add up "
        "exactly to totalCost."
    )
    total_cost: Amount
    previous_period_total: Amount = Field(
        description="Total of the period compared with (previousStartDate..previousEndDate)."
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
    granularity: str = Field(description="day, week or month.")
    previous_period: str = Field(description="preceding, month_to_date or year_over_year.")
    metric: CostMetric


class _RangeOut(_Out):
    total_cost: Amount
    currency: str | None
    currencies: list[CurrencyTotal] = Field(
        description="Every currency present in the range with its total: the answer's currency "
        "first, then alphabetical."
    )
    start_date: dt.date
    end_date: dt.date
    metric: CostMetric


class DimensionsOut(_RangeOut):
    """``GET /costs/dimensions``: every value of each dimension in the range with its total,
    largest first (each list adds up exactly to totalCost)."""

    providers: list[CostItem]
    accounts: list[CostItem]
    services: list[CostItem]
    service_categories: list[CostItem]
    regions: list[CostItem]
    charge_categories: list[CostItem]
    pricing_categories: list[CostItem]


class TagKeyItem(_Out):
    key: str = Field(description="The tag key (lowercase with tagCase=insensitive).")
    variants: list[str] = Field(description="Its spellings in the data.")
    cost: Amount = Field(description="Total of the costs that carry the key.")
    percentage: Percent = Field(description="Share of totalCost carrying the key, in percent.")


class TagKeysOut(_RangeOut):
    """``GET /costs/tags``."""

    data: list[TagKeyItem]
    tag_case: str


class TagValuesOut(_RangeOut):
    """``GET /costs/tags/{key}/values``: the values with their totals, costs without the key
    as ``{key: null, name: 'untagged'}``; they add up exactly to totalCost."""

    data: list[CostItem]
    key: str
    variants: list[str] = Field(description="The key's spellings summed (tagCase=insensitive).")
    tag_case: str
