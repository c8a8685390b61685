"""Role and tenancy matrix cases of this area (``tests/matrix.py``)."""

from tests.matrix import ANY, WRITERS, Access
from xplorr.budgets.models import Budget

ACCESS: dict[tuple[str, str], Access] = {
    # Every role reads (grants limit members and viewers); members and above manage budgets
    # (product-notes.md section 13).
    ("GET", "/api/v1/budgets"): ANY,
    ("POST", "/api/v1/budgets"): WRITERS,
    ("GET", "/api/v1/budgets/{budget_id}"): ANY,
    ("PATCH", "/api/v1/budgets/{budget_id}"): WRITERS,
    ("DELETE", "/api/v1/budgets/{budget_id}"): WRITERS,
}

TENANCY = {
    "/api/v1/budgets/{budget_id}": Budget,
}
