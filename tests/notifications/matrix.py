"""Role and tenancy matrix cases of this area (``tests/matrix.py``)."""

from tests.matrix import ANY, Access

ACCESS: dict[tuple[str, str], Access] = {
    ("GET", "/api/v1/notifications"): ANY,
}

TENANCY: dict[str, type] = {}
