"""Cloud accounts: connect (validate the provider's credential shape, encrypt, queue the first
sync), list and read (credentials masked), rename or replace credentials, disconnect (its cost
data goes with it).

Members and viewers limited to some accounts see only those (``org_select`` applies
``who.account_ids``); anything else answers 404, never 403.
"""

import configparser
import os
import re
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import anyio
import structlog
from pydantic import ValidationError as PydanticValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from xplorr.cloud_accounts.models import AccountStatus, CloudAccount, Provider
from xplorr.cloud_accounts.schemas import (
    AWS_ACCOUNT_ID,
    GCP_PROJECT_ID,
    GUID,
    AwsKeyCredentials,
    AwsRoleCredentials,
    AzureCredentials,
    CloudAccountCreate,
    CloudAccountOut,
    CloudAccountUpdate,
    ConnectionTestIn,
    ConnectionTestOut,
    CredentialsModel,
    DemoCredentials,
    FocusCredentials,
    GcpCredentials,
    PermissionCheckOut,
    ServerAwsConfigOut,
)
from xplorr.connectors import plugins
from xplorr.core import audit, crypto
from xplorr.core.errors import Conflict, ValidationFailed, field_name
from xplorr.core.pagination import Page, PageParams, paginate
from xplorr.core.settings import Settings
from xplorr.core.tenancy import Principal, get_in_org, org_select
from xplorr.costs import store
from xplorr.sync import service as sync
from xplorr.sync.models import SyncTrigger

log = structlog.get_logger("xplorr.cloud_accounts")

# -- credential validation ---------------------------------------------------------------------


def _from_pydantic(exc: PydanticValidationError) -> ValidationFailed:
    """Field names prefixed with ``credentials.``; pydantic's message, never the input."""
    details = []
    for err in exc.errors(include_input=False, include_url=False, include_context=False):
        message = str(err["msg"]).removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            message = "Unknown key for this provider."
        # An unknown key is the client's text: field_name clips it rather than repeat it whole.
        details.append({"field": field_name(("credentials", *err["loc"])), "message": message})
    if len(details) == 1:
        text = f"Invalid {details[0]['field']}: {details[0]['message']}"
    else:
        text = f"Invalid credentials: check {', '.join(sorted({d['field'] for d in details}))}."
    return ValidationFailed(text, details=details)


C = TypeVar("C", bound=CredentialsModel)


def _parse(model: type[C], raw: Mapping[str, Any]) -> C:
    try:
        return model.model_validate(dict(raw))
    except PydanticValidationError as exc:
        raise _from_pydantic(exc) from None


def _focus_path(settings: Settings, raw: str) -> str:
    """The resolved path (symlinks followed), which must exist inside a FOCUS root. The roots
    are checked before existence, so the answers tell nothing about files outside them."""
    if "\x00" in raw:
        raise ValidationFailed.on("credentials.path", "Must not contain a NUL character.")
    try:
        path = Path(raw).expanduser().resolve(strict=False)
    except (OSError, RuntimeError):  # a symlink loop
        raise ValidationFailed.on(
            "credentials.path", "No such file or directory on the server."
        ) from None
    if not any(path == root or path.is_relative_to(root) for root in settings.focus_root_dirs):
        # Only owners and admins connect accounts: they are told the allowed roots, which is
        # what they need to fix the path or the setting (never whether the path exists).
        allowed = ", ".join(str(root) for root in settings.focus_root_dirs)
        raise ValidationFailed.on(
            "credentials.path",
            f"Must be inside a directory listed in XPLORR_FOCUS_ROOTS; allowed: {allowed}.",
        )
    if not path.exists():
        raise ValidationFailed.on("credentials.path", "No such file or directory on the server.")
    if not (path.is_dir() or path.is_file()):
        raise ValidationFailed.on("credentials.path", "Must be a directory or a regular file.")
    return str(path)


