"""``/kubernetes`` bodies and answers (snake_case: the reference is silent on this area)."""

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from xplorr.core.money import DecimalNumber
from xplorr.core.text import ShortName


class ClusterState(StrEnum):
    WAITING = "waiting"  # created; no allocation posted yet ("Waiting for collector")
    RECEIVING = "receiving"  # the collector has posted


class ClusterCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    name: ShortName = Field(description="The cluster's name (OpenCost's CLUSTER_ID).")
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{3}$", to_upper=True)] = Field(
        default="USD",
        description="The currency OpenCost prices this cluster in (its CURRENCY_CODE; USD by "
        "default). Its costs are never added to another currency's.",
    )


class ClusterOut(BaseModel):
    id: uuid.UUID
    name: str
    currency: str
    state: ClusterState
    token_prefix: str = Field(description="The start of the ingest token, to recognise it.")
    last_post_at: datetime | None = Field(description="The collector's last allocation post.")
    last_assets_post_at: datetime | None = Field(description="Its last assets post.")
    days_held: int = Field(description="Days with allocations stored.")
    first_day: date | None
    last_day: date | None
    created_at: datetime


class ClusterCreated(ClusterOut):
    ingest_token: str = Field(
        description="The cluster's ingest token (xpk8s_...): it writes this cluster's data and "
        "nothing else. Shown once: store it now (the chart's ingestToken value)."
    )


class IngestDay(BaseModel):
    date: date
    allocations: int = Field(description="Allocations stored for the day (idle included).")
    total_cost: DecimalNumber = Field(description="The day's posted totalCost, summed exactly.")


class IngestOut(BaseModel):
    cluster_id: uuid.UUID
    currency: str
    days: list[IngestDay] = Field(
        description="Each day of the post: it replaced what was stored for that day."
    )


class AssetsIngestOut(BaseModel):
    cluster_id: uuid.UUID
    date: date
    assets: int = Field(description="Assets stored for the day (they replaced the day's).")
    total_cost: DecimalNumber = Field(description="Their totalCost, summed exactly.")
