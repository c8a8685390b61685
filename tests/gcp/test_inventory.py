"""The GCP inventory through the refresh job a cost import queues, against the local Google
(Cloud Asset, Compute, Cloud SQL Admin, Recommender: the real clients over REST) and
gcp-storage-emulator (buckets): types mapped onto the inventory's, unattached disks and
unassociated addresses told apart, recommendations stored; Asset denied falls back to Compute,
Storage and Cloud SQL listing; a second refresh changes nothing; everything denied keeps the
rows with warnings."""

from decimal import Decimal
from typing import Any

from google.auth.credentials import AnonymousCredentials
from google.cloud import storage  # type: ignore[attr-defined]
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import ClientFor
from tests.factories.cloud_accounts import make_account
from tests.gcp.conftest import PROJECT, credentials
from tests.gcp.google_fake import GoogleFake
from tests.inventory.test_aws import inventory, inventory_status, refresh
from xplorr.advisor.models import ProviderRecommendation
from xplorr.cloud_accounts.models import Provider
from xplorr.core.settings import Settings
from xplorr.orgs.models import Org
from xplorr.users.models import User

ZONE = "us-central1-a"
VM = f"//compute.googleapis.com/projects/{PROJECT}/zones/{ZONE}/instances/vm-1"
FREE_DISK = f"//compute.googleapis.com/projects/{PROJECT}/zones/{ZONE}/disks/orphan"
USED_DISK = f"//compute.googleapis.com/projects/{PROJECT}/zones/{ZONE}/disks/vm-1"
IP = f"//compute.googleapis.com/projects/{PROJECT}/regions/us-central1/addresses/spare"
SQL = f"//cloudsql.googleapis.com/projects/{PROJECT}/instances/orders"
BUCKET = "//storage.googleapis.com/proj-logs"


def _instance() -> dict[str, Any]:
    return {
        "id": "4242",
        "name": "vm-1",
        "status": "RUNNING",
        "machineType": f"projects/{PROJECT}/zones/{ZONE}/machineTypes/n2-standard-4",
        "labels": {"env": "prod"},
    }


def _disks() -> list[dict[str, Any]]:
    return [
        {"id": "77", "name": "orphan", "sizeGb": "200", "type": f"zones/{ZONE}/diskTypes/pd-ssd"},
        {"id": "78", "name": "vm-1", "sizeGb": "10", "users": [VM[2:]]},
    ]


def _address() -> dict[str, Any]:
    return {"name": "spare", "status": "RESERVED", "address": "34.1.2.3"}


def _asset(asset_type: str, name: str, location: str, body: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "assetType": asset_type,
        "project": "projects/123456789012",
        "displayName": body.get("name"),
        "location": location,
        "labels": body.get("labels", {}),
        "versionedResources": [{"version": "v1", "resource": body}],
    }


