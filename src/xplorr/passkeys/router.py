"""Passkeys and security keys (WebAuthn): register, log in, list, remove."""

from fastapi import APIRouter

router = APIRouter(prefix="/auth/webauthn", tags=["auth"])
