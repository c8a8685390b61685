"""Cloud accounts in and out, and the credential shapes of each provider (product notes section 8).

Credentials are accepted exactly as documented (camelCase keys) and stored in that spelling:
what ``credentials.decrypt_credentials`` returns to a connector is the validated, normalised
shape below (defaults filled in, GCP key file parsed into an object, focus path resolved).
"""

import re
import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from xplorr.cloud_accounts.models import AccountStatus, Provider
from xplorr.core.text import Name
from xplorr.core.untrusted import RefusedInput, parse_json

GUID = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
AWS_ACCOUNT_ID = r"^[0-9]{12}$"
# Project ids: 6-30 lowercase letters, digits, hyphens; older ones may carry a domain prefix.
GCP_PROJECT_ID = r"^([a-z0-9.-]+\.[a-z]{2,}:)?[a-z][a-z0-9-]{4,28}[a-z0-9]$"
DEFAULT_GCP_REGIONS = ("us-central1", "us-east1", "europe-west1")
_DNS_NAME = re.compile(
    r"^(?=.{1,253}$)([a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)+[a-zA-Z]{2,63}$"
)

Text = Name
Guid = Annotated[str, StringConstraints(strip_whitespace=True, pattern=GUID)]
AwsRegion = Annotated[str, StringConstraints(pattern=r"^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}$")]
AwsRoleName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9+=,.@_-]{1,64}$")]
AwsExternalId = Annotated[
    str, StringConstraints(pattern=r"^[A-Za-z0-9_+=,.@:/-]+$", min_length=2, max_length=1224)
]
BigQueryName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_]+$", max_length=1024)]
BigQueryTable = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]+\*?$", max_length=1024)]
BigQueryLocation = Annotated[
    str, StringConstraints(pattern=r"^[A-Za-z]{2,}(-[a-z]+[0-9]*)*$", max_length=64)
]
GcpBillingAccount = Annotated[
    str, StringConstraints(pattern=r"^[0-9A-F]{6}-[0-9A-F]{6}-[0-9A-F]{6}$")
]
GcpRegion = Annotated[str, StringConstraints(pattern=r"^[a-z]+-[a-z]+[0-9]{1,2}$")]


class CredentialsModel(BaseModel):
    """Documented camelCase keys only; anything else is refused by name."""

    model_config = ConfigDict(
        extra="forbid", alias_generator=to_camel, str_strip_whitespace=True, frozen=True
    )

    def stored(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)


# S3 bucket names (3-63 lowercase letters, digits, dots, hyphens); a key prefix (no leading
# slash); cost allocation tag keys (AWS: up to 128 characters).
S3Bucket = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")]
S3Prefix = Annotated[
    str, StringConstraints(pattern=r"^[^/\x00-\x1f][^\x00-\x1f]*$", max_length=1024)
]
AwsTagKey = Annotated[str, StringConstraints(min_length=1, max_length=128)]


class AwsBillingOptions(CredentialsModel):
    """Where an AWS account's bill is read (connectors.aws): a Data Export (FOCUS 1.0/1.2 or
    CUR 2.0) in S3 when ``exportBucket`` is set, else Cost Explorer, which groups by the cost
    allocation tag keys listed in ``costTagKeys``."""

    export_bucket: S3Bucket | None = None
    export_prefix: S3Prefix | None = None
    export_region: AwsRegion | None = None
    cost_tag_keys: Annotated[list[AwsTagKey], Field(max_length=10)] = Field(default_factory=list)

    def stored(self) -> dict[str, Any]:
        """As given: the billing options are stored only when set."""
        out = super().stored()
        for key in ("exportBucket", "exportPrefix", "exportRegion", "costTagKeys"):
            if not out.get(key):
                out.pop(key, None)
        return out


class AwsRoleCredentials(AwsBillingOptions):
    """IAM role (recommended): Xplorr assumes ``arn:aws:iam::<account>:role/<roleName>``."""

    role_name: AwsRoleName = "xplorr-readonly"
    external_id: AwsExternalId | None = None
    region: AwsRegion = "us-east-1"


class AwsKeyCredentials(AwsBillingOptions):
    """Access keys (testing)."""

    access_key_id: Annotated[str, StringConstraints(pattern=r"^[A-Z0-9]{16,128}$")]
    secret_access_key: Annotated[str, StringConstraints(min_length=40, max_length=40)]
    region: AwsRegion = "us-east-1"


