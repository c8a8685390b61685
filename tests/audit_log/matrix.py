"""Role and tenancy matrix cases of this area (``tests/matrix.py``)."""

from tests.matrix import ADMINS, Access

ACCESS: dict[tuple[str, str], Access] = {
    ("GET", "/api/v1/audit"): ADMINS,
    ("GET", "/api/v1/audit/actions"): ADMINS,
    ("GET", "/api/v1/audit/export"): ADMINS,
}
