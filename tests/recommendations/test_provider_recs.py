"""The providers' own recommendations (Azure Advisor, GCP Recommender) in /recommendations:
stored the way the collectors store them (``advisor.service.replace``), each row becomes exactly
one recommendation of its own type with the provider's saving and currency to the cent and
evidence naming the source and its ids; a refresh keeps ids and statuses, and one the provider
stops reporting is closed as applied."""

from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import ClientFor
from tests.factories.cloud_accounts import make_account
from tests.factories.inventory import make_resource
from xplorr.advisor import service as provider_recs
from xplorr.advisor.models import ProviderRecommendation
from xplorr.cloud_accounts.models import CloudAccount, Provider
from xplorr.core import clock
from xplorr.orgs.models import Org
from xplorr.recommendations import provider_rules, service
from xplorr.recommendations.models import ClosedBy, Recommendation, RecommendationStatus
from xplorr.users.models import User

SUB = "/subscriptions/00000000-0000-0000-0000-000000000001/resourcegroups/rg-web/providers"
VM = f"{SUB}/microsoft.compute/virtualmachines/web-1"
IDLE_VM = f"{SUB}/microsoft.compute/virtualmachines/batch-1"
ADVISOR = "/providers/Microsoft.Advisor/recommendations"
PROJECT = "projects/proj-123456/locations"
GCE = "//compute.googleapis.com/projects/proj-123456"
G_VM = f"{GCE}/zones/us-central1-a/instances/vm-1"
G_DISK = f"{GCE}/zones/us-central1-a/disks/orphan"
G_BIG = f"{GCE}/zones/europe-west1-b/instances/big"


def _advisor() -> list[provider_recs.Found]:
    return [
        provider_recs.Found(
            recommendation_id=f"{VM}{ADVISOR}/rec-1",
            resource_id=VM,
            category="Cost",
            impact="High",
            problem="Right-size or shutdown underutilized virtual machines",
            solution="Right-size or shutdown underutilized virtual machines",
            savings_amount=Decimal("61.325"),
            annual_savings_amount=Decimal("735.9"),
            currency="USD",
            details={"targetSku": "Standard_B2s", "recommendationTypeId": "e10b1381"},
        ),
        provider_recs.Found(
            recommendation_id=f"/subscriptions/s{ADVISOR}/rec-ri",
            resource_id=None,
            category="Cost",
            impact="Medium",
            problem="Buy virtual machine reserved instances to save money over pay-as-you-go",
            savings_amount=Decimal("1234.5649"),
            currency="eur",
            details={"reservedResourceType": "virtualmachines", "term": "P1Y"},
        ),
        provider_recs.Found(
            recommendation_id=f"{IDLE_VM}{ADVISOR}/rec-2",
            resource_id=IDLE_VM,
            category="Cost",
            problem="Shut down idle virtual machines",
            savings_amount=None,
            currency=None,
            details={"targetSku": "Shutdown"},
        ),
    ]


def _recommender(*, with_disk: bool = True) -> list[provider_recs.Found]:
    def found(rid: str, recommender: str, kind: str, resource: str, **rest: Any) -> Any:
        location = resource.split("/")[-3]
        return provider_recs.Found(
            recommendation_id=f"{PROJECT}/{location}/recommenders/{recommender}/"
            f"recommendations/{rid}",
            resource_id=resource,
            category="Cost",
            recommender=f"google.compute.{recommender}",
            kind=kind,
            location=location,
            state="ACTIVE",
            **rest,
        )

    out = [
        found(
            "r-1",
            "instance.IdleResourceRecommender",
            "idle",
            G_VM,
            problem="Save cost by stopping Idle VM 'vm-1'.",
            savings_amount=Decimal("97.334511"),
            currency="USD",
            details={"subtype": "STOP_VM", "priority": "P2"},
        ),
        found(
            "r-2",
            "instance.MachineTypeRecommender",
            "rightsizing",
            G_BIG,
            problem="Save cost by changing machine type from n2-standard-8 to n2-standard-4.",
            savings_amount=Decimal("143.005"),
            currency="EUR",
            details={
                "subtype": "CHANGE_MACHINE_TYPE",
                "overview": {
                    "recommendedMachineType": {
                        "name": "zones/europe-west1-b/machineTypes/n2-standard-4"
                    }
                },
            },
        ),
    ]
    if with_disk:
        out.append(
            found(
                "r-3",
                "disk.IdleResourceRecommender",
                "idle",
                G_DISK,
                problem="Save cost by snapshotting and then deleting idle persistent disk.",
                savings_amount=Decimal("34"),
                currency="USD",
                details={"subtype": "SNAPSHOT_AND_DELETE_DISK"},
            )
        )
    return out


