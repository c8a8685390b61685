"""Which network cost a cost row is: the documented classification table of ``/network/summary``.

A row is described by its provider, FOCUS ServiceName, ServiceCategory, ServiceSubcategory,
SkuId (the SKU's name when the export carries one: Google's are), ResourceType and usage type
(``cost_records.usage_type``: AWS's, e.g. ``USE1-NatGateway-Bytes``, imported from CUR 2.0's
``line_item_usage_type``, FOCUS ``x_UsageType`` / 1.2 ``SkuMeter`` or Cost Explorer's
USAGE_TYPE dimension; AWS's own SkuId is an opaque product code that names nothing). The
first matching rule wins; a row matching none is network spend only when its ServiceCategory
is ``Networking`` (then ``other``).

AWS-only: the usage-type rules (an AWS usage type names the transfer's direction and endpoints),
so the split of data transfer into internet egress, inter-region and inter-AZ is exact for AWS.
Other providers are classified by service and SKU names (``Inter Region``, ``Egress``...):
their transfer costs land in a category when the export names it, else in ``other``.

The table (category: what matches it):

- nat_gateway: ``NatGateway-Hours``, ``NatGateway-Bytes``; names with "NAT".
- load_balancer: ``LoadBalancerUsage``, ``LCUUsage``, ``LoadBalancing``; service Elastic Load
  Balancing; names with "Load Balanc", "Application Gateway".
- public_ipv4: ``PublicIPv4:InUseAddress``, ``PublicIPv4:IdleAddress``, ``ElasticIP:*``;
  names with "Public IP", "IP Address", "External IP", "Static IP" (Google's SKUs).
- vpn_direct_connect: ``VPN-Usage-Hours``, ``DataXfer-Out:dc.*``, ``PortUsage:dc.*``, service
  AWS Direct Connect; names with VPN, ExpressRoute, Interconnect.
- cdn: service Amazon CloudFront (every usage type); subcategory Content Delivery; names with
  CDN, Front Door.
- inter_region: ``<from>-<to>-AWS-Out-Bytes`` (``USE1-USW2-AWS-Out-Bytes``); names with
  "Inter Region".
- inter_az: ``DataTransfer-Regional-Bytes``; names with "Inter Zone", "Inter-AZ",
  "Intra Region".
- internet_egress: ``DataTransfer-Out-Bytes`` (``USE1-DataTransfer-Out-Bytes``); names with
  "Internet Egress", "Data Transfer Out", "Egress" (Networking rows only).
- other: the rest of ServiceCategory Networking (ingress, VPC endpoints, Transit Gateway, DNS).
"""

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Final


class NetCategory(StrEnum):
    INTERNET_EGRESS = "internet_egress"
    INTER_REGION = "inter_region"
    INTER_AZ = "inter_az"
    NAT_GATEWAY = "nat_gateway"
    LOAD_BALANCER = "load_balancer"
    VPN_DIRECT_CONNECT = "vpn_direct_connect"
    CDN = "cdn"
    PUBLIC_IPV4 = "public_ipv4"
    OTHER = "other"


LABELS: Final[dict[NetCategory, str]] = {
    NetCategory.INTERNET_EGRESS: "Internet egress",
    NetCategory.INTER_REGION: "Inter-region transfer",
    NetCategory.INTER_AZ: "Inter-AZ transfer",
    NetCategory.NAT_GATEWAY: "NAT gateways (hours and data processing)",
    NetCategory.LOAD_BALANCER: "Load balancers",
    NetCategory.VPN_DIRECT_CONNECT: "VPN and Direct Connect",
    NetCategory.CDN: "CDN",
    NetCategory.PUBLIC_IPV4: "Public IPv4 addresses",
    NetCategory.OTHER: "Other networking",
}
# Categories whose split relies on AWS usage types: exact for AWS only.
AWS_ONLY: Final = frozenset(
    {NetCategory.INTERNET_EGRESS, NetCategory.INTER_REGION, NetCategory.INTER_AZ}
)


@dataclass(frozen=True, slots=True)
class CostLine:
    provider: str
    service: str
    category: str | None
    subcategory: str | None
    sku: str | None
    resource_type: str | None
    usage_type: str | None = None


