import uuid
from typing import Annotated, Any, Final

from fastapi import APIRouter, Header, Query, Request, Response

from xplorr.auth.deps import AdminUser, CurrentUser
from xplorr.core.db import DbSession
from xplorr.core.errors import ErrorEnvelope
from xplorr.core.middleware import allow_large_body
from xplorr.core.pagination import Page, Pagination
from xplorr.core.params import StrictQuery
from xplorr.kubernetes import opencost, service
from xplorr.kubernetes.schemas import (
    AssetsIngestOut,
    ClusterCreate,
    ClusterCreated,
    ClusterOut,
    IngestOut,
    RightsizingOut,
    UsageIngestOut,
)

router = APIRouter(prefix="/kubernetes", tags=["kubernetes"], dependencies=[StrictQuery])
ROUTE_ORDER = 72  # mounting order under /api/v1 (core.areas.routers)

# What the collector may post: OpenCost's answer for three days of pods is a few MiB, and gzip
# shrinks it ~15x. The wire cap is checked where requests enter (core.middleware), the
# inflated size here (opencost.MAX_INFLATED_BYTES).
INGEST_MAX_BYTES: Final = 16 * 1024 * 1024
allow_large_body("/api/v1/kubernetes/ingest/", INGEST_MAX_BYTES)

_NAME_TAKEN: dict[int | str, dict[str, Any]] = {
    409: {
        "model": ErrorEnvelope,
        "description": "The organization has a cluster of that name "
        "(KUBERNETES_CLUSTER_NAME_TAKEN).",
    }
}
_INGEST_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {
        "model": ErrorEnvelope,
        "description": "The token belongs to another cluster (KUBERNETES_CLUSTER_NOT_FOUND).",
    },
    413: {"model": ErrorEnvelope, "description": "Larger than 16 MiB as sent."},
}
_OPENCOST_BODY: Final = "OpenCost's JSON answer, unchanged (gzip or deflate allowed)."


def _json_body(schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "description": _OPENCOST_BODY,
            "content": {"application/json": {"schema": schema}},
        }
    }


_ANY_OBJECT: Final = {"type": "object", "additionalProperties": True}
_ALLOCATIONS = _json_body(
    {
        "type": "object",
        "description": "GET /allocation?window=3d&aggregate=namespace,controllerKind,"
        "controller,pod&step=1d&accumulate=false&includeIdle=true&shareIdle=false",
        "properties": {
            "code": {"type": "integer"},
            "status": {"type": "string"},
            "data": {
                "type": "array",
                "description": "One map per day: allocation name -> allocation.",
                "items": {"type": "object", "additionalProperties": _ANY_OBJECT},
            },
        },
        "required": ["data"],
    }
)
_ASSETS = _json_body(
    {
        "type": "object",
        "description": "GET /assets?window=<day start>,<day end>",
        "properties": {
            "code": {"type": "integer"},
            "status": {"type": "string"},
            "data": {
                "type": "object",
                "description": "Asset key -> asset.",
                "additionalProperties": _ANY_OBJECT,
            },
        },
        "required": ["data"],
    }
)
IngestToken = Annotated[
    str | None,
    Header(
        alias="Authorization",
        description="Bearer xpk8s_...: the cluster's ingest token (not a user token).",
    ),
]
ContentEncoding = Annotated[
    str | None,
    Header(alias="Content-Encoding", description="gzip, deflate or none."),
]


def _bearer(value: str | None) -> str | None:
    if not value:
        return None
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


@router.get("/clusters", response_model=Page[ClusterOut])
async def list_kubernetes_clusters(
    db: DbSession, who: CurrentUser, page: Pagination
) -> Page[ClusterOut]:
    """The organization's Kubernetes clusters: ``waiting`` until the collector's first post,
    then ``receiving``, with the last post times and how many days of cost are held. A user
    limited to some cloud accounts sees none."""
    return await service.list_clusters(db, who, page)


@router.post("/clusters", status_code=201, response_model=ClusterCreated, responses=_NAME_TAKEN)
async def create_kubernetes_cluster(
    body: ClusterCreate, db: DbSession, who: AdminUser
) -> ClusterCreated:
    """Register a cluster (admins): its id and its ingest token (``xpk8s_...``, shown once,
    stored hashed), which writes this cluster's data and nothing else. Install the
    ``xplorr-collector`` chart with both."""
    return await service.create_cluster(db, who, body)


@router.delete("/clusters/{cluster_id}", status_code=204)
async def delete_kubernetes_cluster(
    cluster_id: uuid.UUID, db: DbSession, who: AdminUser
) -> Response:
    """Delete a cluster (admins), its token and all of its cost data."""
    await service.delete_cluster(db, who, cluster_id)
    return Response(status_code=204)


@router.post("/clusters/{cluster_id}/token", response_model=ClusterCreated)
async def rotate_kubernetes_cluster_token(
    cluster_id: uuid.UUID, db: DbSession, who: AdminUser
) -> ClusterCreated:
    """A new ingest token for the cluster (admins), shown once; the old one stops at once."""
    return await service.rotate_token(db, who, cluster_id)