def validate_credentials(
    settings: Settings, provider: Provider, provider_account_id: str, raw: Mapping[str, Any]
) -> dict[str, Any]:
    """The normalised credentials to store, or 422 naming the bad field (never its value)."""
    if provider is Provider.AWS:
        if not _matches(AWS_ACCOUNT_ID, provider_account_id):
            raise ValidationFailed.on("provider_account_id", "Must be the 12-digit AWS account id.")
        keys = "accessKeyId" in raw or "secretAccessKey" in raw
        aws: CredentialsModel = _parse(AwsKeyCredentials if keys else AwsRoleCredentials, raw)
        return aws.stored()
    if provider is Provider.AZURE:
        if not _matches(GUID, provider_account_id):
            raise ValidationFailed.on(
                "provider_account_id", "Must be the Azure subscription id (a GUID)."
            )
        azure = _parse(AzureCredentials, raw)
        if azure.subscription_id != provider_account_id.lower():
            raise ValidationFailed.on(
                "credentials.subscriptionId", "Must equal provider_account_id."
            )
        return azure.stored()
    if provider is Provider.GCP:
        if not _matches(GCP_PROJECT_ID, provider_account_id):
            raise ValidationFailed.on("provider_account_id", "Must be the GCP project id.")
        gcp = _parse(GcpCredentials, raw)
        if gcp.project_id != provider_account_id:
            raise ValidationFailed.on("credentials.projectId", "Must equal provider_account_id.")
        return gcp.stored()
    if provider is Provider.FOCUS:
        focus = _parse(FocusCredentials, raw)
        return {"path": _focus_path(settings, focus.path)}
    demo = _parse(DemoCredentials, raw)
    return {} if demo.seed is None else {"seed": demo.seed}


def _matches(pattern: str, value: str) -> bool:
    return re.match(pattern, value) is not None


# -- masking -----------------------------------------------------------------------------------

MASK = "********"
# Configuration shown as stored; identifiers show their last 4 characters; everything else
# (clientSecret, secretAccessKey, keyfileJson, any key not listed here) is fully masked.
_PLAIN = frozenset(
    {
        "region",
        "roleName",
        "exportBucket",
        "exportPrefix",
        "exportRegion",
        "costTagKeys",
        "projectId",
        "billingDataset",
        "billingTable",
        "bigqueryLocation",
        "regions",
        "path",
        "seed",
    }
)
_PARTIAL = frozenset(
    {"clientId", "tenantId", "subscriptionId", "accessKeyId", "externalId", "billingAccountId"}
)


def mask_credentials(credentials: Mapping[str, Any]) -> dict[str, Any]:
    masked: dict[str, Any] = {}
    for key, value in credentials.items():
        if value is None or key in _PLAIN:
            masked[key] = value
        elif key in _PARTIAL and isinstance(value, str) and len(value) >= 12:
            masked[key] = "****" + value[-4:]
        else:
            masked[key] = MASK
    return masked


def _out(account: CloudAccount, cipher: crypto.OrgCipher) -> CloudAccountOut:
    try:
        plain = cipher.decrypt(
            account.id, account.credentials_encrypted, account.credentials_key_version
        )
        credentials: dict[str, Any] | None = mask_credentials(plain)
    except crypto.CryptoError as exc:
        log.warning(
            "cloud_account_credentials_unreadable", account_id=str(account.id), error=str(exc)
        )
        credentials = None
    return CloudAccountOut(
        id=account.id,
        provider=account.provider,
        name=account.name,
        provider_account_id=account.provider_account_id,
        status=account.status,
        last_synced_at=account.last_synced_at,
        created_at=account.created_at,
        updated_at=account.updated_at,
        credentials=credentials,
    )


# -- operations --------------------------------------------------------------------------------


async def list_accounts(
    db: AsyncSession, settings: Settings, who: Principal, params: PageParams
) -> Page[CloudAccountOut]:
    cipher = await crypto.OrgCipher.load(db, settings, who.org_id)
    stmt = org_select(CloudAccount, who).order_by(CloudAccount.created_at, CloudAccount.id)
    return await paginate(db, stmt, params, lambda account: _out(account, cipher))


async def get_account(
    db: AsyncSession, settings: Settings, who: Principal, account_id: uuid.UUID
) -> CloudAccountOut:
    account = await get_in_org(db, CloudAccount, account_id, who)
    return _out(account, await crypto.OrgCipher.load(db, settings, who.org_id))


