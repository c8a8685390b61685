"""The providers' own recommendations as recommendations: Azure Advisor's cost recommendations
and GCP Recommender's (idle VM, idle disk, idle address, machine type; CUDs when collected),
read through the providers' recommendations store (``advisor.service``), which the Azure and
GCP inventory refreshes keep in step with what the provider reports.

Nothing is estimated here: the saving and currency are the provider's (per month, rounded to
the currency's minor unit), the evidence names the source and its ids. A recommendation the
provider stops reporting leaves the store, so the engine's next refresh closes it as
``applied`` like any other rule's finding. ``from_provider`` is the pure rule; ``findings``
reads the rows for the engine.
"""

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final

from sqlalchemy.ext.asyncio import AsyncSession

from xplorr.advisor import service as provider_recommendations
from xplorr.advisor.models import ProviderRecommendation
from xplorr.cloud_accounts.models import CloudAccount
from xplorr.core import money
from xplorr.core.tenancy import org_scope
from xplorr.inventory.models import InventoryResource
from xplorr.recommendations.rules import Finding, HowTo

SOURCES: Final = {"azure-advisor": "Azure Advisor", "gcp-recommender": "GCP Recommender"}
# The currency a provider means when it names none (Advisor's estimates default to USD).
DEFAULT_CURRENCY: Final = "USD"
_MAX_SUBJECT: Final = 500  # the fingerprint column holds 600


@dataclass(frozen=True, slots=True)
class _Kind:
    type: str
    category: str
    risk: str


# GCP Recommender id -> what it recommends
_GCP: Final[Mapping[str, _Kind]] = {
    "google.compute.instance.IdleResourceRecommender": _Kind("gcp_idle_vm", "idle", "medium"),
    "google.compute.disk.IdleResourceRecommender": _Kind("gcp_idle_disk", "unused", "medium"),
    "google.compute.address.IdleResourceRecommender": _Kind("gcp_idle_address", "unused", "low"),
    "google.compute.instance.MachineTypeRecommender": _Kind(
        "gcp_machine_type", "rightsizing", "medium"
    ),
    "google.compute.commitment.UsageCommitmentRecommender": _Kind(
        "gcp_commitment", "commitment", "low"
    ),
}
_GCP_OTHER: Final = _Kind("gcp_recommender", "other", "medium")


@dataclass(frozen=True, slots=True)
class Known:
    """What the inventory knows of the resource a recommendation is about."""

    name: str | None
    region: str | None


def _azure_kind(details: Mapping[str, Any]) -> _Kind:
    if details.get("reservedResourceType") or details.get("term"):
        return _Kind("azure_advisor_commitment", "commitment", "low")
    target = str(details.get("targetSku") or "")
    if target.lower() == "shutdown":
        return _Kind("azure_advisor_idle", "idle", "medium")
    if target:
        return _Kind("azure_advisor_rightsizing", "rightsizing", "medium")
    return _Kind("azure_advisor_cost", "other", "medium")


def _last(path: str | None) -> str | None:
    return path.rstrip("/").rsplit("/", 1)[-1] if path else None


def _zone_region(location: str | None) -> str | None:
    """``us-central1`` of the zone ``us-central1-a``; a region or None as it is."""
    if location and re.fullmatch(r"[a-z]+-[a-z]+\d+-[a-z]", location):
        return location.rsplit("-", 1)[0]
    return location if location and location != "global" else None


def _subject(r: ProviderRecommendation) -> str:
    subject = f"{r.source}:{r.recommendation_id}"
    if len(subject) <= _MAX_SUBJECT:
        return subject
    return f"{r.source}:sha256:{hashlib.sha256(r.recommendation_id.encode()).hexdigest()}"


def _text(amount: Decimal | None, currency: str) -> str | None:
    return None if amount is None else money.plain(money.round_money(amount, currency))


def _azure_how(r: ProviderRecommendation, kind: _Kind, label: str) -> HowTo:
    details = r.details or {}
    steps = [f'Azure portal -> Advisor -> Cost -> "{r.problem or "the recommendation"}".']
    if r.solution and r.solution != r.problem:
        steps.append(f"{r.solution}.".replace("..", "."))
    steps.append(f"Apply it to {label}; Advisor drops the recommendation once it is done.")
    cli = None
    vm = r.resource_id and "/providers/microsoft.compute/virtualmachines/" in r.resource_id.lower()
    if vm and kind.category == "idle":
        cli = f"az vm deallocate --ids {r.resource_id}"
    elif vm and kind.category == "rightsizing":
        cli = f"az vm resize --ids {r.resource_id} --size {details['targetSku']}"
    return HowTo(tuple(steps), cli=cli)


