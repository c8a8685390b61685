"""Role and tenancy matrix cases of this area (``tests/matrix.py``)."""

from tests.matrix import ADMINS, PUBLIC, Access
from xplorr.sso.models import SsoConfig

ACCESS: dict[tuple[str, str], Access] = {
    # SAML single sign-on: the login ceremony and SP metadata are pre-authentication; the IdP
    # configuration is an owner/admin matter.
    ("GET", "/api/v1/auth/sso/check"): PUBLIC,
    ("GET", "/api/v1/auth/saml/init"): PUBLIC,
    ("POST", "/api/v1/auth/saml/acs"): PUBLIC,
    ("GET", "/api/v1/auth/saml/metadata/{org_slug}"): PUBLIC,
    ("GET", "/api/v1/auth/sso/config"): ADMINS,
    ("PATCH", "/api/v1/auth/sso/config"): ADMINS,
    ("DELETE", "/api/v1/auth/sso/config"): ADMINS,
    ("POST", "/api/v1/auth/sso/domains/verify"): ADMINS,
}

TENANCY = {
    # The metadata route takes an org slug: org A's configuration id names no organization.
    "/api/v1/auth/saml/metadata/{org_slug}": SsoConfig,
}
