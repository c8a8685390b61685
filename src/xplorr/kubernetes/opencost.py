"""OpenCost's JSON (and Prometheus's instant-query answers, for rightsizing), as their APIs
answer and the collector posts them unchanged: parsed into
plain data, exactly (every number a ``Decimal`` read from its own digits), or refused with a
422 naming where in the document the problem is. No HTTP, no database.

Field names are OpenCost's own (opencost/opencost ``core/pkg/opencost``): ``AllocationJSON``
in ``allocation_json.go`` (``name``, ``properties``, ``window``, ``start``, ``end``,
``cpuCost``, ``gpuCost``, ``ramCost``, ``pvCost``, ``networkCost``, ``loadBalancerCost``,
``sharedCost``, ``externalCost``, ``totalCost``, the request/usage averages and efficiencies),
``AllocationProperties`` in ``allocationprops.go`` (``cluster``, ``node``, ``namespace``,
``controllerKind``, ``controller``, ``pod``, ``labels``...), and the assets of
``asset_json.go`` (``type``, ``properties{category, providerID, name...}``, ``labels``,
``nodeType``, ``pool``, ``cpuCost``, ``gpuCost``, ``ramCost``, ``adjustment``, ``totalCost``).
The envelope is ``{"code", "status", "data", "message"?}`` (``router.go`` ``WrapData``);
an allocation range's ``data`` is a list of name -> allocation maps, one per step.

Fields this module does not name are ignored (OpenCost adds fields between releases). OpenCost
writes NaN and Inf as ``null``: a null cost is read as 0, a null usage figure stays null. GPU
figures (``gpuCount``, ``gpuHours``, ``gpuRequestAverage``, ``gpuUsageAverage``, ``isGPUShared``)
are read at the top level (releases up to 2024) and from the ``gpuAllocation`` object that later
releases write instead (``allocation_json.go`` at 1ea64d02 tags the top-level pair ``json:"-"``).
"""

import json
import zlib
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from xplorr.core import untrusted
from xplorr.core.errors import ValidationFailed, field_name

# The costs an allocation carries besides totalCost: OpenCost's JSON name -> our column.
ALLOCATION_COSTS: Final = {
    "cpuCost": "cpu_cost",
    "gpuCost": "gpu_cost",
    "ramCost": "ram_cost",
    "pvCost": "pv_cost",
    "networkCost": "network_cost",
    "loadBalancerCost": "load_balancer_cost",
    "sharedCost": "shared_cost",
    "externalCost": "external_cost",
}
# Usage figures kept as posted (rightsizing and efficiency read them; never money).
ALLOCATION_USAGE: Final = (
    "minutes",
    "cpuCores",
    "cpuCoreRequestAverage",
    "cpuCoreLimitAverage",
    "cpuCoreUsageAverage",
    "cpuEfficiency",
    "gpuCount",
    "gpuHours",
    "gpuEfficiency",
    # Top level in 2024's releases (``allocation_json.go`` at 5f6533); later releases write
    # them inside ``gpuAllocation`` instead (read by :func:`_gpu_allocation`). The usage is
    # the window's average of DCGM_FI_PROF_GR_ENGINE_ACTIVE, "a float between 0-1"
    # (``pkg/costmodel/allocation.go`` and ``allocation_helpers.go``); the request, GPUs.
    "gpuRequestAverage",
    "gpuUsageAverage",
    "ramBytes",
    "ramByteRequestAverage",
    "ramByteLimitAverage",
    "ramByteUsageAverage",
    "ramEfficiency",
    "totalEfficiency",
)
GPU_ALLOCATION_USAGE: Final = ("gpuRequestAverage", "gpuUsageAverage")
ASSET_COSTS: Final = {"cpuCost": "cpu_cost", "gpuCost": "gpu_cost", "ramCost": "ram_cost"}
IDLE: Final = "__idle__"
MAX_INFLATED_BYTES: Final = 64 * 1024 * 1024
MAX_AMOUNT: Final = Decimal("1e15")  # far beyond any cluster-day; keeps Money's 38 digits safe
# A step-1d window, with an hour to spare for a day that has 25 hours (DST in OpenCost's zone).
MAX_WINDOW: Final = timedelta(hours=25)
_NAME_MAX: Final = 2000


@dataclass(frozen=True, slots=True)
class Allocation:
    day: date
    name: str
    idle: bool
    namespace: str | None
    controller_kind: str | None
    controller: str | None
    pod: str | None
    node: str | None
    labels: dict[str, str] | None
    costs: dict[str, Decimal]  # column -> amount (ALLOCATION_COSTS' columns)
    total_cost: Decimal
    usage: dict[str, str | None]


