"""Role and tenancy matrix cases of this area (``tests/matrix.py``)."""

from tests.matrix import ANY, Access

ACCESS: dict[tuple[str, str], Access] = {
    # Network costs: every role; grants limit members and viewers to their accounts' costs.
    ("GET", "/api/v1/network/summary"): ANY,
}
