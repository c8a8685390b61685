"""Azure access for one cloud account (one subscription), and what an Azure failure means.

**Credentials** (product notes section 8): a service principal, ``clientId``, ``tenantId``,
``clientSecret``, ``subscriptionId``, signed in with azure-identity's ``ClientSecretCredential``
(Entra ID's client-credentials flow). The SDK clients (Cost Management, Resource Graph, Monitor,
Advisor, Blob storage) all take that credential; none of them sees the secret.

**Where Azure is.** ``XPLORR_AZURE_AUTHORITY_HOST``, ``XPLORR_AZURE_RESOURCE_MANAGER_URL`` and
``XPLORR_AZURE_BLOB_ENDPOINT`` move Entra ID, ARM and Blob storage (a sovereign cloud; the
tests' local doubles, reached by the same SDK clients and the same code path);
``XPLORR_AZURE_CA_BUNDLE`` adds CAs to trust. The Azure SDKs send bearer tokens over HTTPS only,
which is why the doubles speak TLS rather than this code relaxing it.

**Calls** go through ``call``, which turns every failure into one of two exceptions naming the
operation and never a secret:

- ``AzureCallError`` (a ``ConnectorError``: retrying cannot help): the sign-in refused ("Azure
  authentication failed"), the subscription not in the tenant, a denied permission (``denied``:
  a connector makes a partial sync of it), a missing container, an invalid request;
- ``AzureUnavailable`` (a ``ConnectionError``: the sync is retried with backoff): throttling
  that outlasted its wait, Azure 5xx, a network error or timeout.

The SDKs block (requests), so everything here runs in a worker thread (``run``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import anyio.to_thread
from azure.core.exceptions import (
    AzureError,
    ClientAuthenticationError,
    HttpResponseError,
)
from azure.identity import ClientSecretCredential

from xplorr.connectors import ConnectorError
from xplorr.core.settings import Settings

T = TypeVar("T")

ARM_URL = "https://management.azure.com"
BLOB_ENDPOINT = "https://{account}.blob.core.windows.net"
MESSAGE_MAX = 300

# Section 8's error texts.
AUTH_FAILED = "Azure authentication failed"
SUBSCRIPTION_NOT_FOUND = "That Azure subscription was not found in this tenant"
CANNOT_READ_SUBSCRIPTION = "The Azure service principal signed in but cannot read the subscription"

DENIED_CODES = frozenset(
    {
        "AuthorizationFailed",
        "AuthorizationPermissionMismatch",
        "AuthorizationPermissionDenied",
        "AuthorizationFailure",
        "AuthorizationResourceTypeMismatch",
        "LinkedAuthorizationFailed",
        "Forbidden",
        "RBACAccessDenied",
        "InsufficientAccountPermissions",
    }
)
SUBSCRIPTION_CODES = frozenset({"SubscriptionNotFound", "InvalidSubscriptionId"})
AUTH_CODES = frozenset(
    {"InvalidAuthenticationToken", "InvalidAuthenticationTokenTenant", "ExpiredAuthenticationToken"}
)


@dataclass(frozen=True, slots=True)
class AzureFailure:
    operation: str
    code: str
    message: str
    retryable: bool
    denied: bool = False
    bad_credentials: bool = False
    not_found: bool = False
    retry_after: float | None = None


class AzureCallError(ConnectorError):
    """An Azure call retrying cannot fix (refused sign-in, denied, not found, bad request)."""

    def __init__(self, failure: AzureFailure) -> None:
        super().__init__(failure.message)
        self.failure = failure


class AzureUnavailable(ConnectionError):
    """An Azure call that may succeed later (throttled, 5xx, network): the sync retries it."""

    def __init__(self, failure: AzureFailure) -> None:
        super().__init__(failure.message)
        self.failure = failure


def _short(text: str) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= MESSAGE_MAX else text[: MESSAGE_MAX - 1] + "…"


def _aad_code(message: str) -> str:
    """Entra ID's AADSTS code from a sign-in error text (AADSTS7000215: bad secret...)."""
    for word in message.replace(":", " ").split():
        if word.startswith("AADSTS") and word[6:].isdigit():
            return word
    return "ClientAuthenticationError"


