from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

JitRole = Literal["admin", "member", "viewer"]
Domain = Annotated[str, Field(min_length=1, max_length=253)]


class SsoCheckOut(BaseModel):
    sso_enabled: bool
    sso_required: bool
    org_slug: str | None


class SamlInitOut(BaseModel):
    """For clients that asked for JSON: where to send the browser."""

    redirect_url: str


class SsoConfigUpdate(BaseModel):
    """Creating a configuration needs the first four fields; an update may send any of them."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    idp_entity_id: Annotated[str, Field(min_length=1, max_length=1024)] | None = None
    sso_url: Annotated[str, Field(min_length=1, max_length=2048)] | None = None
    x509_cert: Annotated[str, Field(min_length=1, max_length=20000)] | None = None
    email_domains: (
        Annotated[
            list[Annotated[str, Field(min_length=1, max_length=253)]],
            Field(min_length=1, max_length=50),
        ]
        | None
    ) = None
    enforce: bool | None = None
    default_role: JitRole | None = None


class SsoDomainClaimOut(BaseModel):
    """A claimed email domain and how to prove it: publish ``txt_record_value`` as a TXT record
    at ``txt_record_name``, then ``POST /auth/sso/domains/verify``. Only a ``verified`` claim
    routes logins, is enforced and provisions users."""

    domain: str
    status: Literal["pending", "verified"]
    txt_record_name: str
    txt_record_value: str
    verified_at: datetime | None
    last_checked_at: datetime | None
    last_check_error: str | None


class SsoConfigOut(BaseModel):
    idp_entity_id: str
    sso_url: str
    x509_cert: str
    email_domains: list[str]
    domain_claims: list[SsoDomainClaimOut]
    enforce: bool
    default_role: str
    sp_entity_id: str
    acs_url: str
    metadata_url: str
    created_at: datetime
    updated_at: datetime