@dataclass(frozen=True, slots=True)
class Asset:
    name: str
    type: str
    category: str | None
    provider_id: str | None
    node_type: str | None
    pool: str | None
    labels: dict[str, str] | None
    costs: dict[str, Decimal | None]  # column -> amount (ASSET_COSTS' columns and adjustment)
    total_cost: Decimal


Where = tuple[str | int, ...]


def _refuse(where: Where, message: str) -> ValidationFailed:
    return ValidationFailed.on(field_name(("body", *where)), message)


def inflate(body: bytes, encoding: str | None) -> bytes:
    """The body as sent, or inflated (``gzip``, ``deflate``), at most ``MAX_INFLATED_BYTES``:
    a small compressed body cannot expand into all the memory there is."""
    coding = (encoding or "identity").strip().lower()
    if coding == "identity":
        return body
    if coding not in {"gzip", "x-gzip", "deflate"}:
        raise ValidationFailed.on(
            "content-encoding", "Send the body as is, or compressed with gzip or deflate."
        )
    inflater = zlib.decompressobj(zlib.MAX_WBITS | 32 if "gzip" in coding else zlib.MAX_WBITS)
    try:
        out = inflater.decompress(body, MAX_INFLATED_BYTES + 1)
    except zlib.error:
        raise ValidationFailed.on("body", f"Not valid {coding} data.") from None
    if len(out) > MAX_INFLATED_BYTES or inflater.unconsumed_tail:
        mib = MAX_INFLATED_BYTES // (1024 * 1024)
        raise ValidationFailed.on("body", f"Inflates to more than {mib} MiB.")
    if not inflater.eof:
        raise ValidationFailed.on("body", f"Truncated {coding} data.")
    return out


def _no_constants(name: str) -> Any:
    raise ValueError(name)


def load(body: bytes) -> Any:
    """The JSON document, numbers as exact decimals; malformed, too deep or unstorable text is
    refused (``core.untrusted``'s rules)."""
    if not body.strip():
        raise ValidationFailed.on("body", "Empty body: post OpenCost's JSON answer.")
    try:
        text = body.decode(json.detect_encoding(body))
        value = json.loads(
            text, parse_float=Decimal, parse_int=Decimal, parse_constant=_no_constants
        )
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise ValidationFailed.on("body", "Malformed JSON body.") from None
    try:
        untrusted.check_json_value(value)
    except untrusted.RefusedInput as exc:
        raise _refuse(exc.path, exc.message) from None
    return value


def _envelope(doc: Any) -> Any:
    if not isinstance(doc, dict) or "data" not in doc:
        raise _refuse((), 'Expected OpenCost\'s answer: an object with "data".')
    code = doc.get("code")
    if code is not None and code != Decimal(200):
        message = doc.get("message")
        said = f": {message[:200]}" if isinstance(message, str) and message else ""
        raise _refuse(("code",), f"OpenCost answered code {code}{said}; nothing was stored.")
    return doc["data"]


def _amount(value: Any, where: Where, *, nullable: bool = False) -> Decimal | None:
    if value is None:
        return None if nullable else Decimal(0)
    if isinstance(value, bool) or not isinstance(value, Decimal):
        raise _refuse(where, "Must be a number or null.")
    if not value.is_finite() or abs(value) >= MAX_AMOUNT:
        raise _refuse(where, "Must be a finite number below 1e15 in magnitude.")
    return value


def _text(value: Any, where: Where, limit: int) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise _refuse(where, "Must be a string.")
    if len(value) > limit:
        raise _refuse(where, f"Must be at most {limit} characters.")
    return value


def _labels(value: Any, where: Where) -> dict[str, str] | None:
    if value is None:
        return None
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise _refuse(where, "Must be an object of strings.")
    return dict(value) or None


def _time(value: Any, where: Where) -> datetime:
    if not isinstance(value, str):
        raise _refuse(where, "Must be an RFC 3339 time.")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise _refuse(where, "Must be an RFC 3339 time.") from None
    if parsed.tzinfo is None:
        raise _refuse(where, "Must carry its offset (Z or +hh:mm).")
    return parsed