def arrange(google: GoogleFake) -> None:
    disks = _disks()
    google.assets[:] = [
        _asset("compute.googleapis.com/Instance", VM, ZONE, _instance()),
        _asset("compute.googleapis.com/Disk", FREE_DISK, ZONE, disks[0]),
        _asset("compute.googleapis.com/Disk", USED_DISK, ZONE, disks[1]),
        _asset("compute.googleapis.com/Address", IP, "us-central1", _address()),
        _asset(
            "storage.googleapis.com/Bucket",
            BUCKET,
            "us",
            {"name": "proj-logs", "storageClass": "STANDARD", "labels": {"team": "ops"}},
        ),
        _asset(
            "sqladmin.googleapis.com/Instance",
            SQL,
            "europe-west1",
            {"name": "orders", "state": "RUNNABLE", "settings": {"tier": "db-custom-2-7680"}},
        ),
    ]
    google.compute.update(
        {
            "instances": {f"zones/{ZONE}": [_instance()]},
            "disks": {f"zones/{ZONE}": disks},
            "addresses": {"regions/us-central1": [_address()]},
        }
    )
    recommender = "google.compute.instance.IdleResourceRecommender"
    parent = f"projects/{PROJECT}/locations/{ZONE}/recommenders/{recommender}"
    google.recommendations[parent] = [
        {
            "name": f"{parent}/recommendations/r-1",
            "description": "Save cost by stopping Idle VM 'vm-1'.",
            "recommenderSubtype": "STOP_VM",
            "primaryImpact": {
                "category": "COST",
                "costProjection": {
                    "cost": {"currencyCode": "USD", "units": "-97", "nanos": -330000000},
                    "duration": "2592000s",
                },
            },
            "stateInfo": {"state": "ACTIVE"},
            "content": {"overview": {"resourceName": VM[2:], "resource": VM}},
            "priority": "P2",
        },
        {
            "name": f"{parent}/recommendations/r-old",
            "description": "dismissed",
            "stateInfo": {"state": "DISMISSED"},
        },
    ]
    # Rightsizing, projected over 90 days (stored per 30)
    machine = "google.compute.instance.MachineTypeRecommender"
    parent = f"projects/{PROJECT}/locations/{ZONE}/recommenders/{machine}"
    google.recommendations[parent] = [
        {
            "name": f"{parent}/recommendations/m-1",
            "description": "Save cost by changing machine type from n2-standard-4 to "
            "e2-standard-2.",
            "recommenderSubtype": "CHANGE_MACHINE_TYPE",
            "primaryImpact": {
                "category": "COST",
                "costProjection": {
                    "cost": {"currencyCode": "USD", "units": "-120", "nanos": -600000000},
                    "duration": "7776000s",
                },
            },
            "stateInfo": {"state": "ACTIVE"},
            "content": {
                "overview": {
                    "resourceName": VM[2:],
                    "resource": VM,
                    "currentMachineType": {"name": "n2-standard-4"},
                    "recommendedMachineType": {"name": "e2-standard-2"},
                }
            },
            "priority": "P3",
        }
    ]
    cud = "google.compute.commitment.UsageCommitmentRecommender"
    parent = f"projects/{PROJECT}/locations/europe-west1/recommenders/{cud}"
    google.recommendations[parent] = [
        {
            "name": f"{parent}/recommendations/c-1",
            "description": "Save cost by purchasing a 1 year commitment for 8 vCPUs.",
            "recommenderSubtype": "COMMITMENT_1_YEAR",
            "primaryImpact": {
                "category": "COST",
                "costProjection": {
                    "cost": {"currencyCode": "USD", "units": "-412", "nanos": -500000000},
                    "duration": "2592000s",
                },
            },
            "stateInfo": {"state": "ACTIVE"},
            "content": {"overview": {}},
        }
    ]


def _buckets(gcs_endpoint: str) -> None:
    client = storage.Client(
        project=PROJECT,
        credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
        client_options={"api_endpoint": gcs_endpoint},
    )
    for bucket in client.list_buckets():
        bucket.delete(force=True)
    bucket = client.bucket("proj-logs")
    client.create_bucket(bucket, location="US")
    client.create_bucket(client.bucket("proj-archive"), location="US")  # unknown to Asset


def _view(rows: dict[str, Any]) -> dict[str, tuple[Any, ...]]:
    return {
        rid: (
            r.provider,
            r.region,
            r.service,
            r.resource_type,
            r.name,
            r.status,
            r.tags,
            r.deleted_at is None,
        )
        for rid, r in rows.items()
    }


EXPECTED = {
    VM: (
        "gcp",
        "us-central1",
        "Compute Engine",
        "Virtual Machine",
        "vm-1",
        "Running",
        {"env": "prod"},
        True,
    ),
    FREE_DISK: (
        "gcp",
        "us-central1",
        "Compute Engine",
        "Disk",
        "orphan",
        "Available",
        {},
        True,
    ),
    USED_DISK: ("gcp", "us-central1", "Compute Engine", "Disk", "vm-1", "In use", {}, True),
    IP: (
        "gcp",
        "us-central1",
        "Compute Engine",
        "Public IP Address",
        "spare",
        "Available",
        {},
        True,
    ),
    BUCKET: (
        "gcp",
        "us",
        "Cloud Storage",
        "Object Storage Bucket",
        "proj-logs",
        "Available",
        {"team": "ops"},
        True,
    ),
    SQL: ("gcp", "europe-west1", "Cloud SQL", "Managed Database", "orders", "Running", {}, True),
}


