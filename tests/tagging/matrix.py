"""Role and tenancy matrix cases of this area (``tests/matrix.py``)."""

from tests.matrix import ADMINS, ANY, Access
from xplorr.tagging.models import TaggingPolicy

ACCESS: dict[tuple[str, str], Access] = {
    # Every role reads policies and violations (grants limit violations); admins write.
    ("GET", "/api/v1/tagging-policies"): ANY,
    ("POST", "/api/v1/tagging-policies"): ADMINS,
    ("GET", "/api/v1/tagging-policies/violations"): ANY,
    ("DELETE", "/api/v1/tagging-policies/{policy_id}"): ADMINS,
}

TENANCY = {
    "/api/v1/tagging-policies/{policy_id}": TaggingPolicy,
}
