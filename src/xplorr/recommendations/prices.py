"""The on-demand prices the AWS rules compute savings from: a shipped, dated table, and the
fresher prices read through the Pricing API where the account allows it (``PriceBook``).

The shipped table: AWS public on-demand list prices in USD for US East (N. Virginia), Linux,
shared tenancy, as AWS published them (``PRICES_AS_OF``). A month is 730 hours (AWS's own
convention in its pricing pages and calculator).

The refresh (``recommendations.aws_prices``) reads, through ``pricing:GetProducts``, the EC2
instance-hour and EBS GiB-month prices of the types and regions the organization's inventory
has (and of the types its rules would recommend), per region. A rule asks the book for a
price in the resource's region: the Pricing API's when one was read for that region
(``source`` ``pricing-api``, dated the day it was read), else the shipped table's us-east-1
figure (``source`` ``shipped table``, dated ``PRICES_AS_OF``: other regions are mostly 0-20 %
dearer, so such an estimate is on the low side there). A saving that compares two prices
(a smaller type, gp3 against gp2) takes both from the same source and region, never one of
each. Snapshots, Elastic IPs and load balancers are priced from the shipped table only.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Final, Literal

PRICES_AS_OF: Final = "2024-11-01"
SHIPPED: Final = "shipped table"
PRICING_API: Final = "pricing-api"
PRICE_REGION: Final = "us-east-1"
CURRENCY: Final = "USD"
HOURS_PER_MONTH: Final = Decimal(730)

# EC2 on-demand, USD per hour.
EC2_HOURLY: Final[dict[str, Decimal]] = {
    k: Decimal(v)
    for k, v in {
        "t1.micro": "0.02",
        "m1.small": "0.044",
        "m1.medium": "0.087",
        "m1.large": "0.175",
        "m1.xlarge": "0.35",
        "m3.medium": "0.067",
        "m3.large": "0.133",
        "m3.xlarge": "0.266",
        "m3.2xlarge": "0.532",
        "c3.large": "0.105",
        "c3.xlarge": "0.21",
        "c3.2xlarge": "0.42",
        "r3.large": "0.166",
        "r3.xlarge": "0.333",
        "r3.2xlarge": "0.665",
        "t2.nano": "0.0058",
        "t2.micro": "0.0116",
        "t2.small": "0.023",
        "t2.medium": "0.0464",
        "t2.large": "0.0928",
        "t2.xlarge": "0.1856",
        "t2.2xlarge": "0.3712",
        "t3.nano": "0.0052",
        "t3.micro": "0.0104",
        "t3.small": "0.0208",
        "t3.medium": "0.0416",
        "t3.large": "0.0832",
        "t3.xlarge": "0.1664",
        "t3.2xlarge": "0.3328",
        "t3a.nano": "0.0047",
        "t3a.micro": "0.0094",
        "t3a.small": "0.0188",
        "t3a.medium": "0.0376",
        "t3a.large": "0.0752",
        "t3a.xlarge": "0.1504",
        "t3a.2xlarge": "0.3008",
        "m4.large": "0.10",
        "m4.xlarge": "0.20",
        "m4.2xlarge": "0.40",
        "m4.4xlarge": "0.80",
        "m4.10xlarge": "2.00",
        "m5.large": "0.096",
        "m5.xlarge": "0.192",
        "m5.2xlarge": "0.384",
        "m5.4xlarge": "0.768",
        "m5.8xlarge": "1.536",
        "m5.12xlarge": "2.304",
        "m5.16xlarge": "3.072",
        "m5.24xlarge": "4.608",
        "m5a.large": "0.086",
        "m5a.xlarge": "0.172",
        "m5a.2xlarge": "0.344",
        "m5a.4xlarge": "0.688",
        "m6i.large": "0.096",
        "m6i.xlarge": "0.192",
        "m6i.2xlarge": "0.384",
        "m6i.4xlarge": "0.768",
        "m6i.8xlarge": "1.536",
        "m6g.medium": "0.0385",
        "m6g.large": "0.077",
        "m6g.xlarge": "0.154",
        "m6g.2xlarge": "0.308",
        "m6g.4xlarge": "0.616",
        "m7i.large": "0.1008",
        "m7i.xlarge": "0.2016",
        "m7i.2xlarge": "0.4032",
        "m7i.4xlarge": "0.8064",
        "c4.large": "0.10",
        "c4.xlarge": "0.199",
        "c4.2xlarge": "0.398",
        "c4.4xlarge": "0.796",
        "c5.large": "0.085",
        "c5.xlarge": "0.17",
        "c5.2xlarge": "0.34",
        "c5.4xlarge": "0.68",
        "c5.9xlarge": "1.53",
        "c6i.large": "0.085",
        "c6i.xlarge": "0.17",
        "c6i.2xlarge": "0.34",
        "c6i.4xlarge": "0.68",
        "c6i.8xlarge": "1.36",
        "c6g.large": "0.068",
        "c6g.xlarge": "0.136",
        "c6g.2xlarge": "0.272",
        "r4.large": "0.133",
        "r4.xlarge": "0.266",
        "r4.2xlarge": "0.532",
        "r4.4xlarge": "1.064",
        "r5.large": "0.126",
        "r5.xlarge": "0.252",
        "r5.2xlarge": "0.504",
        "r5.4xlarge": "1.008",
        "r5.8xlarge": "2.016",
        "r6i.large": "0.126",
        "r6i.xlarge": "0.252",
        "r6i.2xlarge": "0.504",
        "r6i.4xlarge": "1.008",
        "r6g.large": "0.1008",
        "r6g.xlarge": "0.2016",
        "r6g.2xlarge": "0.4032",
    }.items()
}

# EBS, USD per GiB-month (gp3's baseline 3,000 IOPS and 125 MB/s are included in its price).
EBS_GB_MONTH: Final[dict[str, Decimal]] = {
    "standard": Decimal("0.05"),
    "gp2": Decimal("0.10"),
    "gp3": Decimal("0.08"),
    "io1": Decimal("0.125"),
    "io2": Decimal("0.125"),
    "st1": Decimal("0.045"),
    "sc1": Decimal("0.015"),
}
SNAPSHOT_GB_MONTH: Final = Decimal("0.05")  # standard tier; snapshots store changed blocks
EIP_IDLE_HOURLY: Final = Decimal("0.005")  # a public IPv4 address, associated or not
LB_HOURLY: Final[dict[str, Decimal]] = {  # the fixed hourly part (LCUs come on top)
    "application": Decimal("0.0225"),
    "network": Decimal("0.0225"),
    "gateway": Decimal("0.0125"),
    "classic": Decimal("0.025"),
}

# Families AWS lists as previous generation -> the current family of the same shape.
PREVIOUS_GENERATION: Final[dict[str, str]] = {
    "t1": "t3",
    "t2": "t3",
    "m1": "m5",
    "m3": "m5",
    "m4": "m5",
    "c3": "c5",
    "c4": "c5",
    "r3": "r5",
    "r4": "r5",
}

SIZES: Final = (
    "nano",
    "micro",
    "small",
    "medium",
    "large",
    "xlarge",
    "2xlarge",
    "4xlarge",
    "8xlarge",
    "12xlarge",
    "16xlarge",
    "24xlarge",
)


def ec2_hourly(instance_type: str | None) -> Decimal | None:
    """The shipped table's us-east-1 hourly price."""
    return EC2_HOURLY.get(instance_type or "")