async def _store(db: AsyncSession, azure: CloudAccount, gcp: CloudAccount, **gcp_kw: Any) -> None:
    now = clock.now()
    await provider_recs.replace(
        db, azure, _advisor(), provider="azure", source="azure-advisor", now=now
    )
    await provider_recs.replace(
        db, gcp, _recommender(**gcp_kw), provider="gcp", source="gcp-recommender", now=now
    )
    await service.refresh_account(db, azure)
    await service.refresh_account(db, gcp)
    await db.commit()


# resource name -> type, provider, category, savings, currency, source, region, risk
EXPECTED = {  # largest saving first
    None: ("azure_advisor_commitment", "azure", "commitment", 1234.56, "EUR", "Azure Advisor",
           None, "low"),
    "big": ("gcp_machine_type", "gcp", "rightsizing", 143.01, "EUR", "GCP Recommender",
            "europe-west1", "medium"),
    "vm-1": ("gcp_idle_vm", "gcp", "idle", 97.33, "USD", "GCP Recommender", "us-central1",
             "medium"),
    "web-1": ("azure_advisor_rightsizing", "azure", "rightsizing", 61.33, "USD", "Azure Advisor",
              "westeurope", "medium"),
    "orphan": ("gcp_idle_disk", "gcp", "unused", 34.0, "USD", "GCP Recommender", "us-central1",
               "medium"),
    "batch-1": ("azure_advisor_idle", "azure", "idle", 0.0, "USD", "Azure Advisor", None,
                "medium"),
}  # fmt: skip


async def test_provider_recommendations_surface_and_keep_ids_and_statuses(
    db: AsyncSession, client_for: ClientFor, org: Org, admin: User
) -> None:
    azure = await make_account(db, org, provider=Provider.AZURE, name="azure")
    gcp = await make_account(db, org, provider=Provider.GCP, name="gcp")
    await make_resource(
        db, azure, VM, provider="azure", region="westeurope", service="Virtual Machines",
        name="web-1", attributes={"vm_size": "Standard_D4s_v3"},
    )  # fmt: skip
    await _store(db, azure, gcp)
    c = client_for(admin)

    body = (await c.get("/recommendations", params={"limit": 50})).json()
    got = {
        d["resource_name"]: (
            d["type"], d["provider"], d["category"], d["estimated_monthly_savings"],
            d["currency"], d["evidence"]["source"], d["region"], d["risk"],
        )
        for d in body["data"]
    }  # fmt: skip
    assert got == EXPECTED
    assert body["total"] == 6  # one per stored row: exactly those
    # Sorted by saving as the amounts compare, whatever the currency (as every rule's are)
    assert [d["resource_name"] for d in body["data"]] == list(EXPECTED)
    by_name = {d["resource_name"]: d for d in body["data"]}
    web = by_name["web-1"]
    assert web["evidence"] == {
        "source": "Azure Advisor",
        "recommendation_id": f"{VM}{ADVISOR}/rec-1",
        "resource_id": VM,
        "category": "Cost",
        "monthly_savings": "61.33",
        "annual_savings": "735.90",
        "currency": "USD",
        "currency_stated": True,
        "impact": "High",
        "recommendation_type_id": "e10b1381",
        "target_sku": "Standard_B2s",
        "last_seen": web["evidence"]["last_seen"],
    }
    assert web["how_to_apply"]["cli"] == f"az vm resize --ids {VM} --size Standard_B2s"
    assert web["account_id"] == str(azure.id)
    assert by_name["batch-1"]["how_to_apply"]["cli"] == f"az vm deallocate --ids {IDLE_VM}"
    assert by_name["batch-1"]["evidence"]["currency_stated"] is False
    assert "monthly_savings" not in by_name["batch-1"]["evidence"]  # none stated: none made up
    assert by_name[None]["how_to_apply"]["cli"] is None  # no obvious command for a purchase
    big = by_name["big"]
    assert big["evidence"]["recommender"] == "google.compute.instance.MachineTypeRecommender"
    assert big["evidence"]["recommendation_id"].endswith("/recommendations/r-2")
    assert big["how_to_apply"]["cli"].splitlines()[1] == (
        "gcloud compute instances set-machine-type big --zone europe-west1-b "
        "--machine-type n2-standard-4"
    )
    assert by_name["vm-1"]["how_to_apply"]["cli"] == (
        "gcloud compute instances stop vm-1 --zone us-central1-a"
    )
    assert "changing machine type" in big["how_to_apply"]["console_steps"][0]

    # People act on some; a refresh over the same rows keeps ids and statuses
    ids = {d["resource_name"]: d["id"] for d in body["data"]}
    r = await c.patch(f"/recommendations/{ids['vm-1']}", json={"status": "dismissed"})
    assert r.status_code == 200, r.text
    r = await c.patch(f"/recommendations/{ids['web-1']}", json={"status": "in_progress"})
    assert r.status_code == 200, r.text
    await _store(db, azure, gcp, with_disk=False)  # Recommender no longer reports the disk

    rows = {
        r.resource_name: r
        for r in (
            await db.scalars(select(Recommendation).execution_options(populate_existing=True))
        ).all()
    }
    assert {name: str(r.id) for name, r in rows.items()} == ids
    assert {name: r.status for name, r in rows.items()} == {
        "big": RecommendationStatus.OPEN,
        "vm-1": RecommendationStatus.DISMISSED,
        "web-1": RecommendationStatus.IN_PROGRESS,
        "orphan": RecommendationStatus.APPLIED,
        None: RecommendationStatus.OPEN,
        "batch-1": RecommendationStatus.OPEN,
    }
    gone = rows["orphan"]
    assert (gone.closed_by, gone.realized_monthly_savings) == (
        ClosedBy.RESOURCE_GONE,
        Decimal("34"),
    )


