"""OpenCost as the collector sees it: its JSON, field for field (opencost/opencost
``core/pkg/opencost/allocation_json.go`` AllocationJSON, ``allocationprops.go``, ``asset_json.go``,
the ``{"code", "status", "data"}`` envelope of ``WrapData``), and a local HTTP server answering
``GET /allocation`` and ``GET /assets`` with it, recording what it was asked."""

import json
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse


def _window(day: date) -> dict[str, str]:
    nxt = day + timedelta(days=1)
    return {"start": f"{day.isoformat()}T00:00:00Z", "end": f"{nxt.isoformat()}T00:00:00Z"}


@dataclass(frozen=True)
class Gpu:
    """A pod's GPU day: ``count`` GPUs held ``hours`` (of the day's 24), costing ``cost``,
    the engine active ``usage`` (0-1 per GPU, summed over containers; None: not reported)."""

    count: str = "1"
    hours: str = "24"
    cost: str = "0"
    usage: str | None = None
    shared: bool | None = False
    legacy: bool = False

    def fields(self) -> dict[str, Any]:
        count, hours = Decimal(self.count), Decimal(self.hours)
        usage = None if self.usage is None else Decimal(self.usage)
        out: dict[str, Any] = {
            "minutes": hours * 60,
            "gpuCount": count,
            "gpuHours": count * hours,
            "gpuCost": Decimal(self.cost),
            "gpuEfficiency": Decimal(0) if usage is None else usage / count,
        }
        if self.legacy:  # OpenCost wrote 0, not null, without DCGM data
            return out | {"gpuRequestAverage": count, "gpuUsageAverage": usage or Decimal(0)}
        return out | {
            "gpuAllocation": {
                "gpuRequestAverage": count,
                "gpuUsageAverage": usage,
                "isGPUShared": self.shared,
            }
        }


def allocation(
    day: date,
    *,
    namespace: str | None,
    pod: str | None,
    total: str,
    controller_kind: str | None = "deployment",
    controller: str | None = None,
    node: str | None = "node-a",
    labels: dict[str, str] | None = None,
    name: str | None = None,
    cpu: str = "0",
    ram: str = "0",
    gpu: Gpu | None = None,
) -> dict[str, Any]:
    """One AllocationJSON (aggregate namespace,controllerKind,controller,pod), every field
    OpenCost writes; numbers are Decimals (written with their exact digits). With ``gpu``: the
    GPU figures, in ``gpuAllocation`` as current OpenCost writes them (``allocation_json.go``
    at 1ea64d02), or at the top level as 2024's releases did (``gpu.legacy``)."""
    controller = controller if controller is not None else (pod or "x").rsplit("-", 1)[0]
    props: dict[str, Any] = {"cluster": "prod", "providerID": f"i-{node}"}
    for key, value in (
        ("namespace", namespace),
        ("controllerKind", controller_kind),
        ("controller", controller),
        ("pod", pod),
        ("node", node),
        ("labels", labels),
    ):
        if value:
            props[key] = value
    window = _window(day)
    zero = Decimal(0)
    return {
        "name": name
        or "/".join([namespace or "", controller_kind or "", controller or "", pod or ""]),
        "properties": props,
        "window": window,
        "start": window["start"],
        "end": window["end"],
        "minutes": Decimal(1440),
        "cpuCores": Decimal("0.5"),
        "cpuCoreRequestAverage": Decimal("0.5"),
        "cpuCoreLimitAverage": Decimal(1),
        "cpuCoreUsageAverage": Decimal("0.12345"),
        "cpuCoreHours": Decimal(12),
        "cpuCost": Decimal(cpu),
        "cpuCostAdjustment": zero,
        "cpuCostIdle": zero,
        "cpuEfficiency": Decimal("0.2469"),
        "gpuCount": zero,
        "gpuHours": zero,
        "gpuCost": zero,
        "gpuCostAdjustment": zero,
        "gpuCostIdle": zero,
        "gpuEfficiency": zero,
        "networkTransferBytes": zero,
        "networkReceiveBytes": zero,
        "networkCost": zero,
        "networkCrossZoneCost": zero,
        "networkCrossRegionCost": zero,
        "networkInternetCost": zero,
        "networkCostAdjustment": zero,
        "loadBalancerCost": zero,
        "loadBalancerCostAdjustment": zero,
        "pvBytes": zero,
        "pvByteHours": zero,
        "pvCost": zero,
        "pvs": None,
        "pvCostAdjustment": zero,
        "ramBytes": Decimal(536870912),
        "ramByteRequestAverage": Decimal(536870912),
        "ramByteLimitAverage": Decimal(1073741824),
        "ramByteUsageAverage": Decimal(201326592),
        "ramByteHours": Decimal(12884901888),
        "ramCost": Decimal(ram),
        "ramCostAdjustment": zero,
        "ramCostIdle": zero,
        "ramEfficiency": None,  # NaN, as OpenCost writes it
        "externalCost": zero,
        "sharedCost": zero,
        "totalCost": Decimal(total),
        "totalEfficiency": None,
        "proportionalAssetResourceCosts": {},
        "lbAllocations": None,
        "sharedCostBreakdown": {},
        "gpuAllocation": None,
    } | (gpu.fields() if gpu is not None else {})


