"""Function-level authorization (ASVS 8.2.1, API5): every operation declares who may call it.

``ACCESS`` (each area's ``tests/<area>/matrix.py``, collected by ``tests/matrix.py``) maps each
operation to PUBLIC (no token), ANY (any role of the org) or the set of roles allowed. A new
operation without an entry fails ``test_every_operation_declares_its_roles``;
every restricted operation is called with each role it refuses and must answer 403 FORBIDDEN.
"""

import re
import uuid

import pytest
from fastapi import FastAPI

from tests import matrix
from tests.conftest import ClientFor
from tests.matrix import ANY, PUBLIC
from xplorr.auth.deps import AdminUser, CurrentUser, OwnerUser, WriterUser
from xplorr.core.tenancy import Principal, Role
from xplorr.users.models import User

ACCESS = matrix.access()


def _operations(app: FastAPI) -> set[tuple[str, str]]:
    return {
        (method.upper(), path)
        for path, item in app.openapi()["paths"].items()
        for method in item
        if method in {"get", "post", "put", "patch", "delete"}
    }


def test_every_operation_declares_its_roles(app: FastAPI) -> None:
    undeclared = _operations(app) - set(ACCESS)
    assert not undeclared, f"declare the roles of: {sorted(undeclared)}"
    stale = set(ACCESS) - _operations(app)
    assert not stale, f"no such operations: {sorted(stale)}"


RESTRICTED = [
    (method, path, role)
    for (method, path), allowed in ACCESS.items()
    if isinstance(allowed, frozenset)
    for role in Role
    if role not in allowed
]


@pytest.mark.parametrize(("method", "path", "role"), RESTRICTED)
async def test_refused_roles_get_403(
    method: str, path: str, role: Role, client_for: ClientFor, org, db
) -> None:
    from tests.factories.users import make_user

    user = await make_user(db, org, role=role)
    url = re.sub(r"{\w+}", str(uuid.uuid4()), path.replace("/api/v1", "", 1))
    r = await client_for(user).request(method, url, json={})
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "FORBIDDEN"


class TestRoleDependencies:
    """The dependencies every restricted endpoint uses, on a small app of their own."""

    @pytest.fixture
    def app(self, own_app: FastAPI) -> FastAPI:
        return own_app  # routes are added below: not on the shared app

    @pytest.fixture
    def guarded(self, app: FastAPI) -> FastAPI:
        async def anyone(who: CurrentUser) -> dict[str, str]:
            return {"role": who.role.value}

        async def writers(who: WriterUser) -> dict[str, str]:
            return {"role": who.role.value}

        async def admins(who: AdminUser) -> dict[str, str]:
            return {"role": who.role.value}

        async def owners(who: OwnerUser) -> dict[str, str]:
            return {"role": who.role.value}

        for name, fn in {"any": anyone, "write": writers, "admin": admins, "owner": owners}.items():
            app.add_api_route(f"/api/v1/_guard/{name}", fn)
        return app

    @pytest.mark.parametrize(
        ("endpoint", "allowed"),
        [
            ("any", set(Role)),
            ("write", {Role.OWNER, Role.ADMIN, Role.MEMBER}),
            ("admin", {Role.OWNER, Role.ADMIN}),
            ("owner", {Role.OWNER}),
        ],
    )
    async def test_matrix(
        self,
        guarded: FastAPI,
        client_for: ClientFor,
        owner: User,
        admin: User,
        member: User,
        viewer: User,
        endpoint: str,
        allowed: set[Role],
    ) -> None:
        for user in (owner, admin, member, viewer):
            r = await client_for(user).get(f"/_guard/{endpoint}")
            if user.role in allowed:
                assert r.status_code == 200
                assert r.json() == {"role": user.role.value}
            else:
                assert r.status_code == 403
                assert r.json()["error"]["code"] == "FORBIDDEN"
        assert (await client_for(None).get(f"/_guard/{endpoint}")).status_code == 401


def test_principal_is_admin() -> None:
    import uuid

    def p(role: Role) -> Principal:
        return Principal(user_id=uuid.uuid4(), org_id=uuid.uuid4(), role=role, email="x@y.io")

    assert [p(r).is_admin for r in Role] == [True, True, False, False]


# The operations a user of an org that requires 2FA may call before having a second factor:
# who they are, and setting up an authenticator app or a passkey.
TWO_FACTOR_SETUP = {
    ("GET", "/api/v1/auth/me"),
    ("POST", "/api/v1/auth/2fa/setup"),
    ("POST", "/api/v1/auth/2fa/confirm"),
    ("GET", "/api/v1/auth/webauthn/register/options"),
    ("POST", "/api/v1/auth/webauthn/register/verify"),
}
GATED = sorted(
    op for op, allowed in ACCESS.items() if allowed != PUBLIC and op not in TWO_FACTOR_SETUP
)


@pytest.mark.parametrize(("method", "path"), GATED)
async def test_every_operation_but_setup_answers_2fa_setup_required(
    method: str, path: str, client_for: ClientFor, org, owner: User, db
) -> None:
    """product-notes: with require-2fa on, a user without a factor gets 2FA_SETUP_REQUIRED from
    every endpoint but the ones that set one up, whatever their role (the owner here)."""
    org.require_2fa = True
    await db.commit()
    url = re.sub(r"{\w+}", str(uuid.uuid4()), path.replace("/api/v1", "", 1))
    r = await client_for(owner).request(method, url, json={})
    assert (r.status_code, r.json()["error"]["code"]) == (403, "2FA_SETUP_REQUIRED"), r.text


def test_setup_operations_are_authenticated_operations() -> None:
    assert set(ACCESS) >= TWO_FACTOR_SETUP
    assert all(ACCESS[op] == ANY for op in TWO_FACTOR_SETUP)
