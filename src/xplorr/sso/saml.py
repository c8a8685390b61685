"""The python3-saml glue: per-organization SP settings, AuthnRequests, response validation and
SP metadata. No database and no FastAPI here; ``sso.service`` decides what a result means.

Security guide 1.6: strict mode always; the IdP certificate is the pinned one of the org's
configuration (never a KeyInfo or fingerprint); assertions must be signed; deprecated
algorithms refused. The "current URL" python3-saml checks Destination and Recipient against is
built from ``XPLORR_BASE_URL``, never from the request's Host header, which a client picks.
"""

import base64
import binascii
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from onelogin.saml2.auth import OneLogin_Saml2_Auth
from onelogin.saml2.constants import OneLogin_Saml2_Constants
from onelogin.saml2.settings import OneLogin_Saml2_Settings, validate_url
from onelogin.saml2.utils import OneLogin_Saml2_Utils
from onelogin.saml2.xml_utils import OneLogin_Saml2_XML

from xplorr.core.settings import Settings

API_PREFIX = "/api/v1"
ACS_PATH = "/auth/saml/acs"
METADATA_PATH = "/auth/saml/metadata/"
NAMEID_EMAIL = OneLogin_Saml2_Constants.NAMEID_EMAIL_ADDRESS
MAX_RESPONSE_BYTES = 512 * 1024  # a signed response is a few KB; refuse anything absurd
MAX_NAME_ID = 512  # the columns that keep them: sso_identities.name_id, saml_replays.assertion_id
MAX_ASSERTION_ID = 256


class SamlInvalid(Exception):
    """The response was refused; ``reason`` is for the audit row and the log, never the client."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class IdpConfig:
    entity_id: str
    sso_url: str
    x509_cert: str


@dataclass(frozen=True, slots=True)
class ValidAssertion:
    """What a strictly validated response says, read from the signed assertion only."""

    name_id: str
    name_id_format: str | None
    issuer: str
    assertion_id: str
    not_on_or_after: int | None  # unix seconds of the SubjectConfirmationData, when given
    attributes: dict[str, list[str]]


@dataclass(frozen=True, slots=True)
class SpUrls:
    entity_id: str
    acs_url: str
    metadata_url: str


def _origin(settings: Settings) -> tuple[str, str, str]:
    """(scheme, host[:port], path) of ``XPLORR_BASE_URL``: the SP's URLs and python3-saml's
    "current URL" are built from these same parts, so they always agree."""
    parts = urlsplit(settings.base_url)
    host = parts.hostname or "localhost"
    if ":" in host:
        host = f"[{host}]"
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return ("https" if parts.scheme == "https" else "http"), host, parts.path.rstrip("/")


def sp_urls(settings: Settings, org_slug: str) -> SpUrls:
    scheme, host, path = _origin(settings)
    base = f"{scheme}://{host}{path}{API_PREFIX}"
    metadata = f"{base}{METADATA_PATH}{org_slug}"
    return SpUrls(entity_id=metadata, acs_url=base + ACS_PATH, metadata_url=metadata)


def browser_cookie_path(settings: Settings) -> str:
    """The path the browser-binding cookie is scoped to: the SAML endpoints as the browser sees
    them (``XPLORR_BASE_URL`` may carry a path prefix)."""
    _, _, path = _origin(settings)
    return f"{path}{API_PREFIX}/auth/saml"


def request_data(
    settings: Settings, path: str, post: dict[str, str] | None = None
) -> dict[str, Any]:
    """python3-saml's view of "this request", from the configured base URL only (the port goes
    in ``http_host``: python3-saml deprecates ``server_port``)."""
    scheme, host, base_path = _origin(settings)
    return {
        "https": "on" if scheme == "https" else "off",
        "http_host": host,
        "script_name": base_path + API_PREFIX,
        "path_info": path,
        "get_data": {},
        "post_data": post or {},
    }


def _settings_dict(settings: Settings, org_slug: str, idp: IdpConfig | None) -> dict[str, Any]:
    urls = sp_urls(settings, org_slug)
    values: dict[str, Any] = {
        "strict": True,
        "debug": False,
        "sp": {
            "entityId": urls.entity_id,
            "assertionConsumerService": {
                "url": urls.acs_url,
                "binding": OneLogin_Saml2_Constants.BINDING_HTTP_POST,
            },
            "NameIDFormat": NAMEID_EMAIL,
        },
        "security": {
            "authnRequestsSigned": False,
            "wantMessagesSigned": False,
            "wantAssertionsSigned": True,
            "wantNameId": True,
            "wantAttributeStatement": False,  # the email may come as the NameID alone
            "rejectDeprecatedAlgorithm": True,
            "requestedAuthnContext": False,
            "allowSingleLabelDomains": True,  # base URLs like http://xplorr:8000 in a cluster
        },
    }
    if idp is not None:
        values["idp"] = {
            "entityId": idp.entity_id,
            "singleSignOnService": {
                "url": idp.sso_url,
                "binding": OneLogin_Saml2_Constants.BINDING_HTTP_REDIRECT,
            },
            "x509cert": idp.x509_cert,
        }
    return values


def saml_settings(settings: Settings, org_slug: str, idp: IdpConfig) -> OneLogin_Saml2_Settings:
    return OneLogin_Saml2_Settings(_settings_dict(settings, org_slug, idp))


def authn_request(
    settings: Settings, org_slug: str, idp: IdpConfig, relay_state: str
) -> tuple[str, str]:
    """The IdP redirect URL (HTTP-Redirect binding) and the AuthnRequest's ID."""
    auth = OneLogin_Saml2_Auth(
        request_data(settings, "/auth/saml/init"), saml_settings(settings, org_slug, idp)
    )
    url: str = auth.login(return_to=relay_state)
    request_id: str = auth.get_last_request_id()
    return url, request_id


