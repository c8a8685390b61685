"""Role and tenancy matrix cases of this area (``tests/matrix.py``)."""

from tests.matrix import ANY, Access
from xplorr.tokens.models import ApiToken

ACCESS: dict[tuple[str, str], Access] = {
    # Personal API tokens act as their user (a viewer's token is read-only), so every role may
    # manage its own; owners and admins also see and revoke the organization's.
    ("GET", "/api/v1/tokens"): ANY,
    ("POST", "/api/v1/tokens"): ANY,
    ("DELETE", "/api/v1/tokens/{token_id}"): ANY,
    ("POST", "/api/v1/tokens/exchange"): ANY,
}

TENANCY = {
    "/api/v1/tokens/{token_id}": ApiToken,
}
