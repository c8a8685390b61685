"""What Azure Advisor and GCP Recommender would report for the demo Azure and Google Cloud
accounts, so that the demo shows their recommendations as a connected account would: for the
first virtual machines of the account's inventory (by id), a rightsizing and an idle-VM
recommendation, and one commitment purchase for the account.

Pure data, no I/O: ``xplorr.demo`` stores them through the providers' recommendations store
(``advisor.service.replace``), as the Azure and GCP collectors store theirs. Demo data, and
marked so: every id starts ``demo-`` under the provider's own id scheme, and ``details`` has
``"demo": true`` (the recommendation's evidence says ``demo_data``). The amounts are fixed
figures of the size the providers report for such machines, in USD.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Final

from xplorr.inventory.types import ResourceType

# The inventory's type of both clouds' VMs (inventory.types: one vocabulary for every cloud)
AZURE_VM: Final = ResourceType.VIRTUAL_MACHINE.value
GCP_VM: Final = ResourceType.VIRTUAL_MACHINE.value
ADVISOR: Final = "/providers/Microsoft.Advisor/recommendations"


@dataclass(frozen=True, slots=True)
class Seen:
    """A resource of the demo account's inventory."""

    resource_id: str
    resource_type: str
    provider: str
    region: str | None


@dataclass(frozen=True, slots=True)
class DemoRecommendation:
    """One recommendation as the provider's collector would store it (``advisor.Found``)."""

    provider: str  # azure | gcp
    recommendation_id: str
    resource_id: str | None
    savings_amount: Decimal
    problem: str
    details: dict[str, Any] = field(default_factory=dict)
    impact: str | None = None
    solution: str | None = None
    annual_savings_amount: Decimal | None = None
    recommender: str | None = None
    kind: str | None = None
    location: str | None = None
    currency: str = "USD"
    category: str = "Cost"
    state: str | None = None


def _vms(resources: Sequence[Seen], provider: str, kind: str) -> list[Seen]:
    return sorted(
        (r for r in resources if r.provider == provider and r.resource_type == kind),
        key=lambda r: r.resource_id,
    )


def _azure(resources: Sequence[Seen]) -> list[DemoRecommendation]:
    vms = _vms(resources, "azure", AZURE_VM)
    if not vms:
        return []
    subscription = "/".join(vms[0].resource_id.split("/")[:3])  # /subscriptions/<id>
    out = [
        DemoRecommendation(
            "azure",
            f"{subscription}{ADVISOR}/demo-reserved-instances",
            None,
            Decimal("412.80"),
            "Buy virtual machine reserved instances to save money over pay-as-you-go costs",
            impact="High",
            solution="Buy virtual machine reserved instances",
            annual_savings_amount=Decimal("4953.60"),
            details={
                "demo": True,
                "reservedResourceType": "virtualmachines",
                "term": "P1Y",
                "lookbackPeriod": "30",
                "vmSize": "Standard_D4s_v5",
                "displayQty": "6",
                "region": vms[0].region,
            },
        ),
        DemoRecommendation(
            "azure",
            f"{vms[0].resource_id}{ADVISOR}/demo-rightsize",
            vms[0].resource_id,
            Decimal("70.08"),
            "Right-size or shutdown underutilized virtual machines",
            impact="High",
            solution="Resize the virtual machine to Standard_D2s_v5",
            annual_savings_amount=Decimal("840.96"),
            details={
                "demo": True,
                "recommendationTypeId": "e10b1381-5f0a-47ff-8c7b-37bd13d7c974",
                "currentSku": "Standard_D4s_v5",
                "targetSku": "Standard_D2s_v5",
                "MaxCpuP95": "8.1",
                "MaxMemoryP95": "31.4",
                "region": vms[0].region,
            },
        ),
    ]
    if len(vms) > 1:
        out.append(
            DemoRecommendation(
                "azure",
                f"{vms[1].resource_id}{ADVISOR}/demo-shutdown",
                vms[1].resource_id,
                Decimal("140.16"),
                "Right-size or shutdown underutilized virtual machines",
                impact="High",
                solution="Shut down the virtual machine",
                annual_savings_amount=Decimal("1681.92"),
                details={
                    "demo": True,
                    "recommendationTypeId": "e10b1381-5f0a-47ff-8c7b-37bd13d7c974",
                    "currentSku": "Standard_D4s_v5",
                    "targetSku": "Shutdown",
                    "MaxCpuP95": "1.2",
                    "region": vms[1].region,
                },
            )
        )
    return out


def _zone(resource_id: str) -> str | None:
    parts = resource_id.split("/")
    return parts[parts.index("zones") + 1] if "zones" in parts[:-1] else None


def _project(resource_id: str) -> str | None:
    parts = resource_id.split("/")
    return parts[parts.index("projects") + 1] if "projects" in parts[:-1] else None


def _gcp(resources: Sequence[Seen]) -> list[DemoRecommendation]:
    vms = [v for v in _vms(resources, "gcp", GCP_VM) if _zone(v.resource_id)]
    if not vms:
        return []
    project = _project(vms[0].resource_id) or "demo-project"

    def name(location: str, recommender: str, rid: str) -> str:
        return (
            f"projects/{project}/locations/{location}/recommenders/google.compute.{recommender}"
            f"/recommendations/demo-{rid}"
        )

    first = vms[0]
    zone = _zone(first.resource_id) or ""
    region = first.region or zone.rsplit("-", 1)[0]
    out = [
        DemoRecommendation(
            "gcp",
            name(region, "commitment.UsageCommitmentRecommender", "cud"),
            None,
            Decimal("310.25"),
            "Save cost by purchasing a 1-year commitment for 16 vCPUs and 64 GB of memory.",
            recommender="google.compute.commitment.UsageCommitmentRecommender",
            kind="commitment",
            location=region,
            state="ACTIVE",
            details={"demo": True, "subtype": "CREATE_COMMITMENT", "priority": "P2"},
        ),
        DemoRecommendation(
            "gcp",
            name(zone, "instance.MachineTypeRecommender", "machine-type"),
            first.resource_id,
            Decimal("97.82"),
            "Save cost by changing machine type from n2-standard-8 to n2-standard-4.",
            recommender="google.compute.instance.MachineTypeRecommender",
            kind="rightsizing",
            location=zone,
            state="ACTIVE",
            details={
                "demo": True,
                "subtype": "CHANGE_MACHINE_TYPE",
                "priority": "P2",
                "overview": {
                    "recommendedMachineType": {"name": f"zones/{zone}/machineTypes/n2-standard-4"}
                },
            },
        ),
    ]
    if len(vms) > 1:
        second = vms[1]
        out.append(
            DemoRecommendation(
                "gcp",
                name(_zone(second.resource_id) or zone, "instance.IdleResourceRecommender", "idle"),
                second.resource_id,
                Decimal("195.64"),
                f"Save cost by stopping Idle VM '{second.resource_id.rsplit('/', 1)[-1]}'.",
                recommender="google.compute.instance.IdleResourceRecommender",
                kind="idle",
                location=_zone(second.resource_id),
                state="ACTIVE",
                details={"demo": True, "subtype": "STOP_VM", "priority": "P1"},
            )
        )
    return out


def recommendations(resources: Sequence[Seen]) -> list[DemoRecommendation]:
    """The demo provider recommendations for an account's resources (none for AWS ones)."""
    return [*_azure(resources), *_gcp(resources)]
