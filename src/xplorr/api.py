"""Every API router, mounted under ``/api/v1`` in this order. No logic here."""

from fastapi import APIRouter

from xplorr.audit_log.router import router as audit
from xplorr.auth.router import router as auth
from xplorr.cloud_accounts.router import router as cloud_accounts
from xplorr.costs.router import router as costs
from xplorr.orgs.router import router as organizations
from xplorr.passkeys.router import router as passkeys
from xplorr.sso.router import router as sso
from xplorr.sync.router import router as sync
from xplorr.tokens.router import router as tokens
from xplorr.twofa.router import router as twofa
from xplorr.users.router import router as users

ROUTERS: tuple[APIRouter, ...] = (
    auth,
    twofa,
    passkeys,
    sso,
    tokens,
    cloud_accounts,
    costs,
    sync,
    users,
    organizations,
    audit,
)
