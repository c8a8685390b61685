"""Azure test doubles, started once per test session (per xdist worker):

- **Azurite** (npm ``azurite``, installed by ``scripts/test`` with ``npm ci``): Blob storage over
  HTTPS with OAuth (``--oauth basic``: it checks the bearer token's issuer, audience and
  lifetime), with the connectors guide's flags (``--disableTelemetry --skipApiVersionCheck
  --loose``) on a free port. Missing Azurite skips the Blob tests, and fails them under CI=true.
- **Entra ID and Azure Resource Manager**: one pytest-httpserver over HTTPS (a trustme CA)
  speaking their REST protocols: OpenID discovery and the client-credentials token endpoint
  (a JWT Azurite accepts; a wrong secret gets Entra's ``AADSTS7000215``), ``GET
  /subscriptions/{id}``, the Cost Management Query API (grouping and ``In`` filters really
  evaluated over ``AzureFake.costs``, at most two groupings as Azure enforces, ``nextLink``
  pages, 429 with ``x-ms-ratelimit-microsoft.costmanagement-qpu-retry-after``), Resource
  Graph (``$skipToken`` pages), Monitor metrics and Advisor. The real SDK clients reach it
  through ``XPLORR_AZURE_*`` settings; nothing is patched.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import jwt
import pytest
import trustme
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

ROOT = Path(__file__).resolve().parents[2]
TENANT = "66666666-7777-8888-9999-000000000000"
CLIENT = "11111111-2222-3333-4444-555555555555"
SECRET = "azure-client-secret-value"
SUB = "0f0e0d0c-0b0a-4999-8888-777766665555"
ACCOUNT = "devstoreaccount1"
ACCOUNT_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)
QPU_RETRY = "x-ms-ratelimit-microsoft.costmanagement-qpu-retry-after"


@dataclass(frozen=True)
class Tls:
    ca: Path
    cert: Path
    key: Path
    server: ssl.SSLContext


@pytest.fixture(scope="session")
def azure_tls(tmp_path_factory: pytest.TempPathFactory) -> Tls:
    directory = tmp_path_factory.mktemp("azure-tls")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    ca_path, cert_path, key_path = (directory / n for n in ("ca.pem", "cert.pem", "key.pem"))
    ca.cert_pem.write_to_path(str(ca_path))
    cert.private_key_pem.write_to_path(str(key_path))
    with cert_path.open("wb") as out:
        for blob in cert.cert_chain_pems:
            out.write(blob.bytes())
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    cert.configure_cert(server)
    return Tls(ca_path, cert_path, key_path, server)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Azurite:
    blob_url: str  # https://127.0.0.1:<port>/devstoreaccount1
    endpoint: str  # the XPLORR_AZURE_BLOB_ENDPOINT template
    connection_string: str


@pytest.fixture(scope="session")
def azurite(azure_tls: Tls, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Azurite]:
    binary = ROOT / "node_modules" / ".bin" / "azurite-blob"
    if not binary.exists() or shutil.which("node") is None:
        message = "Azurite is not installed (npm ci installs it from package.json)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    port = _free_port()
    location = tmp_path_factory.mktemp("azurite")
    process = subprocess.Popen(
        [
            str(binary),
            "--location",
            str(location),
            "--blobHost",
            "127.0.0.1",
            "--blobPort",
            str(port),
            "--silent",
            "--disableTelemetry",
            "--skipApiVersionCheck",
            "--loose",
            "--oauth",
            "basic",
            "--cert",
            str(azure_tls.cert),
            "--key",
            str(azure_tls.key),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 30
    while True:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            break
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            error = process.stderr.read().decode(errors="replace") if process.stderr else ""
            pytest.fail(f"Azurite did not start: {error[-500:]}")
        time.sleep(0.05)
    base = f"https://127.0.0.1:{port}"
    try:
        yield Azurite(
            f"{base}/{ACCOUNT}",
            f"{base}/{{account}}",
            f"DefaultEndpointsProtocol=https;AccountName={ACCOUNT};AccountKey={ACCOUNT_KEY};"
            f"BlobEndpoint={base}/{ACCOUNT};",
        )
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stderr:
            process.stderr.close()


# --- Entra ID + ARM ---------------------------------------------------------------------------


@dataclass
class CostRow:
    """One day of one charge, as Cost Management aggregates it."""

    day: date
    service: str
    actual: Decimal
    amortized: Decimal
    resource_group: str = ""
    location: str = ""
    charge: str = "Usage"
    currency: str = "USD"


DIMENSIONS = {
    "ResourceGroupName": "resource_group",
    "ResourceGroup": "resource_group",
    "ChargeType": "charge",
    "ServiceName": "service",
    "ResourceLocation": "location",
}


def _dec(value: Decimal) -> str:
    return f"__DEC__{value}__"


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    text = re.sub(r'"__DEC__([-0-9.E+]+)__"', r"\1", json.dumps(body))
    return Response(text, status=status, headers=headers, content_type="application/json")


def _error(status: int, code: str, message: str) -> Response:
    return _json({"error": {"code": code, "message": message}}, status)


def _denied(action: str) -> Response:
    return _error(
        403,
        "AuthorizationFailed",
        f"The client '{CLIENT}' does not have authorization to perform action '{action}'.",
    )


@dataclass
class AzureFake:
    base: str
    tenant: str = TENANT
    secret: str = SECRET
    subscriptions: set[str] = field(default_factory=lambda: {SUB})
    denied: set[str] = field(default_factory=set)  # subscription, query, amortized, graph...
    throttle: list[str] = field(default_factory=list)  # qpu-retry-after values, one per 429
    costs: list[CostRow] = field(default_factory=list)
    resources: list[dict[str, Any]] = field(default_factory=list)
    cpu: dict[str, list[tuple[str, float, float]]] = field(default_factory=dict)
    advisor: list[dict[str, Any]] = field(default_factory=list)
    page_rows: int = 4
    graph_page: int = 2
    calls: list[tuple[str, Any]] = field(default_factory=list)

    def reset(self) -> None:
        fresh = AzureFake(self.base)
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(fresh, name))

    def count(self, kind: str) -> int:
        return sum(1 for k, _ in self.calls if k == kind)

    # -- dispatch

    def handle(self, request: Request) -> Response:
        path = re.sub(r"/+", "/", request.path)
        if path.endswith("/v2.0/.well-known/openid-configuration"):
            return self._openid(path.split("/")[1])
        if path.endswith("/oauth2/v2.0/token"):
            return self._token(path.split("/")[1], request)
        token = request.headers.get("Authorization", "")
        if not token.startswith("Bearer "):
            return _error(401, "AuthenticationFailed", "No bearer token.")
        claims = jwt.decode(token[7:], options={"verify_signature": False})
        if claims.get("appid") != CLIENT:
            return _error(401, "InvalidAuthenticationToken", "The token is not ours.")
        lowered = path.lower()
        if lowered.endswith("/providers/microsoft.costmanagement/query"):
            return self._query(path, request)
        if lowered == "/providers/microsoft.resourcegraph/resources":
            return self._graph(request)
        if lowered.endswith("/providers/microsoft.insights/metrics"):
            return self._metrics(path, request)
        if lowered.endswith("/providers/microsoft.advisor/recommendations"):
            return self._advisor()
        match = re.fullmatch(r"/subscriptions/([^/]+)", path)
        if match and request.method == "GET":
            return self._subscription(match.group(1))
        return _error(404, "NotFound", f"No fake for {request.method} {path}.")

    def _openid(self, tenant: str) -> Response:
        return _json(
            {
                "token_endpoint": f"{self.base}/{tenant}/oauth2/v2.0/token",
                "authorization_endpoint": f"{self.base}/{tenant}/oauth2/v2.0/authorize",
                "issuer": f"{self.base}/{tenant}/v2.0",
                "token_endpoint_auth_methods_supported": ["client_secret_post"],
            }
        )

    def _token(self, tenant: str, request: Request) -> Response:
        form = request.form
        self.calls.append(("token", form.get("scope")))
        if tenant != self.tenant:
            return _json(
                {
                    "error": "invalid_request",
                    "error_description": f"AADSTS90002: Tenant '{tenant}' not found.",
                    "error_codes": [90002],
                },
                400,
            )
        if form.get("client_id") != CLIENT or form.get("client_secret") != self.secret:
            return _json(
                {
                    "error": "invalid_client",
                    "error_description": "AADSTS7000215: Invalid client secret provided.",
                    "error_codes": [7000215],
                },
                401,
            )
        scope = str(form.get("scope") or "").split(" ")[0].removesuffix("/.default")
        now = int(time.time())
        claims = {
            "aud": scope,
            "iss": f"https://sts.windows.net/{tenant}/",
            "iat": now - 60,
            "nbf": now - 60,
            "exp": now + 3600,
            "appid": CLIENT,
            "tid": tenant,
            "oid": CLIENT,
        }
        access = jwt.encode(claims, "not-a-real-signing-key-of-entra-id-0123456789", "HS256")
        return _json(
            {
                "token_type": "Bearer",
                "expires_in": 3600,
                "ext_expires_in": 3600,
                "access_token": access,
            }
        )

    def _subscription(self, sub: str) -> Response:
        self.calls.append(("subscription", sub))
        if sub.lower() not in self.subscriptions:
            return _error(
                404, "SubscriptionNotFound", f"The subscription '{sub}' could not be found."
            )
        if "subscription" in self.denied:
            return _denied("Microsoft.Resources/subscriptions/read")
        return _json(
            {
                "id": f"/subscriptions/{sub}",
                "subscriptionId": sub,
                "displayName": "Production",
                "state": "Enabled",
                "tenantId": self.tenant,
            }
        )

    # -- Cost Management query

    @staticmethod
    def _matches(row: CostRow, flt: dict[str, Any] | None) -> bool:
        if not flt:
            return True
        if "and" in flt:
            return all(AzureFake._matches(row, f) for f in flt["and"])
        if "or" in flt:
            return any(AzureFake._matches(row, f) for f in flt["or"])
        dim = flt.get("dimensions")
        if dim:
            assert dim["operator"] == "In", dim
            value = getattr(row, DIMENSIONS[dim["name"]])
            return value in dim["values"]
        raise AssertionError(f"unknown filter {flt}")

    def _query(self, path: str, request: Request) -> Response:
        body = request.get_json()
        self.calls.append(("query", body))
        if self.throttle:
            wait = self.throttle.pop(0)
            return _json(
                {"error": {"code": "429", "message": "Too many requests. Please retry."}},
                429,
                {QPU_RETRY: wait, "x-ms-ratelimit-microsoft.costmanagement-qpu-remaining": "0"},
            )
        kind = body["type"]
        if "query" in self.denied or (kind == "AmortizedCost" and "amortized" in self.denied):
            return _error(
                403, "RBACAccessDenied", "Not authorized: Microsoft.CostManagement/query/action."
            )
        dataset = body["dataset"]
        grouping = [g["name"] for g in dataset.get("grouping") or []]
        if len(grouping) > 2:
            return _error(400, "BadRequest", "Invalid query: at most 2 groupings are allowed.")
        start = date.fromisoformat(body["timePeriod"]["from"][:10])
        end = date.fromisoformat(body["timePeriod"]["to"][:10])
        if (end - start).days > 366:
            return _error(400, "BadRequest", "The time period may not exceed one year.")
        sums: dict[tuple[Any, ...], Decimal] = {}
        for row in self.costs:
            if not (start <= row.day <= end) or not self._matches(row, dataset.get("filter")):
                continue
            key = (
                int(row.day.strftime("%Y%m%d")),
                *(getattr(row, DIMENSIONS[g]) for g in grouping),
                row.currency,
            )
            amount = row.actual if kind == "ActualCost" else row.amortized
            sums[key] = sums.get(key, Decimal(0)) + amount
        rows = [[_dec(total), *key] for key, total in sorted(sums.items())]
        offset = int(request.args.get("$skiptoken") or 0)
        page = rows[offset : offset + self.page_rows]
        following = offset + self.page_rows
        link = None
        if following < len(rows):
            link = (
                f"{self.base}{path}?api-version={request.args.get('api-version')}"
                f"&$skiptoken={following}"
            )
        columns = [
            {"name": "Cost", "type": "Number"},
            {"name": "UsageDate", "type": "Number"},
            *({"name": g, "type": "String"} for g in grouping),
            {"name": "Currency", "type": "String"},
        ]
        return _json(
            {
                "id": f"{path}/q",
                "name": "q",
                "type": "Microsoft.CostManagement/query",
                "properties": {"nextLink": link, "columns": columns, "rows": page},
            }
        )

    # -- Resource Graph, Monitor, Advisor

    def _graph(self, request: Request) -> Response:
        body = request.get_json()
        self.calls.append(("graph", body))
        if "graph" in self.denied:
            return _error(
                403,
                "AuthorizationFailed",
                "The client does not have authorization over the subscriptions.",
            )
        assert body["subscriptions"] == [SUB], body
        wanted = set(re.findall(r"'(microsoft\.[a-z./]+)'", body["query"]))
        rows = [r for r in self.resources if r["type"].lower() in wanted]
        options = body.get("options") or {}
        offset = int(options.get("$skipToken") or 0)
        size = min(int(options.get("$top") or 1000), self.graph_page)
        page = rows[offset : offset + size]
        token = str(offset + size) if offset + size < len(rows) else None
        answer: dict[str, Any] = {
            "totalRecords": len(rows),
            "count": len(page),
            "resultTruncated": "false",
            "data": page,
            "facets": [],
        }
        if token:
            answer["$skipToken"] = token
        return _json(answer)

    def _metrics(self, path: str, request: Request) -> Response:
        resource = path[: path.lower().index("/providers/microsoft.insights/metrics")]
        self.calls.append(("metrics", resource))
        if "metrics" in self.denied:
            return _denied("Microsoft.Insights/metrics/read")
        assert request.args.get("metricnames") == "Percentage CPU"
        points = self.cpu.get(resource.lower(), [])
        return _json(
            {
                "cost": 0,
                "timespan": request.args.get("timespan"),
                "interval": "P1D",
                "value": [
                    {
                        "id": f"{resource}/providers/Microsoft.Insights/metrics/Percentage CPU",
                        "type": "Microsoft.Insights/metrics",
                        "name": {"value": "Percentage CPU", "localizedValue": "Percentage CPU"},
                        "unit": "Percent",
                        "timeseries": [
                            {
                                "metadatavalues": [],
                                "data": [
                                    {
                                        "timeStamp": f"{day}T00:00:00Z",
                                        "average": avg,
                                        "maximum": peak,
                                    }
                                    for day, avg, peak in points
                                ],
                            }
                        ],
                    }
                ],
            }
        )

    def _advisor(self) -> Response:
        self.calls.append(("advisor", None))
        if "advisor" in self.denied:
            return _denied("Microsoft.Advisor/recommendations/read")
        return _json({"value": self.advisor})


@pytest.fixture(scope="session")
def _arm_server(azure_tls: Tls) -> Iterator[tuple[HTTPServer, AzureFake]]:
    server = HTTPServer(host="127.0.0.1", port=0, ssl_context=azure_tls.server)
    server.start()
    fake = AzureFake(f"https://127.0.0.1:{server.port}")
    server.expect_request(re.compile(".*")).respond_with_handler(fake.handle)
    try:
        yield server, fake
    finally:
        server.clear()
        if server.is_running():
            server.stop()


@pytest.fixture
def azure(_arm_server: tuple[HTTPServer, AzureFake]) -> AzureFake:
    """The Entra ID + ARM double, reset for the test."""
    fake = _arm_server[1]
    fake.reset()
    return fake


def credentials(**extra: Any) -> dict[str, Any]:
    return {
        "clientId": CLIENT,
        "tenantId": TENANT,
        "clientSecret": SECRET,
        "subscriptionId": SUB,
        **extra,
    }


def resource(
    arm_type: str, name: str, location: str = "eastus", group: str = "rg-app", **props: Any
) -> dict[str, Any]:
    """A Resource Graph row (objectArray format)."""
    provider, kind = arm_type.split("/", 1)
    return {
        "id": f"/subscriptions/{SUB}/resourceGroups/{group}/providers/{provider}/{kind}/{name}",
        "name": name,
        "type": arm_type,
        "location": location,
        "resourceGroup": group,
        "tags": props.pop("tags", None),
        "sku": props.pop("sku", None),
        "kind": props.pop("kind", None),
        "properties": props,
    }


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"  # Azure writes 7 digits