def in_response_to(saml_response: str) -> str | None:
    """The InResponseTo of a posted response, read with python3-saml's hardened parser (no DTD,
    no entities, no network). Nothing else is read before the signature is checked."""
    try:
        raw = OneLogin_Saml2_Utils.b64decode(saml_response)
        if len(raw) > MAX_RESPONSE_BYTES:
            return None
        root = OneLogin_Saml2_XML.to_etree(raw)
    except (ValueError, SyntaxError):  # bad base64, bad XML (lxml: a SyntaxError), DTD, entity
        return None
    if root.tag != f"{{{OneLogin_Saml2_Constants.NS_SAMLP}}}Response":
        return None
    value = root.get("InResponseTo")
    return value if isinstance(value, str) and value else None


def validate_response(
    settings: Settings, org_slug: str, idp: IdpConfig, saml_response: str, request_id: str
) -> ValidAssertion:
    """Run python3-saml's strict validation: schema, signature against the pinned certificate,
    InResponseTo, Destination, Recipient, Audience, time window, Issuer. Raises SamlInvalid."""
    post = {"SAMLResponse": saml_response}
    auth = OneLogin_Saml2_Auth(
        request_data(settings, ACS_PATH, post), saml_settings(settings, org_slug, idp)
    )
    try:
        auth.process_response(request_id=request_id)
    except Exception as exc:  # undecodable input raises before python3-saml's own checks
        raise SamlInvalid(f"unreadable response: {type(exc).__name__}") from exc
    if auth.get_errors() or not auth.is_authenticated():
        raise SamlInvalid(str(auth.get_last_error_reason() or "invalid response"))
    assertion_id = auth.get_last_assertion_id()
    if auth.get_last_response_in_response_to() != request_id:
        raise SamlInvalid("response does not answer the request")  # IdP-initiated refused
    issuer = _assertion_issuer(auth, assertion_id)
    if issuer != idp.entity_id:
        raise SamlInvalid("issuer is not the organization's IdP")
    name_id = auth.get_nameid()
    if not assertion_id or not isinstance(name_id, str) or not name_id.strip():
        raise SamlInvalid("assertion without ID or NameID")
    if len(str(assertion_id)) > MAX_ASSERTION_ID or len(name_id.strip()) > MAX_NAME_ID:
        raise SamlInvalid("assertion ID or NameID too long")
    attributes = {
        str(k): [v for v in values if isinstance(v, str)]
        for k, values in (auth.get_attributes() or {}).items()
    }
    return ValidAssertion(
        name_id=name_id.strip(),
        name_id_format=auth.get_nameid_format(),
        issuer=issuer,
        assertion_id=str(assertion_id),
        not_on_or_after=auth.get_last_assertion_not_on_or_after(),
        attributes=attributes,
    )


