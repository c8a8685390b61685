"""Exact numbers out: the API's amounts arrive as ``Decimal`` and leave as JSON numbers with the
same digits (int, or a float whose shortest form is those digits), or as a string in the rare
case a float cannot hold them (more than ~15 significant digits); never silently rounded."""

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any


def exact(value: Decimal) -> int | float | str:
    if value == value.to_integral_value() and abs(value) < 2**53:
        return int(value)
    as_float = float(value)
    if Decimal(repr(as_float)) == value:
        return as_float
    return str(value)


def plain(value: Any) -> Any:
    """``value`` with every Decimal made :func:`exact`, recursively."""
    if isinstance(value, Decimal):
        return exact(value)
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        return [plain(v) for v in value]
    return value


def decimal(value: Any) -> Decimal:
    """An amount from an API answer (Decimal, int, or None for nothing) as Decimal."""
    if value is None:
        return Decimal(0)
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int):
        return Decimal(value)
    raise TypeError(f"not an amount: {type(value).__name__}")


def as_object(value: Any) -> dict[str, Any]:
    """:func:`plain` of an API answer that is a JSON object (every tool's answer is one)."""
    result = plain(value)
    if not isinstance(result, dict):
        raise TypeError(f"expected a JSON object, got {type(result).__name__}")
    return result
