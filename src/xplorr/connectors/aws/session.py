"""AWS sessions for one cloud account, and what an AWS failure means.

Two ways in (product notes section 8, ``cloud_accounts.schemas``):

- **Access keys** (``accessKeyId``, ``secretAccessKey``): used as they are.
- **IAM role** (``roleName``, ``externalId``?): Xplorr calls ``sts:AssumeRole`` on
  ``arn:aws:iam::<account id>:role/<roleName>`` (commercial partition), with the external id
  when one is set, for a one-hour session named ``xplorr-<purpose>``, from *base* credentials:
  the organization's base keys when it saved some (``PATCH /settings``
  ``aws_base_access_key_id``/``aws_base_secret_access_key``, read by ``org_base_keys``), else
  the server's own (the SDK's default chain: what ``GET /cloud-accounts/server-aws-config``
  reports). Every caller (sync, inventory, commitments, the connection test) reads them with
  ``org_base_keys`` and opens the session with ``connect``/``open_session``. The session
  re-assumes the role by itself shortly before the hour ends (botocore's refreshable
  credentials), so a long sync never meets ``ExpiredToken``.

Every client is built with retries in botocore's *adaptive* mode (``XPLORR_AWS_MAX_ATTEMPTS``
attempts, throttling included, with client-side rate limiting), bounded connect and read
timeouts, and ``XPLORR_AWS_ENDPOINT_URL`` as the endpoint when it is set (a moto server, an
S3-compatible proxy; such an endpoint is addressed path-style). Unset, the SDK resolves
endpoints itself, ``AWS_ENDPOINT_URL`` and ``AWS_ENDPOINT_URL_<SERVICE>`` included: the tests
use exactly the production code path against moto's server.

boto3 blocks, so everything here runs in a worker thread (``run``): a Session is not
thread-safe (``client`` builds clients under a lock), clients are. Chosen over aiobotocore,
which pins botocore to its own release cadence and which moto does not support in-process
(ARCHITECTURE.md, connectors guide section 3).

Failures become one of two exceptions (``classify``), each naming the operation and AWS's
error code and never a secret:

- ``AwsCallError`` (a ``ConnectorError``: retrying cannot help): bad or expired keys, a denied
  permission (``denied`` is true: a connector may make a partial sync of it), a missing
  bucket, an invalid request;
- ``AwsUnavailable`` (a ``ConnectionError``, so an ``OSError``: the sync retries it with
  backoff): throttling that outlasted the retries, AWS 5xx, a network error or timeout.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, TypeVar, overload

import anyio.to_thread
import boto3
import botocore.session
from botocore.config import Config
from botocore.credentials import RefreshableCredentials
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    CredentialRetrievalError,
    EndpointConnectionError,
    NoCredentialsError,
    ParamValidationError,
    PartialCredentialsError,
    ReadTimeoutError,
)
from botocore.loaders import create_loader
from botocore.parsers import ResponseParserError

from xplorr.connectors import ConnectorError
from xplorr.core.crypto import CryptoError
from xplorr.core.settings import Settings
from xplorr.settings.service import aws_base_keys

if TYPE_CHECKING:
    from mypy_boto3_ce import CostExplorerClient
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_ec2 import EC2Client
    from mypy_boto3_elbv2 import ElasticLoadBalancingv2Client
    from mypy_boto3_rds import RDSClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sts import STSClient
    from sqlalchemy.ext.asyncio import AsyncSession

T = TypeVar("T")

PARTITION = "aws"  # commercial partition only (product notes section 8)
ROLE_SESSION_SECONDS = 3600  # product notes: Xplorr requests 1-hour STS sessions
DEFAULT_REGION = "us-east-1"
CE_REGION = "us-east-1"  # Cost Explorer has one endpoint, ce.us-east-1.amazonaws.com
# Services answered from us-east-1 whatever the account's region (commercial partition).
GLOBAL_SERVICES = frozenset({"ce", "pricing", "billing", "invoicing"})
NO_BASE_CREDENTIALS = "No base AWS credentials configured for this organization"
MESSAGE_MAX = 300  # characters of AWS's own message kept in ours

# AWS error codes, by what they mean for the caller.
DENIED_CODES = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "AllAccessDisabled",
        "AuthorizationError",
        "Forbidden",
        "OptInRequired",
        "UnauthorizedException",
        "UnauthorizedOperation",
    }
)
BAD_CREDENTIAL_CODES = frozenset(
    {
        "AuthFailure",
        "ExpiredToken",
        "ExpiredTokenException",
        "IncompleteSignature",
        "InvalidAccessKeyId",
        "InvalidClientTokenId",
        "InvalidToken",
        "MissingAuthenticationToken",
        "SignatureDoesNotMatch",
        "UnrecognizedClientException",
    }
)
RETRYABLE_CODES = frozenset(
    {
        "BandwidthLimitExceeded",
        "EC2ThrottledException",
        "IDPCommunicationError",
        "InternalError",
        "InternalFailure",
        "InternalServerError",
        "LimitExceededException",  # Cost Explorer's throttling
        "PriorRequestNotComplete",
        "RequestLimitExceeded",
        "RequestThrottled",
        "RequestThrottledException",
        "RequestTimeout",
        "RequestTimeoutException",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "SlowDown",
        "Throttling",
        "ThrottlingException",
        "TooManyRequestsException",
    }
)


BODILESS_CODES = {"403": "AccessDenied", "404": "NotFound", "400": "BadRequest"}


@dataclass(frozen=True, slots=True)
class AwsFailure:
    """What failed: ``operation`` (``sts:AssumeRole``), AWS's error ``code`` (or the SDK's
    exception name), a readable ``message`` (no secret), and how to treat it."""

    operation: str
    code: str
    message: str
    retryable: bool
    denied: bool = False  # a permission the credentials lack (AccessDenied and kin)
    bad_credentials: bool = False  # the keys or the role themselves are refused


class AwsCallError(ConnectorError):
    """An AWS call that retrying cannot fix (bad credentials, denied, invalid request)."""

    def __init__(self, failure: AwsFailure) -> None:
        super().__init__(failure.message)
        self.failure = failure


class AwsUnavailable(ConnectionError):
    """An AWS call that may succeed later (throttled, AWS 5xx, network): retried."""

    def __init__(self, failure: AwsFailure) -> None:
        super().__init__(failure.message)
        self.failure = failure


AwsError = AwsCallError | AwsUnavailable


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MESSAGE_MAX else text[: MESSAGE_MAX - 1] + "…"


def classify(exc: BaseException, operation: str) -> AwsCallError | AwsUnavailable:
    """The exception an AWS failure of ``operation`` becomes (see the module docstring)."""
    if isinstance(exc, AwsCallError | AwsUnavailable):
        return exc
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code") or "Unknown")
        aws_message = _short(str(error.get("Message") or ""))
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        # A HEAD (S3 downloads start with one) has no body: botocore's code is the status.
        code = BODILESS_CODES.get(code, code)
        text = f"{operation} failed: {code}" + (f": {aws_message}" if aws_message else "")
        if code in DENIED_CODES or (status == 403 and code not in BAD_CREDENTIAL_CODES):
            return AwsCallError(
                AwsFailure(operation, code, text + " (permission denied)", False, denied=True)
            )
        if code in BAD_CREDENTIAL_CODES:
            return AwsCallError(
                AwsFailure(
                    operation,
                    code,
                    text + " (the AWS credentials were refused; update them)",
                    False,
                    bad_credentials=True,
                )
            )
        if code in RETRYABLE_CODES or status >= 500 or status == 429:
            return AwsUnavailable(AwsFailure(operation, code, text, True))
        return AwsCallError(AwsFailure(operation, code, text, False))
    name = type(exc).__name__
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return AwsCallError(
            AwsFailure(operation, name, f"{operation} failed: {NO_BASE_CREDENTIALS}.", False)
        )
    if isinstance(exc, CredentialRetrievalError):
        return AwsCallError(
            AwsFailure(
                operation,
                name,
                f"{operation} failed: the AWS credentials could not be obtained ({name}).",
                False,
                bad_credentials=True,
            )
        )
    if isinstance(
        exc,
        EndpointConnectionError | ConnectTimeoutError | ReadTimeoutError | ConnectionClosedError,
    ):
        return AwsUnavailable(
            AwsFailure(operation, name, f"{operation} failed: AWS unreachable ({name}).", True)
        )
    if isinstance(exc, ParamValidationError):
        return AwsCallError(
            AwsFailure(operation, name, f"{operation} failed: invalid request: {exc}", False)
        )
    if isinstance(exc, ResponseParserError):  # an HTML 5xx page from a proxy, say
        return AwsUnavailable(
            AwsFailure(operation, name, f"{operation} failed: unreadable answer ({name}).", True)
        )
    if isinstance(exc, BotoCoreError | OSError):
        return AwsUnavailable(
            AwsFailure(operation, name, f"{operation} failed: {name}: {_short(str(exc))}", True)
        )
    raise exc  # a bug of ours, not an AWS failure: let it surface as it is


def call(operation: str, func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``func(*args, **kwargs)`` with an AWS failure turned into ``AwsCallError`` or
    ``AwsUnavailable`` naming ``operation`` (blocking: in a worker thread)."""
    try:
        return func(*args, **kwargs)
    except (ClientError, BotoCoreError, ResponseParserError, OSError) as exc:
        raise classify(exc, operation) from exc


