"""Role and tenancy matrix cases of this area (``tests/matrix.py``)."""

from tests.matrix import ADMINS, ANY, PUBLIC, Access

ACCESS: dict[tuple[str, str], Access] = {
    # As Slack's: install and remove are admin actions; the callback carries its state.
    ("GET", "/api/v1/teams/install"): ADMINS,
    ("GET", "/api/v1/teams/oauth_redirect"): PUBLIC,
    ("GET", "/api/v1/teams/installation"): ANY,
    ("DELETE", "/api/v1/teams/installation"): ADMINS,
}
