"""Role and tenancy matrix cases of this area (``tests/matrix.py``)."""

from tests.matrix import ANY, WRITERS, Access

ACCESS: dict[tuple[str, str], Access] = {
    # Every role reads cost per unit (grants limit the cost side); viewers never write.
    ("GET", "/api/v1/unit-economics"): ANY,
    ("GET", "/api/v1/unit-economics/metrics"): ANY,
    ("POST", "/api/v1/unit-economics/metrics"): WRITERS,
    ("POST", "/api/v1/unit-economics/metrics/csv"): WRITERS,
}
