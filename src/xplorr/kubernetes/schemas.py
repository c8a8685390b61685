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


class UsageIngestOut(BaseModel):
    cluster_id: uuid.UUID
    date: date
    metric: str
    series: int = Field(
        description="Containers stored for the day and metric (they replaced "
        "what was stored for both)."
    )


Quantity = Annotated[DecimalNumber, Field(description="Cores for CPU, bytes for memory.")]


class ResourceAdvice(BaseModel):
    p50: Quantity | None = Field(description="Highest daily median (CPU only; else null).")
    p95: Quantity = Field(description="Highest daily P95 of the workload's pods.")
    max: Quantity = Field(description="Highest value seen.")
    current_request: Quantity | None
    current_limit: Quantity | None
    recommended_request: Quantity = Field(
        description="CPU: P95 + 15 % (millicores, rounded up). Memory: max(P95 + 20 %, max) "
        "(whole MiB, rounded up)."
    )
    recommended_limit: Quantity = Field(description="25 % above max(recommended request, max).")


class RightsizingItem(BaseModel):
    namespace: str
    workload: str = Field(description="<controllerKind>:<controller>, or pod:<name> without one.")
    container: str
    days_of_data: int
    cpu: ResourceAdvice | None
    memory: ResourceAdvice | None
    flags: list[str] = Field(
        description="insufficient_data (fewer than 7 days), cpu_spiky / memory_spiky (max more "
        "than twice the P95): check before applying."
    )


class GpuItem(BaseModel):
    """One workload that held GPUs in the window, from OpenCost's allocations."""

    namespace: str
    workload: str = Field(description="<controllerKind>:<controller>, or pod:<name> without one.")
    days_of_data: int = Field(description="Days on which it held GPUs.")
    gpu_hours: DecimalNumber = Field(description="OpenCost's gpuHours, summed.")
    gpu_cost: DecimalNumber = Field(description="OpenCost's gpuCost, summed, in the currency.")
    currency: str
    utilisation_percent: DecimalNumber | None = Field(
        description="Share of its GPU-hours during which the GPU engine was active: the sum "
        "over days of OpenCost's gpuUsageAverage (DCGM_FI_PROF_GR_ENGINE_ACTIVE averaged over "
        "the day, summed over the pod's containers) times the hours it ran, over the sum of "
        "gpuHours, on the days OpenCost reported a usage. Null: not reported (no DCGM data)."
    )
    shared: bool | None = Field(description="OpenCost's isGPUShared (null: not reported).")
    flags: list[str] = Field(
        description="gpu_underused (engine active less than 10 % of its GPU-hours), "
        "gpu_usage_unreported (the cluster's OpenCost reports no GPU usage: install the DCGM "
        "exporter), insufficient_data (fewer than 7 days)."
    )


class RightsizingOut(BaseModel):
    cluster_id: uuid.UUID
    start_date: date | None
    end_date: date | None
    usage_days: int = Field(
        description="Days of Prometheus usage held in the window (0: the collector sends none, "
        "and there is no recommendation)."
    )
    source: str = Field("prometheus", description="Where the usage comes from.")
    data: list[RightsizingItem]
    gpu_start_date: date | None = Field(
        description="The GPU window: the last 30 days of allocations (OpenCost's own figures, "
        "no Prometheus usage needed)."
    )
    gpu_end_date: date | None
    gpus: list[GpuItem] = Field(description="Workloads that held GPUs, costliest first.")
