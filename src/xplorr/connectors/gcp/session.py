"""Google Cloud clients for one project, and what a Google failure means.

Credentials are the account's service-account key (``keyfileJson``): google-auth signs a JWT
with its private key and trades it at the key's ``token_uri`` for an access token (scope
``cloud-platform``), refreshed by itself before it expires. Every API is reached through the
vendors' clients: google-cloud-bigquery (the BigQuery Storage read path off: it needs its own
grant and a gRPC endpoint, and billing rows are few enough for ``jobs.query`` pages), and the
REST transport of google-cloud-asset and -recommender (no gRPC channel to keep), and
Compute Engine's and Cloud SQL Admin's REST APIs through google-auth's ``AuthorizedSession``
(``rest_get``).

``XPLORR_GCP_API_ENDPOINT`` sends every API call but Cloud Storage's to one base URL (a proxy,
the tests' local server), ``XPLORR_GCS_ENDPOINT`` Cloud Storage's; unset, Google's own hosts.

Failures become one of two exceptions (``classify``), naming the operation and never a secret:

- ``GcpCallError`` (a ``ConnectorError``: retrying cannot help): a refused key ("GCP
  authentication failed"), a missing permission ("GCP permission denied", ``denied``: a
  connector may make a partial sync of it), a missing dataset or table ("Not found: Dataset",
  "Not found: Table"), a bad request;
- ``GcpUnavailable`` (a ``ConnectionError``: the sync retries it with backoff): throttling,
  Google 5xx, a network error or timeout.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import anyio.to_thread
from google.api_core import exceptions as gexc
from google.api_core.client_options import ClientOptions
from google.auth import exceptions as auth_exc
from google.oauth2 import service_account

from xplorr.connectors import ConnectorError
from xplorr.core.settings import Settings

T = TypeVar("T")

SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)
MESSAGE_MAX = 300
PERMISSION_DENIED = "GCP permission denied"
COMPUTE_HOST = "compute.googleapis.com"
SQLADMIN_HOST = "sqladmin.googleapis.com"
HTTP_TIMEOUT = 60.0
AUTH_FAILED = "GCP authentication failed"

_RETRYABLE = (
    gexc.TooManyRequests,
    gexc.ServerError,
    gexc.RetryError,
    gexc.DeadlineExceeded,
)


@dataclass(frozen=True, slots=True)
class GcpFailure:
    operation: str
    code: str  # Google's status (PERMISSION_DENIED, NOT_FOUND...) or the exception's name
    message: str
    retryable: bool
    denied: bool = False
    bad_credentials: bool = False
    not_found: bool = False


class GcpCallError(ConnectorError):
    """A Google call that retrying cannot fix (bad key, denied, not found, bad request)."""

    def __init__(self, failure: GcpFailure) -> None:
        super().__init__(failure.message)
        self.failure = failure


class GcpUnavailable(ConnectionError):
    """A Google call that may succeed later (throttled, 5xx, network): retried."""

    def __init__(self, failure: GcpFailure) -> None:
        super().__init__(failure.message)
        self.failure = failure


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MESSAGE_MAX else text[: MESSAGE_MAX - 1] + "…"


def _google_message(exc: gexc.GoogleAPICallError) -> str:
    return _short(str(exc.message or ""))


def classify(exc: BaseException, operation: str) -> GcpCallError | GcpUnavailable:
    """The exception a Google failure of ``operation`` becomes (see the module docstring)."""
    if isinstance(exc, GcpCallError | GcpUnavailable):
        return exc
    name = type(exc).__name__
    if isinstance(exc, auth_exc.RefreshError | auth_exc.DefaultCredentialsError):
        retryable = bool(getattr(exc, "retryable", False))
        failure = GcpFailure(
            operation,
            name,
            f"{AUTH_FAILED}: {operation}: the service-account key was refused "
            f"({_short(str(exc.args[0]) if exc.args else name)}); update keyfileJson.",
            retryable,
            bad_credentials=not retryable,
        )
        return GcpUnavailable(failure) if retryable else GcpCallError(failure)
    if isinstance(exc, auth_exc.TransportError):
        return GcpUnavailable(
            GcpFailure(operation, name, f"{operation} failed: Google unreachable ({name}).", True)
        )
    if isinstance(exc, gexc.GoogleAPICallError):
        google = _google_message(exc)
        status = str(exc.grpc_status_code.name if exc.grpc_status_code else exc.code or name)
        if isinstance(exc, gexc.Unauthenticated | gexc.Unauthorized):
            return GcpCallError(
                GcpFailure(
                    operation,
                    status,
                    f"{AUTH_FAILED}: {operation}: {google}",
                    False,
                    bad_credentials=True,
                )
            )
        if isinstance(exc, gexc.PermissionDenied | gexc.Forbidden):
            return GcpCallError(
                GcpFailure(
                    operation, status, f"{PERMISSION_DENIED}: {operation}: {google}", False, True
                )
            )
        if isinstance(exc, gexc.NotFound):
            return GcpCallError(
                GcpFailure(
                    operation, status, google or f"{operation}: Not found", False, not_found=True
                )
            )
        if isinstance(exc, _RETRYABLE):
            return GcpUnavailable(
                GcpFailure(operation, status, f"{operation} failed: {google}", True)
            )
        return GcpCallError(GcpFailure(operation, status, f"{operation} failed: {google}", False))
    if isinstance(exc, gexc.RetryError | OSError):
        return GcpUnavailable(
            GcpFailure(operation, name, f"{operation} failed: {name}: {_short(str(exc))}", True)
        )
    raise exc  # a bug of ours, not a Google failure


def call(operation: str, func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``func(*args, **kwargs)`` with a Google failure turned into ``GcpCallError`` or
    ``GcpUnavailable`` naming ``operation`` (blocking: in a worker thread)."""
    try:
        return func(*args, **kwargs)
    except (gexc.GoogleAPICallError, gexc.RetryError, auth_exc.GoogleAuthError, OSError) as exc:
        raise classify(exc, operation) from exc


