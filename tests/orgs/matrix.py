"""Role and tenancy matrix cases of this area (``tests/matrix.py``)."""

from tests.matrix import ADMINS, ANY, OWNERS, Access

ACCESS: dict[tuple[str, str], Access] = {
    ("GET", "/api/v1/organizations/current"): ANY,
    ("PATCH", "/api/v1/organizations/current"): ADMINS,
    ("GET", "/api/v1/organizations/stats"): ADMINS,
    ("PATCH", "/api/v1/organizations/require-2fa"): ADMINS,
    ("DELETE", "/api/v1/organizations/close"): OWNERS,
}
