"""A local Google Cloud for the GCP connector's tests: one loopback HTTP server speaking the
REST protocols the real clients use, started once per session.

- **OAuth token endpoint** (``POST /token``): the service-account key's ``token_uri`` points
  here, so google-auth signs its JWT assertion and trades it for a token exactly as against
  Google; the token names the key's ``client_email``, and every API call must carry it.
- **BigQuery v2**: ``tables.list``, ``jobs.query``, ``jobs.get`` and ``getQueryResults``
  (paged). The SQL received is translated by sqlglot from BigQuery's dialect to DuckDB's and
  run on DuckDB tables holding the export's real shape (STRUCTs, repeated RECORDs): the rows
  returned are what the SQL sent computes, not a canned answer. BigQuery's ``NUMERIC`` is
  DECIMAL(38, 9) (sqlglot leaves DuckDB's DECIMAL(18, 3) default), and a dataset exists only
  in its location (a query from another location gets BigQuery's "Not found: Dataset").
- **Cloud Asset** ``searchAllResources``, **Compute** ``aggregated/{instances,disks,
  addresses}`` and **Recommender** ``recommendations.list``, paged by ``PAGE``.

``deny`` holds the services that answer 403 PERMISSION_DENIED (``bigquery``, ``asset``,
``compute``, ``recommender``, or ``table:<name>`` for one BigQuery table); tests reset it.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import uuid
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

import duckdb
import sqlglot
from sqlglot import exp

PAGE = 2  # rows or resources per page: every listing is paged in the tests

EXPORT_COLUMNS = """
  billing_account_id VARCHAR,
  service STRUCT(id VARCHAR, description VARCHAR),
  sku STRUCT(id VARCHAR, description VARCHAR),
  usage_start_time TIMESTAMPTZ,
  usage_end_time TIMESTAMPTZ,
  project STRUCT(id VARCHAR, number VARCHAR, name VARCHAR),
  labels STRUCT(key VARCHAR, value VARCHAR)[],
  location STRUCT(location VARCHAR, country VARCHAR, region VARCHAR, zone VARCHAR),
  cost DOUBLE,
  currency VARCHAR,
  usage STRUCT(amount DOUBLE, unit VARCHAR, amount_in_pricing_units DOUBLE,
               pricing_unit VARCHAR),
  credits STRUCT(name VARCHAR, amount DOUBLE, full_name VARCHAR, id VARCHAR, type VARCHAR)[],
  invoice STRUCT(month VARCHAR),
  cost_type VARCHAR"""
RESOURCE_COLUMNS = ",\n  resource STRUCT(name VARCHAR, global_name VARCHAR)"
FOCUS_COLUMNS = """
  BillingAccountId VARCHAR, SubAccountId VARCHAR, SubAccountName VARCHAR,
  ServiceName VARCHAR, ServiceCategory VARCHAR, RegionId VARCHAR, AvailabilityZone VARCHAR,
  ResourceId VARCHAR,
  ResourceName VARCHAR, ChargeCategory VARCHAR, CommitmentDiscountType VARCHAR, SkuId VARCHAR,
  PricingUnit VARCHAR, BillingCurrency VARCHAR, BillingPeriodStart TIMESTAMPTZ,
  ChargePeriodStart TIMESTAMPTZ, Tags STRUCT(key VARCHAR, value VARCHAR)[],
  BilledCost DECIMAL(38, 9), EffectiveCost DECIMAL(38, 9), ListCost DECIMAL(38, 9),
  PricingQuantity DECIMAL(38, 9)"""


class ApiError(Exception):
    def __init__(self, code: int, status: str, message: str, reason: str) -> None:
        super().__init__(message)
        self.code, self.status, self.message, self.reason = code, status, message, reason

    def body(self) -> dict[str, Any]:
        return {
            "error": {
                "code": self.code,
                "message": self.message,
                "status": self.status,
                "errors": [{"reason": self.reason, "message": self.message}],
            }
        }


def denied(what: str) -> ApiError:
    return ApiError(403, "PERMISSION_DENIED", what, "accessDenied")


def _numeric(node: exp.Expression) -> exp.Expression:
    if (
        isinstance(node, exp.DataType)
        and node.this == exp.DataType.Type.DECIMAL
        and not node.expressions
    ):
        return exp.DataType.build("DECIMAL(38, 9)")
    return node


def to_duckdb(sql: str) -> str:
    tree = sqlglot.parse_one(sql, read="bigquery").transform(_numeric)
    return tree.sql(dialect="duckdb")


def _bq_value(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return str(int(value.timestamp() * 1_000_000))
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _bq_type(values: list[Any]) -> str:
    sample = next((v for v in values if v is not None), "")
    if isinstance(sample, bool):
        return "BOOLEAN"
    if isinstance(sample, Decimal):
        return "NUMERIC"
    if isinstance(sample, int):
        return "INTEGER"
    if isinstance(sample, float):
        return "FLOAT"
    if isinstance(sample, datetime):
        return "TIMESTAMP"
    if isinstance(sample, date):
        return "DATE"
    return "STRING"


class GoogleFake:
    def __init__(self, project: str, location: str = "US") -> None:
        self.project = project
        self.locations: dict[str, str] = {}  # dataset -> location
        self.db = duckdb.connect()
        self.db.execute(f"ATTACH ':memory:' AS \"{project}\"")
        self.lock = threading.Lock()
        self.jobs: dict[str, dict[str, Any]] = {}
        self.deny: set[str] = set()
        self.queries: list[str] = []  # SQL received, in order
        self.assets: list[dict[str, Any]] = []
        self.compute: dict[str, dict[str, list[dict[str, Any]]]] = {}  # kind -> scope -> items
        self.sql: list[dict[str, Any]] = []  # Cloud SQL Admin's DatabaseInstance bodies
        self.recommendations: dict[str, list[dict[str, Any]]] = {}  # parent -> items
        self.calls: list[str] = []  # "METHOD path" of every API call
        self.default_location = location
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    # --- lifecycle and data ---------------------------------------------------------------

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> GoogleFake:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.db.close()

    def reset(self) -> None:
        with self.lock:
            for dataset in list(self.locations):
                self.db.execute(f'DROP SCHEMA IF EXISTS "{self.project}"."{dataset}" CASCADE')
            self.locations.clear()
            self.jobs.clear()
            self.deny.clear()
            self.queries.clear()
            self.assets.clear()
            self.compute.clear()
            self.sql.clear()
            self.recommendations.clear()
            self.calls.clear()

    def dataset(self, name: str, location: str | None = None) -> None:
        with self.lock:
            self.db.execute(f'CREATE SCHEMA "{self.project}"."{name}"')
            self.locations[name] = location or self.default_location

    def export_table(self, dataset: str, table: str, *, detailed: bool = False) -> None:
        columns = EXPORT_COLUMNS + (RESOURCE_COLUMNS if detailed else "")
        with self.lock:
            self.db.execute(f'CREATE TABLE "{self.project}"."{dataset}"."{table}" ({columns})')

    def focus_table(self, dataset: str, table: str) -> None:
        with self.lock:
            self.db.execute(
                f'CREATE TABLE "{self.project}"."{dataset}"."{table}" ({FOCUS_COLUMNS})'
            )

    def insert(self, dataset: str, table: str, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        names = list(rows[0])
        marks = ", ".join("?" for _ in names)
        quoted = ", ".join(f'"{n}"' for n in names)
        with self.lock:
            self.db.executemany(
                f'INSERT INTO "{self.project}"."{dataset}"."{table}" ({quoted}) VALUES ({marks})',  # noqa: S608
                [[row[n] for n in names] for row in rows],
            )

    # --- protocol ---------------------------------------------------------------------------

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def _send(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _body(self) -> bytes:
                length = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(length) if length else b""

            def _dispatch(self, method: str) -> None:
                url = urlparse(self.path)
                query = parse_qs(url.query)
                raw = self._body()
                try:
                    if method == "POST" and url.path == "/token":
                        self._send(200, fake.token(raw))
                        return
                    fake.authorised(self.headers.get("Authorization"))
                    fake.calls.append(f"{method} {url.path}")
                    self._send(200, fake.route(method, url.path, query, raw))
                except ApiError as exc:
                    self._send(exc.code, exc.body())
                except Exception as exc:  # BigQuery answers a query it cannot run with a 400
                    error = ApiError(
                        400, "INVALID_ARGUMENT", f"{type(exc).__name__}: {exc}", "invalidQuery"
                    )
                    self._send(400, error.body())

            def do_GET(self) -> None:
                self._dispatch("GET")

            def do_POST(self) -> None:
                self._dispatch("POST")

        return Handler

    def token(self, raw: bytes) -> dict[str, Any]:
        form = parse_qs(raw.decode())
        assertion = form.get("assertion", [""])[0]
        payload = assertion.split(".")[1] if assertion.count(".") == 2 else ""
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        if form.get("grant_type") != ["urn:ietf:params:oauth:grant-type:jwt-bearer"]:
            raise ApiError(400, "INVALID_ARGUMENT", "bad grant", "invalid_grant")
        if str(claims.get("iss", "")).startswith("revoked"):
            raise ApiError(400, "INVALID_ARGUMENT", "invalid_grant: Invalid JWT", "invalid_grant")
        return {"access_token": f"tok:{claims['iss']}", "expires_in": 3600, "token_type": "Bearer"}

    def authorised(self, header: str | None) -> None:
        """A token from ``/token``, or (what the GAPIC clients send for a service account)
        a JWT the key signed itself; a revoked key's is refused."""
        token = (header or "").removeprefix("Bearer ")
        issuer = token.removeprefix("tok:") if token.startswith("tok:") else ""
        if not issuer and token.count(".") == 2:
            payload = token.split(".")[1]
            claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
            issuer = str(claims.get("iss") or "")
        if not issuer or issuer.startswith("revoked"):
            raise ApiError(401, "UNAUTHENTICATED", "Request had invalid credentials.", "auth")

    def route(self, method: str, path: str, query: dict[str, list[str]], raw: bytes) -> Any:
        if m := re.fullmatch(r"/bigquery/v2/projects/([^/]+)/datasets/([^/]+)/tables", path):
            return self.list_tables(m[1], m[2])
        if m := re.fullmatch(r"/bigquery/v2/projects/([^/]+)/queries", path):
            return self.run_query(m[1], json.loads(raw or b"{}"))
        if m := re.fullmatch(r"/bigquery/v2/projects/([^/]+)/queries/([^/]+)", path):
            return self.query_page(m[2], query)
        if m := re.fullmatch(r"/bigquery/v2/projects/([^/]+)/jobs/([^/]+)", path):
            return self.get_job(m[1], m[2])
        if m := re.fullmatch(r"/v1/projects/([^/]+):searchAllResources", path):
            return self.search(query)
        if m := re.fullmatch(r"/compute/v1/projects/([^/]+)/aggregated/(\w+)", path):
            return self.aggregated(m[2], query)
        if m := re.fullmatch(r"/v1/(projects/.+/recommenders/[^/]+)/recommendations", path):
            return self.list_recommendations(m[1], query)
        if m := re.fullmatch(r"/v1/projects/([^/]+)/instances", path):
            return self.sql_instances(query)
        raise ApiError(404, "NOT_FOUND", f"No such method: {method} {path}", "notFound")

    # --- BigQuery -----------------------------------------------------------------------------

    def _deny(self, service: str, what: str) -> None:
        if service in self.deny:
            raise denied(what)

    def list_tables(self, project: str, dataset: str) -> dict[str, Any]:
        self._deny(
            "bigquery",
            f"Access Denied: Dataset {project}:{dataset}: Permission "
            "bigquery.tables.list denied on dataset",
        )
        if dataset not in self.locations:
            raise ApiError(404, "NOT_FOUND", f"Not found: Dataset {project}:{dataset}", "notFound")
        with self.lock:
            names = [
                r[0]
                for r in self.db.execute(
                    "SELECT table_name FROM information_schema.tables "
                    "WHERE table_catalog = ? AND table_schema = ? ORDER BY 1",
                    [project, dataset],
                ).fetchall()
            ]
        return {
            "kind": "bigquery#tableList",
            "tables": [
                {
                    "kind": "bigquery#table",
                    "id": f"{project}:{dataset}.{n}",
                    "tableReference": {"projectId": project, "datasetId": dataset, "tableId": n},
                    "type": "TABLE",
                }
                for n in names
            ],
            "totalItems": len(names),
        }

    def _params(self, body: dict[str, Any]) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for p in body.get("queryParameters") or []:
            value = p.get("parameterValue") or {}
            kind = (p.get("parameterType", {}).get("arrayType") or p.get("parameterType", {})).get(
                "type"
            )
            cast = date.fromisoformat if kind == "DATE" else str
            if "arrayValues" in value:
                values[p["name"]] = [cast(v.get("value")) for v in value["arrayValues"]]
            elif p.get("parameterType", {}).get("type") == "ARRAY":
                values[p["name"]] = []
            else:
                values[p["name"]] = cast(value["value"]) if "value" in value else None
        return values

    def run_query(self, project: str, body: dict[str, Any]) -> dict[str, Any]:
        self._deny(
            "bigquery",
            f"Access Denied: Project {project}: User does not have "
            f"bigquery.jobs.create permission in project {project}.",
        )
        sql = str(body["query"])
        self.queries.append(sql)
        location = body.get("location") or "US"
        for dataset, table in re.findall(rf"`{re.escape(project)}\.(\w+)\.(\w+)`", sql):
            if dataset not in self.locations or self.locations[dataset] != location:
                raise ApiError(
                    404,
                    "NOT_FOUND",
                    f"Not found: Dataset {project}:{dataset} was not found in location {location}",
                    "notFound",
                )
            if f"table:{table}" in self.deny:
                raise denied(
                    f"Access Denied: Table {project}:{dataset}.{table}: User does not "
                    "have permission to query table"
                )
        try:
            with self.lock:
                cursor = self.db.execute(to_duckdb(sql), self._params(body))
                names = [d[0] for d in cursor.description or []]
                rows = cursor.fetchall()
        except duckdb.CatalogException as exc:
            missing = re.search(r'Table with name "?([\w.]+)"? does not exist', str(exc))
            raise ApiError(
                404,
                "NOT_FOUND",
                f"Not found: Table {project}:"
                f"{missing[1] if missing else '?'} was not found in location "
                f"{location}",
                "notFound",
            ) from None
        schema = {
            "fields": [
                {"name": n, "type": _bq_type([r[i] for r in rows]), "mode": "NULLABLE"}
                for i, n in enumerate(names)
            ]
        }
        job_id = f"job_{uuid.uuid4().hex}"
        encoded = [{"f": [{"v": _bq_value(v)} for v in row]} for row in rows]
        self.jobs[job_id] = {"schema": schema, "rows": encoded, "location": location}
        size = int(body.get("maxResults") or PAGE)
        return self._page(project, job_id, 0, min(size, PAGE)) | {"kind": "bigquery#queryResponse"}

    def _page(self, project: str, job_id: str, start: int, size: int) -> dict[str, Any]:
        job = self.jobs[job_id]
        rows = job["rows"][start : start + size]
        answer: dict[str, Any] = {
            "jobReference": {"projectId": project, "jobId": job_id, "location": job["location"]},
            "jobComplete": True,
            "schema": job["schema"],
            "rows": rows,
            "totalRows": str(len(job["rows"])),
            "totalBytesProcessed": "0",
            "cacheHit": False,
        }
        if start + size < len(job["rows"]):
            answer["pageToken"] = str(start + size)
        return answer

    def query_page(self, job_id: str, query: dict[str, list[str]]) -> dict[str, Any]:
        if job_id not in self.jobs:
            raise ApiError(404, "NOT_FOUND", f"Not found: Job {job_id}", "notFound")
        start = int(query.get("pageToken", ["0"])[0])
        size = min(int(query.get("maxResults", [str(PAGE)])[0]), PAGE)
        return self._page(self.project, job_id, start, size) | {
            "kind": "bigquery#getQueryResultsResponse"
        }

    def get_job(self, project: str, job_id: str) -> dict[str, Any]:
        if job_id not in self.jobs:
            raise ApiError(404, "NOT_FOUND", f"Not found: Job {job_id}", "notFound")
        return {
            "kind": "bigquery#job",
            "id": f"{project}:{self.jobs[job_id]['location']}.{job_id}",
            "jobReference": {
                "projectId": project,
                "jobId": job_id,
                "location": self.jobs[job_id]["location"],
            },
            "configuration": {"query": {"query": "", "useLegacySql": False}},
            "status": {"state": "DONE"},
            "statistics": {"query": {"totalBytesProcessed": "0"}},
        }

    # --- Asset, Compute, Recommender --------------------------------------------------------

    @staticmethod
    def _paged(items: list[Any], query: dict[str, list[str]]) -> tuple[list[Any], str | None]:
        start = int(query.get("pageToken", ["0"])[0] or 0)
        end = start + PAGE
        return items[start:end], (str(end) if end < len(items) else None)

    def search(self, query: dict[str, list[str]]) -> dict[str, Any]:
        self._deny(
            "asset", "The caller does not have permission (cloudasset.assets.searchAllResources)"
        )
        types = set(query.get("assetTypes", []))
        found = [a for a in self.assets if not types or a["assetType"] in types]
        page, token = self._paged(found, query)
        return {"results": page} | ({"nextPageToken": token} if token else {})

    def aggregated(self, kind: str, query: dict[str, list[str]]) -> dict[str, Any]:
        self._deny(
            "compute", f"Required 'compute.{kind}.list' permission for 'projects/{self.project}'"
        )
        flat = [
            (scope, item)
            for scope, items in sorted(self.compute.get(kind, {}).items())
            for item in items
        ]
        page, token = self._paged(flat, query)
        grouped: dict[str, dict[str, list[Any]]] = {}
        for scope, item in page:
            grouped.setdefault(scope, {kind: []})[kind].append(item)
        return {"kind": f"compute#{kind}AggregatedList", "items": grouped} | (
            {"nextPageToken": token} if token else {}
        )

    def sql_instances(self, query: dict[str, list[str]]) -> dict[str, Any]:
        """Cloud SQL Admin v1 ``instances.list`` (``sql#instancesList``)."""
        self._deny(
            "sqladmin",
            f"The client is not authorized to make this request (project {self.project})",
        )
        page, token = self._paged(self.sql, query)
        return {"kind": "sql#instancesList", "items": page} | (
            {"nextPageToken": token} if token else {}
        )

    def list_recommendations(self, parent: str, query: dict[str, list[str]]) -> dict[str, Any]:
        self._deny(
            "recommender",
            "Permission 'recommender.computeInstanceIdleResource"
            f"Recommendations.list' denied on resource '{parent}'",
        )
        page, token = self._paged(self.recommendations.get(parent, []), query)
        return {"recommendations": page} | ({"nextPageToken": token} if token else {})


def service_account_key(
    endpoint: str, email: str = "xplorr@proj-123456.iam.gserviceaccount.com"
) -> dict[str, Any]:
    """A real service-account key (fresh RSA key) whose ``token_uri`` is the fake."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return {
        "type": "service_account",
        "project_id": "proj-123456",
        "private_key_id": "k1",
        "private_key": pem,
        "client_email": email,
        "client_id": "1",
        "token_uri": f"{endpoint}/token",
    }


def iter_days(start: date, end: date) -> Iterator[date]:
    day = start
    while day < end:
        yield day
        day = date.fromordinal(day.toordinal() + 1)