async def run(func: Callable[..., T], *args: Any) -> T:
    """Blocking Google client work in a worker thread."""
    return await anyio.to_thread.run_sync(func, *args)


class GcpSession:
    """One project's credentials and client factories (clients are built per use)."""

    def __init__(self, settings: Settings, credentials: Mapping[str, Any]) -> None:
        self.settings = settings
        self.project = str(credentials["projectId"])
        self.location = str(credentials.get("bigqueryLocation") or "US")
        self.dataset = str(credentials.get("billingDataset") or "billing_export")
        self.table = str(credentials.get("billingTable") or "gcp_billing_export_v1_*")
        self.billing_account = credentials.get("billingAccountId") or None
        self.regions = [str(r) for r in credentials.get("regions") or []]
        try:
            self.credentials = service_account.Credentials.from_service_account_info(  # type: ignore[no-untyped-call]
                dict(credentials["keyfileJson"]), scopes=list(SCOPES)
            )
        except (ValueError, KeyError, TypeError) as exc:
            # google-auth's messages name missing fields, never the key's content.
            raise GcpCallError(
                GcpFailure(
                    "google-auth",
                    type(exc).__name__,
                    f"{AUTH_FAILED}: keyfileJson is not a usable service-account key "
                    f"({type(exc).__name__}); update the credentials.",
                    False,
                    bad_credentials=True,
                )
            ) from None

    def __repr__(self) -> str:
        return f"GcpSession(project={self.project})"

    def _options(self) -> ClientOptions | None:
        endpoint = self.settings.gcp_api_endpoint
        return ClientOptions(api_endpoint=endpoint) if endpoint else None

    def bigquery(self) -> Any:
        from google.cloud import bigquery

        return bigquery.Client(
            project=self.project,
            credentials=self.credentials,
            location=self.location,
            client_options=self._options(),
        )

    def asset(self) -> Any:
        from google.cloud import asset_v1

        return asset_v1.AssetServiceClient(
            credentials=self.credentials, transport="rest", client_options=self._options()
        )

    def rest_get(self, host: str, path: str, params: Mapping[str, Any]) -> dict[str, Any]:
        """One call of a Google REST API (``GET https://<host>/<path>``, ``XPLORR_GCP_API_ENDPOINT``
        in place of the host when set) through google-auth's ``AuthorizedSession``: the key's
        token, refreshed as it expires. Used where a client library would cost more than it
        gives: google-cloud-compute's ~100 service clients take seconds to import (15 s on a
        loaded CI machine) for three list calls, and Cloud SQL Admin has no Cloud Client
        Library. A status >= 400 raises google-api-core's exception for it (``classify``)."""
        from google.auth.transport.requests import AuthorizedSession

        base = self.settings.gcp_api_endpoint or f"https://{host}"
        with AuthorizedSession(self.credentials) as http:  # type: ignore[no-untyped-call]
            answer = http.get(
                f"{base.rstrip('/')}/{path}", params=dict(params), timeout=HTTP_TIMEOUT
            )
        if answer.status_code >= 400:
            raise gexc.from_http_response(answer)  # type: ignore[no-untyped-call]
        body: dict[str, Any] = answer.json()
        return body

    def compute_get(self, path: str, params: Mapping[str, Any]) -> dict[str, Any]:
        """``GET /compute/v1/<path>`` of Compute Engine's REST API."""
        return self.rest_get(COMPUTE_HOST, f"compute/v1/{path}", params)

    def sql_get(self, path: str, params: Mapping[str, Any]) -> dict[str, Any]:
        """``GET /v1/<path>`` of the Cloud SQL Admin REST API (``sqladmin``)."""
        return self.rest_get(SQLADMIN_HOST, f"v1/{path}", params)

    def recommender(self) -> Any:
        from google.cloud import recommender_v1

        return recommender_v1.RecommenderClient(
            credentials=self.credentials, transport="rest", client_options=self._options()
        )

    def storage(self) -> Any:
        from google.cloud import storage  # type: ignore[attr-defined]

        endpoint = self.settings.gcs_endpoint
        return storage.Client(
            project=self.project,
            credentials=self.credentials,
            client_options=ClientOptions(api_endpoint=endpoint) if endpoint else None,
        )


def open_session(settings: Settings, credentials: Mapping[str, Any]) -> GcpSession:
    """A session from the stored credentials (no call made yet)."""
    return GcpSession(settings, credentials)
