"""What the OpenAPI document says beyond FastAPI's defaults: the bearer security scheme (the docs'
Authorize button, and generated clients know the auth), tags in the order a new user needs them,
and an example for every request and response, generated from the schemas where no hand-written
one exists (a test validates every one against its schema).

Examples are built from the schema alone, deterministically: ``examples``/``default``/``enum``
first, then a plausible value by field name (``email``, ``currency``...) or format, clamped to the
declared bounds.
"""

import re
from collections.abc import Iterable, Mapping
from http import HTTPStatus
from typing import Any

BEARER_SCHEME = "bearerAuth"
HTTP_METHODS = frozenset({"get", "put", "post", "patch", "delete", "head", "options"})
_MAX_DEPTH = 8

_BY_NAME: dict[str, Any] = {
    "email": "ana@example.com",
    "user_email": "ana@example.com",
    "password": "correct-horse-battery-staple",
    "new_password": "correct-horse-battery-staple-2",
    "current_password": "correct-horse-battery-staple",
    "name": "Production",
    "organization_name": "Acme Inc.",
    "accountName": "Production",
    "currency": "USD",
    "provider_account_id": "123456789012",
    "accountId": "3fa85f64-5717-4562-b3fc-2c963f66afa6",
    "slug": "acme",
    "org_slug": "acme",
    "domain": "acme.example.com",
    "code": "123456",
    "token_type": "Bearer",
    "message": "Done.",
    "ip_address": "203.0.113.7",
    "key": "Amazon Elastic Compute Cloud",
    "service": "Amazon Elastic Compute Cloud",
    "region": "us-east-1",
    "prefix": "xplorr_AbC12",
    "token": "xplorr_4fRk2LmQ9zXc8VbN1hJt6YwP3sDg7KaE0uXq2b",
    "access_token": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c2VyIn0.c2lnbmF0dXJl",
    "refresh_token": "Qm9vdHN0cmFwIHJlZnJlc2ggdG9rZW4gZXhhbXBsZQ",
    "provider": "aws",
}
_BY_FORMAT: dict[str, str] = {
    "uuid": "3fa85f64-5717-4562-b3fc-2c963f66afa6",
    "date-time": "2026-12-01T09:30:00Z",
    "date": "2026-11-30",
    "email": "ana@example.com",
    "uri": "https://xplorr.example.com/",
    "ipv4": "203.0.113.7",
}
_PATTERN_CANDIDATES = ("example", "AbC123", "QUJD", "1", "a")


class _Builder:
    def __init__(self, spec: Mapping[str, Any]) -> None:
        self.schemas: Mapping[str, Any] = spec.get("components", {}).get("schemas", {})
        self.expanding: list[str] = []  # the $refs being built, outermost first

    def _recursive(self, schema: Mapping[str, Any]) -> bool:
        """Whether ``schema`` (or its items) refers back to a schema being built: a nested
        ``groups`` of a group, say, which the example leaves null rather than half-built."""
        for part in (schema, schema.get("items") or {}):
            if isinstance(part, Mapping) and part.get("$ref") in self.expanding:
                return True
        return False

    def resolve(self, schema: Mapping[str, Any]) -> Mapping[str, Any]:
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
            target: Mapping[str, Any] = self.schemas[ref.rsplit("/", 1)[1]]
            return target
        return schema

    def example(self, schema: Mapping[str, Any], name: str = "", depth: int = 0) -> Any:
        if schema.get("default") is not None:  # beside a $ref: the field's own default wins
            return schema["default"]
        ref = schema.get("$ref")
        if isinstance(ref, str):
            self.expanding.append(ref)
            try:
                return self.example(self.resolve(schema), name, depth)
            finally:
                self.expanding.pop()
        if schema.get("examples"):
            return schema["examples"][0]
        if "example" in schema:
            return schema["example"]
        if "const" in schema:
            return schema["const"]
        if schema.get("enum"):
            return schema["enum"][0]
        if schema.get("default") is not None:
            return schema["default"]
        for key in ("anyOf", "oneOf"):
            if key in schema:
                branches = [b for b in schema[key] if self.resolve(b).get("type") != "null"]
                nullable = len(branches) < len(schema[key])
                if not branches or (nullable and self._recursive(branches[0])):
                    return None
                return self.example(branches[0], name, depth)
        if "allOf" in schema:
            merged: dict[str, Any] = {}
            for part in schema["allOf"]:
                value = self.example(part, name, depth)
                if isinstance(value, dict):
                    merged.update(value)
                else:
                    return value
            return merged
        kind = schema.get("type")
        if isinstance(kind, list):
            kind = next((k for k in kind if k != "null"), None)
        if kind == "object" or "properties" in schema:
            return self._object(schema, depth)
        if kind == "array":
            return self._array(schema, name, depth)
        if kind == "string":
            return self._string(schema, name)
        if kind == "integer":
            return int(self._number(schema, 1))
        if kind == "number":
            return self._number(schema, 12.5)
        if kind == "boolean":
            return True
        if kind == "null":
            return None
        return {} if depth == 0 else "example"

    def _object(self, schema: Mapping[str, Any], depth: int) -> dict[str, Any]:
        if depth >= _MAX_DEPTH:
            return {}
        properties: Mapping[str, Any] = schema.get("properties", {})
        out = {key: self.example(sub, key, depth + 1) for key, sub in properties.items()}
        extra = schema.get("additionalProperties")
        patterns = schema.get("patternProperties")
        if not extra and isinstance(patterns, Mapping) and patterns:
            extra = next(iter(patterns.values()))  # a map keyed by any name matching a pattern
        if not properties and isinstance(extra, Mapping) and extra:
            out["example"] = self.example(extra, "example", depth + 1)
        return out

    def _array(self, schema: Mapping[str, Any], name: str, depth: int) -> list[Any]:
        if depth >= _MAX_DEPTH:
            return []
        items = schema.get("items", {})
        count = max(1, int(schema.get("minItems", 1)))
        if "maxItems" in schema:
            count = min(count, int(schema["maxItems"]))
        first = self.example(items, name.rstrip("s"), depth + 1)
        if self.resolve(items).get("format") == "uuid" and count > 1:
            return [first[:-1] + str(i % 10) for i in range(count)]
        return [first] * count

    def _string(self, schema: Mapping[str, Any], name: str) -> str:
        fmt = schema.get("format")
        if fmt == "date-time" and "expire" in name:
            return "2027-03-01T00:00:00Z"  # a request's expiry must lie ahead
        if isinstance(fmt, str) and fmt in _BY_FORMAT:
            return _BY_FORMAT[fmt]
        value = _BY_NAME.get(name)
        text = value if isinstance(value, str) else f"{name or 'example'}"
        lo, hi = int(schema.get("minLength", 0)), schema.get("maxLength")
        if len(text) < lo:
            text = text + "x" * (lo - len(text))
        if hi is not None and len(text) > int(hi):
            text = text[: int(hi)]
        pattern = schema.get("pattern")
        if pattern and not re.search(pattern, text):
            fits = [c for c in _PATTERN_CANDIDATES if re.search(pattern, c)]
            text = fits[0] if fits else text
        return text

    @staticmethod
    def _number(schema: Mapping[str, Any], preferred: float) -> float:
        value = preferred
        if "minimum" in schema:
            value = max(value, float(schema["minimum"]))
        if "exclusiveMinimum" in schema:
            value = max(value, float(schema["exclusiveMinimum"]) + 1)
        if "maximum" in schema:
            value = min(value, float(schema["maximum"]))
        if "exclusiveMaximum" in schema:
            value = min(value, float(schema["exclusiveMaximum"]) - 1)
        return value


