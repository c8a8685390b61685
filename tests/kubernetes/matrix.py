"""Role and tenancy matrix cases of this area (``tests/matrix.py``)."""

import uuid
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.factories.kubernetes import _tenant_cluster, make_cluster
from tests.matrix import ADMINS, ANY, PUBLIC, Access, Case, row_of
from xplorr.kubernetes.models import (
    KubernetesAllocation,
    KubernetesAsset,
    KubernetesCluster,
    KubernetesUsage,
)
from xplorr.users.models import User

ACCESS: dict[tuple[str, str], Access] = {
    # Everyone reads the list (a user limited to some cloud accounts sees none); admins
    # register clusters and hold their tokens (product-notes section 26).
    ("GET", "/api/v1/kubernetes/clusters"): ANY,
    ("POST", "/api/v1/kubernetes/clusters"): ADMINS,
    ("DELETE", "/api/v1/kubernetes/clusters/{cluster_id}"): ADMINS,
    ("POST", "/api/v1/kubernetes/clusters/{cluster_id}/token"): ADMINS,
    ("GET", "/api/v1/kubernetes/clusters/{cluster_id}/rightsizing"): ANY,
    # The collector's posts: no user token, the cluster's own xpk8s_ ingest token (401 without
    # it, 404 with another cluster's): tested in tests/kubernetes/test_ingest.py.
    ("POST", "/api/v1/kubernetes/ingest/{cluster_id}"): PUBLIC,
    ("POST", "/api/v1/kubernetes/ingest/{cluster_id}/assets"): PUBLIC,
    ("POST", "/api/v1/kubernetes/ingest/{cluster_id}/usage"): PUBLIC,
}


async def _cluster_and_data(db: AsyncSession, ident: uuid.UUID) -> dict[str, Any]:
    row = await row_of(KubernetesCluster, db, ident)
    for model in (KubernetesAllocation, KubernetesAsset, KubernetesUsage):
        row[model.__tablename__] = await db.scalar(
            select(func.count()).where(model.cluster_id == ident)
        )
    return row


async def _other_orgs_token(db: AsyncSession, caller: User) -> dict[str, str]:
    """The caller's org's own cluster token: valid, but for another cluster."""
    _cluster, token = await make_cluster(db, caller.org_id)
    return {"Authorization": f"Bearer {token}"}


_INGEST = Case(_tenant_cluster, _cluster_and_data, credentials=_other_orgs_token)

TENANCY = {
    "/api/v1/kubernetes/clusters/{cluster_id}": Case(_tenant_cluster, _cluster_and_data),
    "/api/v1/kubernetes/clusters/{cluster_id}/token": Case(_tenant_cluster, _cluster_and_data),
    "/api/v1/kubernetes/ingest/{cluster_id}": _INGEST,
    "/api/v1/kubernetes/ingest/{cluster_id}/assets": _INGEST,
    "/api/v1/kubernetes/ingest/{cluster_id}/usage": _INGEST,
    "/api/v1/kubernetes/clusters/{cluster_id}/rightsizing": Case(
        _tenant_cluster, _cluster_and_data
    ),
}