def monthly(hourly: Decimal) -> Decimal:
    return hourly * HOURS_PER_MONTH


def split_type(instance_type: str) -> tuple[str, str] | None:
    """``m5.2xlarge`` -> ``("m5", "2xlarge")``."""
    family, dot, size = instance_type.partition(".")
    return (family, size) if dot and family and size else None


def smaller_sizes(instance_type: str) -> list[str]:
    """The family's smaller sizes of ``SIZES``, nearest first (``m5.2xlarge`` ->
    ``m5.xlarge``, ``m5.large``...): candidates, whether or not the type exists."""
    parts = split_type(instance_type)
    if parts is None or parts[1] not in SIZES:
        return []
    family, size = parts
    return [f"{family}.{smaller}" for smaller in reversed(SIZES[: SIZES.index(size)])]


def successor_type(instance_type: str) -> str | None:
    """The current-generation type of the same size as a previous-generation one, whether or
    not it is priced (``m4.xlarge`` -> ``m5.xlarge``)."""
    parts = split_type(instance_type)
    if parts is None or parts[0] not in PREVIOUS_GENERATION:
        return None
    return f"{PREVIOUS_GENERATION[parts[0]]}.{parts[1]}"


PriceKind = Literal["ec2", "ebs"]


@dataclass(frozen=True, slots=True)
class Quote:
    """One price and where it comes from: ``region`` is the region the price is for (the
    shipped table's is us-east-1 whatever the resource's region)."""

    price: Decimal
    source: str  # SHIPPED | PRICING_API
    as_of: str  # YYYY-MM-DD: the table's date, or the day the Pricing API was read
    region: str

    def evidence(self, prefix: str = "") -> dict[str, Any]:
        return {
            f"{prefix}price_source": self.source,
            f"{prefix}price_date": self.as_of,
            f"{prefix}price_region": self.region,
        }