def _error_code(exc: HttpResponseError) -> str:
    code = getattr(exc, "error_code", None)
    if code:
        return str(code)
    error = getattr(exc, "error", None)
    if error is not None and getattr(error, "code", None):
        return str(error.code)
    response: Any = exc.response
    if response is not None:
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict):
            inner = body.get("error")
            if isinstance(inner, dict) and inner.get("code"):
                return str(inner["code"])
    status = exc.status_code or 0
    return {401: "Unauthorized", 403: "Forbidden", 404: "NotFound"}.get(status, f"HTTP{status}")


def _error_message(exc: HttpResponseError) -> str:
    error = getattr(exc, "error", None)
    if error is not None and getattr(error, "message", None):
        return _short(str(error.message))
    message = str(exc.reason or "")
    response: Any = exc.response
    if response is not None:
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict) and isinstance(body.get("error"), dict):
            message = str(body["error"].get("message") or message)
    return _short(message)


def retry_after(exc: HttpResponseError) -> float | None:
    """The wait Azure asks for: Cost Management's QPU header first, then ``Retry-After``."""
    response: Any = exc.response
    if response is None:
        return None
    headers = {k.lower(): v for k, v in response.headers.items()}
    for name in (
        "x-ms-ratelimit-microsoft.costmanagement-qpu-retry-after",
        "x-ms-ratelimit-microsoft.costmanagement-entity-retry-after",
        "x-ms-ratelimit-microsoft.costmanagement-tenant-retry-after",
        "x-ms-ratelimit-microsoft.costmanagement-clienttype-retry-after",
        "retry-after",
    ):
        value = headers.get(name)
        if value is None:
            continue
        try:
            return max(0.0, float(value))
        except ValueError:
            continue
    return None


def classify(exc: AzureError | OSError, operation: str) -> AzureCallError | AzureUnavailable:
    """The exception an Azure failure of ``operation`` becomes (see the module docstring)."""
    if isinstance(exc, AzureCallError | AzureUnavailable):
        return exc
    if isinstance(exc, HttpResponseError):
        status = exc.status_code or 0
        code = _error_code(exc)
        text = f"{operation} failed: {code}"
        detail = _error_message(exc)
        if detail:
            text += f": {detail}"
        # Entra ID refusing the sign-in (azure-identity) or ARM refusing the token: both
        # raise ClientAuthenticationError. azure-identity raises it too when Entra ID cannot be
        # reached at all (no AADSTS code, no answer): that is transient, not bad credentials.
        refused = "AADSTS" in str(exc.message or exc) or status in (400, 401)
        if isinstance(exc, ClientAuthenticationError) and not refused:
            name = type(exc).__name__
            return AzureUnavailable(
                AzureFailure(
                    operation,
                    name,
                    f"{operation} failed: Entra ID unreachable ({_short(str(exc.message))}).",
                    True,
                )
            )
        if isinstance(exc, ClientAuthenticationError):
            aad = _aad_code(str(exc.message or exc))
            return AzureCallError(
                AzureFailure(
                    operation,
                    aad,
                    f"{AUTH_FAILED} ({aad}): check the tenant, client id and client secret "
                    "(an expired secret fails too).",
                    False,
                    bad_credentials=True,
                )
            )
        if code in SUBSCRIPTION_CODES:
            return AzureCallError(
                AzureFailure(
                    operation, code, f"{SUBSCRIPTION_NOT_FOUND} ({text}).", False, not_found=True
                )
            )
        if status == 401 or code in AUTH_CODES:
            return AzureCallError(
                AzureFailure(
                    operation, code, f"{AUTH_FAILED} ({text}).", False, bad_credentials=True
                )
            )
        if status == 403 or code in DENIED_CODES:
            return AzureCallError(
                AzureFailure(operation, code, text + " (permission denied)", False, denied=True)
            )
        if status == 429 or status >= 500:
            return AzureUnavailable(
                AzureFailure(operation, code, text, True, retry_after=retry_after(exc))
            )
        return AzureCallError(AzureFailure(operation, code, text, False, not_found=status == 404))
    # ServiceRequestError, ServiceResponseError (network, timeouts), an OSError: transient.
    name = type(exc).__name__
    return AzureUnavailable(
        AzureFailure(operation, name, f"{operation} failed: Azure unreachable ({name}).", True)
    )