def _window(item: dict[str, Any], where: Where) -> date:
    """The day of an allocation: its window's start date in OpenCost's own offset (a step-1d
    window is one day of the zone OpenCost runs in, UTC by default)."""
    raw_window = item.get("window")
    window: dict[str, Any] = raw_window if isinstance(raw_window, dict) else {}
    start_raw = item.get("start", window.get("start"))
    end_raw = item.get("end", window.get("end"))
    start = _time(start_raw, (*where, "start"))
    end = _time(end_raw, (*where, "end"))
    if end <= start or end - start > MAX_WINDOW:
        raise _refuse(
            (*where, "end"), "Each allocation must cover one day at most: query with step=1d."
        )
    return start.date()


def _gpu_allocation(value: Any, where: Where, out: dict[str, str | None]) -> None:
    """OpenCost's ``gpuAllocation`` object (``{gpuRequestAverage, gpuUsageAverage,
    isGPUShared, gpuDevice?, gpuModel?...}``, null without a GPU): its figures, which replace
    the top-level ones older releases wrote; ``isGPUShared`` kept as ``true``/``false``."""
    if value is None:
        return
    if not isinstance(value, dict):
        raise _refuse(where, "Must be an object or null.")
    for key in GPU_ALLOCATION_USAGE:
        if key in value:
            figure = _amount(value[key], (*where, key), nullable=True)
            out[key] = None if figure is None else str(figure)
    shared = value.get("isGPUShared")
    if shared is not None:
        if not isinstance(shared, bool):
            raise _refuse((*where, "isGPUShared"), "Must be true, false or null.")
        out["isGPUShared"] = "true" if shared else "false"


def _usage(item: dict[str, Any], where: Where) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for key in ALLOCATION_USAGE:
        if key in item:
            value = _amount(item[key], (*where, key), nullable=True)
            out[key] = None if value is None else str(value)
    _gpu_allocation(item.get("gpuAllocation"), (*where, "gpuAllocation"), out)
    return out


def allocations(doc: Any) -> list[Allocation]:
    """Every allocation of an ``/allocation`` answer (``accumulate=false``: one map per step;
    one map is accepted too). The same name twice on one day is refused: the collector's
    query has one step per day."""
    data = _envelope(doc)
    steps = [data] if isinstance(data, dict) else data
    if not isinstance(steps, list):
        raise _refuse(("data",), "Must be a list of name -> allocation maps (one per step).")
    out: list[Allocation] = []
    seen: set[tuple[date, str]] = set()
    for i, step in enumerate(steps):
        if step is None:
            continue
        if not isinstance(step, dict):
            raise _refuse(("data", i), "Must be a map of allocation name -> allocation.")
        for key, item in step.items():
            where: Where = ("data", i, key)
            if not isinstance(item, dict):
                raise _refuse(where, "Must be an allocation object.")
            name = item.get("name", key)
            if not isinstance(name, str) or not name or len(name) > _NAME_MAX:
                raise _refuse((*where, "name"), f"Must be a name of 1 to {_NAME_MAX} characters.")
            props = item.get("properties") or {}
            if not isinstance(props, dict):
                raise _refuse((*where, "properties"), "Must be an object.")
            day = _window(item, where)
            if (day, name) in seen:
                raise _refuse(
                    where, f"{day.isoformat()} holds this allocation twice: query with step=1d."
                )
            seen.add((day, name))
            p: Where = (*where, "properties")
            out.append(
                Allocation(
                    day=day,
                    name=name,
                    idle=IDLE in name.split("/"),
                    namespace=_text(props.get("namespace"), (*p, "namespace"), 253),
                    controller_kind=_text(props.get("controllerKind"), (*p, "controllerKind"), 100),
                    controller=_text(props.get("controller"), (*p, "controller"), 253),
                    pod=_text(props.get("pod"), (*p, "pod"), 253),
                    node=_text(props.get("node"), (*p, "node"), 253),
                    labels=_labels(props.get("labels"), (*p, "labels")),
                    costs={
                        column: _amount(item.get(field), (*where, field)) or Decimal(0)
                        for field, column in ALLOCATION_COSTS.items()
                    },
                    total_cost=_amount(item.get("totalCost"), (*where, "totalCost")) or Decimal(0),
                    usage=_usage(item, where),
                )
            )
    return out