AzureStorageAccount = Annotated[str, StringConstraints(pattern=r"^[a-z0-9]{3,24}$")]
AzureContainer = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")]
AzureBlobPath = Annotated[
    str, StringConstraints(pattern=r"^[^/\x00-\x1f][^\x00-\x1f]*$", max_length=1024)
]


class AzureCredentials(CredentialsModel):
    """A service principal (ClientSecretCredential); one account = one subscription."""

    client_id: Guid
    tenant_id: Annotated[str, StringConstraints(min_length=1, max_length=253)]
    client_secret: Annotated[str, StringConstraints(min_length=1, max_length=1024)]
    subscription_id: Guid
    # A Cost Management export (connectors.azure.exports): its storage account, container and
    # root folder (read as the service principal: Storage Blob Data Reader), or a container
    # SAS URL (read with the SAS alone). Without either the bill comes from the Query API.
    export_storage_account: AzureStorageAccount | None = None
    export_container: AzureContainer | None = None
    export_path: AzureBlobPath | None = None
    export_sas_url: Annotated[str, StringConstraints(min_length=10, max_length=2048)] | None = None

    @model_validator(mode="after")
    def _export(self) -> "AzureCredentials":
        if self.export_storage_account and not self.export_container:
            raise ValueError("exportStorageAccount needs exportContainer")
        if self.export_container and not (self.export_storage_account or self.export_sas_url):
            raise ValueError("exportContainer needs exportStorageAccount")
        if self.export_sas_url and self.export_storage_account:
            raise ValueError("give exportStorageAccount or exportSasUrl, not both")
        if self.export_sas_url and not self.export_sas_url.startswith("https://"):
            raise ValueError("exportSasUrl must be an https:// container SAS URL")
        return self

    def stored(self) -> dict[str, Any]:
        """The export options are stored only when set."""
        out = super().stored()
        for key in ("exportStorageAccount", "exportContainer", "exportPath", "exportSasUrl"):
            if not out.get(key):
                out.pop(key, None)
        return out

    @field_validator("tenant_id")
    @classmethod
    def _tenant(cls, value: str) -> str:
        if not (re.match(GUID, value) or _DNS_NAME.match(value)):
            raise ValueError("must be a tenant GUID or a domain name")
        return value

    @field_validator("client_id", "subscription_id")
    @classmethod
    def _lower(cls, value: str) -> str:
        return value.lower()


