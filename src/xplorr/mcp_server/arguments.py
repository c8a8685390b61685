"""Tool arguments declared once for many tools: a frozen dataclass whose fields are the arguments
(typed and described with ``Annotated[..., Field(...)]``), taken by a tool as one parameter.

The SDK derives a tool's input schema from its signature and would offer a dataclass parameter
as one nested object argument (``{"filters": {...}}``). ``flat_arguments`` offers its fields
instead, each as an argument of its own where the parameter stands, with the field's type,
default and description; the tool receives them back as one instance. ``Annotated[Bundle,
Only(...)]`` or ``Without(...)`` offers part of the fields (the rest keep their defaults).
"""

import dataclasses
import functools
import inspect
import typing
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

R = TypeVar("R")


class _Pick:
    def __init__(self, *names: str) -> None:
        self.names = frozenset(names)

    def offers(self, name: str) -> bool:
        raise NotImplementedError


class Only(_Pick):
    """Offer only these fields of the bundle."""

    def offers(self, name: str) -> bool:
        return name in self.names


class Without(_Pick):
    """Offer every field of the bundle but these (the tool takes them as arguments of its own)."""

    def offers(self, name: str) -> bool:
        return name not in self.names


def _bundle_of(annotation: Any) -> tuple[type[Any] | None, _Pick | None]:
    """The dataclass a parameter takes, and which of its fields to offer (None: all)."""
    pick = None
    if typing.get_origin(annotation) is typing.Annotated:
        annotation, *metadata = typing.get_args(annotation)
        pick = next((m for m in metadata if isinstance(m, _Pick)), None)
    if isinstance(annotation, type) and dataclasses.is_dataclass(annotation):
        return annotation, pick
    return None, None


def flat_arguments(fn: Callable[..., Awaitable[R]]) -> Callable[..., Awaitable[R]]:
    """``fn`` with each dataclass parameter replaced by its (offered) fields as keyword
    arguments; ``fn`` itself unchanged when it takes no dataclass."""
    signature = inspect.signature(fn)
    hints = typing.get_type_hints(fn, include_extras=True)
    params: list[inspect.Parameter] = []
    bundles: dict[str, tuple[type[Any], tuple[str, ...]]] = {}
    for param in signature.parameters.values():
        annotation = hints.get(param.name, param.annotation)
        bundle, pick = _bundle_of(annotation)
        if bundle is None:
            # After a bundle every argument is keyword-only: its fields may lack a default.
            kind = inspect.Parameter.KEYWORD_ONLY if bundles else param.kind
            params.append(param.replace(kind=kind, annotation=annotation))
            continue
        fields = {f.name: f for f in dataclasses.fields(bundle)}
        if pick is not None and not pick.names <= fields.keys():
            unknown = ", ".join(sorted(pick.names - fields.keys()))
            raise TypeError(f"{fn.__name__}: {bundle.__name__} has no field {unknown}")
        offered = tuple(name for name in fields if pick is None or pick.offers(name))
        field_types = typing.get_type_hints(bundle, include_extras=True)
        for name in offered:
            default = fields[name].default
            params.append(
                inspect.Parameter(
                    name,
                    inspect.Parameter.KEYWORD_ONLY,
                    default=inspect.Parameter.empty if default is dataclasses.MISSING else default,
                    annotation=field_types[name],
                )
            )
        bundles[param.name] = (bundle, offered)
    if not bundles:
        return fn

    @functools.wraps(fn)
    async def call(*args: Any, **kwargs: Any) -> R:
        for name, (bundle, offered) in bundles.items():
            kwargs[name] = bundle(
                **{field: kwargs.pop(field) for field in offered if field in kwargs}
            )
        return await fn(*args, **kwargs)

    returns = hints.get("return", signature.return_annotation)
    call.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=params, return_annotation=returns
    )
    # The SDK reads the hints as well (to find the Context parameter): the flat ones.
    call.__annotations__ = {p.name: p.annotation for p in params}
    if returns is not inspect.Signature.empty:
        call.__annotations__["return"] = returns
    return call
