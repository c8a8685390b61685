"""The OpenAPI document as the docs page and generated clients read it: a bearer scheme (public
operations exempt), tags costs, accounts, sync first, and a valid example for every request
and response."""

from typing import Any

import jsonschema
from fastapi import FastAPI

from xplorr.core.openapi import BEARER_SCHEME, operations


def _validator(spec: dict[str, Any], schema: dict[str, Any]) -> jsonschema.Draft202012Validator:
    # The spec's components ride along in the root, so "#/components/..." refs resolve.
    root = {**schema, "components": spec["components"]}
    return jsonschema.Draft202012Validator(root, format_checker=jsonschema.FormatChecker())


def test_bearer_scheme_and_public_operations(app: FastAPI) -> None:
    spec = app.openapi()
    scheme = spec["components"]["securitySchemes"][BEARER_SCHEME]
    assert scheme == {**scheme, "type": "http", "scheme": "bearer"}
    assert spec["security"] == [{BEARER_SCHEME: []}]
    public = {(method, path) for path, method, op in operations(spec) if op.get("security") == []}
    assert ("post", "/api/v1/auth/login") in public
    assert ("post", "/api/v1/auth/signup") in public
    assert ("get", "/healthz") in public
    assert ("get", "/api/v1/costs") not in public
    assert ("post", "/api/v1/tokens") not in public
    assert ("get", "/api/v1/auth/me") not in public


async def test_public_operations_really_take_no_token(app: FastAPI, anon) -> None:
    """The document's claim checked against the app: a protected operation answers 401 without
    a token, a public one never does for lack of one."""
    spec = app.openapi()
    for path, method, op in operations(spec):
        if "{" in path or not path.startswith("/api/v1/"):
            continue
        r = await anon.request(method.upper(), path.removeprefix("/api/v1"), json={})
        if op.get("security") == []:
            body = r.json() if r.headers.get("content-type") == "application/json" else {}
            message = body.get("error", {}).get("message", "")
            assert message != "Authentication required.", (method, path)
        else:
            assert r.status_code == 401, (method, path, r.text)


def test_tags_start_with_costs_accounts_sync(app: FastAPI) -> None:
    spec = app.openapi()
    names = [t["name"] for t in spec["tags"]]
    assert names[:3] == ["costs", "cloud-accounts", "sync"]
    used = {tag for _p, _m, op in operations(spec) for tag in op.get("tags", [])}
    assert set(names) == used
    assert len(names) == len(set(names))


def test_every_operation_has_valid_request_and_response_examples(app: FastAPI) -> None:
    spec = app.openapi()
    checked = 0
    for path, method, op in operations(spec):
        where = f"{method.upper()} {path}"
        for media_type, media in op.get("requestBody", {}).get("content", {}).items():
            assert "example" in media, f"{where}: no request example ({media_type})"
            _validator(spec, media["schema"]).validate(media["example"])
            checked += 1
        for param in op.get("parameters", []):
            if param.get("required"):
                assert "example" in param, f"{where}: no example for {param['name']}"
                _validator(spec, param["schema"]).validate(param["example"])
        responses = op["responses"]
        with_body = [
            code for code, r in responses.items() if "application/json" in r.get("content", {})
        ]
        success = [c for c in responses if c.startswith("2")]
        assert success, where
        for code in with_body:
            media = responses[code]["content"]["application/json"]
            assert "example" in media, f"{where} {code}: no response example"
            try:
                _validator(spec, media["schema"]).validate(media["example"])
            except jsonschema.ValidationError as exc:
                raise AssertionError(f"{where} {code}: {exc.message}") from exc
            checked += 1
    assert checked > 500


def test_error_examples_name_their_code(app: FastAPI) -> None:
    spec = app.openapi()
    op = spec["paths"]["/api/v1/cloud-accounts"]["post"]
    conflict = op["responses"]["409"]["content"]["application/json"]["example"]
    assert conflict["error"]["code"] == "CLOUD_ACCOUNT_EXISTS"
    assert conflict["error"]["status"] == 409
    assert (
        op["responses"]["429"]["content"]["application/json"]["example"]["error"]["code"]
        == "RATE_LIMITED"
    )
    assert (
        op["responses"]["404"]["content"]["application/json"]["example"]["error"]["code"]
        == "NOT_FOUND"
    )


async def test_docs_page_and_assets_are_served_locally(anon) -> None:
    page = await anon.get("/docs")
    assert page.status_code == 200
    assert "http://" not in page.text
    assert "https://" not in page.text
    assert "/api/v1/docs/assets/swagger-ui-bundle.js" in page.text
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png"):
        r = await anon.get(f"/docs/assets/{asset}")
        assert r.status_code == 200, asset
        assert len(r.content) > 500
