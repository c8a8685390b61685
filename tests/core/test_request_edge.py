"""What every request passes where it enters (``core.middleware``) and how errors echo input:
headers over 16 KiB are 431, JSON nested too deep or malformed is 422 ``field: "body"``, a JSON
field that holds JSON (GCP ``keyfileJson``) is parsed with the same cap, NUL in a header is
refused, and what an error repeats of the input (an unknown key, a path) is cut short."""

import json

import httpx
import pytest

from tests.conftest import ClientFor
from xplorr.core import untrusted
from xplorr.core.errors import MAX_FIELD, MAX_MESSAGE, validation_details
from xplorr.core.middleware import MAX_HEADER_BYTES
from xplorr.users.models import User


async def test_headers_over_the_cap_are_431(anon: httpx.AsyncClient) -> None:
    r = await anon.get("/auth/me", headers={"x-padding": "a" * MAX_HEADER_BYTES})
    assert r.status_code == 431
    assert r.json()["error"]["code"] == "REQUEST_HEADER_FIELDS_TOO_LARGE"
    assert r.headers["x-request-id"]
    under = await anon.get("/auth/me", headers={"x-padding": "a" * (MAX_HEADER_BYTES // 2)})
    assert under.status_code == 401  # the endpoint's own answer


async def test_a_nul_in_a_header_is_422(anon: httpx.AsyncClient) -> None:
    r = await anon.get("/auth/me", headers={"user-agent": "curl\x00/8"})
    assert r.status_code == 422
    assert r.json()["error"]["details"] == [
        {"field": "user-agent", "message": "Must not contain a NUL character."}
    ]


def _nested(levels: int) -> object:
    value: object = []
    for _ in range(levels - 1):
        value = [value]
    return value


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        (b'{"email": "a@b.example", "password": ', "body", "Malformed JSON body."),
        (b"[" * 100_000 + b"]" * 100_000, "body", "Nested deeper than 32 levels."),
        (
            json.dumps({"email": "a@b.example", "password": _nested(32)}).encode(),
            "password." + ".".join(["0"] * 31),
            "Nested deeper than 32 levels.",
        ),
    ],
    ids=["malformed", "nested-100000", "nested-33"],
)
async def test_malformed_or_deep_json_bodies_are_422(
    anon: httpx.AsyncClient, body: bytes, field: str, message: str
) -> None:
    r = await anon.post("/auth/login", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 422
    assert r.json()["error"]["details"] == [{"field": field, "message": message}]


async def test_json_at_the_depth_cap_reaches_the_endpoint(anon: httpx.AsyncClient) -> None:
    body = {"email": "a@b.example", "password": _nested(31)}
    r = await anon.post("/auth/login", json=body)
    assert r.status_code == 422
    assert r.json()["error"]["details"][0]["field"] == "password"  # pydantic's: not a string


def test_the_parser_caps_depth_and_refuses_unstorable_text() -> None:
    assert untrusted.parse_json('{"a": [1, {"b": "c"}]}') == {"a": [1, {"b": "c"}]}
    deep = "[" * untrusted.MAX_JSON_DEPTH + "]" * untrusted.MAX_JSON_DEPTH
    assert untrusted.parse_json(deep)  # exactly at the cap
    for text, message in [
        ("[" * 33 + "]" * 33, "Nested deeper than 32 levels."),
        ('{"a":' * 50_000 + "1" + "}" * 50_000, "Nested deeper than 32 levels."),
        ('{"a": {"b": "x\\u0000"}}', "Must not contain a NUL character."),
        ('{"a\\u0000": 1}', "A key must not contain a NUL character or a lone surrogate."),
        ('{"a": ', "Malformed JSON."),
    ]:
        with pytest.raises(untrusted.RefusedInput) as caught:
            untrusted.parse_json(text)
        assert caught.value.message == message, text[:40]
    with pytest.raises(untrusted.RefusedInput) as caught:
        untrusted.parse_json('{"a": {"b": "x\\u0000"}}')
    assert caught.value.path == ("a", "b")
    # What json.loads reads, this reads: a byte order mark, UTF-16.
    assert untrusted.parse_json(b"\xef\xbb\xbf{}") == {}
    assert untrusted.parse_json('{"a": "\u00e9"}'.encode("utf-16")) == {"a": "\u00e9"}


async def test_a_gcp_key_file_nested_50000_deep_is_422(client_for: ClientFor, admin: User) -> None:
    keyfile = '{"a":' * 50_000 + "1" + "}" * 50_000
    r = await client_for(admin).post(
        "/cloud-accounts",
        json={
            "provider": "gcp",
            "name": "GCP prod",
            "provider_account_id": "my-project-123",
            "credentials": {"projectId": "my-project-123", "keyfileJson": keyfile},
        },
    )
    assert r.status_code == 422, r.text
    [detail] = r.json()["error"]["details"]
    assert detail["field"] == "credentials.keyfileJson"
    assert "nested deeper than 32 levels" in detail["message"]


async def test_an_unknown_credentials_key_is_not_repeated_at_length(
    client_for: ClientFor, admin: User
) -> None:
    key = "k" * 20_000
    r = await client_for(admin).post(
        "/cloud-accounts",
        json={
            "provider": "demo",
            "name": "Demo",
            "provider_account_id": "demo-1",
            "credentials": {key: 1},
        },
    )
    assert r.status_code == 422
    error = r.json()["error"]
    [detail] = error["details"]
    assert detail["message"] == "Unknown key for this provider."
    assert detail["field"].startswith("credentials.kkkk")
    assert len(detail["field"]) <= MAX_FIELD
    assert "k" * 100 not in r.text


async def test_a_long_path_is_cut_short_in_the_404(anon: httpx.AsyncClient) -> None:
    r = await anon.get("/" + "x" * 5000)
    assert r.status_code == 404
    message = r.json()["error"]["message"]
    assert len(message) < 200
    assert message.endswith("\u2026.")
    assert len(r.json()["error"]["message"]) <= MAX_MESSAGE


def test_fastapis_malformed_json_error_names_the_body() -> None:
    """FastAPI locates a JSON syntax error as ("body", <character offset>): not a field."""
    error = {"type": "json_invalid", "loc": ("body", 17), "msg": "JSON decode error"}
    assert validation_details([error]) == [{"field": "body", "message": "Malformed JSON body."}]