def assets(doc: Any) -> list[Asset]:
    """Every asset of an ``/assets`` answer: ``data`` a key -> asset map (or a list of them)."""
    data = _envelope(doc)
    sets = [data] if isinstance(data, dict) else data
    if not isinstance(sets, list):
        raise _refuse(("data",), "Must be a map of asset key -> asset.")
    out: dict[str, Asset] = {}
    for i, assets_map in enumerate(sets):
        if assets_map is None:
            continue
        if not isinstance(assets_map, dict):
            raise _refuse(("data", i), "Must be a map of asset key -> asset.")
        for key, item in assets_map.items():
            where: Where = ("data", key) if isinstance(data, dict) else ("data", i, key)
            if not isinstance(item, dict):
                raise _refuse(where, "Must be an asset object.")
            if len(key) > _NAME_MAX:
                raise _refuse(where, f"An asset key is at most {_NAME_MAX} characters.")
            kind = _text(item.get("type"), (*where, "type"), 50) or "Unknown"
            props = item.get("properties") or {}
            if not isinstance(props, dict):
                raise _refuse((*where, "properties"), "Must be an object.")
            p: Where = (*where, "properties")
            costs: dict[str, Decimal | None] = {
                column: _amount(item.get(field), (*where, field), nullable=True)
                for field, column in ASSET_COSTS.items()
            }
            costs["adjustment"] = _amount(
                item.get("adjustment"), (*where, "adjustment"), nullable=True
            )
            out[key] = Asset(
                name=key,
                type=kind,
                category=_text(props.get("category"), (*p, "category"), 100),
                provider_id=_text(props.get("providerID"), (*p, "providerID"), _NAME_MAX),
                node_type=_text(item.get("nodeType"), (*where, "nodeType"), 200),
                pool=_text(item.get("pool"), (*where, "pool"), 253),
                labels=_labels(item.get("labels"), (*where, "labels")),
                costs=costs,
                total_cost=_amount(item.get("totalCost"), (*where, "totalCost")) or Decimal(0),
            )
    return list(out.values())


def parse_day(value: str | None) -> date:
    """The ``date`` query parameter of an assets post."""
    if value is None:
        raise ValidationFailed.on("date", "Required: the day of these assets (YYYY-MM-DD).")
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise ValidationFailed.on("date", "Not a calendar date (YYYY-MM-DD).") from None
    if len(value) != 10:
        raise ValidationFailed.on("date", "Use the YYYY-MM-DD form.")
    return day


# --- Prometheus (the collector's optional usage posts) ---------------------------------------

USAGE_METRICS: Final = (
    "cpu_p50",
    "cpu_p95",
    "cpu_max",
    "memory_p95",
    "memory_max",
    "cpu_request",
    "cpu_limit",
    "memory_request",
    "memory_limit",
)


@dataclass(frozen=True, slots=True)
class Sample:
    namespace: str
    pod: str
    container: str
    value: Decimal


def prometheus_vector(doc: Any) -> list[Sample]:
    """A Prometheus ``/api/v1/query`` answer (``{"status": "success", "data": {"resultType":
    "vector", "result": [{"metric": {...}, "value": [<time>, "<number>"]}]}}``): one sample per
    series labelled ``namespace``, ``pod`` and ``container``; series without them, and NaN or
    infinite values, are skipped (Prometheus answers them for containers that did not run)."""
    if not isinstance(doc, dict) or doc.get("status") != "success":
        raise _refuse(("status",), 'Expected a Prometheus answer with status "success".')
    data = doc.get("data")
    if not isinstance(data, dict) or data.get("resultType") != "vector":
        raise _refuse(("data", "resultType"), "Must be an instant query's vector.")
    result = data.get("result")
    if not isinstance(result, list):
        raise _refuse(("data", "result"), "Must be a list of series.")
    out: dict[tuple[str, str, str], Sample] = {}
    for i, series in enumerate(result):
        where: Where = ("data", "result", i)
        if not isinstance(series, dict) or not isinstance(series.get("metric"), dict):
            raise _refuse(where, "Must be a series with metric labels.")
        labels = series["metric"]
        value = series.get("value")
        if not isinstance(value, list) or len(value) != 2 or not isinstance(value[1], str):
            raise _refuse((*where, "value"), 'Must be [<time>, "<number>"].')
        try:
            number = Decimal(value[1])
        except InvalidOperation:
            raise _refuse((*where, "value"), "Not a number.") from None
        keys = [labels.get(k) for k in ("namespace", "pod", "container")]
        if not number.is_finite() or not all(isinstance(k, str) and k for k in keys):
            continue
        namespace, pod, container = (str(k)[:253] for k in keys)
        if abs(number) >= MAX_AMOUNT * 1_000_000:  # bytes: up to 1e21
            raise _refuse((*where, "value"), "Out of range.")
        out[(namespace, pod, container)] = Sample(namespace, pod, container, number)
    return list(out.values())