async def run(func: Callable[..., T], *args: Any) -> T:
    """Blocking boto3 work in a worker thread (anyio's bounded default pool)."""
    return await anyio.to_thread.run_sync(func, *args)


@dataclass(frozen=True, slots=True)
class BaseKeys:
    """An organization's base AWS keys (the ones that assume every IAM-role account's role)."""

    access_key_id: str
    secret_access_key: str

    def __repr__(self) -> str:
        return f"BaseKeys(access_key_id=…{self.access_key_id[-4:]}, secret_access_key=***)"


@dataclass(frozen=True, slots=True)
class AwsTarget:
    """How to reach one AWS account, from its stored credentials (secrets out of ``repr``)."""

    account_id: str
    region: str
    mode: Literal["keys", "role"]
    access_key_id: str | None = None
    secret_access_key: str | None = None
    role_name: str | None = None
    external_id: str | None = None

    @property
    def role_arn(self) -> str:
        return f"arn:{PARTITION}:iam::{self.account_id}:role/{self.role_name}"

    def __repr__(self) -> str:
        who = f"role={self.role_name}" if self.mode == "role" else "keys=***"
        return f"AwsTarget(account_id={self.account_id}, region={self.region}, {who})"

    @classmethod
    def from_credentials(cls, account_id: str, credentials: Mapping[str, Any]) -> AwsTarget:
        """From the validated shape ``cloud_accounts.schemas`` stores (camelCase keys)."""
        region = str(credentials.get("region") or DEFAULT_REGION)
        key = credentials.get("accessKeyId")
        if key:
            secret = credentials.get("secretAccessKey")
            if not secret:
                raise ConnectorError(
                    "This AWS account's access keys lack secretAccessKey; update its credentials."
                )
            return cls(account_id, region, "keys", str(key), str(secret))
        role = str(credentials.get("roleName") or "xplorr-readonly")
        external = credentials.get("externalId")
        return cls(account_id, region, "role", role_name=role, external_id=external or None)


