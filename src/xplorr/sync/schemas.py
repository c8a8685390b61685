"""Sync resources, spelled in camelCase as the reference spells this resource (``dataThrough``)."""

import uuid
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from xplorr.cloud_accounts.models import AccountStatus, Provider
from xplorr.sync.models import SyncState, SyncTrigger


class _Camel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class SkippedPeriod(_Camel):
    period: str = Field(description="Billing period, YYYY-MM.")
    reason: str = Field(description="`unchanged` (same snapshot again) or `older snapshot`.")


class SyncDetail(_Camel):
    """What a finished run did. ``totals``: BilledCost per currency of the periods this run
    imported, exact decimal strings summed from the source values."""

    periods_imported: list[str] = Field(description="Billing periods (YYYY-MM) replaced.")
    periods_skipped: list[SkippedPeriod] = Field(description="Billing periods left as they were.")
    files: int = 0
    files_skipped: list[str] = Field(
        default_factory=list,
        description="Export names under the path that were not read (a FIFO, a device...), "
        "each with why.",
    )
    rows_read: int
    rows_stored: int
    days: int
    first_date: date | None = None
    last_date: date | None = None
    totals: dict[str, str] = Field(default_factory=dict)
    warnings: list[str] = Field(
        default_factory=list,
        description="What succeeded but needs a look: an export path holding no export files "
        "(nothing imported), or a partial sync's sources or periods that could not be read "
        "and why (a billing period, a linked account, an export that was denied); everything "
        "else was imported.",
    )
    api_calls: dict[str, int] = Field(
        default_factory=dict,
        description="Billable provider calls the run made, by operation "
        "(`ce:GetCostAndUsage`: $0.01 each).",
    )


class SyncRunOut(_Camel):
    """One sync of one cloud account.

    ``state``: ``queued`` (waiting for a worker, or for its retry after a transient error, which
    ``error`` then describes), ``running``, ``succeeded`` or ``failed`` (``error`` says why).
    ``rows``: export rows the run read; ``dataThrough``: the last complete day of the account's
    data after the run."""

    id: uuid.UUID
    account_id: uuid.UUID
    account_name: str
    provider: Provider
    trigger: SyncTrigger
    state: SyncState
    requested_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    rows: int | None
    error: str | None
    data_through: date | None
    detail: SyncDetail | None


class SyncRunList(_Camel):
    """The runs a request queued (or found already queued), one per account."""

    data: list[SyncRunOut]


class SyncStatusOut(_Camel):
    """One visible cloud account and its newest sync run. ``state`` and the run fields are null
    for an account never synced. ``dataThrough`` is the last complete day of the data stored for
    the account (whoever imported it), whatever state the newest run is in."""

    account_id: uuid.UUID
    account_name: str
    provider: Provider
    account_status: AccountStatus
    last_synced_at: datetime | None
    run_id: uuid.UUID | None
    state: SyncState | None
    trigger: SyncTrigger | None
    requested_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    rows: int | None
    error: str | None
    data_through: date | None
    warnings: list[str] = Field(
        default_factory=list, description="The newest run's warnings (see SyncDetail)."
    )
    inventory_refreshed_at: datetime | None = Field(
        default=None,
        description="When the account's newest inventory refresh started (it follows each "
        "sync that changed cost data); null: not refreshed yet, or a provider without an "
        "inventory (FOCUS exports).",
    )
    inventory_warnings: list[str] = Field(
        default_factory=list,
        description="What that refresh could not read, and why (a permission the role, "
        "service principal or service account lacks): those resources kept their rows as "
        "they were; everything else was refreshed.",
    )


class SyncStatusList(_Camel):
    """Every cloud account the caller may see, by name."""

    data: list[SyncStatusOut]


def detail_out(raw: dict[str, Any] | None) -> SyncDetail | None:
    return SyncDetail.model_validate(raw) if raw else None
