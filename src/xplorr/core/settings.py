"""Settings, from the environment with the prefix ``XPLORR_`` (ARCHITECTURE.md, "Interface
contracts").

``create_app(settings)`` takes a ``Settings`` explicitly, so tests build one instead of mutating the
environment. Every field here is listed, with its default, in the README's Configuration section.
"""

import ipaddress
import os
import re
import secrets
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

import limits
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from xplorr.core.jobs import cron as crontab

_SECRET_FILE = "secret_key"  # noqa: S105 (a file name)
_HTTP_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})
_OVERRIDE = re.compile(r"^(?P<method>[A-Za-z]+)\s+(?P<path>/\S*)\s*=\s*(?P<limit>\S.*)$")
_PATH_ID = re.compile(r"{[^}]+}")


class InvalidSetting(ValueError):
    """A setting that parsed but cannot be applied (refused when the app starts)."""


def parse_rate_limit_overrides(raw: str) -> dict[tuple[str, str], str]:
    """``"GET /costs=300/minute, POST /sync/{id}=5/hour"`` as ``{("GET", "/costs"): ...}``
    (path ids as ``{}``). Entries are separated by commas or semicolons; a malformed entry, an
    unknown method, a limit ``limits`` cannot parse or an operation named twice is refused,
    the message quoting the entry and the expected shape."""
    shape = 'expected "METHOD /path=N/period", e.g. "GET /costs=300/minute"'
    out: dict[tuple[str, str], str] = {}
    for entry in (part.strip() for part in re.split(r"[,;]", raw)):
        if not entry:
            continue
        found = _OVERRIDE.match(entry)
        if found is None:
            raise ValueError(f"{entry!r}: {shape}")
        method = found["method"].upper()
        if method not in _HTTP_METHODS:
            raise ValueError(f"{entry!r}: unknown method {found['method']!r}; {shape}")
        path = found["path"].rstrip("/") or "/"
        if path.startswith("/api/v1/"):
            path = path.removeprefix("/api/v1")
        spec = found["limit"].strip()
        try:
            limits.parse(spec)
        except ValueError:
            raise ValueError(
                f"{entry!r}: {spec!r} is not a rate limit (such as 300/minute or 10/15 minutes)"
            ) from None
        key = (method, _PATH_ID.sub("{}", path))
        if key in out:
            raise ValueError(f"{entry!r}: {method} {path} is listed twice")
        out[key] = spec
    return out


class SmtpSettings(BaseSettings):
    """Outgoing mail; read with the flat documented names (``XPLORR_SMTP_HOST`` ...)."""

    model_config = SettingsConfigDict(env_prefix="XPLORR_SMTP_", extra="ignore")
    host: str | None = None
    port: int = 587
    user: str | None = None
    password: SecretStr | None = None
    from_: str = Field(default="Xplorr <no-reply@localhost>", alias="XPLORR_SMTP_FROM")
    tls: bool = True


class SlackSettings(BaseSettings):
    """The Slack app (``slack``): ``XPLORR_SLACK_CLIENT_ID`` ... ``XPLORR_SLACK_BASE_URL``. The
    authorize page is ``{base_url}/oauth/v2/authorize``, Web API methods ``{base_url}/api/<m>``
    (a local server speaking Slack's protocol in the tests)."""

    model_config = SettingsConfigDict(env_prefix="XPLORR_SLACK_", extra="ignore")
    client_id: str | None = None
    client_secret: SecretStr | None = None
    signing_secret: SecretStr | None = None
    base_url: str = "https://slack.com"