async def org_base_keys(
    db: AsyncSession, settings: Settings, org_id: uuid.UUID, credentials: Mapping[str, Any]
) -> BaseKeys | None:
    """The organization's base keys when ``credentials`` are an IAM role's and the org saved
    some, else None (access keys need none; a role is then assumed from the server's own
    credentials). Read while the caller's database session is still open: the session itself
    is opened afterwards, without a transaction held. Sealed keys that cannot be opened are an
    ``AwsCallError`` naming the setting (retrying cannot help)."""
    if credentials.get("accessKeyId"):
        return None
    try:
        pair = await aws_base_keys(db, settings, org_id)
    except CryptoError as exc:
        raise AwsCallError(
            AwsFailure(
                "sts:AssumeRole",
                "BaseKeysUndecryptable",
                "sts:AssumeRole failed: the organization's base AWS keys cannot be decrypted "
                "(was XPLORR_SECRET_KEY changed without XPLORR_PREVIOUS_SECRET_KEYS?); save "
                "them again in the settings.",
                False,
                bad_credentials=True,
            )
        ) from exc
    return BaseKeys(*pair) if pair is not None else None


def client_config(settings: Settings, region: str, max_attempts: int | None = None) -> Config:
    """Adaptive retries, bounded timeouts, path-style S3 on a custom endpoint."""
    extra: dict[str, Any] = {}
    if settings.aws_endpoint_url:
        extra["s3"] = {"addressing_style": "path"}
    return Config(
        region_name=region,
        # botocore's "max_attempts" counts retries only; "total_max_attempts" counts the first
        # call too, which is what XPLORR_AWS_MAX_ATTEMPTS (and the probe's 1) mean.
        retries={
            "mode": "adaptive",
            "total_max_attempts": max_attempts or settings.aws_max_attempts,
        },
        connect_timeout=settings.aws_connect_timeout_seconds,
        read_timeout=settings.aws_read_timeout_seconds,
        user_agent_extra="xplorr",
        **extra,
    )