async def test_asset_inventory_recommendations_and_a_second_refresh(
    google: GoogleFake,
    keyfile: dict[str, Any],
    settings: Settings,
    db: AsyncSession,
    org: Org,
    admin: User,
    client_for: ClientFor,
) -> None:
    arrange(google)
    account = await make_account(
        db,
        org,
        provider=Provider.GCP,
        provider_account_id=PROJECT,
        credentials=credentials(keyfile),
    )
    await refresh(db, settings, account)
    rows = await inventory(db)
    assert _view(rows) == EXPECTED
    assert rows[VM].attributes["machine_type"] == "n2-standard-4"
    assert rows[VM].attributes["bill_id"].endswith("/instances/4242")
    assert rows[FREE_DISK].attributes["attached"] is False
    assert rows[FREE_DISK].attributes["size_gb"] == 200
    assert rows[IP].attributes["associated"] is False
    assert not any(c.startswith("GET /compute/") for c in google.calls)  # Asset sufficed

    recs = (await db.scalars(select(ProviderRecommendation))).all()
    assert sorted(
        (r.source, r.kind, r.location, r.resource_id, r.savings_amount, r.currency) for r in recs
    ) == [
        ("gcp-recommender", "commitment", "europe-west1", None, Decimal("412.5"), "USD"),
        ("gcp-recommender", "idle", ZONE, VM, Decimal("97.33"), "USD"),  # the dismissed: not kept
        ("gcp-recommender", "rightsizing", ZONE, VM, Decimal("40.2"), "USD"),
    ]
    resize = next(r for r in recs if r.kind == "rightsizing")
    assert resize.recommender == "google.compute.instance.MachineTypeRecommender"
    assert resize.details["overview"]["recommendedMachineType"] == {"name": "e2-standard-2"}

    before = {rid: (v, rows[rid].attributes) for rid, v in _view(rows).items()}
    await refresh(db, settings, account)
    again = await inventory(db)
    assert {rid: (v, again[rid].attributes) for rid, v in _view(again).items()} == before
    assert len((await db.scalars(select(ProviderRecommendation))).all()) == 3

    # The API areas cover GCP beside the others
    api = client_for(admin)
    listed = (await api.get("/inventory", params={"provider": "gcp", "limit": 50})).json()
    assert listed["total"] == len(EXPECTED)
    # Recommender's rightsizing reaches /recommendations through the refresh's jobs
    recommended = (await api.get("/recommendations", params={"limit": 50})).json()["data"]
    [resize_out] = [d for d in recommended if d["type"] == "gcp_machine_type"]
    assert (resize_out["estimated_monthly_savings"], resize_out["currency"]) == (40.2, "USD")
    assert resize_out["how_to_apply"]["cli"].splitlines()[1] == (
        f"gcloud compute instances set-machine-type vm-1 --zone {ZONE} --machine-type e2-standard-2"
    )
    filters = (await api.get("/inventory/filters")).json()
    assert {
        "Virtual Machine",
        "Disk",
        "Public IP Address",
        "Object Storage Bucket",
        "Managed Database",
    } <= {t["value"] for t in filters["types"]}
    assert {r.native_type for r in rows.values()} == {
        "compute.googleapis.com/Instance",
        "compute.googleapis.com/Disk",
        "compute.googleapis.com/Address",
        "storage.googleapis.com/Bucket",
        "sqladmin.googleapis.com/Instance",
    }
    export = await api.get("/inventory/export", params={"provider": "gcp"})
    assert export.status_code == 200
    assert "orphan" in export.text


def _sql_instance(name: str, state: str, region: str, **labels: str) -> dict[str, Any]:
    """A Cloud SQL Admin v1 ``DatabaseInstance`` as ``instances.list`` returns it."""
    return {
        "kind": "sql#instance",
        "name": name,
        "project": PROJECT,
        "state": state,
        "region": region,
        "gceZone": f"{region}-b",
        "databaseVersion": "POSTGRES_15",
        "instanceType": "CLOUD_SQL_INSTANCE",
        "connectionName": f"{PROJECT}:{region}:{name}",
        "settings": {"tier": "db-custom-2-7680", "userLabels": labels},
    }


