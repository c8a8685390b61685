"""A NUL in any string input of any operation is a 422 naming that input, before any endpoint
runs: every query, path and header parameter and every string in a JSON or form body of
``app.openapi()``. PostgreSQL stores no NUL in text or JSONB; before the check where requests
enter (``core.middleware``), login, forgot-password, resend-verification, SAML init and
metadata, and the audit list and export answered 500 there. New operations join by themselves.

Values around the NUL are left out or plain: the refusal comes first, whatever else the request
holds (a check inside one endpoint would answer something else for most of these)."""

import re
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import FastAPI

from tests.conftest import AppWith, asgi_client
from tests.factories.users import token_for
from xplorr.app import API_PREFIX
from xplorr.core.errors import field_name
from xplorr.users.models import User

NUL = "nul\x00here"
REFUSED = "Must not contain a NUL character."
_PARAM = re.compile(r"{([^}]+)}")
# The operations that answered 500 on PostgreSQL (the list); the walk must reach them.
WERE_500 = {
    ("POST", "/auth/login"),
    ("POST", "/auth/forgot-password"),
    ("POST", "/auth/resend-verification"),
    ("GET", "/auth/saml/init"),
    ("GET", "/auth/saml/metadata/{org_slug}"),
    ("GET", "/audit"),
    ("GET", "/audit/export"),
}

Where = tuple[str | int, ...]


def _resolve(schema: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = spec["components"]["schemas"][name]
    return schema


def _is_string(schema: dict[str, Any], spec: dict[str, Any]) -> bool:
    schema = _resolve(schema, spec)
    alternatives = schema.get("anyOf") or schema.get("oneOf") or [schema]
    return any(_resolve(alt, spec).get("type") == "string" for alt in alternatives)


def _string_leaves(schema: dict[str, Any], spec: dict[str, Any], at: Where = ()) -> Iterator[Where]:
    """Where a string can go in a body of this schema (a free-form object gets a key)."""
    schema = _resolve(schema, spec)
    for alt in schema.get("anyOf") or schema.get("oneOf") or []:
        yield from _string_leaves(alt, spec, at)
    kind = schema.get("type")
    if kind == "string":
        yield at
    elif kind == "array" and "items" in schema:
        yield from _string_leaves(schema["items"], spec, (*at, 0))
    elif kind == "object" or "properties" in schema:
        for name, sub in schema.get("properties", {}).items():
            yield from _string_leaves(sub, spec, (*at, name))
        if not schema.get("properties") and schema.get("additionalProperties", True) is not False:
            yield (*at, "someKey")


def _body_at(where: Where) -> Any:
    value: Any = NUL
    for key in reversed(where):
        value = [value] if isinstance(key, int) else {key: value}
    return value


def _fill(path: str, nul_in: str | None = None) -> str:
    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name == nul_in:
            return quote(NUL, safe="")
        return "no-such-slug" if name in {"org_slug", "token"} else str(uuid.uuid4())

    return _PARAM.sub(fill, path)


Case = tuple[str, str, str, dict[str, Any], str]  # method, template, what, request kwargs, field


def _cases(app: FastAPI) -> Iterator[Case]:
    spec = app.openapi()
    for template, item in spec["paths"].items():
        if not template.startswith(f"{API_PREFIX}/"):
            continue
        path = template.removeprefix(API_PREFIX)
        for method, op in item.items():
            method = method.upper()
            for param in op.get("parameters", []):
                if not _is_string(param.get("schema", {}), spec):
                    continue
                name, place = param["name"], param["in"]
                if place == "path":
                    yield method, path, f"path {name}", {"url": _fill(path, name)}, "path"
                elif place == "query":
                    kwargs = {"url": _fill(path), "params": {name: NUL}}
                    yield method, path, f"query {name}", kwargs, name
                elif place == "header":
                    kwargs = {"url": _fill(path), "headers": {name: NUL}}
                    yield method, path, f"header {name}", kwargs, name.lower()
            content = op.get("requestBody", {}).get("content", {})
            for media, body in content.items():
                for where in sorted(set(_string_leaves(body["schema"], spec)), key=str):
                    expected = field_name(("body", *where))
                    if media == "application/json":
                        kwargs = {"url": _fill(path), "json": _body_at(where)}
                    elif media == "text/csv":  # a whole body read as text (unit metrics' CSV)
                        assert where == (), (method, path, where)
                        kwargs = {
                            "url": _fill(path),
                            "content": f"name,value,date\nx{NUL},1,2024-01-01\n",
                            "headers": {"content-type": media},
                        }
                    else:
                        assert media == "application/x-www-form-urlencoded", (method, path)
                        assert len(where) == 1, (method, path, where)
                        kwargs = {
                            "url": _fill(path),
                            "content": urlencode({where[0]: NUL}),
                            "headers": {"content-type": media},
                        }
                    yield method, path, f"body {expected}", kwargs, expected


async def test_a_nul_in_any_string_input_is_422_naming_it(app_with: AppWith, owner: User) -> None:
    app = app_with(rate_limits_enabled=False)
    cases = list(_cases(app))
    assert len(cases) > 100  # the walk covers the API, not an empty document
    assert {(method, path) for method, path, *_ in cases} >= WERE_500
    failures = []
    async with asgi_client(app, peer="198.51.100.8") as client:
        client.headers["Authorization"] = f"Bearer {token_for(app, owner)}"
        for method, path, what, kwargs, field in cases:
            url = kwargs.pop("url")
            r = await client.request(method, url, **kwargs)
            details = r.json()["error"].get("details") if r.status_code >= 400 else None
            if r.status_code != 422 or details != [{"field": field, "message": REFUSED}]:
                failures.append((method, path, what, r.status_code, r.text[:200]))
    assert not failures, failures


async def test_a_lone_surrogate_in_a_json_body_is_422(app_with: AppWith) -> None:
    """``"\\ud800"`` decodes to text no driver can encode (SQLite and PostgreSQL alike)."""
    app = app_with(rate_limits_enabled=False)
    async with asgi_client(app) as client:
        r = await client.post(
            "/auth/login",
            content=b'{"email": "a@b.example", "password": "\\ud800xxxxxxxxxxxx"}',
            headers={"content-type": "application/json"},
        )
    assert r.status_code == 422
    assert r.json()["error"]["details"][0]["field"] in {"password", "body"}
