"""Every API router, mounted under ``/api/v1`` in this order. No logic here."""

from fastapi import APIRouter

from xplorr.auth.router import router as auth
from xplorr.cloud_accounts.router import router as cloud_accounts
from xplorr.costs.router import router as costs
from xplorr.sync.router import router as sync
from xplorr.tokens.router import router as tokens

ROUTERS: tuple[APIRouter, ...] = (auth, tokens, cloud_accounts, costs, sync)