def table_quote(price: Decimal) -> Quote:
    """A price of the shipped table."""
    return Quote(price, SHIPPED, PRICES_AS_OF, PRICE_REGION)


_SHIPPED_TABLES: Final[dict[str, Mapping[str, Decimal]]] = {
    "ec2": EC2_HOURLY,
    "ebs": EBS_GB_MONTH,
}


@dataclass(frozen=True, slots=True)
class PriceBook:
    """The prices a refresh prices with: ``fetched`` maps (kind, item, region) to a Pricing
    API quote; everything else falls back to the shipped table. ``warning``: why the account's
    prices could not be refreshed (a denied ``pricing:GetProducts``), shown in the evidence of
    what the shipped table priced."""

    fetched: Mapping[tuple[str, str, str], Quote] = field(default_factory=dict)
    warning: str | None = None

    def shipped(self, kind: PriceKind, item: str | None) -> Quote | None:
        price = _SHIPPED_TABLES[kind].get(item or "")
        return None if price is None else table_quote(price)

    def quote(self, kind: PriceKind, item: str | None, region: str | None) -> Quote | None:
        """The Pricing API's price in ``region`` when one was read, else the shipped one."""
        got = self.fetched.get((kind, item or "", region or ""))
        return got if got is not None else self.shipped(kind, item)

    def pair(
        self, kind: PriceKind, item: str | None, other: str, region: str | None
    ) -> tuple[Quote, Quote] | None:
        """Both prices from the same source and region (the Pricing API's for ``region``
        when it has both, else the shipped table's), or None."""
        a = self.fetched.get((kind, item or "", region or ""))
        b = self.fetched.get((kind, other, region or ""))
        if a is not None and b is not None:
            return a, b
        a, b = self.shipped(kind, item), self.shipped(kind, other)
        return (a, b) if a is not None and b is not None else None

    def one_size_down(self, instance_type: str, region: str | None) -> str | None:
        """The next smaller size of the same family that the book prices (``m5.2xlarge`` ->
        ``m5.xlarge``) alongside ``instance_type``; None when there is none."""
        for candidate in smaller_sizes(instance_type):
            if self.pair("ec2", instance_type, candidate, region) is not None:
                return candidate
        return None

    def successor(self, instance_type: str, region: str | None) -> str | None:
        candidate = successor_type(instance_type)
        if candidate and self.pair("ec2", instance_type, candidate, region) is not None:
            return candidate
        return None

    def basis(self, *quotes: Quote) -> dict[str, Any]:
        """Evidence of where the prices come from: the first quote's source, date and region
        (a second one, the recommended type's, under ``recommended_``), and the warning when
        the shipped table priced it."""
        out: dict[str, Any] = {}
        for prefix, q in zip(("", "recommended_"), quotes, strict=False):
            out |= q.evidence(prefix)
        if self.warning and any(q.source == SHIPPED for q in quotes):
            out["price_warning"] = self.warning
        return out


SHIPPED_BOOK: Final = PriceBook()


def one_size_down(instance_type: str) -> str | None:
    """The shipped table's next smaller size (``m5.2xlarge`` -> ``m5.xlarge``)."""
    return SHIPPED_BOOK.one_size_down(instance_type, PRICE_REGION)


def successor(instance_type: str) -> str | None:
    """The shipped table's current-generation type of the same size for a previous-generation
    one."""
    return SHIPPED_BOOK.successor(instance_type, PRICE_REGION)
