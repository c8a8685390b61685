import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response

from xplorr.auth.deps import AdminUser, CurrentUser
from xplorr.core.db import DbSession
from xplorr.core.errors import ErrorEnvelope
from xplorr.core.pagination import Page, PageParams, Pagination, page_params
from xplorr.tagging import service
from xplorr.tagging.schemas import TaggingPolicyCreate, TaggingPolicyOut, ViolationsPage

router = APIRouter(prefix="/tagging-policies", tags=["tagging"])
ROUTE_ORDER = 120  # mounting order under /api/v1 (core.areas.routers)

_CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {
        "model": ErrorEnvelope,
        "description": "A policy for this key and kind exists (TAGGING_POLICY_EXISTS).",
    }
}

ViolationsPagination = Annotated[PageParams, Depends(page_params(max_limit=service.MAX_VIOLATIONS))]


@router.get("", response_model=Page[TaggingPolicyOut])
async def list_tagging_policies(
    db: DbSession, who: CurrentUser, page: Pagination
) -> Page[TaggingPolicyOut]:
    """List the organization's tagging policies, oldest first."""
    return await service.list_policies(db, who, page)


@router.post("", status_code=201, response_model=TaggingPolicyOut, responses=_CONFLICT)
async def create_tagging_policy(
    body: TaggingPolicyCreate, db: DbSession, who: AdminUser
) -> TaggingPolicyOut:
    """Create a tagging policy (admin): a tag key resources must carry (``required``) and the
    values allowed, for all resources or one kind (``applies_to``: all, ec2, rds, s3, compute,
    storage). One policy per key and kind (409 otherwise)."""
    return TaggingPolicyOut.model_validate(await service.create_policy(db, who, body))


@router.get("/violations", response_model=ViolationsPage)
async def list_tagging_violations(
    db: DbSession, who: CurrentUser, page: ViolationsPagination
) -> ViolationsPage:
    """Resources breaking a tagging policy over the last 30 days of data (at most 200,
    costliest first, paginated within them): the resource, the policy, ``missing`` or
    ``value_not_allowed``, the value found and the resource's cost; plus per policy and
    currency the share of spend that complies. Resources come from the live inventory (its
    current tags; cost null when the bill names it nowhere in the window, e.g. an AWS account
    billed through Cost Explorer) and from the cost data (every other ResourceId with cost in
    the window, tags of its newest day); a member limited to some cloud accounts sees only
    theirs."""
    return await service.violations(db, who, page)


@router.delete("/{policy_id}", status_code=204)
async def delete_tagging_policy(policy_id: uuid.UUID, db: DbSession, who: AdminUser) -> Response:
    """Delete a tagging policy (admin)."""
    await service.delete_policy(db, who, policy_id)
    return Response(status_code=204)
