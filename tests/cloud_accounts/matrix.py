"""Role and tenancy matrix cases of this area (``tests/matrix.py``)."""

from tests.matrix import ADMINS, ANY, Access
from xplorr.cloud_accounts.models import CloudAccount

ACCESS: dict[tuple[str, str], Access] = {
    # Cloud accounts: every role reads (grants limit members and viewers); owners and admins
    # connect, update and disconnect.
    ("GET", "/api/v1/cloud-accounts"): ANY,
    ("POST", "/api/v1/cloud-accounts"): ADMINS,
    ("GET", "/api/v1/cloud-accounts/server-aws-config"): ANY,
    ("POST", "/api/v1/cloud-accounts/test"): ADMINS,
    ("GET", "/api/v1/cloud-accounts/{account_id}"): ANY,
    ("PATCH", "/api/v1/cloud-accounts/{account_id}"): ADMINS,
    ("DELETE", "/api/v1/cloud-accounts/{account_id}"): ADMINS,
}

TENANCY = {
    "/api/v1/cloud-accounts/{account_id}": CloudAccount,
}