def test_unknown_sources_are_not_guessed_and_long_ids_keep_a_bounded_fingerprint() -> None:
    now = clock.now()
    long_id = "x" * 900
    rows = [
        ProviderRecommendation(
            provider="aws", source="aws-trusted-advisor", recommendation_id="a", category="Cost",
            details={}, seen_at=now,
        ),
        ProviderRecommendation(
            provider="gcp", source="gcp-recommender", recommendation_id=long_id, category="Cost",
            recommender="google.some.NewRecommender", savings_amount=Decimal("0.005"),
            currency="JPY", details={}, seen_at=now,
        ),
    ]  # fmt: skip
    (found,) = provider_rules.from_provider(rows)
    assert (found.type, found.category, found.savings, found.currency) == (
        "gcp_recommender",
        "other",
        Decimal(0),
        "JPY",
    )
    assert len(found.fingerprint) < 600
    assert found.evidence["recommendation_id"] == long_id


def test_each_recommender_and_advisor_kind_has_its_type() -> None:
    now = clock.now()
    cases = {
        "google.compute.commitment.UsageCommitmentRecommender": ("gcp_commitment", "commitment"),
        "google.compute.address.IdleResourceRecommender": ("gcp_idle_address", "unused"),
        "google.compute.instance.MachineTypeRecommender": ("gcp_machine_type", "rightsizing"),
    }
    rows = [
        ProviderRecommendation(
            provider="gcp", source="gcp-recommender", recommendation_id=name, category="Cost",
            recommender=name, location="us-central1", details={}, seen_at=now,
        )
        for name in cases
    ] + [
        ProviderRecommendation(
            provider="azure", source="azure-advisor", recommendation_id="other",
            category="Cost", details={"savingsAmount": "3"}, seen_at=now,
        )
    ]  # fmt: skip
    found = provider_rules.from_provider(rows)
    assert [(f.type, f.category, f.region) for f in found] == [
        *((t, c, "us-central1") for t, c in cases.values()),
        ("azure_advisor_cost", "other", None),
    ]
    address = found[1]
    assert address.how_to_apply.cli is None  # no resource name known: no command to guess
