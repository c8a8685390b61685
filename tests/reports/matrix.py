"""Role and tenancy matrix cases of this area (``tests/matrix.py``)."""

from tests.matrix import ANY, Access

ACCESS: dict[tuple[str, str], Access] = {
    # Reports: every role reads (viewers included, product-notes.md 18); members and viewers
    # limited by account grants get reports of those accounts only.
    ("GET", "/api/v1/reports"): ANY,
    ("GET", "/api/v1/reports/pdf"): ANY,
    ("GET", "/api/v1/reports/excel"): ANY,
    ("GET", "/api/v1/reports/cost-summary"): ANY,
}
