"""Role and tenancy matrix cases of this area (``tests/matrix.py``)."""

from tests.matrix import ANY, Access

ACCESS: dict[tuple[str, str], Access] = {
    # Coverage: every role; grants limit members and viewers to their accounts' costs and
    # commitments.
    ("GET", "/api/v1/commitments/analysis"): ANY,
}
