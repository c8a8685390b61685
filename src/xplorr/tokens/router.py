import uuid

from fastapi import APIRouter, Response

from xplorr.auth.deps import AnyScopeUser, CurrentUser
from xplorr.core.db import DbSession
from xplorr.core.deps import Kit
from xplorr.core.pagination import Page, Pagination
from xplorr.tokens import service
from xplorr.tokens.schemas import ApiTokenCreate, ApiTokenCreated, ApiTokenOut, TokenExchangeOut

router = APIRouter(prefix="/tokens", tags=["tokens"])
ROUTE_ORDER = 50  # mounting order under /api/v1 (core.areas.routers)


@router.get("", response_model=Page[ApiTokenOut])
async def list_tokens(db: DbSession, who: CurrentUser, page: Pagination) -> Page[ApiTokenOut]:
    """List live API tokens: your own, or every token of the organization for owners and admins.
    Token values are never shown again after creation."""
    return await service.list_tokens(db, who, page)


@router.post("", status_code=201, response_model=ApiTokenCreated)
async def create_token(body: ApiTokenCreate, db: DbSession, who: CurrentUser) -> ApiTokenCreated:
    """Create an API token that acts as you. The ``token`` value is shown once."""
    return await service.create_token(db, who, body)


@router.delete("/{token_id}", status_code=204)
async def revoke_token(token_id: uuid.UUID, db: DbSession, who: CurrentUser) -> Response:
    """Revoke an API token; requests with it, and JWTs exchanged from it, fail at once."""
    await service.revoke_token(db, who, token_id)
    return Response(status_code=204)


@router.post("/exchange", response_model=TokenExchangeOut)
async def exchange_token(who: AnyScopeUser, kit: Kit) -> TokenExchangeOut:
    """Exchange the ``xplorr_`` token in the Authorization header for a 15-minute JWT. The JWT
    keeps the token's scope: read-only and account limits hold for it too."""
    return service.exchange(kit, who)
