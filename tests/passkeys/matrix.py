"""Role and tenancy matrix cases of this area (``tests/matrix.py``)."""

from tests.matrix import ANY, PUBLIC, Access
from xplorr.passkeys.models import WebAuthnCredential

ACCESS: dict[tuple[str, str], Access] = {
    # Passkeys: every role manages its own; logging in with one is public.
    ("GET", "/api/v1/auth/webauthn/register/options"): ANY,
    ("POST", "/api/v1/auth/webauthn/register/verify"): ANY,
    ("GET", "/api/v1/auth/webauthn/authenticate/options"): PUBLIC,
    ("POST", "/api/v1/auth/webauthn/authenticate/verify"): PUBLIC,
    ("GET", "/api/v1/auth/webauthn/credentials"): ANY,
    ("DELETE", "/api/v1/auth/webauthn/credentials/{credential_id}"): ANY,
}

TENANCY = {
    "/api/v1/auth/webauthn/credentials/{credential_id}": WebAuthnCredential,
}
