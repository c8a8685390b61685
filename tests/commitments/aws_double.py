"""A local HTTP server speaking the AWS APIs moto does not implement (moto 5.2:
``ec2:DescribeReservedInstances`` raises NotImplemented; it has no ``savingsplans`` service
and no RDS or ElastiCache reservations): the EC2 query protocol (XML, EC2's error shape), the
RDS and ElastiCache query protocol (XML with a result wrapper, ``ErrorResponse``), and
Savings Plans' rest-json (``POST /DescribeSavingsPlans``, paginated by ``nextToken``), and
Cost Explorer's JSON 1.1 protocol for its purchase recommendations (``X-Amz-Target:
AWSInsightsIndexService.GetReservationPurchaseRecommendation`` and
``...GetSavingsPlansPurchaseRecommendation``, one detail per page behind ``NextPageToken``;
moto raises NotImplemented for both), and the Price List Query API's JSON 1.1 protocol
(``AWSPriceListService.GetProducts``: ``TERM_MATCH`` filters over the products' attributes,
``PriceList`` as JSON strings, paged by ``MaxResults``/``NextToken``; moto has no ``pricing``).
boto3 is pointed at it through ``XPLORR_AWS_ENDPOINT_URL``, the same path it takes to moto.

``state``: what each call answers; ``denied``: actions answered 403 as AWS refuses them;
``calls``: (action, region from the SigV4 scope) of every request.
"""

import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

EC2_NS = "http://ec2.amazonaws.com/doc/2016-11-15/"
RDS_NS = "http://rds.amazonaws.com/doc/2014-10-31/"
CACHE_NS = "http://elasticache.amazonaws.com/doc/2015-02-02/"
CE_TARGET = "AWSInsightsIndexService."
PRICING_TARGET = "AWSPriceListService."
_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/([a-z0-9-]+)/([a-z0-9-]+)/aws4_request")


def _xml(tag: str, value: Any) -> str:
    if isinstance(value, dict):
        return f"<{tag}>{''.join(_xml(k, v) for k, v in value.items())}</{tag}>"
    if isinstance(value, list):  # (item tag, items)
        item_tag, items = value
        return f"<{tag}>{''.join(_xml(item_tag, i) for i in items)}</{tag}>"
    if isinstance(value, bool):
        value = "true" if value else "false"
    return f"<{tag}>{escape(str(value))}</{tag}>"


def _public(item: dict[str, Any]) -> dict[str, Any]:
    """The item without the double's own keys (``_region``: where it lives)."""
    return {k: v for k, v in item.items() if not k.startswith("_")}


