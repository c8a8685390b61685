"""TOTP two-factor authentication: setup, confirm, the login's second step, disable."""

from fastapi import APIRouter

router = APIRouter(prefix="/auth/2fa", tags=["auth"])
