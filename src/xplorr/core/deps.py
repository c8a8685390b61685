"""Shared request dependencies as ``Annotated`` aliases (CONVENTIONS.md 0.5)."""

from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated

from argon2 import PasswordHasher
from fastapi import Depends, Request

from xplorr.core.ratelimit import RateLimiter
from xplorr.core.security import JwtConfig, make_hasher
from xplorr.core.settings import Settings


@dataclass(frozen=True, slots=True)
class AuthKit:
    """What the auth services need from the app, built once per app."""

    settings: Settings
    jwt: JwtConfig
    hasher: PasswordHasher
    limiter: RateLimiter

    @classmethod
    def build(cls, settings: Settings, limiter: RateLimiter) -> "AuthKit":
        jwt_cfg = JwtConfig(
            key=settings.signing_key,
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            ttl=timedelta(seconds=settings.access_token_ttl_seconds),
        )
        hasher = make_hasher(
            settings.argon2_time_cost, settings.argon2_memory_kib, settings.argon2_parallelism
        )
        return cls(settings=settings, jwt=jwt_cfg, hasher=hasher, limiter=limiter)


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_kit(request: Request) -> AuthKit:
    kit: AuthKit = request.app.state.kit
    return kit


AppSettings = Annotated[Settings, Depends(get_settings)]
Kit = Annotated[AuthKit, Depends(get_kit)]