class AwsSession:
    """A boto3 session for one account; ``client(service, region)`` builds a configured,
    thread-safe client (the session itself is used under a lock)."""

    def __init__(self, boto: boto3.Session, settings: Settings, target: AwsTarget) -> None:
        self.boto = boto
        self.settings = settings
        self.target = target
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"AwsSession({self.target!r})"

    @overload
    def client(
        self, service: Literal["s3"], region: str | None = None, *, attempts: int | None = None
    ) -> S3Client: ...
    @overload
    def client(
        self, service: Literal["ce"], region: str | None = None, *, attempts: int | None = None
    ) -> CostExplorerClient: ...
    @overload
    def client(
        self, service: Literal["sts"], region: str | None = None, *, attempts: int | None = None
    ) -> STSClient: ...
    @overload
    def client(
        self, service: Literal["ec2"], region: str | None = None, *, attempts: int | None = None
    ) -> EC2Client: ...
    @overload
    def client(
        self, service: Literal["elbv2"], region: str | None = None, *, attempts: int | None = None
    ) -> ElasticLoadBalancingv2Client: ...
    @overload
    def client(
        self, service: Literal["rds"], region: str | None = None, *, attempts: int | None = None
    ) -> RDSClient: ...
    @overload
    def client(
        self,
        service: Literal["cloudwatch"],
        region: str | None = None,
        *,
        attempts: int | None = None,
    ) -> CloudWatchClient: ...
    @overload
    def client(
        self, service: str, region: str | None = None, *, attempts: int | None = None
    ) -> Any: ...

    def client(
        self, service: str, region: str | None = None, *, attempts: int | None = None
    ) -> Any:
        """``attempts``: the first included, instead of ``XPLORR_AWS_MAX_ATTEMPTS``."""
        where = region or (CE_REGION if service in GLOBAL_SERVICES else self.target.region)
        with self._lock:
            return self.boto.client(
                service,  # type: ignore[call-overload]
                endpoint_url=self.settings.aws_endpoint_url or None,
                config=client_config(self.settings, where, attempts),
            )

    def identity(self) -> dict[str, str]:
        """``sts:GetCallerIdentity``: ``{"account", "arn", "user_id"}`` (blocking)."""
        sts = self.client("sts")
        answer = call("sts:GetCallerIdentity", sts.get_caller_identity)
        return {
            "account": answer.get("Account", ""),
            "arn": answer.get("Arn", ""),
            "user_id": answer.get("UserId", ""),
        }


# One botocore data loader for the whole process: a session's loader parses each service's
# model (EC2's is megabytes of gzipped JSON: ~0.5 s) and caches it for that session only, and a
# session is opened per job. Shared, the models are parsed once per process. The loader only
# reads botocore's own data files and memoizes them, so sharing it across threads is safe.
_LOADER = create_loader()


def _core_session() -> botocore.session.Session:
    core = botocore.session.get_session()
    core.register_component("data_loader", _LOADER)
    return core


def new_boto_session(
    region: str, access_key_id: str | None = None, secret_access_key: str | None = None
) -> boto3.Session:
    """A boto3 session on the process's shared model loader (keys None: the SDK's chain)."""
    return boto3.Session(
        aws_access_key_id=access_key_id,
        aws_secret_access_key=secret_access_key,
        region_name=region,
        botocore_session=_core_session(),
    )


