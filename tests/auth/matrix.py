"""Role and tenancy matrix cases of this area (``tests/matrix.py``)."""

from tests.matrix import ADMINS, ANY, PUBLIC, Access
from xplorr.auth.models import Invitation

ACCESS: dict[tuple[str, str], Access] = {
    ("POST", "/api/v1/auth/signup"): PUBLIC,
    ("POST", "/api/v1/auth/login"): PUBLIC,
    ("POST", "/api/v1/auth/refresh"): PUBLIC,
    ("POST", "/api/v1/auth/logout"): PUBLIC,
    ("GET", "/api/v1/auth/me"): ANY,
    ("POST", "/api/v1/auth/change-password"): ANY,
    # Account lifecycle: emailed-token flows are public (the token is the credential).
    ("POST", "/api/v1/auth/verify-email"): PUBLIC,
    ("POST", "/api/v1/auth/resend-verification"): PUBLIC,
    ("POST", "/api/v1/auth/forgot-password"): PUBLIC,
    ("POST", "/api/v1/auth/reset-password"): PUBLIC,
    ("POST", "/api/v1/auth/invite"): ADMINS,
    ("GET", "/api/v1/auth/invitation/{token}"): PUBLIC,
    ("POST", "/api/v1/auth/accept-invitation"): PUBLIC,
}

TENANCY = {
    # The route takes the emailed token: an invitation's id (what the matrix sends) must not
    # work as its token.
    "/api/v1/auth/invitation/{token}": Invitation,
}