@dataclass
class AwsDouble:
    reserved_instances: list[dict[str, Any]] = field(default_factory=list)  # EC2 XML fields
    reserved_db: list[dict[str, Any]] = field(default_factory=list)
    reserved_cache: list[dict[str, Any]] = field(default_factory=list)
    savings_plans: list[dict[str, Any]] = field(default_factory=list)
    # Cost Explorer: RI recommendation details per CE Service name, Savings Plans details.
    ri_advice: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    sp_advice: list[dict[str, Any]] = field(default_factory=list)
    ce_requests: list[dict[str, Any]] = field(default_factory=list)  # request bodies
    # Price List: products as AWS describes them ({"product": {...}, "terms": {...}, ...}).
    products: list[dict[str, Any]] = field(default_factory=list)
    pricing_requests: list[dict[str, Any]] = field(default_factory=list)
    unavailable: set[str] = field(default_factory=set)  # actions answered 503
    denied: dict[str, str] = field(default_factory=dict)  # action -> AWS error code
    calls: list[tuple[str, str]] = field(default_factory=list)
    signed: list[bool] = field(default_factory=list)

    def reset(self) -> None:
        for name in (
            "reserved_instances",
            "reserved_db",
            "reserved_cache",
            "savings_plans",
            "ri_advice",
            "sp_advice",
            "ce_requests",
            "products",
            "pricing_requests",
            "unavailable",
        ):
            getattr(self, name).clear()
        self.denied.clear()
        self.calls.clear()
        self.signed.clear()

    # --- answers --------------------------------------------------------------------------

    def answer(self, path: str, body: bytes, auth: str, target: str = "") -> tuple[int, str, str]:
        scope = _SCOPE.search(auth)
        region = scope.group(1) if scope else ""
        self.signed.append(scope is not None)
        if target.startswith(PRICING_TARGET):
            action = target[len(PRICING_TARGET) :]
            self.calls.append((action, region))
            return self.pricing(action, json.loads(body or b"{}"))
        if target.startswith(CE_TARGET):
            action = target[len(CE_TARGET) :]
            self.calls.append((action, region))
            return self.cost_explorer(action, json.loads(body or b"{}"))
        if path == "/DescribeSavingsPlans":
            self.calls.append(("DescribeSavingsPlans", region))
            return self.savings_plan_page(json.loads(body or b"{}"))
        form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
        action = form.get("Action", "")
        self.calls.append((action, region))
        if action == "DescribeReservedInstances":
            if action in self.denied:
                return 403, "text/xml", self.ec2_error(self.denied[action])
            states = {v for k, v in form.items() if k.startswith("Filter.1.Value.")}
            items = [
                _public(ri)
                for ri in self.reserved_instances
                if ri["state"] in states and ri.get("_region", "us-east-1") == region
            ]
            inner = _xml("reservedInstancesSet", ["item", items])
            return (
                200,
                "text/xml",
                (
                    f'<DescribeReservedInstancesResponse xmlns="{EC2_NS}">'
                    f"<requestId>r-1</requestId>{inner}</DescribeReservedInstancesResponse>"
                ),
            )
        if action == "DescribeReservedDBInstances":
            return self.query_answer(
                action,
                RDS_NS,
                "ReservedDBInstances",
                "ReservedDBInstance",
                self.reserved_db,
                region,
            )
        if action == "DescribeReservedCacheNodes":
            return self.query_answer(
                action,
                CACHE_NS,
                "ReservedCacheNodes",
                "ReservedCacheNode",
                self.reserved_cache,
                region,
            )
        return 400, "text/xml", self.query_error("InvalidAction", f"{action} is not served here")

    def query_answer(
        self,
        action: str,
        ns: str,
        list_tag: str,
        item_tag: str,
        items: list[dict[str, Any]],
        region: str,
    ) -> tuple[int, str, str]:
        if action in self.denied:
            return 403, "text/xml", self.query_error(self.denied[action], f"not allowed: {action}")
        mine = [_public(i) for i in items if i.get("_region", "us-east-1") == region]
        inner = _xml(list_tag, [item_tag, mine])
        return (
            200,
            "text/xml",
            (
                f'<{action}Response xmlns="{ns}"><{action}Result>{inner}</{action}Result>'
                f"<ResponseMetadata><RequestId>r-1</RequestId></ResponseMetadata></{action}Response>"
            ),
        )

    def savings_plan_page(self, request: dict[str, Any]) -> tuple[int, str, str]:
        if "DescribeSavingsPlans" in self.denied:
            # rest-json errors: the code in the body's __type (and x-amzn-ErrorType).
            return (
                403,
                "application/json",
                json.dumps(
                    {
                        "__type": self.denied["DescribeSavingsPlans"],
                        "message": "The security token included in the request is invalid.",
                    }
                ),
            )
        states = set(request.get("states") or [])
        plans = [p for p in self.savings_plans if not states or p["state"] in states]
        # One plan per page: the reader must follow nextToken.
        start = int(request.get("nextToken") or 0)
        page = plans[start : start + 1]
        more = start + 1 < len(plans)
        return (
            200,
            "application/json",
            json.dumps({"savingsPlans": page, "nextToken": str(start + 1) if more else None}),
        )

    def cost_explorer(self, action: str, request: dict[str, Any]) -> tuple[int, str, str]:
        """Cost Explorer (JSON 1.1): errors as ``{"__type", "Message"}`` (AWS answers a denied
        call 400 AccessDeniedException); one recommendation detail per page."""
        self.ce_requests.append({"action": action, **request})
        kind = "application/x-amz-json-1.1"
        if action in self.unavailable:
            return 503, kind, json.dumps({"__type": "ServiceUnavailable", "Message": "try later"})
        if action in self.denied:
            message = (
                f"User: arn:aws:iam::123456789012:user/x is not authorized to perform: ce:{action}"
            )
            return 400, kind, json.dumps({"__type": self.denied[action], "Message": message})
        offer = {
            "AccountScope": request.get("AccountScope", "PAYER"),
            "LookbackPeriodInDays": request["LookbackPeriodInDays"],
            "TermInYears": request["TermInYears"],
            "PaymentOption": request["PaymentOption"],
        }
        start = int(request.get("NextPageToken") or 0)
        meta = {"RecommendationId": f"rec-{start}", "GenerationTimestamp": "2026-12-02T08:00:00Z"}
        if action == "GetReservationPurchaseRecommendation":
            details = self.ri_advice.get(request["Service"], [])
            page: dict[str, Any] = {
                "Metadata": meta,
                "Recommendations": [{**offer, "RecommendationDetails": details[start : start + 1]}]
                if details
                else [],
            }
        elif action == "GetSavingsPlansPurchaseRecommendation":
            details = self.sp_advice
            page = {
                "Metadata": meta,
                "SavingsPlansPurchaseRecommendation": {
                    **offer,
                    "SavingsPlansType": request["SavingsPlansType"],
                    "SavingsPlansPurchaseRecommendationDetails": details[start : start + 1],
                },
            }
        else:
            return 400, kind, json.dumps({"__type": "UnknownOperationException"})
        if start + 1 < len(details):
            page["NextPageToken"] = str(start + 1)
        return 200, kind, json.dumps(page)

    def pricing(self, action: str, request: dict[str, Any]) -> tuple[int, str, str]:
        """GetProducts: the products of ``ServiceCode`` whose attributes (or product family)
        equal every ``TERM_MATCH`` filter, one a page; errors as Cost Explorer's."""
        self.pricing_requests.append(request)
        kind = "application/x-amz-json-1.1"
        if action in self.unavailable:
            return 503, kind, json.dumps({"__type": "ServiceUnavailable", "Message": "try later"})
        if action in self.denied:
            message = (
                "User: arn:aws:iam::123456789012:user/x is not authorized to perform: "
                f"pricing:{action}"
            )
            return 400, kind, json.dumps({"__type": self.denied[action], "Message": message})
        if action != "GetProducts":
            return 400, kind, json.dumps({"__type": "UnknownOperationException"})

        def matches(p: dict[str, Any]) -> bool:
            product = p["product"]
            fields = {
                **product.get("attributes", {}),
                "productFamily": product.get("productFamily"),
            }
            return p.get("serviceCode") == request.get("ServiceCode") and all(
                f["Type"] == "TERM_MATCH" and fields.get(f["Field"]) == f["Value"]
                for f in request.get("Filters", [])
            )

        found = [p for p in self.products if matches(p)]
        start = int(request.get("NextToken") or 0)
        # One product a page at most: the reader must follow NextToken.
        size = min(int(request.get("MaxResults") or 100), 1)
        page: dict[str, Any] = {
            "FormatVersion": "aws_v1",
            "PriceList": [json.dumps(p) for p in found[start : start + size]],
        }
        if start + size < len(found):
            page["NextToken"] = str(start + size)
        return 200, kind, json.dumps(page)

    @staticmethod
    def ec2_error(code: str) -> str:
        return (
            f"<Response><Errors><Error><Code>{code}</Code><Message>You are not authorized to "
            "perform this operation.</Message></Error></Errors><RequestID>r-1</RequestID>"
            "</Response>"
        )

    @staticmethod
    def query_error(code: str, message: str) -> str:
        return (
            f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>"
            f"{escape(message)}</Message></Error><RequestId>r-1</RequestId></ErrorResponse>"
        )


def serve() -> Iterator[tuple[str, AwsDouble]]:
    """Start the server on a free loopback port: yields (endpoint URL, its state)."""
    double = AwsDouble()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            path = self.path.split("?", 1)[0]
            status, kind, text = double.answer(
                path,
                body,
                self.headers.get("Authorization", ""),
                self.headers.get("X-Amz-Target", ""),
            )
            data = text.encode()
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *_args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", double
    finally:
        server.shutdown()
        server.server_close()
