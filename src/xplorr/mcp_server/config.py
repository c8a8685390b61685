"""The MCP server's settings, from the environment as Xplorr's documentation names them
(product notes 27): ``XPLORR_API_URL``, ``XPLORR_API_TOKEN``, ``PORT``."""

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

DEFAULT_API_URL = "https://api.xplorr.io"
DEFAULT_PORT = 3005
TOKEN_PREFIX = "xplorr_"  # noqa: S105 - the API tokens' documented prefix, not a secret
Mode = Literal["single-tenant", "multi-tenant"]


class ConfigError(ValueError):
    """A setting the server cannot start with; the message names it (never its value)."""


@dataclass(frozen=True, slots=True)
class McpConfig:
    api_url: str
    """The API's origin; the server calls ``{api_url}/api/v1/...``."""
    api_token: str | None = None
    """Single-tenant: every tool acts with this token. None: each HTTP request brings its own."""
    allow_writes: bool = False
    """Register the tools that change something (acknowledging an anomaly)."""
    timeout_seconds: float = 30.0

    @property
    def mode(self) -> Mode:
        return "single-tenant" if self.api_token else "multi-tenant"

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, *, allow_writes: bool = False
    ) -> "McpConfig":
        values = os.environ if env is None else env
        api_url = values.get("XPLORR_API_URL", "").strip() or DEFAULT_API_URL
        token = values.get("XPLORR_API_TOKEN", "").strip() or None
        return cls.of(api_url, token, allow_writes=allow_writes)

    @classmethod
    def of(cls, api_url: str, api_token: str | None, *, allow_writes: bool = False) -> "McpConfig":
        parts = urlsplit(api_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigError("XPLORR_API_URL must be an http(s) URL such as https://api.xplorr.io")
        if parts.query or parts.fragment:
            raise ConfigError("XPLORR_API_URL must not carry a query or fragment")
        # Accept the origin with or without the /api/v1 the server appends itself.
        base = api_url.rstrip("/").removesuffix("/api/v1")
        if api_token is not None and not api_token.startswith(TOKEN_PREFIX):
            raise ConfigError(
                "XPLORR_API_TOKEN must be an Xplorr API token (xplorr_...), "
                "created under Settings -> API Tokens"
            )
        return cls(api_url=base, api_token=api_token, allow_writes=allow_writes)


def api_token_of(authorization: str | None) -> str | None:
    """The ``xplorr_`` token of an ``Authorization: Bearer`` header value, else None."""
    scheme, _, token = (authorization or "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token.startswith(TOKEN_PREFIX):
        return None
    return token


def port_from_env(env: Mapping[str, str] | None = None) -> int:
    raw = (os.environ if env is None else env).get("PORT", "").strip()
    if not raw:
        return DEFAULT_PORT
    if not raw.isdigit() or not 1 <= int(raw) <= 65535:
        raise ConfigError("PORT must be a TCP port number (1-65535)")
    return int(raw)