class TeamsSettings(BaseSettings):
    """The Teams app (``teams``): an Entra ID app registration's ``XPLORR_TEAMS_CLIENT_ID`` and
    ``XPLORR_TEAMS_CLIENT_SECRET``."""

    model_config = SettingsConfigDict(env_prefix="XPLORR_TEAMS_", extra="ignore")
    client_id: str | None = None
    client_secret: SecretStr | None = None


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="XPLORR_", extra="ignore", populate_by_name=True)

    data_dir: Path = Path(".xplorr")
    database_url: str | None = None
    redis_url: str | None = None
    redis_key_prefix: str = "xplorr"
    secret_key: SecretStr | None = None
    # Secret keys used before the current one: data keys they wrapped still unwrap until
    # ``xplorr keys rotate`` re-wraps them under the current key (core.crypto).
    previous_secret_keys: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)
    base_url: str = "http://127.0.0.1:8000"
    env: str = "development"
    log_level: str = "INFO"
    # Self-hosted installs whose people use gmail.com & co: signup accepts any email domain
    # (SSO domain claims still refuse free-mail domains: nobody owns gmail.com).
    allow_free_email_domains: bool = False
    # One log line per request (method, path, status, duration, request id, user id).
    access_log: bool = True
    log_json: bool | None = None

    # Sessions and tokens (security guide 1.7, 1.8).
    access_token_ttl_seconds: int = Field(default=900, ge=60, le=900)
    refresh_token_ttl_days: int = Field(default=30, ge=1, le=365)
    refresh_token_idle_days: int = Field(default=7, ge=1, le=365)
    jwt_issuer: str = "xplorr"
    jwt_audience: str = "xplorr-api"
    # argon2id parameters; the defaults are argon2-cffi's RFC 9106 low-memory profile.
    argon2_time_cost: int = Field(default=3, ge=1)
    argon2_memory_kib: int = Field(default=65536, ge=8)
    argon2_parallelism: int = Field(default=4, ge=1)

    # Rate limits (api-reference "Rate limits" table).
    rate_limits_enabled: bool = True
    rate_limit_read: str = "600/minute"
    rate_limit_write: str = "30/minute"
    # Operator overrides of single operations' limits, over the reference's:
    # "GET /costs=300/minute, POST /sync/{id}=5/hour" (paths under /api/v1, ids in any spelling).
    # Parsed strictly; an operation the API does not serve is refused when the app starts.
    rate_limit_overrides: Annotated[dict[tuple[str, str], str], NoDecode] = Field(
        default_factory=dict
    )
    login_failure_limit: str = "100/hour"
    # Failed second-factor codes per user (TOTP and recovery codes have < 64 bits: NIST
    # 800-63B 5.1.4.2 asks for a per-account limit), on top of each route's per-IP limit.
    two_factor_failure_limit: str = "5/15 minutes"
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)

    # Background work.
    embedded_worker: bool | None = None
    worker_concurrency: int = Field(default=2, ge=1, le=64)
    job_lease_seconds: int = Field(default=60, ge=2)
    job_poll_seconds: float = Field(default=1.0, gt=0)
    # How long an API request waits for SQLite's writer or a pooled connection before it answers
    # 503 with Retry-After: a sync holding the writer must not turn into 500s after 30 s.
    db_busy_timeout_seconds: float = Field(default=5.0, ge=0.1, le=60)
    job_backoff_base_seconds: float = Field(default=2.0, gt=0)
    job_modules: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # A job's transaction open longer than this is logged (on SQLite it blocks the API).
    job_transaction_warn_seconds: float = Field(default=10.0, gt=0)

    # Cost data.
    sync_interval_minutes: int = Field(default=360, ge=5, le=10080)
    # Directories a ``focus`` cloud account may point at; empty: ``DATA_DIR/exports`` only.
    focus_roots: Annotated[list[Path], NoDecode] = Field(default_factory=list)
    # A read of export files (finding them, or one batch) that makes no progress this long
    # fails the attempt (retried): a stalled file share must not hold a worker forever.
    ingest_read_timeout_seconds: float = Field(default=300.0, gt=0)

    # AWS (connectors.aws). One endpoint for every AWS service the SDK calls (a moto server,
    # LocalStack, a VPC endpoint proxy); unset: the SDK's own resolution, which also honours
    # ``AWS_ENDPOINT_URL`` and ``AWS_ENDPOINT_URL_<SERVICE>``.
    aws_endpoint_url: str | None = None
    # botocore's adaptive retry mode: attempts per call (the first included), throttling too.
    aws_max_attempts: int = Field(default=5, ge=1, le=20)
    aws_connect_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    aws_read_timeout_seconds: float = Field(default=60.0, gt=0, le=900)
    # The regions the AWS inventory reads (comma-separated); empty: every region enabled for
    # the account (ec2:DescribeRegions).
    aws_inventory_regions: Annotated[list[str], NoDecode] = Field(default_factory=list)

    # Azure (connectors.azure). Where Entra ID (the service principal's token), Azure Resource
    # Manager (Cost Management, Resource Graph, Monitor, Advisor) and Blob storage are reached;
    # unset: Azure's public cloud. ``azure_blob_endpoint`` is a template with ``{account}``
    # (e.g. ``https://{account}.blob.core.usgovcloudapi.net``). ``azure_ca_bundle``: a PEM file
    # of extra CAs to trust (a TLS-inspecting proxy; the tests' local doubles).
    azure_authority_host: str | None = None
    azure_resource_manager_url: str | None = None
    azure_blob_endpoint: str | None = None
    azure_ca_bundle: Path | None = None
    azure_max_attempts: int = Field(default=4, ge=1, le=20)
    azure_connect_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    azure_read_timeout_seconds: float = Field(default=60.0, gt=0, le=900)
    # The longest Cost Management throttling wait honoured (its qpu-retry-after header) before
    # a sync gives up on the attempt (retried later by the job runner).
    azure_throttle_max_wait_seconds: float = Field(default=120.0, ge=0, le=3600)
    # Google Cloud (connectors.gcp): one base URL for BigQuery, Cloud Asset, Compute and
    # Recommender (a proxy, a local test server), and Cloud Storage's; unset: Google's hosts.
    gcp_api_endpoint: str | None = None
    gcs_endpoint: str | None = None

    # Passkeys (WebAuthn): relying-party id (a registrable domain; default: the host of
    # ``base_url``) and the origins a ceremony may come from (default: ``base_url``'s origin).
    webauthn_rp_id: str | None = None
    webauthn_rp_name: str = "Xplorr"
    webauthn_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)

    # SAML single sign-on: unset, the login through the IdP signs the browser into the web
    # console (its login cookie; no token in a URL). Set, an external application receives it
    # there, with the tokens in the URL fragment.
    sso_redirect_url: str | None = None
    # Where domain claims are proven (a TXT record): an IP address to ask instead of the
    # system's resolvers (/etc/resolv.conf), its port, and how long one lookup may take.
    sso_dns_nameserver: str | None = None
    sso_dns_port: int = Field(default=53, ge=1, le=65535)
    sso_dns_timeout_seconds: float = Field(default=5.0, gt=0, le=60)

    # LLM (ai_recommendations): any OpenAI-compatible chat-completions server. Unset base URL
    # or model: no LLM is called and insights come from rules (``source: "rules"``).
    llm_base_url: str | None = None
    llm_api_key: SecretStr | None = None
    llm_model: str | None = None
    llm_timeout_seconds: float = Field(default=30.0, gt=0, le=300)

    # The weekly summary's schedule (reports.weekly): a five-field cron expression read in UTC;
    # product-notes section 25's default, Mondays 09:00.
    weekly_summary_cron: str = "0 9 * * 1"

    # Demo.
    demo_email: str = "demo@xplorr.example.com"
    demo_password: SecretStr = SecretStr("xplorr-demo-password")

    smtp: SmtpSettings = Field(default_factory=SmtpSettings)

    # Chat apps (slack, teams): Microsoft identity platform and Graph endpoints (a local server
    # speaking their protocols in the tests).
    slack: SlackSettings = Field(default_factory=SlackSettings)
    teams: TeamsSettings = Field(default_factory=TeamsSettings)
    ms_login_base_url: str = "https://login.microsoftonline.com"
    ms_graph_base_url: str = "https://graph.microsoft.com"

    # Outbound webhooks (core.egress): hosts that may be called over http and on private or
    # loopback addresses (a test's local receiver, an internal relay). Empty in production.
    egress_allow_hosts: Annotated[list[str], NoDecode] = Field(default_factory=list)

    @field_validator(
        "trusted_proxies",
        "job_modules",
        "focus_roots",
        "previous_secret_keys",
        "webauthn_origins",
        "egress_allow_hosts",
        "aws_inventory_regions",
        mode="before",
    )
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("rate_limit_overrides", mode="before")
    @classmethod
    def _rate_limit_overrides(cls, value: Any) -> Any:
        return parse_rate_limit_overrides(value) if isinstance(value, str) else value

    @field_validator("trusted_proxies")
    @classmethod
    def _valid_networks(cls, value: list[str]) -> list[str]:
        for net in value:
            ipaddress.ip_network(net, strict=False)
        return value

    @field_validator("weekly_summary_cron")
    @classmethod
    def _cron(cls, value: str) -> str:
        crontab.check(value, "UTC")
        return value

    @field_validator("sso_dns_nameserver")
    @classmethod
    def _ip_address(cls, value: str | None) -> str | None:
        if value:
            return str(ipaddress.ip_address(value))
        return None

    @cached_property
    def db_url(self) -> str:
        """The async SQLAlchemy URL; the embedded default is a SQLite file under ``data_dir``."""
        if self.database_url:
            return normalise_db_url(self.database_url)
        return f"sqlite+aiosqlite:///{(self.data_dir / 'xplorr.db').resolve()}"

    @property
    def is_sqlite(self) -> bool:
        return self.db_url.startswith("sqlite")

    @property
    def run_embedded_worker(self) -> bool:
        """Default: on for embedded SQLite, off for PostgreSQL (run ``xplorr worker`` there)."""
        return self.is_sqlite if self.embedded_worker is None else self.embedded_worker

    @property
    def json_logs(self) -> bool:
        return self.env == "production" if self.log_json is None else self.log_json

    @cached_property
    def trusted_proxy_networks(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        return tuple(ipaddress.ip_network(n, strict=False) for n in self.trusted_proxies)

    @property
    def webauthn_relying_party_id(self) -> str:
        return self.webauthn_rp_id or (urlsplit(self.base_url).hostname or "localhost")

    @property
    def webauthn_allowed_origins(self) -> list[str]:
        if self.webauthn_origins:
            return [o.rstrip("/") for o in self.webauthn_origins]
        parts = urlsplit(self.base_url)
        return [f"{parts.scheme}://{parts.netloc}"]

    @property
    def sso_callback_url(self) -> str:
        return self.sso_redirect_url or self.base_url.rstrip("/") + "/sso/callback"

    @cached_property
    def focus_root_dirs(self) -> tuple[Path, ...]:
        """Resolved directories FOCUS exports may be read from (symlinks followed)."""
        roots = self.focus_roots or [self.data_dir / "exports"]
        return tuple(Path(root).expanduser().resolve() for root in roots)

    @cached_property
    def signing_key(self) -> str:
        """``XPLORR_SECRET_KEY`` or a key generated once and kept in ``data_dir`` with mode 0600."""
        if self.secret_key is not None:
            return self.secret_key.get_secret_value()
        path = self.data_dir / _SECRET_FILE
        if not path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_urlsafe(48))
        return path.read_text().strip()


def normalise_db_url(url: str) -> str:
    """Accept the URLs operators type and map them onto the async drivers we ship."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    if url.startswith("sqlite:///"):
        return "sqlite+aiosqlite:///" + url[len("sqlite:///") :]
    return url


def sync_db_url(async_url: str) -> str:
    """The same database through a synchronous driver (Alembic runs synchronously)."""
    return async_url.replace("sqlite+aiosqlite://", "sqlite://")