def _gcp_how(r: ProviderRecommendation, kind: _Kind, label: str) -> HowTo:
    overview = (r.details or {}).get("overview") or {}
    where = r.location or "<location>"
    gce = _last(r.resource_id)  # gcloud takes the resource's own name, whatever it displays as
    commands = {
        "gcp_idle_vm": f"gcloud compute instances stop {gce} --zone {where}",
        "gcp_idle_disk": (
            f"gcloud compute disks snapshot {gce} --zone {where}\n"
            f"gcloud compute disks delete {gce} --zone {where}"
        ),
        "gcp_idle_address": f"gcloud compute addresses delete {gce} --region {where}",
    }
    # A command names the resource: none when the recommendation names no resource.
    cli = commands.get(kind.type) if r.resource_id else None
    target = _last(str((overview.get("recommendedMachineType") or {}).get("name") or "")) or None
    if kind.type == "gcp_machine_type" and target and r.resource_id:
        cli = (
            f"gcloud compute instances stop {gce} --zone {where}\n"
            f"gcloud compute instances set-machine-type {gce} --zone {where} "
            f"--machine-type {target}\n"
            f"gcloud compute instances start {gce} --zone {where}"
        )
    return HowTo(
        (
            "Google Cloud console -> Recommendations (Recommendation Hub) -> "
            f'"{r.problem or "the recommendation"}".',
            f"Review it and apply it to {label}; Recommender drops it once it is done.",
        ),
        cli=cli,
    )


def _finding(r: ProviderRecommendation, known: Mapping[str, Known]) -> Finding | None:
    source = SOURCES.get(r.source)
    if source is None:
        return None  # a source this module does not know: shown nowhere rather than guessed
    details = dict(r.details or {})
    azure = r.provider == "azure"
    kind = _azure_kind(details) if azure else _GCP.get(r.recommender or "", _GCP_OTHER)
    currency = r.currency or DEFAULT_CURRENCY
    savings = money.round_money(r.savings_amount or Decimal(0), currency)
    inv = known.get(r.resource_id or "")
    name = (inv.name if inv else None) or _last(r.resource_id)
    label = name or "the resource"
    region = (inv.region if inv else None) or (
        details.get("region") or details.get("regionId") if azure else _zone_region(r.location)
    )
    what = r.problem or f"{source} cost recommendation"
    demo = details.get("demo") is True  # seeded by ``xplorr demo``, not read from a provider
    stated = (
        f"{source} estimates a saving of {money.plain(savings)} {currency} a month"
        if r.savings_amount is not None
        else f"{source} states no saving for it"
    )
    evidence: dict[str, Any] = {
        "source": source,
        "recommendation_id": r.recommendation_id,
        "resource_id": r.resource_id,
        "category": r.category,
        "monthly_savings": _text(r.savings_amount, currency),
        "currency": currency,
        "currency_stated": r.currency is not None,
        "last_seen": r.seen_at.isoformat(),
        "demo_data": True if demo else None,
    }
    if azure:
        evidence |= {
            "impact": r.impact,
            "annual_savings": _text(r.annual_savings_amount, currency),
            "last_updated": r.last_updated.isoformat() if r.last_updated else None,
            "recommendation_type_id": details.get("recommendationTypeId"),
            "target_sku": details.get("targetSku"),
        }
        how = _azure_how(r, kind, label)
    else:
        evidence |= {
            "recommender": r.recommender,
            "subtype": details.get("subtype"),
            "priority": details.get("priority"),
            "location": r.location,
            "last_refresh": details.get("last_refresh"),
        }
        how = _gcp_how(r, kind, label)
    return Finding(
        type=kind.type,
        category=kind.category,
        subject=_subject(r),
        title=f"{what.rstrip('.')}: {label}"[:300],
        description=f"{source}{' (demo data)' if demo else ''}: {what.rstrip('.')} ({label}). "
        f"{stated}.",
        savings=savings,
        currency=currency,
        evidence={k: v for k, v in evidence.items() if v is not None},
        risk=kind.risk,
        how_to_apply=how,
        provider=r.provider,
        resource_id=r.resource_id,
        resource_name=name,
        region=region,
    )


def from_provider(
    rows: Sequence[ProviderRecommendation], known: Mapping[str, Known] | None = None
) -> list[Finding]:
    """One finding per stored provider recommendation of a known source."""
    return [f for r in rows if (f := _finding(r, known or {})) is not None]


async def findings(
    db: AsyncSession, account: CloudAccount, resources: Sequence[InventoryResource]
) -> list[Finding]:
    """The account's provider recommendations as findings (read through ``advisor.service``),
    named and placed from its live ``resources`` where they are known."""
    rows = await provider_recommendations.list_for(
        db, org_scope(account.org_id), cloud_account_id=account.id
    )
    return from_provider(rows, {r.resource_id: Known(r.name, r.region) for r in resources})
