"""A SAML 2.0 identity provider inside the suite: its own RSA-2048 key and self-signed certificate,
real Responses with an Assertion signed (enveloped, rsa-sha256, exc-c14n) by xmlsec through
python3-saml's ``add_sign``. Every field has a knob so tests can tamper with it."""

import base64
import datetime as dt
import functools
import uuid
import zlib
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape, quoteattr

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from lxml import etree
from onelogin.saml2.utils import OneLogin_Saml2_Utils

NS_SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
NS_SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
EMAIL_FORMAT = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
PERSISTENT_FORMAT = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"


def saml_time(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@functools.cache
def _keypair(label: str) -> tuple[str, str]:
    """(private key PEM, certificate PEM), made once per label per test process."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"test idp {label}")])
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return key_pem, cert.public_bytes(serialization.Encoding.PEM).decode()


@dataclass
class TestIdp:
    """One identity provider. ``TestIdp("a")`` and ``TestIdp("b")`` have different keys."""

    label: str
    entity_id: str = ""
    sso_url: str = ""
    key_pem: str = field(init=False)
    cert_pem: str = field(init=False)

    __test__ = False  # not a pytest class

    def __post_init__(self) -> None:
        self.entity_id = self.entity_id or f"https://idp-{self.label}.example.test/entity"
        self.sso_url = self.sso_url or f"https://idp-{self.label}.example.test/sso"
        self.key_pem, self.cert_pem = _keypair(self.label)

    @property
    def cert_b64(self) -> str:
        """The certificate as bare base64 DER (what many IdPs show in their metadata)."""
        der = x509.load_pem_x509_certificate(self.cert_pem.encode()).public_bytes(
            serialization.Encoding.DER
        )
        return base64.b64encode(der).decode()

    # --- building blocks (for tampering) ------------------------------------------------------

    def assertion(
        self,
        *,
        name_id: str,
        audience: str,
        recipient: str,
        in_response_to: str | None,
        issuer: str | None = None,
        name_id_format: str = EMAIL_FORMAT,
        assertion_id: str | None = None,
        not_before: dt.datetime | None = None,
        not_on_or_after: dt.datetime | None = None,
        attributes: dict[str, str] | None = None,
    ) -> str:
        now = _now()
        nb = not_before or now - dt.timedelta(minutes=1)
        nooa = not_on_or_after or now + dt.timedelta(minutes=5)
        irt = f" InResponseTo={quoteattr(in_response_to)}" if in_response_to else ""
        attrs = ""
        if attributes:
            items = "".join(
                f'<saml:Attribute Name={quoteattr(k)} NameFormat="urn:oasis:names:tc:SAML:2.0:'
                f'attrname-format:basic"><saml:AttributeValue xsi:type="xs:string">{escape(v)}'
                "</saml:AttributeValue></saml:Attribute>"
                for k, v in attributes.items()
            )
            attrs = f"<saml:AttributeStatement>{items}</saml:AttributeStatement>"
        return (
            f'<saml:Assertion xmlns:saml="{NS_SAML}" '
            'xmlns:xs="http://www.w3.org/2001/XMLSchema" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
            f'ID="{assertion_id or "_a" + uuid.uuid4().hex}" Version="2.0" '
            f'IssueInstant="{saml_time(now)}">'
            f"<saml:Issuer>{escape(issuer or self.entity_id)}</saml:Issuer>"
            "<saml:Subject>"
            f"<saml:NameID Format={quoteattr(name_id_format)}>{escape(name_id)}</saml:NameID>"
            '<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer">'
            f"<saml:SubjectConfirmationData NotOnOrAfter={quoteattr(saml_time(nooa))} "
            f"Recipient={quoteattr(recipient)}{irt}/>"
            "</saml:SubjectConfirmation></saml:Subject>"
            f'<saml:Conditions NotBefore="{saml_time(nb)}" NotOnOrAfter="{saml_time(nooa)}">'
            f"<saml:AudienceRestriction><saml:Audience>{escape(audience)}</saml:Audience>"
            "</saml:AudienceRestriction></saml:Conditions>"
            f'<saml:AuthnStatement AuthnInstant="{saml_time(now)}" SessionIndex="_s1">'
            "<saml:AuthnContext><saml:AuthnContextClassRef>"
            "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"
            "</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>"
            f"{attrs}</saml:Assertion>"
        )

    def sign(self, assertion_xml: str) -> str:
        """Enveloped rsa-sha256 / exc-c14n signature over the assertion (placed after Issuer)."""
        signed = OneLogin_Saml2_Utils.add_sign(assertion_xml, self.key_pem, self.cert_pem)
        return signed.decode() if isinstance(signed, bytes) else str(signed)

    def envelope(
        self,
        inner_xml: str,
        *,
        destination: str | None,
        in_response_to: str | None,
        issuer: str | None = None,
    ) -> str:
        """A samlp:Response (status Success) around ``inner_xml`` (one or more assertions)."""
        dest = f" Destination={quoteattr(destination)}" if destination is not None else ""
        irt = f" InResponseTo={quoteattr(in_response_to)}" if in_response_to else ""
        return (
            f'<samlp:Response xmlns:samlp="{NS_SAMLP}" xmlns:saml="{NS_SAML}" '
            f'ID="_r{uuid.uuid4().hex}" Version="2.0" IssueInstant="{saml_time(_now())}"'
            f"{dest}{irt}>"
            f"<saml:Issuer>{escape(issuer or self.entity_id)}</saml:Issuer>"
            '<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/>'
            f"</samlp:Status>{_strip_declaration(inner_xml)}</samlp:Response>"
        )

    # --- the usual case -------------------------------------------------------------------------

    def response(
        self,
        *,
        name_id: str,
        in_response_to: str | None,
        acs_url: str,
        audience: str,
        destination: str | None = None,
        recipient: str | None = None,
        sign: bool = True,
        **assertion_knobs: object,
    ) -> str:
        """A base64 SAMLResponse as the browser would post it."""
        assertion = self.assertion(
            name_id=name_id,
            audience=audience,
            recipient=recipient or acs_url,
            in_response_to=in_response_to,
            **assertion_knobs,  # type: ignore[arg-type]
        )
        if sign:
            assertion = self.sign(assertion)
        xml = self.envelope(
            assertion,
            destination=acs_url if destination is None else destination,
            in_response_to=in_response_to,
        )
        return encode(xml)


def _strip_declaration(xml: str) -> str:
    return xml.split("?>", 1)[1] if xml.startswith("<?xml") else xml


def encode(xml: str) -> str:
    return base64.b64encode(xml.encode()).decode()


def decode(saml_response: str) -> str:
    return base64.b64decode(saml_response).decode()


def authn_request_id(redirect_url: str) -> str:
    """The ID of the AuthnRequest in an HTTP-Redirect binding URL (deflated, base64)."""
    query = parse_qs(urlsplit(redirect_url).query)
    xml = zlib.decompress(base64.b64decode(query["SAMLRequest"][0]), -15)
    root = etree.fromstring(xml, parser=etree.XMLParser(resolve_entities=False))
    assert root.tag == f"{{{NS_SAMLP}}}AuthnRequest"
    return str(root.get("ID"))


def authn_request(redirect_url: str) -> etree._Element:
    query = parse_qs(urlsplit(redirect_url).query)
    xml = zlib.decompress(base64.b64decode(query["SAMLRequest"][0]), -15)
    return etree.fromstring(xml, parser=etree.XMLParser(resolve_entities=False))