def _duplicate(data: CloudAccountCreate) -> Conflict:
    return Conflict(
        f"A {data.provider.value} account with this provider_account_id is already connected.",
        code="CLOUD_ACCOUNT_EXISTS",
    )


async def create_account(
    db: AsyncSession, settings: Settings, who: Principal, data: CloudAccountCreate
) -> CloudAccountOut:
    credentials = validate_credentials(
        settings, data.provider, data.provider_account_id, data.credentials
    )
    provider_account_id = data.provider_account_id
    if data.provider is Provider.AZURE:
        provider_account_id = provider_account_id.lower()
    cipher = await crypto.OrgCipher.load(db, settings, who.org_id)
    account = CloudAccount(
        id=uuid.uuid4(),
        org_id=who.org_id,
        provider=data.provider,
        name=data.name,
        provider_account_id=provider_account_id,
        status=AccountStatus.ACTIVE,
    )
    account.credentials_encrypted, account.credentials_key_version = await cipher.encrypt(
        db, account.id, credentials
    )
    try:
        async with db.begin_nested():  # a concurrent connect of the same account
            db.add(account)
    except IntegrityError:
        raise _duplicate(data) from None
    await audit.record(
        db,
        "cloud_account.connected",
        who=who,
        target=account,
        details={"provider": account.provider.value, "provider_account_id": provider_account_id},
    )
    # The first data should not wait for the next scheduled sync (hours away).
    await sync.request_sync(db, who, account, SyncTrigger.CONNECT)
    return _out(account, cipher)


async def update_account(
    db: AsyncSession,
    settings: Settings,
    who: Principal,
    account_id: uuid.UUID,
    data: CloudAccountUpdate,
) -> CloudAccountOut:
    account = await get_in_org(db, CloudAccount, account_id, who, for_update=True)
    cipher = await crypto.OrgCipher.load(db, settings, who.org_id)
    changed = []
    if data.name is not None and data.name != account.name:
        account.name = data.name
        changed.append("name")
    if data.credentials is not None:
        credentials = validate_credentials(
            settings, account.provider, account.provider_account_id, data.credentials
        )
        account.credentials_encrypted, account.credentials_key_version = await cipher.encrypt(
            db, account.id, credentials
        )
        account.status = AccountStatus.ACTIVE  # new credentials: the next sync tells
        changed.append("credentials")
    if changed:
        await db.flush()
        await audit.record(
            db,
            "cloud_account.updated",
            who=who,
            target=account,
            details={"changed": changed},
        )
    return _out(account, cipher)


async def delete_account(db: AsyncSession, who: Principal, account_id: uuid.UUID) -> None:
    """Disconnect: the account's cost data, then the account (its grants and sync runs go with
    it through their foreign keys), in the request's transaction."""
    account = await get_in_org(db, CloudAccount, account_id, who, for_update=True)
    await store.delete_account_data(db, account.id)
    await audit.record(
        db,
        "cloud_account.disconnected",
        who=who,
        target=account,
        details={
            "provider": account.provider.value,
            "provider_account_id": account.provider_account_id,
        },
    )
    await db.delete(account)
    await db.flush()


# -- server-level AWS credentials --------------------------------------------------------------


