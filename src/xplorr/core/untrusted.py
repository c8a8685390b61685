"""Text and JSON from outside (request bodies, query strings, headers, credential fields, export
files), checked where they enter, once, by the same rules everywhere:

- text the database cannot store is refused: PostgreSQL text and JSONB hold no NUL character,
  and a lone UTF-16 surrogate (JSON ``"\\ud800"``) is not Unicode any driver can encode;
- JSON is parsed with a nesting cap (``MAX_JSON_DEPTH``): Python's own parser recurses once
  per level and fails with a ``RecursionError`` (a 500, or a retried job) on input nested a few
  thousand deep, which fits in a few kilobytes.

The parser is pydantic-core's (Rust, already a dependency): it stops at 200 levels by itself,
so the depth walk below never meets a structure deeper than that.
"""

import json
import re
from typing import Any

import pydantic_core

MAX_JSON_DEPTH = 32
"""Objects and arrays nested deeper than this are refused (the API's own bodies need 4)."""

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")

Path = tuple[str | int, ...]


class RefusedInput(ValueError):
    """Input refused by these checks. ``path`` locates it inside a JSON document (keys and
    indexes; empty for the document itself); the message never quotes the input."""

    def __init__(self, message: str, path: Path = ()) -> None:
        super().__init__(message)
        self.message = message
        self.path = path


def unstorable(text: str) -> str | None:
    """Why the database cannot store ``text`` (a sentence), or None when it can."""
    found = _UNSTORABLE.search(text)
    if found is None:
        return None
    if found.group() == "\x00":
        return "Must not contain a NUL character."
    return "Must be valid Unicode (it holds a lone surrogate)."


def check_json_value(value: Any, *, max_depth: int = MAX_JSON_DEPTH) -> None:
    """Refuse a parsed JSON value nested deeper than ``max_depth`` or holding text (keys
    included) the database cannot store; the first problem in document order is reported."""
    stack: list[tuple[Any, Path, int]] = [(value, (), 0)]
    while stack:
        item, path, depth = stack.pop()
        if isinstance(item, str):
            if problem := unstorable(item):
                raise RefusedInput(problem, path)
            continue
        if isinstance(item, dict):
            children: list[tuple[str | int, Any]] = []
            for key, child in item.items():
                if isinstance(key, str) and unstorable(key):
                    raise RefusedInput(
                        "A key must not contain a NUL character or a lone surrogate.", path
                    )
                children.append((key, child))
        elif isinstance(item, list):
            children = list(enumerate(item))
        else:
            continue
        if depth + 1 > max_depth:
            raise RefusedInput(f"Nested deeper than {max_depth} levels.", path)
        stack.extend((child, (*path, key), depth + 1) for key, child in reversed(children))


def parse_json(data: str | bytes, *, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """``json.loads`` for input from outside: malformed JSON, nesting deeper than
    ``max_depth`` and text the database cannot store are ``RefusedInput``."""
    if isinstance(data, bytes) and (encoding := json.detect_encoding(data)) != "utf-8":
        # What ``json.loads`` accepts too: a UTF-8 byte order mark, UTF-16 and UTF-32.
        try:
            data = data.decode(encoding)
        except UnicodeDecodeError:
            raise RefusedInput("Malformed JSON.") from None
    try:
        value = pydantic_core.from_json(data, cache_strings=False)
    except ValueError as exc:
        if "recursion limit" in str(exc):
            raise RefusedInput(f"Nested deeper than {max_depth} levels.") from None
        raise RefusedInput("Malformed JSON.") from None
    check_json_value(value, max_depth=max_depth)
    return value
