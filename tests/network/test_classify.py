"""The network classification table on real AWS usage-type strings (the ``usage_type`` column)
and FOCUS names."""

import pytest

from xplorr.network.classify import CostLine, NetCategory, classify

N = NetCategory


def aws(
    usage_type: str | None,
    service: str = "Amazon Elastic Compute Cloud",
    category: str = "Compute",
):
    # SkuId as AWS fills it: an opaque product code; the usage type is its own column.
    return CostLine("aws", service, category, None, "9QH3PVGFZB2MTCJ7", None, usage_type)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (aws("USE1-DataTransfer-Out-Bytes"), N.INTERNET_EGRESS),
        (aws("DataTransfer-Out-Bytes"), N.INTERNET_EGRESS),
        (aws("EUW2-DataTransfer-Out-Bytes", "AWS Data Transfer", "Networking"), N.INTERNET_EGRESS),
        (aws("USE1-USW2-AWS-Out-Bytes"), N.INTER_REGION),
        (aws("EU-USE1-AWS-Out-Bytes"), N.INTER_REGION),
        (aws("USE1-DataTransfer-Regional-Bytes"), N.INTER_AZ),
        (aws("DataTransfer-Regional-Bytes"), N.INTER_AZ),
        (aws("USE1-NatGateway-Hours"), N.NAT_GATEWAY),
        (aws("NatGateway-Bytes"), N.NAT_GATEWAY),
        (aws("USE1-LoadBalancerUsage", "Elastic Load Balancing", "Networking"), N.LOAD_BALANCER),
        (aws("USE1-LCUUsage", "Elastic Load Balancing", "Networking"), N.LOAD_BALANCER),
        (aws("USE1-DataProcessing-Bytes", "Elastic Load Balancing", "Networking"), N.LOAD_BALANCER),
        (
            aws("USE1-PublicIPv4:InUseAddress", "Amazon Virtual Private Cloud", "Networking"),
            N.PUBLIC_IPV4,
        ),
        (aws("PublicIPv4:IdleAddress"), N.PUBLIC_IPV4),
        (aws("USE1-ElasticIP:IdleAddress"), N.PUBLIC_IPV4),
        (
            aws("USE1-VPN-Usage-Hours:ipsec.1", "Amazon Virtual Private Cloud", "Networking"),
            N.VPN_DIRECT_CONNECT,
        ),
        (aws("USE1-DataXfer-Out:dc.1", "AWS Direct Connect", "Networking"), N.VPN_DIRECT_CONNECT),
        (aws("USE1-PortUsage:dc.1G", "AWS Direct Connect", "Networking"), N.VPN_DIRECT_CONNECT),
        (aws("US-DataTransfer-Out-Bytes", "Amazon CloudFront", "Networking"), N.CDN),
        (aws("US-Requests-Tier1", "Amazon CloudFront", "Networking"), N.CDN),
        (aws("USE1-DataTransfer-In-Bytes"), N.OTHER),
        (aws("USE1-VpcEndpoint-Hours", "Amazon Virtual Private Cloud", "Networking"), N.OTHER),
        (aws("USE1-TransitGateway-Bytes", "Amazon Virtual Private Cloud", "Networking"), N.OTHER),
        # not network
        (aws("USE1-BoxUsage:m5.large"), None),
        (aws("USE1-EBS:VolumeUsage.gp3"), None),
        (aws(None, "Amazon Simple Storage Service", "Storage"), None),
        # FOCUS names (any provider)
        (
            CostLine(
                "azure",
                "Virtual Network",
                "Networking",
                "Network Connectivity",
                None,
                "Virtual Network",
            ),
            N.OTHER,
        ),
        (
            CostLine(
                "azure", "Bandwidth", "Networking", None, "Inter-Region Data Transfer Out", None
            ),
            N.INTER_REGION,
        ),
        (
            CostLine(
                "gcp",
                "Networking",
                "Networking",
                None,
                "Network Internet Egress from Americas to Americas",
                None,
            ),
            N.INTERNET_EGRESS,
        ),
        (
            CostLine("gcp", "Networking", "Networking", None, "Network Inter Zone Egress", None),
            N.INTER_AZ,
        ),
        (
            CostLine(
                "gcp",
                "Networking",
                "Networking",
                "Network Connectivity",
                "SKU-1",
                "Cloud NAT Gateway",
            ),
            N.NAT_GATEWAY,
        ),
        (CostLine("azure", "Load Balancer", "Networking", None, None, None), N.LOAD_BALANCER),
        (
            CostLine("azure", "Azure Front Door", "Networking", "Content Delivery", None, None),
            N.CDN,
        ),
        (CostLine("azure", "VPN Gateway", "Networking", None, None, None), N.VPN_DIRECT_CONNECT),
        (
            CostLine(
                "azure",
                "Virtual Network",
                "Networking",
                None,
                "Standard IPv4 Static Public IP",
                None,
            ),
            N.PUBLIC_IPV4,
        ),
        (
            CostLine(
                "aws",
                "Amazon Virtual Private Cloud",
                "Networking",
                "Network Connectivity",
                "SKU-AB12",
                "NAT Gateway",
            ),
            N.NAT_GATEWAY,
        ),
        # an Egress SKU name outside Networking is not claimed
        (CostLine("gcp", "BigQuery", "Analytics", None, "Egress of results", None), None),
        (CostLine("gcp", "Compute Engine", "Compute", "Virtual Machines", "N2 Core", "VM"), None),
    ],
)
def test_classification_table(line: CostLine, expected: NetCategory | None) -> None:
    assert classify(line) == expected
