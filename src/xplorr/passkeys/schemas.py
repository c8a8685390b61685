import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from xplorr.core.text import ShortName

# A base64url value of a ceremony (clientDataJSON, attestation object, signature...): bounded so
# a request cannot make the server decode megabytes; real values are a few hundred bytes.
B64 = Annotated[str, Field(min_length=1, max_length=16_384, pattern=r"^[A-Za-z0-9_-]+={0,2}$")]
CredentialIdB64 = Annotated[
    str, Field(min_length=1, max_length=1_400, pattern=r"^[A-Za-z0-9_-]+={0,2}$")
]


class _Browser(BaseModel):
    """What ``PublicKeyCredential.toJSON()`` sends (camelCase). Fields the server does not use
    (``publicKey``, ``clientExtensionResults``...) are ignored: browsers add more over time."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")


class AttestationResponseIn(_Browser):
    client_data_json: B64 = Field(alias="clientDataJSON")
    attestation_object: B64
    transports: Annotated[list[Annotated[str, Field(max_length=32)]], Field(max_length=10)] = []


class AssertionResponseIn(_Browser):
    client_data_json: B64 = Field(alias="clientDataJSON")
    authenticator_data: B64
    signature: B64
    user_handle: B64 | None = None


class RegistrationCredentialIn(_Browser):
    id: CredentialIdB64
    raw_id: CredentialIdB64
    type: Literal["public-key"]
    response: AttestationResponseIn
    authenticator_attachment: Literal["platform", "cross-platform"] | None = None


class AuthenticationCredentialIn(_Browser):
    id: CredentialIdB64
    raw_id: CredentialIdB64
    type: Literal["public-key"]
    response: AssertionResponseIn
    authenticator_attachment: Literal["platform", "cross-platform"] | None = None


class RegisterVerifyIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    credential: RegistrationCredentialIn
    name: ShortName = "Passkey"


class AuthenticateVerifyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    credential: AuthenticationCredentialIn


class _Options(BaseModel):
    """WebAuthn options as JSON (``PublicKeyCredentialCreationOptionsJSON`` /
    ``...RequestOptionsJSON``): byte values base64url, ready for
    ``PublicKeyCredential.parseCreationOptionsFromJSON`` / ``parseRequestOptionsFromJSON``."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="allow")
    challenge: str
    timeout: int


class RegistrationOptionsOut(_Options):
    """Pass to ``navigator.credentials.create({publicKey: ...})``."""

    rp: dict[str, str]
    user: dict[str, str]
    pub_key_cred_params: list[dict[str, Any]]
    exclude_credentials: list[dict[str, Any]]
    authenticator_selection: dict[str, Any]
    attestation: str


class AuthenticationOptionsOut(_Options):
    """Pass to ``navigator.credentials.get({publicKey: ...})``. ``allowCredentials`` is empty:
    the browser offers the passkeys it holds for this site (discoverable credentials)."""

    rp_id: str
    allow_credentials: list[dict[str, Any]]
    user_verification: str


class WebAuthnCredentialOut(BaseModel):
    """A registered passkey or security key; never its public key."""

    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    name: str
    created_at: datetime
    last_used_at: datetime | None
    transports: list[str]
    backed_up: bool