def _error_example(status: str, description: str) -> dict[str, Any]:
    """The envelope for a documented error: its code named in the description (``... (CODE)``
    or ``CODE, OTHER_CODE``), else the HTTP status name."""
    parenthesized = re.search(r"\(([A-Z0-9_]{3,})\)", description)
    leading = re.match(r"([A-Z0-9_]{3,})(?:,|$)", description)
    found = parenthesized or leading
    code = found.group(1) if found else HTTPStatus(int(status)).name
    message = description if not leading else HTTPStatus(int(status)).phrase + "."
    body: dict[str, Any] = {"code": code, "message": message, "status": int(status)}
    if status == "422":
        body["details"] = [{"field": "name", "message": "Field required"}]
    return {"error": body}


def operations(spec: Mapping[str, Any]) -> Iterable[tuple[str, str, dict[str, Any]]]:
    for path, item in spec.get("paths", {}).items():
        for method, op in item.items():
            if method in HTTP_METHODS:
                yield path, method, op


def add_examples(spec: dict[str, Any]) -> None:
    """An ``example`` on every JSON request body, every JSON response and every required
    parameter that has none (hand-written examples, in the schema or the operation, win)."""
    build = _Builder(spec)
    for _path, _method, op in operations(spec):
        for param in op.get("parameters", []):
            if param.get("required") and "example" not in param and "examples" not in param:
                param["example"] = build.example(param.get("schema", {}), param.get("name", ""))
        body = op.get("requestBody", {}).get("content", {})
        for media in body.values():
            if "example" not in media and "examples" not in media and "schema" in media:
                media["example"] = build.example(media["schema"])
        for status, response in op.get("responses", {}).items():
            media = response.get("content", {}).get("application/json")
            if media is None or "example" in media or "examples" in media:
                continue
            ref = media.get("schema", {}).get("$ref", "")
            if ref.endswith("/ErrorEnvelope"):
                media["example"] = _error_example(status, response.get("description", ""))
            elif "schema" in media:
                media["example"] = build.example(media["schema"])


def add_bearer_security(spec: dict[str, Any], public: set[tuple[str, str]]) -> None:
    """Every operation needs ``Authorization: Bearer`` (an ``xplorr_`` API token or an access
    JWT) but those in ``public`` (``(METHOD, path)``), which declare no security."""
    components = spec.setdefault("components", {})
    components.setdefault("securitySchemes", {})[BEARER_SCHEME] = {
        "type": "http",
        "scheme": "bearer",
        "description": "An API token (`xplorr_...`, from POST /api/v1/tokens) or the access "
        "token from POST /api/v1/auth/login.",
    }
    spec["security"] = [{BEARER_SCHEME: []}]
    for path, method, op in operations(spec):
        if (method.upper(), path) in public:
            op["security"] = []


def order_tags(spec: dict[str, Any], first: Iterable[str], descriptions: Mapping[str, str]) -> None:
    """The top-level ``tags`` list (the docs show groups in its order): ``first``, then every
    other tag in the order its first operation appears."""
    seen: list[str] = []
    for _path, _method, op in operations(spec):
        for tag in op.get("tags", []):
            if tag not in seen:
                seen.append(tag)
    ordered = [t for t in first if t in seen] + [t for t in seen if t not in set(first)]
    spec["tags"] = [
        {"name": tag, **({"description": descriptions[tag]} if tag in descriptions else {})}
        for tag in ordered
    ]
