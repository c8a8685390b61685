"""The OpenAPI document: served where documented, every operation summarised, typed, with its
error responses and rate limit; operation ids unique."""

import pytest
from fastapi import FastAPI

from xplorr.core.ratelimit import EXTRA_KEY

HTTP_METHODS = {"get", "post", "put", "patch", "delete"}
FILES = {
    "text/csv",
    "application/xml",
    "application/pdf",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def _operations(app: FastAPI):
    for path, item in app.openapi()["paths"].items():
        for method, op in item.items():
            if method in HTTP_METHODS:
                yield path, method, op


async def test_openapi_and_docs_are_served(anon) -> None:
    spec = await anon.get("/openapi.json")
    assert spec.status_code == 200
    assert spec.json()["info"]["title"] == "Xplorr API"
    docs = await anon.get("/docs")
    assert docs.status_code == 200
    assert "swagger" in docs.text.lower()


def test_every_operation_is_documented_and_typed(app: FastAPI) -> None:
    ids = []
    for path, method, op in _operations(app):
        where = f"{method.upper()} {path}"
        assert op.get("summary"), where
        assert op.get("description"), f"{where}: endpoint docstring missing"
        ids.append(op["operationId"])
        success = [code for code in op["responses"] if code.startswith("2")]
        assert success, where
        for code in success:
            if code == "204":
                continue
            content = op["responses"][code]["content"]
            if FILES & set(content) and "application/json" not in content:
                continue  # a file (CSV, PDF, workbook), SAML metadata
            schema = content["application/json"]["schema"]
            alternatives = schema.get("anyOf", [schema])  # login: tokens or a 2FA challenge
            for alt in alternatives:
                assert alt.get("$ref") or alt.get("type") == "object", where
        if path.startswith("/api/v1/"):
            for code in ("401", "422", "429", "500"):
                ref = op["responses"][code]["content"]["application/json"]["schema"]["$ref"]
                assert ref.endswith("/ErrorEnvelope"), where
            assert EXTRA_KEY in op, where
    assert len(ids) == len(set(ids)), "operation ids must be unique"


@pytest.mark.slow
@pytest.mark.database_independent
def test_cli_openapi_matches_the_app(app: FastAPI) -> None:
    import json
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-m", "xplorr", "openapi"],
        capture_output=True,
        text=True,
        check=True,
        env={"XPLORR_DATA_DIR": str(app.state.settings.data_dir), "PATH": ""},
    )
    printed = json.loads(out.stdout)
    assert set(printed["paths"]) == set(app.openapi()["paths"])


def test_conflicts_and_size_limits_are_documented_where_they_occur(app: FastAPI) -> None:
    """409 LAST_OWNER and EMAIL_TAKEN on the operations that raise them; 413 and 431 on every
    operation (the body and header caps apply before routing)."""
    paths = app.openapi()["paths"]

    def described(path: str, method: str, code: str) -> str:
        return paths[f"/api/v1{path}"][method]["responses"][code]["description"]

    assert "LAST_OWNER" in described("/users/{user_id}", "patch", "409")
    assert "LAST_OWNER" in described("/users/{user_id}", "delete", "409")
    for path in ("/auth/signup", "/auth/invite", "/auth/accept-invitation", "/auth/saml/acs"):
        assert "EMAIL_TAKEN" in described(path, "post", "409"), path
    for path, method, op in _operations(app):
        if path.startswith("/api/v1/"):
            for code in ("413", "431"):
                ref = op["responses"][code]["content"]["application/json"]["schema"]["$ref"]
                assert ref.endswith("/ErrorEnvelope"), (method, path, code)
