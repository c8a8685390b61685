"""The shipped on-demand price table the AWS rules compute savings from.

AWS public on-demand list prices in USD for US East (N. Virginia), Linux, shared tenancy, as
AWS published them (``PRICES_AS_OF``). A month is 730 hours (AWS's own convention in its
pricing pages and calculator). A resource in another region is priced with the us-east-1
figure and its evidence says so (``price_region``): other regions are mostly 0-20 % dearer, so
the estimate is on the low side there. Refreshing this table through the Pricing API
(``pricing:GetProducts``) is not implemented: the table is the only source today.
"""

from decimal import Decimal
from typing import Final

PRICES_AS_OF: Final = "2024-11-01"
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
    return EC2_HOURLY.get(instance_type or "")


def monthly(hourly: Decimal) -> Decimal:
    return hourly * HOURS_PER_MONTH


def split_type(instance_type: str) -> tuple[str, str] | None:
    """``m5.2xlarge`` -> ``("m5", "2xlarge")``."""
    family, dot, size = instance_type.partition(".")
    return (family, size) if dot and family and size else None


def one_size_down(instance_type: str) -> str | None:
    """The next smaller size of the same family that the table prices (``m5.2xlarge`` ->
    ``m5.xlarge``); None when there is none."""
    parts = split_type(instance_type)
    if parts is None or parts[1] not in SIZES:
        return None
    family, size = parts
    for smaller in reversed(SIZES[: SIZES.index(size)]):
        candidate = f"{family}.{smaller}"
        if candidate in EC2_HOURLY:
            return candidate
    return None


def successor(instance_type: str) -> str | None:
    """The current-generation type of the same size for a previous-generation one."""
    parts = split_type(instance_type)
    if parts is None or parts[0] not in PREVIOUS_GENERATION:
        return None
    candidate = f"{PREVIOUS_GENERATION[parts[0]]}.{parts[1]}"
    return candidate if candidate in EC2_HOURLY else None
