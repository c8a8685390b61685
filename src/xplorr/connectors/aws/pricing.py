"""AWS on-demand list prices from the Price List Query API (``pricing:GetProducts``).

One ``GetProducts`` per price wanted (``Wanted``: an EC2 instance type or an EBS volume type in
one region), through botocore's paginator, on the API's us-east-1 endpoint:

- EC2 instance hours: ``ServiceCode=AmazonEC2`` with ``TERM_MATCH`` filters on
  ``instanceType``, ``location`` ("US East (N. Virginia)": ``regions.LOCATIONS``),
  ``operatingSystem=Linux``, ``tenancy=Shared``, ``preInstalledSw=NA``,
  ``licenseModel=No License required`` and ``capacitystatus=Used`` (the plain on-demand
  instance hour, not a capacity reservation's unused hours): the same product the shipped
  table prices;
- EBS storage: ``productFamily=Storage``, ``volumeApiName`` (gp2, gp3, io1...) and
  ``location``: the GiB-month price.

Each answer's ``PriceList`` is a list of JSON strings (one product each with its ``terms``):
the price is the ``OnDemand`` term's price dimension in the unit wanted (``Hrs``,
``GB-Mo``), in USD. No product is a ``FoundPrice`` with no price (AWS lists no such type
there); so are products disagreeing on the price, with a warning: not guessed.

Blocking (boto3): call ``read_prices`` through ``session.run``. A denied call (the
credentials lack ``pricing:GetProducts``) or refused keys stop the read at once with
``denied`` set and a warning: every other call would be refused the same way, and it is not
retried (the caller keeps the shipped table). AWS unavailable also stops the read with a
warning (the rest is read at a later refresh). Any other refusal of one lookup is a warning
and the read goes on.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Final, Literal

from xplorr.connectors.aws.regions import LOCATIONS
from xplorr.connectors.aws.session import AwsCallError, AwsSession, AwsUnavailable, call

PRICING_REGION: Final = "us-east-1"  # api.pricing.us-east-1.amazonaws.com
OPERATION: Final = "pricing:GetProducts"
PAGE_SIZE: Final = 100
CURRENCY: Final = "USD"

Kind = Literal["ec2", "ebs"]
UNITS: Final[dict[str, str]] = {"ec2": "Hrs", "ebs": "GB-Mo"}


@dataclass(frozen=True, slots=True)
class Wanted:
    kind: Kind
    item: str  # an instance type (m5.large) or a volume type (gp3)
    region: str  # the region code (eu-west-1)


@dataclass(frozen=True, slots=True)
class FoundPrice:
    wanted: Wanted
    price: Decimal | None  # None: AWS lists no such product there (or several prices)
    currency: str
    unit: str
    sku: str | None = None
    effective_date: str | None = None  # the on-demand term's effectiveDate (ISO)


@dataclass
class PriceScan:
    prices: list[FoundPrice] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    denied: bool = False  # pricing:GetProducts refused: nothing more was asked


def filters(wanted: Wanted) -> list[dict[str, str]]:
    """The ``TERM_MATCH`` filters of one lookup (``wanted.region`` has a known location)."""
    terms = {"location": LOCATIONS[wanted.region]}
    if wanted.kind == "ec2":
        terms |= {
            "instanceType": wanted.item,
            "operatingSystem": "Linux",
            "tenancy": "Shared",
            "preInstalledSw": "NA",
            "licenseModel": "No License required",
            "capacitystatus": "Used",
        }
    else:
        terms |= {"productFamily": "Storage", "volumeApiName": wanted.item}
    return [{"Type": "TERM_MATCH", "Field": k, "Value": v} for k, v in terms.items()]


def _products(client: Any, wanted: Wanted) -> Iterator[dict[str, Any]]:
    pages = client.get_paginator("get_products").paginate(
        ServiceCode="AmazonEC2",
        Filters=filters(wanted),
        FormatVersion="aws_v1",
        PaginationConfig={"PageSize": PAGE_SIZE},
    )
    for page in pages:
        for item in page.get("PriceList", []):
            yield json.loads(item) if isinstance(item, str) else item


@dataclass(frozen=True, slots=True)
class _Offer:
    price: Decimal
    sku: str | None
    effective_date: str | None


def on_demand(product: dict[str, Any], unit: str) -> _Offer | None:
    """The product's on-demand price per ``unit`` in USD (its first tier), or None."""
    sku = (product.get("product") or {}).get("sku")
    for term in ((product.get("terms") or {}).get("OnDemand") or {}).values():
        for dimension in (term.get("priceDimensions") or {}).values():
            if dimension.get("unit") != unit or str(dimension.get("beginRange", "0")) != "0":
                continue
            amount = (dimension.get("pricePerUnit") or {}).get(CURRENCY)
            try:
                price = Decimal(str(amount))
            except InvalidOperation:
                continue
            if price.is_finite() and price >= 0:
                return _Offer(price.normalize(), sku, term.get("effectiveDate"))
    return None


def _lookup(client: Any, wanted: Wanted, scan: PriceScan) -> None:
    unit = UNITS[wanted.kind]
    offers = [o for p in _products(client, wanted) if (o := on_demand(p, unit)) is not None]
    prices = {o.price for o in offers}
    if len(prices) > 1:
        listed = ", ".join(str(p) for p in sorted(prices))
        scan.warnings.append(
            f"{OPERATION}: {len(prices)} different on-demand prices for {wanted.item} in "
            f"{wanted.region} ({listed}); kept none"
        )
    offer = offers[0] if len(prices) == 1 else None
    scan.prices.append(
        FoundPrice(
            wanted,
            offer.price if offer else None,
            CURRENCY,
            unit,
            offer.sku if offer else None,
            offer.effective_date if offer else None,
        )
    )


def read_prices(session: AwsSession, wanted: Sequence[Wanted]) -> PriceScan:
    """The on-demand prices of ``wanted`` (blocking; see the module docstring for failures).
    A region with no known location is not asked."""
    scan = PriceScan()
    client = session.client("pricing", PRICING_REGION)
    for w in wanted:
        if w.region not in LOCATIONS:
            continue
        try:
            call(OPERATION, _lookup, client, w, scan)
        except AwsCallError as exc:
            scan.warnings.append(exc.failure.message)
            if exc.failure.denied or exc.failure.bad_credentials:
                scan.denied = True
                return scan
        except AwsUnavailable as exc:
            scan.warnings.append(f"{exc.failure.message} (read again at the next refresh)")
            return scan
    return scan