def _assertion_issuer(auth: OneLogin_Saml2_Auth, assertion_id: str | None) -> str | None:
    """The Issuer of the assertion that was verified (selected by its ID, as python3-saml does
    for every value it returns), re-read from the validated document."""
    root = OneLogin_Saml2_XML.to_etree(auth.get_last_response_xml())
    nodes = OneLogin_Saml2_XML.query(
        root, "/samlp:Response/saml:Assertion[@ID=$tagid]/saml:Issuer", None, assertion_id
    )
    if len(nodes) != 1:
        return None
    text = OneLogin_Saml2_XML.element_text(nodes[0])
    return text.strip() if isinstance(text, str) else None


def sp_metadata(settings: Settings, org_slug: str) -> str:
    """The SP metadata of an org; needs no IdP (an admin gives it to the IdP before configuring
    Xplorr). Validated against the SAML metadata schema before it is served."""
    sp = OneLogin_Saml2_Settings(_settings_dict(settings, org_slug, None), sp_validation_only=True)
    xml = sp.get_sp_metadata()
    text = xml.decode() if isinstance(xml, bytes) else str(xml)
    errors = sp.validate_metadata(text)
    if errors:
        raise RuntimeError(f"invalid SP metadata: {errors}")
    return text


# --- configuration input ----------------------------------------------------------------------

_PEM = re.compile(
    r"-----BEGIN CERTIFICATE-----(?P<body>[A-Za-z0-9+/=\s]+)-----END CERTIFICATE-----"
)


def normalise_certificate(text: str) -> str:
    """A PEM certificate or its bare base64 DER -> the base64 DER on one line. Raises ValueError
    when it is not one X.509 certificate with an RSA (>= 2048 bits) or EC public key."""
    text = text.strip()
    match = _PEM.fullmatch(text)
    body = match.group("body") if match else text
    compact = "".join(body.split())
    try:
        der = base64.b64decode(compact, validate=True)
        cert = x509.load_der_x509_certificate(der)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("Not an X.509 certificate (PEM or base64 DER).") from exc
    try:
        key = cert.public_key()
    except (UnsupportedAlgorithm, ValueError) as exc:  # an unknown or broken key algorithm
        raise ValueError("The certificate's key must be RSA or EC.") from exc
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < 2048:
            raise ValueError("The certificate's RSA key is shorter than 2048 bits.")
    elif not isinstance(key, ec.EllipticCurvePublicKey):
        raise ValueError("The certificate's key must be RSA or EC.")
    return base64.b64encode(der).decode()


_LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


def check_sso_url(url: str) -> str:
    """An IdP SSO URL: https, or http for a local test IdP. Raises ValueError."""
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme == "http" and parts.hostname in _LOCAL_HOSTS:
        pass
    elif parts.scheme != "https":
        raise ValueError("The SSO URL must use https.")
    if not parts.hostname or parts.username or parts.password or parts.fragment:
        raise ValueError("The SSO URL must be an absolute URL without credentials or fragment.")
    if not validate_url(url, allow_single_label_domain=True):
        raise ValueError("The SSO URL is not a valid URL.")
    return url
