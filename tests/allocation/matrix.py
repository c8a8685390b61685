"""Role and tenancy matrix cases of this area (``tests/matrix.py``)."""

from tests.matrix import ADMINS, ANY, Access
from xplorr.allocation.models import AllocationRule

ACCESS: dict[tuple[str, str], Access] = {
    # Every role reads the rules (they shape every allocated answer); owners and admins write
    # (the reference marks POST admin; PATCH and DELETE change the same org-wide rules).
    ("GET", "/api/v1/allocation-rules"): ANY,
    ("POST", "/api/v1/allocation-rules"): ADMINS,
    ("PATCH", "/api/v1/allocation-rules/{rule_id}"): ADMINS,
    ("DELETE", "/api/v1/allocation-rules/{rule_id}"): ADMINS,
}

TENANCY = {
    "/api/v1/allocation-rules/{rule_id}": AllocationRule,
}