_I = re.IGNORECASE
# (category, pattern on the AWS usage type) — AWS rows only.
_AWS_USAGE: Final[tuple[tuple[NetCategory, re.Pattern[str]], ...]] = (
    (NetCategory.NAT_GATEWAY, re.compile(r"(^|-)NatGateway-(Hours|Bytes)", _I)),
    (NetCategory.LOAD_BALANCER, re.compile(r"(^|-)(LoadBalancerUsage|LCUUsage|LoadBalancing)", _I)),
    (NetCategory.PUBLIC_IPV4, re.compile(r"(^|-)(PublicIPv4|ElasticIP):", _I)),
    (
        NetCategory.VPN_DIRECT_CONNECT,
        re.compile(r"(^|-)(VPN-Usage|DataXfer-(In|Out):dc\.|PortUsage:dc\.)", _I),
    ),
    (NetCategory.INTER_REGION, re.compile(r"^[A-Z]{2,4}\d?-[A-Z]{2,4}\d?-AWS-Out-Bytes$", _I)),
    (NetCategory.INTER_AZ, re.compile(r"(^|-)DataTransfer-Regional-Bytes", _I)),
    (NetCategory.INTERNET_EGRESS, re.compile(r"(^|-)DataTransfer-Out-Bytes$", _I)),
    (
        NetCategory.OTHER,
        re.compile(
            r"(^|-)(DataTransfer-In-Bytes|[A-Z]{2,4}\d?-AWS-In-Bytes$|VpcEndpoint|TransitGateway)",
            _I,
        ),
    ),
)
_CLOUDFRONT: Final = re.compile(r"CloudFront", _I)
_AWS_SERVICES: Final[tuple[tuple[NetCategory, re.Pattern[str]], ...]] = (
    (NetCategory.LOAD_BALANCER, re.compile(r"Elastic ?Load ?Balancing|AWSELB", _I)),
    (NetCategory.VPN_DIRECT_CONNECT, re.compile(r"Direct ?Connect", _I)),
)
# Any provider: service, subcategory, SKU and resource type names (FOCUS).
_NAMES: Final[tuple[tuple[NetCategory, re.Pattern[str]], ...]] = (
    (NetCategory.NAT_GATEWAY, re.compile(r"\bNAT\b", _I)),
    (NetCategory.LOAD_BALANCER, re.compile(r"Load ?Balanc|Application Gateway", _I)),
    (NetCategory.PUBLIC_IPV4, re.compile(r"Public IP|IP Address|External IP|Static IP", _I)),
    (
        NetCategory.VPN_DIRECT_CONNECT,
        re.compile(r"\bVPN\b|ExpressRoute|Interconnect|Direct ?Connect", _I),
    ),
    (NetCategory.CDN, re.compile(r"Content Delivery|\bCDN\b|Front ?Door|CloudFront", _I)),
    (NetCategory.INTER_REGION, re.compile(r"Inter[- ]?Region", _I)),
    (
        NetCategory.INTER_AZ,
        re.compile(r"Inter[- ]?(Zone|AZ)|Intra[- ]?Region|Inter-Availability", _I),
    ),
    (NetCategory.INTERNET_EGRESS, re.compile(r"Internet Egress|Data Transfer Out|Egress", _I)),
)


def classify(line: CostLine) -> NetCategory | None:
    """The network category of a cost line, or None when it is not network spend."""
    if line.provider == "aws":
        if _CLOUDFRONT.search(line.service):  # its transfer out is CDN spend
            return NetCategory.CDN
        if line.usage_type:
            for category, pattern in _AWS_USAGE:
                if pattern.search(line.usage_type):
                    return category
        for category, pattern in _AWS_SERVICES:
            if pattern.search(line.service):
                return category
    networking = (line.category or "").lower() == "networking"
    texts = [line.subcategory, line.resource_type, line.sku]
    if networking:
        texts.append(line.service)
    for category, pattern in _NAMES:
        if (networking or category is not NetCategory.INTERNET_EGRESS) and any(
            t and pattern.search(t) for t in texts
        ):
            return category
    return NetCategory.OTHER if networking else None