def detect_server_aws_credentials(
    environ: Mapping[str, str], home: Path | None = None
) -> ServerAwsConfigOut:
    """Where the AWS SDK's default chain would find credentials on this server, judged from
    environment variables and the shared files alone: no value is read out, no network call is
    made (instance-profile credentials from IMDS are therefore not detected)."""
    profile = environ.get("AWS_PROFILE") or environ.get("AWS_DEFAULT_PROFILE") or "default"
    if environ.get("AWS_ACCESS_KEY_ID") and environ.get("AWS_SECRET_ACCESS_KEY"):
        return ServerAwsConfigOut(configured=True, source="environment", profile=None)
    if environ.get("AWS_WEB_IDENTITY_TOKEN_FILE") and environ.get("AWS_ROLE_ARN"):
        return ServerAwsConfigOut(configured=True, source="web_identity", profile=None)
    home = home if home is not None else Path.home()
    shared = Path(environ.get("AWS_SHARED_CREDENTIALS_FILE") or home / ".aws" / "credentials")
    if _has_keys(_section(shared, profile)):
        return ServerAwsConfigOut(
            configured=True, source="shared_credentials_file", profile=profile
        )
    config = Path(environ.get("AWS_CONFIG_FILE") or home / ".aws" / "config")
    section = _section(config, profile if profile == "default" else f"profile {profile}")
    sources = {
        "role_arn",
        "credential_process",
        "sso_session",
        "sso_start_url",
        "web_identity_token_file",
    }
    if _has_keys(section) or (section is not None and sources & set(section)):
        return ServerAwsConfigOut(configured=True, source="config_file", profile=profile)
    if environ.get("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") or environ.get(
        "AWS_CONTAINER_CREDENTIALS_FULL_URI"
    ):
        return ServerAwsConfigOut(configured=True, source="container", profile=None)
    return ServerAwsConfigOut(configured=False, source=None, profile=None)


def _section(path: Path, name: str) -> dict[str, str] | None:
    """The option names (and values, kept in memory only) of one section of an AWS ini file."""
    parser = configparser.RawConfigParser()
    try:
        with path.open(encoding="utf-8") as fh:
            parser.read_file(fh)
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, configparser.Error) as exc:
        log.warning("aws_config_unreadable", file=str(path), error=type(exc).__name__)
        return None
    return dict(parser[name]) if parser.has_section(name) else None


def _has_keys(section: dict[str, str] | None) -> bool:
    return bool(
        section and section.get("aws_access_key_id") and section.get("aws_secret_access_key")
    )


async def server_aws_config(db: AsyncSession, org_id: uuid.UUID) -> ServerAwsConfigOut:
    """The server's own AWS credentials, and whether the org saved base keys (which its
    IAM-role accounts are assumed from instead); never a value of either."""
    from xplorr.settings.service import get_org_settings

    environ = dict(os.environ)
    found = await anyio.to_thread.run_sync(detect_server_aws_credentials, environ)
    org = await get_org_settings(db, org_id)
    return found.model_copy(update={"org_base_keys": org.has_aws_base_keys})


# -- test connection (the console's "Test connection"; outside the reference) -----------------


async def test_connection(
    db: AsyncSession, settings: Settings, who: Principal, data: ConnectionTestIn
) -> ConnectionTestOut:
    """Try the credentials without saving them: the identity they reach, then one cheap call
    per permission group, by the connection test the provider's plugin registers
    (``xplorr.connectors``: ``connectors.<provider>.probe``)."""
    tests = {p: plugin.test_connection for p, plugin in plugins().items() if plugin.test_connection}
    test = tests.get(data.provider)
    if test is None:
        names = sorted(p.value for p in tests)
        listed = ", ".join(names[:-1]) + f" and {names[-1]}" if len(names) > 1 else "".join(names)
        raise ValidationFailed.on(
            "provider", f"Test connection supports {listed or 'no provider'} in this version."
        )
    credentials = validate_credentials(
        settings, data.provider, data.provider_account_id, data.credentials
    )
    result = await test(db, settings, who, data.provider_account_id, credentials)
    await audit.record(
        db,
        "cloud_account.connection_tested",
        who=who,
        resource_type="cloud_account",
        details={
            "provider": data.provider.value,
            "provider_account_id": data.provider_account_id,
            "ok": result.ok,
            "denied": [c.operation for c in result.checks if c.status == "denied"],
        },
    )
    return ConnectionTestOut(
        ok=result.ok,
        account_id=result.account_id,
        arn=result.arn,
        account_matches=result.account_matches,
        error=result.error,
        error_code=result.error_code,
        checks=[
            PermissionCheckOut(
                group=c.group,
                operation=c.operation,
                status=c.status,  # type: ignore[arg-type]
                error_code=c.error_code,
                message=c.message,
            )
            for c in result.checks
        ],
    )
