"""Query strings that say exactly what they mean: an unknown parameter or a single-valued one
given twice is a 422 naming it, never a silent 200 (a typo like ``?servcie=`` would otherwise
answer the whole bill).

Add :data:`StrictQuery` to a router's (or an operation's) dependencies; the parameters allowed
are read from the operation itself (every query parameter it and its dependencies declare, by
alias), so nothing is listed twice::

    router = APIRouter(prefix="/costs", dependencies=[StrictQuery])
"""

from collections import Counter
from typing import Final

from fastapi import Depends, Request
from fastapi._compat import ModelField, field_annotation_is_sequence
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from xplorr.core.errors import ValidationFailed

_CACHE_KEY: Final = "xplorr.strict_query"


def _query_params(dependant: Dependant) -> list[ModelField]:
    """The query parameters of ``dependant`` and of every dependency under it."""
    found = list(dependant.query_params)
    for sub in dependant.dependencies:
        found.extend(_query_params(sub))
    return found


def _declared(route: APIRoute) -> tuple[frozenset[str], frozenset[str]]:
    """(every query parameter's alias, those that take one value only) of ``route``."""
    cached: tuple[frozenset[str], frozenset[str]] | None = getattr(route, _CACHE_KEY, None)
    if cached is not None:
        return cached
    names: set[str] = set()
    single: set[str] = set()
    for param in _query_params(route.dependant):
        names.add(param.alias)
        if not field_annotation_is_sequence(param.field_info.annotation):
            single.add(param.alias)
    result = (frozenset(names), frozenset(single))
    setattr(route, _CACHE_KEY, result)
    return result


def strict_query(request: Request) -> None:
    """422 for a query parameter the operation does not declare, or a single-valued one
    repeated; the message names every such parameter and lists the allowed ones."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    allowed, single = _declared(route)
    given = [key for key, _ in request.query_params.multi_items()]
    unknown = sorted({key for key in given if key not in allowed})
    if unknown:
        allowed_text = ", ".join(sorted(allowed)) or "none"
        raise ValidationFailed(
            f"Unknown query parameter{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)}. "
            f"Allowed: {allowed_text}.",
            details=[
                {"field": key, "message": f"Unknown parameter. Allowed: {allowed_text}."}
                for key in unknown
            ],
        )
    repeated = sorted(key for key, count in Counter(given).items() if count > 1 and key in single)
    if repeated:
        raise ValidationFailed(
            f"Given more than once: {', '.join(repeated)} (each takes one value).",
            details=[{"field": key, "message": "Takes one value only."} for key in repeated],
        )


StrictQuery = Depends(strict_query)
