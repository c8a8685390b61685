"""Role and tenancy matrix cases of this area (``tests/matrix.py``)."""

from tests.matrix import ANY, Access

ACCESS: dict[tuple[str, str], Access] = {
    # Inventory reads: every role; members and viewers limited by account grants see only those.
    ("GET", "/api/v1/inventory"): ANY,
    ("GET", "/api/v1/inventory/filters"): ANY,
    ("GET", "/api/v1/inventory/export"): ANY,
}
