"""Role and tenancy matrix cases of this area (``tests/matrix.py``)."""

from tests.matrix import ANY, PUBLIC, Access

ACCESS: dict[tuple[str, str], Access] = {
    # TOTP: every user manages their own factor; the login's second step has no token yet.
    ("POST", "/api/v1/auth/2fa/setup"): ANY,
    ("POST", "/api/v1/auth/2fa/confirm"): ANY,
    ("POST", "/api/v1/auth/2fa/authenticate"): PUBLIC,
    ("POST", "/api/v1/auth/2fa/disable"): ANY,
}
