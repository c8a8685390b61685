"""Role and tenancy matrix cases of this area (``tests/matrix.py``)."""

from tests.matrix import ADMINS, ANY, WRITERS, Access
from xplorr.approvals.models import Approval

ACCESS: dict[tuple[str, str], Access] = {
    ("GET", "/api/v1/approvals"): ANY,
    ("GET", "/api/v1/approvals/{approval_id}"): ANY,
    ("POST", "/api/v1/approvals"): WRITERS,  # members request
    ("PATCH", "/api/v1/approvals/{approval_id}"): ADMINS,  # admins decide
}

TENANCY = {
    "/api/v1/approvals/{approval_id}": Approval,
}
