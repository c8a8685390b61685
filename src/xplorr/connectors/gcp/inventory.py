"""The Google Cloud resource inventory of one project, and its Recommender recommendations.

**Resources.** Cloud Asset Inventory first (``searchAllResources`` on ``projects/<projectId>``,
every page, full resources: ``readMask=*``): VM instances, persistent disks (attached or not),
IP addresses, Cloud Storage buckets and Cloud SQL instances. When Cloud Asset is refused (the
key lacks ``cloudasset.assets.searchAllResources``, or the API is off), the project is listed
by the Compute API (aggregated instances, disks, addresses), Cloud Storage (buckets) and the
Cloud SQL Admin API (``instances.list``) instead (product notes section 8), each refusal of
those a warning that keeps its type's rows as they were.

**Types.** Each resource's type is its Cloud Asset type, whichever API listed it (``TYPES``;
the inventory maps it onto its own types: ``inventory.types``); ``service`` keeps Google's
product name and ``attributes["asset_type"]`` the asset type too. ``resource_id`` is the
asset's full resource name
(``//compute.googleapis.com/projects/p/zones/z/instances/vm-1``); ``attributes["bill_id"]``
holds the detailed billing export's ``resource.global_name`` where it differs (instances and
disks are billed by numeric id), the join key to cost rows.

**Recommendations.** Recommender's idle, rightsizing and commitment (CUD) recommenders
(``RECOMMENDERS``) for the zones where instances and disks were found, and for the configured
``regions`` (idle addresses, CUDs): each ACTIVE recommendation with its cost impact, for the
savings area.

A refused call costs only what it would have listed: ``Scan.scopes`` says which types were
read completely, ``Scan.warnings`` what was not and why. Blocking: run it in a thread.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from functools import partial
from typing import Any, Final

from google.protobuf.json_format import MessageToDict  # type: ignore[import-untyped]

from xplorr.connectors.gcp.session import GcpCallError, GcpFailure, GcpSession, call

ANY_REGION: Final = "*"
PAGE_SIZE: Final = 500
PAGES_MAX: Final = 1000  # a runaway nextPageToken loop stops here

# Cloud Asset types (the resources' types, whichever API lists them)
INSTANCE: Final = "compute.googleapis.com/Instance"
VOLUME: Final = "compute.googleapis.com/Disk"
ADDRESS: Final = "compute.googleapis.com/Address"
BUCKET: Final = "storage.googleapis.com/Bucket"
DATABASE: Final = "sqladmin.googleapis.com/Instance"

# asset type -> service (Google's product, as the billing export names it)
TYPES: Final[dict[str, str]] = {
    INSTANCE: "Compute Engine",
    VOLUME: "Compute Engine",
    ADDRESS: "Compute Engine",
    BUCKET: "Cloud Storage",
    DATABASE: "Cloud SQL",
}

# Recommender id -> (where it runs: zone | region, kind)
RECOMMENDERS: Final[dict[str, tuple[str, str]]] = {
    "google.compute.instance.IdleResourceRecommender": ("zone", "idle"),
    "google.compute.instance.MachineTypeRecommender": ("zone", "rightsizing"),
    "google.compute.disk.IdleResourceRecommender": ("zone", "idle"),
    "google.compute.address.IdleResourceRecommender": ("region", "idle"),
    "google.compute.commitment.UsageCommitmentRecommender": ("region", "commitment"),
}

_INSTANCE_STATUS = {
    "RUNNING": "Running",
    "TERMINATED": "Stopped",
    "STOPPED": "Stopped",
    "SUSPENDED": "Stopped",
    "STAGING": "Pending",
    "PROVISIONING": "Pending",
    "STOPPING": "Stopping",
}
_SQL_STATUS = {"RUNNABLE": "Running", "SUSPENDED": "Stopped", "PENDING_CREATE": "Pending"}


@dataclass(frozen=True, slots=True)
class FoundResource:
    region: str | None
    service: str
    resource_type: str
    resource_id: str
    name: str | None
    status: str | None
    tags: dict[str, str]
    attributes: dict[str, Any]
    provider: str = "gcp"


@dataclass(frozen=True, slots=True)
class FoundRecommendation:
    recommendation_id: str  # Recommender's full name: projects/.../recommendations/<id>
    recommender: str
    kind: str  # idle | rightsizing | commitment
    location: str
    resource_id: str | None  # the full resource name it is about
    description: str
    state: str
    monthly_savings: Decimal | None  # positive: what following it saves a month
    currency: str | None
    details: dict[str, Any]


@dataclass
class Scan:
    resources: list[FoundResource] = field(default_factory=list)
    scopes: set[tuple[str | None, str]] = field(default_factory=set)
    recommendations: list[FoundRecommendation] = field(default_factory=list)
    recommendations_complete: bool = True
    warnings: list[str] = field(default_factory=list)
    source: str = "asset"  # asset | compute (the fallback)


def region_of(location: str | None) -> str | None:
    """``us-central1`` of ``us-central1-a``; None for global; multi-regions as they are."""
    if not location or location.lower() == "global":
        return None
    location = location.lower()
    parts = location.split("-")
    if len(parts) == 3 and len(parts[2]) == 1:
        return "-".join(parts[:2])
    return location


def _last(path: str | None) -> str | None:
    return path.rstrip("/").rsplit("/", 1)[-1] if path else None


def _tags(labels: Mapping[str, Any] | None) -> dict[str, str]:
    return {str(k): str(v) for k, v in (labels or {}).items()}


def _compute_name(project: str, kind: str, location: str | None, name: str) -> str:
    where = (
        "global"
        if not location or location == "global"
        else (f"zones/{location}" if region_of(location) != location else f"regions/{location}")
    )
    return f"//compute.googleapis.com/projects/{project}/{where}/{kind}/{name}"


def _from_compute(
    asset_type: str, project: str, location: str | None, body: Mapping[str, Any]
) -> FoundResource:
    """A resource from its Compute/Storage/SQL JSON body (Asset's versioned resource, or a
    Compute list item)."""
    service, rtype = TYPES[asset_type], asset_type
    labels = _tags(body.get("labels"))
    name = str(body.get("name") or "")
    attributes: dict[str, Any] = {"asset_type": asset_type}
    status: str | None = None
    if rtype == INSTANCE:
        status = _INSTANCE_STATUS.get(str(body.get("status")), body.get("status"))
        attributes["machine_type"] = _last(body.get("machineType"))
        resource_id = _compute_name(project, "instances", location, name)
        if body.get("id"):
            attributes["bill_id"] = _compute_name(project, "instances", location, str(body["id"]))
    elif rtype == VOLUME:
        users = list(body.get("users") or [])
        status = "In use" if users else "Available"
        attributes |= {
            "size_gb": int(body["sizeGb"]) if body.get("sizeGb") else None,
            "disk_type": _last(body.get("type")),
            "attached": bool(users),
            "users": [_last(u) for u in users],
        }
        resource_id = _compute_name(project, "disks", location, name)
        if body.get("id"):
            attributes["bill_id"] = _compute_name(project, "disks", location, str(body["id"]))
    elif rtype == ADDRESS:
        raw = str(body.get("status") or "")
        status = {"IN_USE": "In use", "RESERVED": "Available"}.get(raw, raw.title() or None)
        attributes |= {
            "address": body.get("address"),
            "address_type": body.get("addressType"),
            "associated": raw == "IN_USE",
        }
        resource_id = _compute_name(project, "addresses", location, name)
    elif rtype == BUCKET:
        status = "Available"
        attributes["storage_class"] = body.get("storageClass")
        resource_id = f"//storage.googleapis.com/{name}"
    else:  # Cloud SQL
        raw = str(body.get("state") or "")
        status = _SQL_STATUS.get(raw, raw.title() or None)
        attributes |= {
            "tier": (body.get("settings") or {}).get("tier"),
            "database_version": body.get("databaseVersion"),
        }
        resource_id = f"//cloudsql.googleapis.com/projects/{project}/instances/{name}"
    return FoundResource(
        region=region_of(location),
        service=service,
        resource_type=rtype,
        resource_id=resource_id,
        name=name or None,
        status=status,
        tags=labels,
        attributes=attributes,
    )


def _from_asset(result: Any, project: str) -> FoundResource | None:
    data = MessageToDict(result._pb, preserving_proto_field_name=False)
    asset_type = str(data.get("assetType") or "")
    if asset_type not in TYPES:
        return None
    versions = data.get("versionedResources") or []
    body: dict[str, Any] = dict(versions[0].get("resource") or {}) if versions else {}
    body.setdefault("name", data.get("displayName") or _last(data.get("name")))
    body.setdefault("labels", data.get("labels") or {})
    sql = asset_type == DATABASE
    if not sql and "status" not in body and "state" in data:
        body["status"] = data["state"]
    if sql and "state" not in body:
        body["state"] = data.get("state")
    found = _from_compute(asset_type, project, data.get("location"), body)
    if data.get("name") and found.resource_type not in (INSTANCE, VOLUME, ADDRESS):
        # Asset's own full name is canonical for buckets and SQL instances.
        found = FoundResource(
            found.region,
            found.service,
            found.resource_type,
            str(data["name"]),
            found.name,
            found.status,
            found.tags,
            found.attributes,
        )
    return found


class _Reader:
    def __init__(self, session: GcpSession, scan: Scan) -> None:
        self.session = session
        self.scan = scan
        self.project = session.project

    def guarded(self, types: Iterable[str], read: Callable[[], None]) -> bool:
        """Run ``read``; a refusal or a missing API is a warning, its types left uncovered."""
        try:
            read()
        except GcpCallError as exc:
            if exc.failure.bad_credentials:
                raise
            self.scan.warnings.append(str(exc))
            return False
        self.scan.scopes.update((ANY_REGION, t) for t in types)
        return True

    def assets(self) -> None:
        client = self.session.asset()
        request = {
            "scope": f"projects/{self.project}",
            "asset_types": list(TYPES),
            "page_size": PAGE_SIZE,
            "read_mask": "*",
        }

        def read() -> list[FoundResource]:
            found = []
            for result in client.search_all_resources(request=request):
                item = _from_asset(result, self.project)
                if item is not None:
                    found.append(item)
            return found

        self.scan.resources += call("cloudasset:searchAllResources", read)

    def compute(self, asset_type: str, key: str) -> None:
        """``aggregated/<key>`` of the Compute API, every page."""
        operation = f"compute:{key}.aggregatedList"

        def read() -> list[FoundResource]:
            found = []
            params: dict[str, Any] = {"maxResults": PAGE_SIZE}
            for _page in range(PAGES_MAX):
                answer = self.session.compute_get(
                    f"projects/{self.project}/aggregated/{key}", params
                )
                for scope, listing in sorted((answer.get("items") or {}).items()):
                    location = scope.split("/", 1)[1] if "/" in scope else None
                    for body in listing.get(key) or []:
                        found.append(_from_compute(asset_type, self.project, location, body))
                token = answer.get("nextPageToken")
                if not token:
                    return found
                params["pageToken"] = token
            raise GcpCallError(
                GcpFailure(operation, "PAGES", f"{operation}: more than {PAGES_MAX} pages.", False)
            )

        self.scan.resources += call(operation, read)

    def buckets(self) -> None:
        client = self.session.storage()

        def read() -> list[FoundResource]:
            found = []
            for bucket in client.list_buckets(project=self.project):
                body = {
                    "name": bucket.name,
                    "labels": dict(bucket.labels or {}),
                    "storageClass": bucket.storage_class,
                }
                found.append(_from_compute(BUCKET, self.project, bucket.location, body))
            return found

        self.scan.resources += call("storage:buckets.list", read)

    def sql_instances(self) -> None:
        """Cloud SQL Admin's ``instances.list`` (``GET /v1/projects/<p>/instances``), every
        page: what Asset would have said of each instance."""
        operation = "sqladmin:instances.list"

        def read() -> list[FoundResource]:
            found = []
            params: dict[str, Any] = {"maxResults": PAGE_SIZE}
            for _page in range(PAGES_MAX):
                answer = self.session.sql_get(f"projects/{self.project}/instances", params)
                for item in answer.get("items") or []:
                    settings = item.get("settings") or {}
                    body = dict(item) | {"labels": settings.get("userLabels") or {}}
                    found.append(_from_compute(DATABASE, self.project, item.get("region"), body))
                token = answer.get("nextPageToken")
                if not token:
                    return found
                params["pageToken"] = token
            raise GcpCallError(
                GcpFailure(operation, "PAGES", f"{operation}: more than {PAGES_MAX} pages.", False)
            )

        self.scan.resources += call(operation, read)

    def recommendations(self) -> None:
        zones = sorted(
            {
                str(r.attributes.get("zone"))
                for r in self.scan.resources
                if r.attributes.get("zone") and r.resource_type in (INSTANCE, VOLUME)
            }
        )
        regions = sorted(set(self.session.regions))
        client = self.session.recommender()
        for recommender, (where, kind) in RECOMMENDERS.items():
            locations = zones if where == "zone" else regions
            for location in locations:
                parent = f"projects/{self.project}/locations/{location}/recommenders/{recommender}"
                try:
                    answers = call(
                        "recommender:recommendations.list",
                        lambda parent=parent: list(
                            client.list_recommendations(request={"parent": parent})
                        ),
                    )
                except GcpCallError as exc:
                    if exc.failure.bad_credentials:
                        raise
                    self.scan.recommendations_complete = False
                    self.scan.warnings.append(f"{exc} ({recommender} in {location})")
                    if exc.failure.denied:
                        return  # the same grant is missing for every recommender
                    continue
                for answer in answers:
                    found = _recommendation(answer, recommender, kind, location)
                    if found is not None:
                        self.scan.recommendations.append(found)


def _money(value: Mapping[str, Any] | None) -> tuple[Decimal | None, str | None]:
    if not value:
        return None, None
    units = Decimal(str(value.get("units") or 0))
    nanos = Decimal(int(value.get("nanos") or 0)) / Decimal(1_000_000_000)
    return units + nanos, value.get("currencyCode")


def _recommendation(
    answer: Any, recommender: str, kind: str, location: str
) -> FoundRecommendation | None:
    data = MessageToDict(answer._pb, preserving_proto_field_name=False)
    state = str((data.get("stateInfo") or {}).get("state") or "ACTIVE")
    if state != "ACTIVE":
        return None
    impact = data.get("primaryImpact") or {}
    cost, currency = _money((impact.get("costProjection") or {}).get("cost"))
    duration = str((impact.get("costProjection") or {}).get("duration") or "")
    monthly: Decimal | None = None
    if cost is not None:
        # Recommender projects a cost change (negative: a saving) over ``duration`` seconds.
        seconds = Decimal(duration.rstrip("s") or 2592000)
        monthly = (-cost * Decimal(2592000) / seconds) if seconds else -cost
    overview = (data.get("content") or {}).get("overview") or {}
    resource = overview.get("resource") or overview.get("resourceName")
    return FoundRecommendation(
        recommendation_id=str(data.get("name")),
        recommender=recommender,
        kind=kind,
        location=location,
        resource_id=str(resource) if resource else None,
        description=str(data.get("description") or ""),
        state=state,
        monthly_savings=monthly,
        currency=currency,
        details={
            "subtype": data.get("recommenderSubtype"),
            "priority": data.get("priority"),
            "last_refresh": data.get("lastRefreshTime"),
            "overview": overview,
        },
    )


def scan_project(session: GcpSession) -> Scan:
    """The project's resources and recommendations (blocking)."""
    scan = Scan()
    reader = _Reader(session, scan)
    if not reader.guarded(TYPES, reader.assets):
        scan.source = "compute"
        scan.warnings[-1] += (
            "; the inventory was listed through the Compute, Cloud Storage and Cloud SQL Admin "
            "APIs instead"
        )
        for asset_type, key in ((INSTANCE, "instances"), (VOLUME, "disks"), (ADDRESS, "addresses")):
            reader.guarded([asset_type], partial(reader.compute, asset_type, key))
        reader.guarded([BUCKET], reader.buckets)
        reader.guarded([DATABASE], reader.sql_instances)
    for r in scan.resources:
        if r.resource_type in (INSTANCE, VOLUME) and "/zones/" in r.resource_id:
            r.attributes["zone"] = r.resource_id.split("/zones/", 1)[1].split("/", 1)[0]
    reader.recommendations()
    return scan