@router.get("/clusters/{cluster_id}/rightsizing", response_model=RightsizingOut)
async def get_kubernetes_rightsizing(
    cluster_id: uuid.UUID, db: DbSession, who: CurrentUser
) -> RightsizingOut:
    """Container requests and limits to set, per workload, from the Prometheus usage the
    collector posts (``prometheus.url`` in the chart): CPU request = P95 + 15 %, memory request
    = max(P95 + 20 %, highest seen), limits 25 % above max(request, highest seen); flagged with
    fewer than 7 days of data or a max above twice the P95. Without usage posts: no rows
    (``usage_days`` 0), nothing is guessed."""
    return await service.cluster_rightsizing(db, who, cluster_id)


@router.post(
    "/ingest/{cluster_id}",
    response_model=IngestOut,
    responses=_INGEST_ERRORS,
    openapi_extra=_ALLOCATIONS,
)
async def ingest_kubernetes_allocations(
    cluster_id: uuid.UUID,
    request: Request,
    db: DbSession,
    authorization: IngestToken = None,
    content_encoding: ContentEncoding = None,
) -> IngestOut:
    """The collector's post of OpenCost's ``/allocation`` answer, unchanged, with the cluster's
    ingest token (``Authorization: Bearer xpk8s_...``; a user's token is refused). Each day in
    it replaces that day (re-sending never double counts); ``__idle__`` is kept as idle; fields
    Xplorr does not read are ignored. Up to 16 MiB as sent, 64 MiB inflated. A malformed
    document is a 422 naming where, and nothing is written."""
    cluster = await service.cluster_for_token(db, _bearer(authorization), cluster_id)
    doc = opencost.load(opencost.inflate(await request.body(), content_encoding))
    return await service.ingest_allocations(db, cluster, opencost.allocations(doc))


@router.post(
    "/ingest/{cluster_id}/assets",
    response_model=AssetsIngestOut,
    responses=_INGEST_ERRORS,
    openapi_extra=_ASSETS,
)
async def ingest_kubernetes_assets(
    cluster_id: uuid.UUID,
    request: Request,
    db: DbSession,
    day: Annotated[
        str | None,
        Query(
            alias="date",
            max_length=10,
            description="The day the assets are of (YYYY-MM-DD): required, and checked once "
            "the token is (a caller without the cluster's token learns nothing).",
        ),
    ] = None,
    authorization: IngestToken = None,
    content_encoding: ContentEncoding = None,
) -> AssetsIngestOut:
    """The collector's post of OpenCost's ``/assets`` answer for one day (nodes, disks, load
    balancers...), with the cluster's ingest token; it replaces that day's assets. Same rules
    and caps as the allocation post."""
    cluster = await service.cluster_for_token(db, _bearer(authorization), cluster_id)
    when = opencost.parse_day(day)  # after the token: 401/404 come first
    doc = opencost.load(opencost.inflate(await request.body(), content_encoding))
    return await service.ingest_assets(db, cluster, when, opencost.assets(doc))


_PROMETHEUS = _json_body(
    {
        "type": "object",
        "description": "Prometheus's GET /api/v1/query answer (an instant vector), unchanged.",
        "properties": {
            "status": {"type": "string"},
            "data": {
                "type": "object",
                "properties": {
                    "resultType": {"type": "string"},
                    "result": {"type": "array", "items": _ANY_OBJECT},
                },
            },
        },
        "required": ["status", "data"],
    }
)


@router.post(
    "/ingest/{cluster_id}/usage",
    response_model=UsageIngestOut,
    responses=_INGEST_ERRORS,
    openapi_extra=_PROMETHEUS,
)
async def ingest_kubernetes_usage(
    cluster_id: uuid.UUID,
    request: Request,
    db: DbSession,
    day: Annotated[
        str | None,
        Query(alias="date", max_length=10, description="The day (YYYY-MM-DD): required."),
    ] = None,
    metric: Annotated[
        str | None,
        Query(
            max_length=32,
            description="Which figure: cpu_p50, cpu_p95, cpu_max (cores), memory_p95, "
            "memory_max (working set bytes), cpu_request, cpu_limit, memory_request, "
            "memory_limit: required.",
        ),
    ] = None,
    authorization: IngestToken = None,
    content_encoding: ContentEncoding = None,
) -> UsageIngestOut:
    """The collector's post of one Prometheus figure per container for one day (with
    ``prometheus.url`` set in the chart), with the cluster's ingest token; it replaces that day's
    figure. Series without namespace, pod and container labels, and NaN values, are skipped.
    Same caps as the allocation post."""
    cluster = await service.cluster_for_token(db, _bearer(authorization), cluster_id)
    when = opencost.parse_day(day)
    name = service.parse_metric(metric)
    doc = opencost.load(opencost.inflate(await request.body(), content_encoding))
    return await service.ingest_usage(db, cluster, when, name, opencost.prometheus_vector(doc))