def call(operation: str, func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``func(*args, **kwargs)`` with an Azure failure classified (blocking)."""
    try:
        return func(*args, **kwargs)
    except (AzureError, OSError) as exc:
        raise classify(exc, operation) from exc


async def run(func: Callable[..., T], *args: Any) -> T:
    """Blocking SDK work in a worker thread."""
    return await anyio.to_thread.run_sync(func, *args)


@dataclass(frozen=True, slots=True)
class AzureTarget:
    """One subscription and its service principal (the secret kept out of ``repr``)."""

    subscription_id: str
    tenant_id: str
    client_id: str
    client_secret: str
    export_storage_account: str | None = None
    export_container: str | None = None
    export_path: str = ""
    export_sas_url: str | None = None

    def __repr__(self) -> str:
        return f"AzureTarget(subscription={self.subscription_id}, client={self.client_id})"

    @property
    def scope(self) -> str:
        return f"/subscriptions/{self.subscription_id}"

    @property
    def has_export(self) -> bool:
        return bool(self.export_sas_url or (self.export_storage_account and self.export_container))

    @classmethod
    def from_credentials(cls, credentials: Mapping[str, Any]) -> AzureTarget:
        missing = [
            k
            for k in ("clientId", "tenantId", "clientSecret", "subscriptionId")
            if not credentials.get(k)
        ]
        if missing:
            raise ConnectorError(
                f"This Azure account's credentials lack {', '.join(missing)}; update them."
            )
        return cls(
            subscription_id=str(credentials["subscriptionId"]).lower(),
            tenant_id=str(credentials["tenantId"]),
            client_id=str(credentials["clientId"]),
            client_secret=str(credentials["clientSecret"]),
            export_storage_account=credentials.get("exportStorageAccount") or None,
            export_container=credentials.get("exportContainer") or None,
            export_path=str(credentials.get("exportPath") or "").strip("/"),
            export_sas_url=credentials.get("exportSasUrl") or None,
        )


class AzureSession:
    """The credential and the SDK clients of one subscription (all blocking)."""

    def __init__(self, settings: Settings, target: AzureTarget, *, attempts: int | None = None):
        self.settings = settings
        self.target = target
        self.attempts = attempts or settings.azure_max_attempts
        self.arm_url = (settings.azure_resource_manager_url or ARM_URL).rstrip("/")
        options: dict[str, Any] = {}
        if settings.azure_authority_host:
            options["authority"] = settings.azure_authority_host
            # Instance discovery asks login.microsoftonline.com about the authority: not for
            # a sovereign or local authority configured on purpose.
            options["disable_instance_discovery"] = True
        self.credential = ClientSecretCredential(
            target.tenant_id,
            target.client_id,
            target.client_secret,
            **options,
            **self.transport_options(),
        )

    def __repr__(self) -> str:
        return f"AzureSession({self.target!r})"

    def transport_options(self) -> dict[str, Any]:
        """Timeouts, retries and extra CAs for every SDK client."""
        options: dict[str, Any] = {
            "connection_timeout": self.settings.azure_connect_timeout_seconds,
            "read_timeout": self.settings.azure_read_timeout_seconds,
            "retry_total": self.attempts - 1,
            "retry_backoff_factor": 0.5,
        }
        if self.settings.azure_ca_bundle:
            options["connection_verify"] = str(self.settings.azure_ca_bundle)
        return options

    def arm_options(self, **extra: Any) -> dict[str, Any]:
        """What an ARM management client takes: the endpoint and the token's audience."""
        return {
            "base_url": self.arm_url,
            "credential_scopes": [f"{self.arm_url}/.default"]
            if self.settings.azure_resource_manager_url
            else [f"{ARM_URL}/.default"],
            **self.transport_options(),
            **extra,
        }

    def close(self) -> None:
        self.credential.close()


def open_session(
    settings: Settings, credentials: Mapping[str, Any], *, attempts: int | None = None
) -> AzureSession:
    """A session for the account (no call made yet: the first call signs in)."""
    return AzureSession(settings, AzureTarget.from_credentials(credentials), attempts=attempts)


__all__ = [
    "AUTH_FAILED",
    "CANNOT_READ_SUBSCRIPTION",
    "SUBSCRIPTION_NOT_FOUND",
    "AzureCallError",
    "AzureFailure",
    "AzureSession",
    "AzureTarget",
    "AzureUnavailable",
    "call",
    "classify",
    "open_session",
    "run",
]
