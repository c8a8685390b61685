"""Budgets' bodies: as the reference writes them (snake_case: ``name, amount, currency,
cloud_account_id, alert_at_80, alert_at_100``), plus ``period`` and ``filters``."""

import datetime as dt
import uuid
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from xplorr.core.money import DecimalNumber
from xplorr.costs.forecast import Method, Period

BudgetName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
CurrencyCode = Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{3}$", to_upper=True)]
# At most 1e15 (every sum is exact far beyond); decimals beyond the currency's minor units are
# refused by the service (422 naming ``amount``).
Amount = Annotated[Decimal, Field(gt=0, lt=Decimal(10**15), allow_inf_nan=False)]


class BudgetFilters(BaseModel):
    """What counts against the budget besides its account: one provider, one service (its
    ``ServiceName``), one tag value (``tag_key`` and ``tag_value`` together)."""

    model_config = ConfigDict(extra="forbid")

    provider: Literal["aws", "azure", "gcp"] | None = None
    service: Annotated[str, StringConstraints(min_length=1, max_length=300)] | None = None
    tag_key: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = None
    tag_value: Annotated[str, StringConstraints(max_length=500)] | None = None


class BudgetCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: BudgetName
    amount: Amount
    currency: CurrencyCode = "USD"
    cloud_account_id: uuid.UUID | None = None
    alert_at_80: bool = True
    alert_at_100: bool = True
    period: Period = Period.MONTHLY
    filters: BudgetFilters | None = None


class BudgetUpdate(BaseModel):
    """Fields to change; ``cloud_account_id: null`` makes the budget organization-wide and
    ``filters: null`` removes its filters."""

    model_config = ConfigDict(extra="forbid")

    name: BudgetName | None = None
    amount: Amount | None = None
    currency: CurrencyCode | None = None
    cloud_account_id: uuid.UUID | None = None
    alert_at_80: bool | None = None
    alert_at_100: bool | None = None
    period: Period | None = None
    filters: BudgetFilters | None = None


class CurrencySpend(BaseModel):
    currency: str
    spend: DecimalNumber


class BudgetOut(BaseModel):
    id: uuid.UUID
    name: str
    amount: DecimalNumber
    currency: str
    cloud_account_id: uuid.UUID | None
    alert_at_80: bool
    alert_at_100: bool
    period: Period
    filters: BudgetFilters | None
    period_start: dt.date
    period_end: dt.date
    data_through: dt.date | None = Field(
        description="The last complete day of data counted (None: none in this period yet)."
    )
    current_spend: DecimalNumber
    percent_used: DecimalNumber
    forecast: DecimalNumber | None = Field(
        description="Projected spend at the period's end (None: no cost data to project from)."
    )
    forecast_low: DecimalNumber | None = Field(
        description="Low end of the forecast's day-to-day range: the spread daily noise alone "
        "gives (not a calibrated interval: resources started or stopped, spikes and credits "
        "fall outside it)."
    )
    forecast_high: DecimalNumber | None = Field(
        description="High end of the forecast's day-to-day range (see forecast_low)."
    )
    forecast_method: Method | None
    projected_overrun: bool
    other_currencies: list[CurrencySpend] = Field(
        description="Spend under the budget's filters in other currencies: never added to it."
    )
    note: str | None
    created_at: dt.datetime
    updated_at: dt.datetime
