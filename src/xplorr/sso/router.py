"""SAML single sign-on: domain check, login through the IdP, SP metadata, configuration."""

from fastapi import APIRouter

router = APIRouter(prefix="/auth", tags=["auth"])
