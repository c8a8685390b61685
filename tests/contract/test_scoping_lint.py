"""No service starts a tenant read with a bare ``select(Model)`` or ``db.get(Model, ...)``: tenant
reads go through ``org_select`` / ``get_in_org`` (CONVENTIONS.md 4.4; Polar's org_scope linter).

``ALLOWED`` lists the few functions that must read before any principal exists (resolving who a
bearer token belongs to, login by email) or that act on an object already resolved in the caller's
org; each entry says why."""

import ast
from pathlib import Path

import xplorr
from xplorr.core.models import OrgOwned
from xplorr.models_registry import Base

SRC = Path(xplorr.__file__).parent
TENANT_MODELS = {
    mapper.class_.__name__
    for mapper in Base.registry.mappers
    if issubclass(mapper.class_, OrgOwned)
}

ALLOWED: dict[tuple[str, str], str] = {
    ("auth/service.py", "refresh"): "the refresh token itself names the session; no principal yet",
    ("auth/service.py", "_on_refresh_refused"): "reuse detection follows the token's own session",
    ("auth/service.py", "logout"): "the refresh token names its session; no principal",
    ("auth/service.py", "change_password"): "reads the caller's own user row by principal id",
    ("auth/service.py", "me"): "reads the caller's own user row by principal id",
    ("auth/service.py", "resolve_principal"): "turns a bearer token into the principal",
    ("auth/service.py", "_principal"): "turns a bearer token into the principal",
    ("auth/service.py", "_user_select"): "the principal's own user row, with its org's 2FA rule",
    ("users/service.py", "find_by_email"): "login: email is unique across organizations",
    ("sync/service.py", "enqueue_sync"): "the queued run of an account already resolved in its "
    "org (by get_in_org, or by the fan-out job's org); the schedule has no principal",
    ("auth/lifecycle_service.py", "_use_token"): "an emailed token names its user; no principal",
    ("auth/lifecycle_service.py", "_invitation_by_token"): "the invitation token is the key",
    ("auth/lifecycle_service.py", "invitation_info"): "reads the inviter of that invitation",
    ("auth/lifecycle_service.py", "accept_invitation"): "the spent token names its invitation",
    ("twofa/service.py", "authenticate"): "the login challenge token is the key; no principal yet",
    ("twofa/service.py", "_verify"): "the factor of a user already resolved (challenge, caller)",
    ("twofa/service.py", "confirm"): "reads the caller's own user row by principal id",
    ("twofa/service.py", "disable"): "reads the caller's own user row by principal id",
    ("passkeys/service.py", "_passkey_and_user"): "passkey login: the credential id the "
    "authenticator sent names its user (unique across organizations); no principal yet",
    ("sso/service.py", "_outstanding_request"): "SAML ACS: the response's InResponseTo names our "
    "AuthnRequest, and that request names the org; no principal yet",
    ("sso/service.py", "finish_login"): "SAML ACS: the configuration of the org the outstanding "
    "request belongs to",
    ("kubernetes/service.py", "cluster_for_token"): "the collector's ingest token names its "
    "cluster; no principal",
    ("sso/service.py", "_user_for"): "SAML ACS: identities and users of the request's org, after "
    "its IdP's signature was verified",
    ("slack/service.py", "installation_for_team"): "a signed Slack interaction names its "
    "workspace, and the workspace's one installation names the org; no principal yet",
}


def _violations() -> list[str]:
    found = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).as_posix()
        if not rel.endswith(("service.py", "queries.py")):
            continue
        tree = ast.parse(path.read_text())
        for func in ast.walk(tree):
            if not isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node in ast.walk(func):
                if not isinstance(node, ast.Call) or not node.args:
                    continue
                callee = node.func
                name = (
                    callee.attr if isinstance(callee, ast.Attribute) else getattr(callee, "id", "")
                )
                first = node.args[0]
                model = first.id if isinstance(first, ast.Name) else None
                tenant_read = name in {"select", "get", "get_one"} and model in TENANT_MODELS
                if tenant_read and (rel, func.name) not in ALLOWED:
                    found.append(f"{rel}:{node.lineno} {func.name}: {name}({model}, ...)")
    return found


def test_tenant_reads_go_through_org_select() -> None:
    assert {"User", "ApiToken", "AuthSession"} <= TENANT_MODELS
    assert _violations() == []


def test_the_lint_catches_a_bare_select(tmp_path: Path, monkeypatch) -> None:
    area = tmp_path / "budgets"
    area.mkdir()
    (area / "service.py").write_text(
        "async def leak(db, ident):\n    return await db.get(ApiToken, ident)\n"
    )
    monkeypatch.setattr(f"{__name__}.SRC", tmp_path)
    assert _violations() == ["budgets/service.py:2 leak: get(ApiToken, ...)"]