def _base_session(base: BaseKeys | None, region: str) -> boto3.Session:
    if base is not None:
        return new_boto_session(region, base.access_key_id, base.secret_access_key)
    return new_boto_session(region)  # the server's own: the SDK's default chain


def _session_name(purpose: str) -> str:
    cleaned = "".join(c if c.isalnum() or c in "+=,.@_-" else "-" for c in purpose)
    return f"xplorr-{cleaned}"[:64]


def assume_role_request(target: AwsTarget, purpose: str) -> dict[str, Any]:
    """The ``sts:AssumeRole`` parameters for an IAM-role account (moto enforces neither trust
    nor ExternalId, so the tests check what is sent here)."""
    request: dict[str, Any] = {
        "RoleArn": target.role_arn,
        "RoleSessionName": _session_name(purpose),
        "DurationSeconds": ROLE_SESSION_SECONDS,
    }
    if target.external_id:
        request["ExternalId"] = target.external_id
    return request


def open_session(
    settings: Settings,
    account_id: str,
    credentials: Mapping[str, Any],
    *,
    base: BaseKeys | None = None,
    purpose: str = "sync",
) -> AwsSession:
    """A session for the account (blocking; call through ``run``). For an IAM role, the role
    is assumed here, once, so a refused role fails now with its reason; access keys are not
    checked until the first call (``AwsSession.identity`` checks them)."""
    target = AwsTarget.from_credentials(account_id, credentials)
    if target.mode == "keys":
        boto = new_boto_session(target.region, target.access_key_id, target.secret_access_key)
        return AwsSession(boto, settings, target)

    base_session = _base_session(base, target.region)
    if base is None and base_session.get_credentials() is None:
        raise AwsCallError(
            AwsFailure(
                "sts:AssumeRole",
                "NoCredentials",
                f"sts:AssumeRole failed: {NO_BASE_CREDENTIALS} (nor does this server have AWS "
                "credentials of its own), so the role cannot be assumed.",
                False,
                bad_credentials=True,
            )
        )
    sts: STSClient = base_session.client(
        "sts",
        endpoint_url=settings.aws_endpoint_url or None,
        config=client_config(settings, target.region),
    )
    request = assume_role_request(target, purpose)

    def assume() -> dict[str, str]:
        try:
            answer = sts.assume_role(**request)
        except (ClientError, BotoCoreError) as exc:
            failure = classify(exc, "sts:AssumeRole")
            if isinstance(failure, AwsCallError) and failure.failure.denied:
                raise AwsCallError(
                    AwsFailure(
                        failure.failure.operation,
                        failure.failure.code,
                        f"{failure.failure.message}. Check that the role {target.role_arn} "
                        "exists, trusts Xplorr's principal, and expects this external id.",
                        False,
                        denied=True,
                    )
                ) from exc
            raise failure from exc
        creds = answer["Credentials"]
        expiry = creds["Expiration"]
        if expiry.tzinfo is None:
            expiry = expiry.replace(tzinfo=UTC)
        return {
            "access_key": creds["AccessKeyId"],
            "secret_key": creds["SecretAccessKey"],
            "token": creds["SessionToken"],
            "expiry_time": expiry.astimezone(UTC).isoformat(),
        }

    refreshable = RefreshableCredentials.create_from_metadata(
        metadata=assume(), refresh_using=assume, method="sts-assume-role"
    )
    core = _core_session()
    # botocore has no public setter for a session's credentials object; this is how its own
    # assume-role provider ends up wired in, and what boto3-assume and Prowler do.
    core._credentials = refreshable  # type: ignore[attr-defined]
    boto = boto3.Session(botocore_session=core, region_name=target.region)
    return AwsSession(boto, settings, target)


async def connect(
    settings: Settings,
    account_id: str,
    credentials: Mapping[str, Any],
    *,
    base: BaseKeys | None = None,
    purpose: str = "sync",
) -> AwsSession:
    """``open_session`` in a worker thread."""

    def opened() -> AwsSession:
        return open_session(settings, account_id, credentials, base=base, purpose=purpose)

    return await run(opened)


def expires_at(session: AwsSession) -> datetime | None:
    """When the session's current credentials expire (None for access keys)."""
    creds = session.boto._session.get_credentials()
    expiry = getattr(creds, "_expiry_time", None)
    return expiry if isinstance(expiry, datetime) else None