class GcpCredentials(CredentialsModel):
    """A service-account key that may query the BigQuery billing export."""

    project_id: Annotated[str, StringConstraints(pattern=GCP_PROJECT_ID)]
    keyfile_json: dict[str, Any]
    billing_dataset: BigQueryName = Field(
        "billing_export", validation_alias=AliasChoices("billingDataset", "datasetId")
    )
    billing_table: BigQueryTable = Field(
        "gcp_billing_export_v1_*", validation_alias=AliasChoices("billingTable", "tableId")
    )
    bigquery_location: BigQueryLocation = "US"  # "required unless US": US is the default
    billing_account_id: GcpBillingAccount | None = None
    regions: Annotated[list[GcpRegion], Field(min_length=1, max_length=3)] = Field(
        default_factory=lambda: list(DEFAULT_GCP_REGIONS)
    )

    @model_validator(mode="before")
    @classmethod
    def _one_spelling(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for name, alias in (("billingDataset", "datasetId"), ("billingTable", "tableId")):
                if name in data and alias in data:
                    raise ValueError(f"give {name} or its alias {alias}, not both")
        return data

    @field_validator("keyfile_json", mode="before")
    @classmethod
    def _keyfile(cls, value: Any) -> Any:
        if isinstance(value, str):
            try:
                value = parse_json(value)
            except RefusedInput as exc:
                raise ValueError(
                    "must be a JSON object or a string holding one "
                    f"({exc.message[:1].lower()}{exc.message[1:].rstrip('.')})"
                ) from None
        if not isinstance(value, dict):
            raise ValueError("must be a JSON object or a string holding one")
        if value.get("type") != "service_account":
            raise ValueError('must be a service-account key ("type": "service_account")')
        for key in ("client_email", "private_key"):
            if not isinstance(value.get(key), str) or not value[key]:
                raise ValueError(f"must be a service-account key with {key}")
        return value

    @field_validator("regions")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("must not repeat a region")
        return value


class FocusCredentials(CredentialsModel):
    """A FOCUS export location on this server: a directory of exports, or one file."""

    path: Annotated[str, StringConstraints(min_length=1, max_length=4096)]


class DemoCredentials(CredentialsModel):
    """Generated data; ``seed`` makes it reproducible."""

    seed: Annotated[int, Field(ge=0, le=2**31 - 1)] | None = None


CREDENTIALS_DOC = """Credentials, per provider (write-only: answers show them masked).
- aws, IAM role: {"roleName" (default "xplorr-readonly", lowercase), "externalId"?, "region"
  (default "us-east-1")}; access keys: {"accessKeyId", "secretAccessKey", "region"?}. Both
  may add "exportBucket"?, "exportPrefix"?, "exportRegion"? (a Data Export in S3: FOCUS or
  CUR 2.0; without it the bill comes from Cost Explorer) and "costTagKeys"? (at most 10).
  provider_account_id is the 12-digit AWS account id.
- azure: {"clientId", "tenantId", "clientSecret", "subscriptionId"}, all required;
  subscriptionId must equal provider_account_id. Optional Cost Management export:
  "exportStorageAccount" + "exportContainer" + "exportPath"? (read as the service principal),
  or "exportSasUrl" (a container SAS URL) + "exportPath"?; without one the bill comes from
  the Query API.
- gcp: {"projectId" (= provider_account_id), "keyfileJson" (service-account key, object or JSON
  string), "billingDataset" (alias datasetId, default "billing_export"), "billingTable" (alias
  tableId, default "gcp_billing_export_v1_*"), "bigqueryLocation" (default "US"),
  "billingAccountId"?, "regions"? (at most 3)}.
- focus: {"path"}: a directory or file inside XPLORR_FOCUS_ROOTS.
- demo: {} or {"seed": int}."""


class CloudAccountCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    provider: Provider
    name: Text
    provider_account_id: Text
    credentials: dict[str, Any] = Field(default_factory=dict, description=CREDENTIALS_DOC)


class CloudAccountUpdate(BaseModel):
    """Rename, or replace the credentials (the whole shape of the account's provider)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    name: Text | None = None
    credentials: dict[str, Any] | None = Field(default=None, description=CREDENTIALS_DOC)


class CloudAccountOut(BaseModel):
    id: uuid.UUID
    provider: Provider
    name: str
    provider_account_id: str
    status: AccountStatus
    last_synced_at: datetime | None
    created_at: datetime
    updated_at: datetime
    credentials: dict[str, Any] | None = Field(
        description="The stored credentials' keys with secrets masked (identifiers show their "
        "last 4 characters). null when they cannot be decrypted with the configured keys."
    )


class ServerAwsConfigOut(BaseModel):
    """Whether this server itself has AWS credentials (never their values)."""

    configured: bool
    source: str | None = Field(
        description="environment | web_identity | shared_credentials_file | config_file | "
        "container, or null. Instance-profile credentials (IMDS) are not probed."
    )
    profile: str | None = Field(description="The AWS profile the files were read for.")
    org_base_keys: bool = Field(
        default=False,
        description="Whether the caller's organization saved base AWS keys (PATCH /settings): "
        "its IAM-role accounts are then assumed from those instead of the server's credentials.",
    )


class ConnectionTestIn(BaseModel):
    """Credentials to try, as ``POST /cloud-accounts`` takes them (nothing is saved)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    provider: Provider
    provider_account_id: Text
    credentials: dict[str, Any] = Field(default_factory=dict, description=CREDENTIALS_DOC)


class PermissionCheckOut(BaseModel):
    group: str = Field(description="The least-privilege policy's statement (Sid) tried.")
    operation: str = Field(description="The IAM action called, e.g. ce:GetCostAndUsage.")
    status: Literal["ok", "denied", "error"]
    error_code: str | None = Field(description="AWS's error code when not ok.")
    message: str | None = Field(description="What AWS answered (never a secret).")


class ConnectionTestOut(BaseModel):
    """Whether the credentials work: the identity they reach, then each permission group."""

    ok: bool = Field(description="The credentials (and the role, if any) were accepted.")
    account_id: str | None = Field(description="The AWS account the credentials act in.")
    arn: str | None = Field(description="The identity's ARN (an assumed-role session).")
    account_matches: bool | None = Field(
        description="Whether account_id is the provider_account_id given."
    )
    error: str | None = Field(description="Why the credentials were refused, when not ok.")
    error_code: str | None
    checks: list[PermissionCheckOut]