def idle(day: date, total: str) -> dict[str, Any]:
    item = allocation(
        day, namespace=None, pod=None, controller_kind=None, controller="", total=total
    )
    item["name"] = "__idle__"
    item["properties"] = {"cluster": "prod"}
    return item


def envelope(data: Any) -> dict[str, Any]:
    return {"code": 200, "status": "success", "data": data}


def allocation_range(days: list[list[dict[str, Any]]]) -> dict[str, Any]:
    """``/allocation?...&step=1d&accumulate=false``: one name -> allocation map per day."""
    return envelope([{a["name"]: a for a in day} for day in days])


def asset_set(day: date, nodes: dict[str, str]) -> dict[str, Any]:
    """``/assets?window=<day>``: key -> asset (Node and Disk types)."""
    window = _window(day)
    data: dict[str, Any] = {}
    for name, total in nodes.items():
        data[f"prod/{name}"] = {
            "type": "Node",
            "properties": {
                "category": "Compute",
                "provider": "AWS",
                "service": "Kubernetes",
                "cluster": "prod",
                "name": name,
                "providerID": f"i-{name}",
            },
            "labels": {"node_kubernetes_io_instance_type": "m5.large"},
            "window": window,
            "start": window["start"],
            "end": window["end"],
            "minutes": Decimal(1440),
            "nodeType": "m5.large",
            "pool": "general",
            "cpuCores": Decimal(2),
            "ramBytes": Decimal(8589934592),
            "cpuCoreHours": Decimal(48),
            "ramByteHours": Decimal(206158430208),
            "GPUHours": Decimal(0),
            "cpuBreakdown": {"idle": Decimal("0.5"), "other": 0, "system": 0, "user": 0},
            "ramBreakdown": {"idle": Decimal("0.5"), "other": 0, "system": 0, "user": 0},
            "preemptible": Decimal(0),
            "discount": Decimal(0),
            "cpuCost": Decimal(total) / 2,
            "gpuCost": Decimal(0),
            "gpuCount": Decimal(0),
            "ramCost": Decimal(total) / 2,
            "adjustment": Decimal(0),
            "totalCost": Decimal(total),
        }
    data["prod/disk-1"] = {
        "type": "Disk",
        "properties": {"category": "Storage", "cluster": "prod", "name": "disk-1"},
        "labels": {},
        "window": window,
        "start": window["start"],
        "end": window["end"],
        "minutes": Decimal(1440),
        "byteHours": Decimal(0),
        "bytes": Decimal(0),
        "byteHoursUsed": None,
        "byteUsageMax": None,
        "breakdown": {"idle": 0, "other": 0, "system": 0, "user": 0},
        "adjustment": Decimal(0),
        "totalCost": Decimal("0.12"),
        "storageClass": "gp3",
        "volumeName": "pvc-1",
        "claimName": "data",
        "claimNamespace": "shop",
    }
    return envelope(data)


_MARK = "\x01decimal:"
_MARKED = re.compile(r'"\\u0001decimal:(-?[0-9.]+)"')


def _mark(o: Any) -> Any:
    if isinstance(o, Decimal):
        return _MARK + format(o, "f")
    raise TypeError(type(o).__name__)


def dumps(doc: Any) -> bytes:
    """The document as OpenCost writes it: numbers with their exact digits."""
    return _MARKED.sub(r"\1", json.dumps(doc, default=_mark)).encode()


@dataclass
class FakeOpenCost:
    url: str
    allocation_doc: dict[str, Any]
    assets_docs: dict[str, dict[str, Any]]  # YYYY-MM-DD -> /assets answer
    requests: list[tuple[str, dict[str, list[str]]]] = field(default_factory=list)
    # Prometheus's /api/v1/query on the same server: PromQL -> its answer (None: no server).
    prometheus: Callable[[str], dict[str, Any]] | None = None


@contextmanager
def opencost_server(
    allocation_doc: dict[str, Any],
    assets_docs: dict[str, dict[str, Any]],
    prometheus: Callable[[str], dict[str, Any]] | None = None,
) -> Iterator[FakeOpenCost]:
    """OpenCost's API on a free local port: ``/allocation`` answers ``allocation_doc``,
    ``/assets?window=<day>T00:00:00Z,...`` the day's document (404 for a day without one, as
    an OpenCost without the Assets API would)."""
    fake = FakeOpenCost("", allocation_doc, assets_docs, prometheus=prometheus)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urlparse(self.path)
            query = parse_qs(url.query)
            fake.requests.append((url.path, query))
            body: bytes | None = None
            if url.path == "/allocation":
                body = dumps(fake.allocation_doc)
            elif url.path == "/api/v1/query" and fake.prometheus is not None:
                body = dumps(fake.prometheus(query["query"][0]))
            elif url.path == "/assets":
                day = query.get("window", [""])[0][:10]
                if day in fake.assets_docs:
                    body = dumps(fake.assets_docs[day])
            if body is None:
                self.send_response(404)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()


def vector(samples: dict[tuple[str, str, str], str]) -> dict[str, Any]:
    """Prometheus's instant-query answer: one series per (namespace, pod, container)."""
    return {
        "status": "success",
        "data": {
            "resultType": "vector",
            "result": [
                {
                    "metric": {"namespace": ns, "pod": pod, "container": container},
                    "value": [Decimal("1764547200.123"), value],
                }
                for (ns, pod, container), value in samples.items()
            ],
        },
    }