async def test_asset_denied_falls_back_to_compute_storage_and_cloud_sql(
    google: GoogleFake,
    keyfile: dict[str, Any],
    gcs_endpoint: str,
    settings: Settings,
    db: AsyncSession,
    org: Org,
    admin: User,
    client_for: ClientFor,
) -> None:
    arrange(google)
    _buckets(gcs_endpoint)
    account = await make_account(
        db,
        org,
        provider=Provider.GCP,
        provider_account_id=PROJECT,
        credentials=credentials(keyfile),
    )
    await refresh(db, settings, account)  # first through Asset: Cloud SQL known
    google.deny.add("asset")
    google.assets.clear()  # what Asset would say is unknowable now
    # Cloud SQL Admin lists three instances (two pages): "orders" suspended since, two new
    google.sql[:] = [
        _sql_instance("orders", "SUSPENDED", "europe-west1", team="shop"),
        _sql_instance("reports", "RUNNABLE", "us-central1"),
        _sql_instance("ledger", "PENDING_CREATE", "us-east1"),
    ]
    await refresh(db, settings, account)
    rows = await inventory(db)
    sql = {rid: v for rid, v in _view(rows).items() if "cloudsql" in rid}
    sql_id = f"//cloudsql.googleapis.com/projects/{PROJECT}/instances/"
    assert sql == {
        SQL: (
            "gcp",
            "europe-west1",
            "Cloud SQL",
            "Managed Database",
            "orders",
            "Stopped",
            {"team": "shop"},
            True,
        ),
        sql_id + "reports": (
            "gcp",
            "us-central1",
            "Cloud SQL",
            "Managed Database",
            "reports",
            "Running",
            {},
            True,
        ),
        sql_id + "ledger": (
            "gcp",
            "us-east1",
            "Cloud SQL",
            "Managed Database",
            "ledger",
            "Pending",
            {},
            True,
        ),
    }
    assert rows[SQL].native_type == "sqladmin.googleapis.com/Instance"
    # The user is told what was denied and how the inventory was read instead
    client = client_for(admin)
    [asset] = (await inventory_status(client, account))["inventoryWarnings"]
    assert asset.startswith("GCP permission denied: cloudasset:searchAllResources: ")
    assert asset.endswith(
        "the inventory was listed through the Compute, Cloud Storage and Cloud SQL Admin "
        "APIs instead"
    )
    assert rows[SQL].attributes["tier"] == "db-custom-2-7680"
    assert rows[sql_id + "reports"].attributes["database_version"] == "POSTGRES_15"
    assert google.calls.count("GET /v1/projects/proj-123456/instances") == 2  # paged
    # The same other resources (the emulator keeps no bucket labels), and the bucket only
    # Cloud Storage lists
    view = {rid: v for rid, v in _view(rows).items() if "cloudsql" not in rid}
    archive = "//storage.googleapis.com/proj-archive"
    assert view.pop(archive)[:6] == (
        "gcp",
        "us",
        "Cloud Storage",
        "Object Storage Bucket",
        "proj-archive",
        "Available",
    )
    assert view.pop(BUCKET)[:6] == EXPECTED[BUCKET][:6]
    assert view == {k: v for k, v in EXPECTED.items() if k not in (BUCKET, SQL)}
    assert {
        "GET /compute/v1/projects/proj-123456/aggregated/instances",
        "GET /compute/v1/projects/proj-123456/aggregated/disks",
        "GET /compute/v1/projects/proj-123456/aggregated/addresses",
    } <= set(google.calls)

    # Everything denied: nothing re-checked, nothing marked deleted, recommendations kept
    google.deny |= {"compute", "sqladmin", "recommender"}
    google.compute.clear()
    google.sql.clear()
    await refresh(db, settings, account)
    rows = await inventory(db)
    assert all(r.deleted_at is None for r in rows.values())
    assert len((await db.scalars(select(ProviderRecommendation))).all()) == 3
    warnings = (await inventory_status(client, account))["inventoryWarnings"]
    assert [(w.split(": ")[0], w.split(": ")[1]) for w in warnings] == [
        ("GCP permission denied", operation)
        for operation in (
            "cloudasset:searchAllResources",
            "compute:instances.aggregatedList",
            "compute:disks.aggregatedList",
            "compute:addresses.aggregatedList",
            "sqladmin:instances.list",
            "recommender:recommendations.list",
        )
    ]
    assert not any(keyfile["private_key"][40:80] in w for w in warnings)
