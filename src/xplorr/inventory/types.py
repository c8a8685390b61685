"""The inventory's resource types: one vocabulary for every cloud, and each provider's own types
mapped onto it. The one place that names them; the README's "Resource types across clouds"
table is this module's ``MAPPINGS`` (``tests/inventory/test_types.py`` reads one against the
other).

A resource is listed under a provider-neutral ``ResourceType`` ("Virtual Machine", "Disk"...),
so ``/inventory?type=Virtual Machine`` lists EC2 instances, Azure VMs and Compute Engine
instances together, and keeps its provider's own type in ``native_type``:

- read from a cloud API, the type as that API names it: AWS's CloudFormation type
  (``AWS::EC2::Instance``), the ARM type (``Microsoft.Compute/virtualMachines``), the Cloud
  Asset type (``compute.googleapis.com/Instance``). Connectors speak only these; the
  collectors map them here (``observed_type``).
- read from a bill (the bill-derived inventory of demo accounts, ``inventory.bill``), the
  bill's FOCUS ResourceType, which each provider spells its own way ("Instance",
  "EC2 Instance", "VM Instance"...): ``bill_names`` lists the spellings known; a known one is
  stored under its mapping's API type.

A provider type this table does not name keeps its own name as its inventory type (a bill's
"Log Group" stays "Log Group"): listed, never dropped.
"""

from dataclasses import dataclass
from enum import StrEnum
from typing import Final


class ResourceType(StrEnum):
    """The inventory's types, as a FinOps reader names them across clouds."""

    VIRTUAL_MACHINE = "Virtual Machine"
    DISK = "Disk"
    DISK_SNAPSHOT = "Disk Snapshot"
    PUBLIC_IP = "Public IP Address"
    LOAD_BALANCER = "Load Balancer"
    NAT_GATEWAY = "NAT Gateway"
    VIRTUAL_NETWORK = "Virtual Network"
    SUBNET = "Subnet"
    SECURITY_GROUP = "Security Group"
    INTERNET_GATEWAY = "Internet Gateway"
    MANAGED_DATABASE = "Managed Database"
    SERVERLESS_FUNCTION = "Serverless Function"
    OBJECT_STORAGE = "Object Storage Bucket"
    APP_SERVICE_PLAN = "App Service Plan"


@dataclass(frozen=True, slots=True)
class TypeMapping:
    """One provider type -> the inventory's type. ``native_type``: the API's name for it (None:
    known only from bills); ``bill_names``: how bills spell it (FOCUS ResourceType)."""

    provider: str  # aws | azure | gcp
    resource_type: ResourceType
    native_type: str | None
    bill_names: tuple[str, ...] = ()


R = ResourceType
# fmt: off
MAPPINGS: Final[tuple[TypeMapping, ...]] = (
    TypeMapping("aws", R.VIRTUAL_MACHINE, "AWS::EC2::Instance", ("EC2 Instance", "Instance")),
    TypeMapping("aws", R.DISK, "AWS::EC2::Volume", ("EBS Volume", "Volume")),
    TypeMapping("aws", R.DISK_SNAPSHOT, "AWS::EC2::Snapshot", ("EBS Snapshot", "Snapshot")),
    TypeMapping("aws", R.PUBLIC_IP, "AWS::EC2::EIP", ("Elastic IP",)),
    TypeMapping("aws", R.LOAD_BALANCER, "AWS::ElasticLoadBalancingV2::LoadBalancer", ("Load Balancer",)),  # noqa: E501
    TypeMapping("aws", R.LOAD_BALANCER, "AWS::ElasticLoadBalancing::LoadBalancer"),  # Classic
    TypeMapping("aws", R.NAT_GATEWAY, "AWS::EC2::NatGateway", ("NAT Gateway",)),
    TypeMapping("aws", R.VIRTUAL_NETWORK, "AWS::EC2::VPC", ("VPC",)),
    TypeMapping("aws", R.SUBNET, "AWS::EC2::Subnet"),
    TypeMapping("aws", R.SECURITY_GROUP, "AWS::EC2::SecurityGroup"),
    TypeMapping("aws", R.INTERNET_GATEWAY, "AWS::EC2::InternetGateway"),
    TypeMapping("aws", R.MANAGED_DATABASE, "AWS::RDS::DBInstance", ("RDS Instance", "DB Instance")),
    TypeMapping("aws", R.SERVERLESS_FUNCTION, "AWS::Lambda::Function", ("Lambda Function", "Function")),  # noqa: E501
    TypeMapping("aws", R.OBJECT_STORAGE, "AWS::S3::Bucket", ("S3 Bucket", "Bucket")),
    TypeMapping("azure", R.VIRTUAL_MACHINE, "Microsoft.Compute/virtualMachines", ("Virtual Machine",)),  # noqa: E501
    TypeMapping("azure", R.DISK, "Microsoft.Compute/disks", ("Disk", "Managed Disk")),
    TypeMapping("azure", R.PUBLIC_IP, "Microsoft.Network/publicIPAddresses", ("Public IP Address",)),  # noqa: E501
    TypeMapping("azure", R.LOAD_BALANCER, "Microsoft.Network/loadBalancers", ("Load Balancer",)),
    TypeMapping("azure", R.NAT_GATEWAY, "Microsoft.Network/natGateways", ("NAT Gateway",)),
    TypeMapping("azure", R.VIRTUAL_NETWORK, "Microsoft.Network/virtualNetworks", ("Virtual Network",)),  # noqa: E501
    TypeMapping("azure", R.MANAGED_DATABASE, "Microsoft.Sql/servers/databases", ("SQL Database",)),
    TypeMapping("azure", R.SERVERLESS_FUNCTION, None, ("Function App",)),
    TypeMapping("azure", R.OBJECT_STORAGE, "Microsoft.Storage/storageAccounts", ("Storage Account",)),  # noqa: E501
    TypeMapping("azure", R.APP_SERVICE_PLAN, "Microsoft.Web/serverFarms", ("App Service Plan",)),
    TypeMapping("gcp", R.VIRTUAL_MACHINE, "compute.googleapis.com/Instance", ("VM Instance", "Compute Instance")),  # noqa: E501
    TypeMapping("gcp", R.DISK, "compute.googleapis.com/Disk", ("Persistent Disk",)),
    TypeMapping("gcp", R.PUBLIC_IP, "compute.googleapis.com/Address"),
    TypeMapping("gcp", R.NAT_GATEWAY, None, ("Cloud NAT Gateway",)),
    TypeMapping("gcp", R.MANAGED_DATABASE, "sqladmin.googleapis.com/Instance", ("Cloud SQL Instance",)),  # noqa: E501
    TypeMapping("gcp", R.SERVERLESS_FUNCTION, None, ("Cloud Function",)),
    TypeMapping("gcp", R.OBJECT_STORAGE, "storage.googleapis.com/Bucket", ("Bucket", "Storage Bucket")),  # noqa: E501
)
# fmt: on

_BY_NAME: Final[dict[tuple[str, str], TypeMapping]] = {}
for _m in MAPPINGS:
    for _name in (_m.native_type, *_m.bill_names):
        if _name is not None:
            _key = (_m.provider, _name.lower())
            if _key in _BY_NAME:
                raise RuntimeError(f"{_m.provider} type {_name!r} is mapped twice")
            _BY_NAME[_key] = _m


def mapping_of(provider: str, name: str | None) -> TypeMapping | None:
    """The mapping of a provider's type, by its API name or a bill's spelling (any case: ARM
    types are case-insensitive, and bills write them lowercased)."""
    if not name:
        return None
    return _BY_NAME.get((provider, name.lower()))


@dataclass(frozen=True, slots=True)
class Typed:
    resource_type: str  # the inventory's type (a ResourceType, or the provider's unmapped name)
    native_type: str  # the provider's type (its API's name where the table knows one)


def observed_type(provider: str, name: str) -> Typed:
    """How a resource of the provider type ``name`` (an API type or a bill's spelling) is
    stored: the inventory's type and the provider's canonical type."""
    found = mapping_of(provider, name)
    if found is None:
        return Typed(name, name)
    return Typed(found.resource_type.value, found.native_type or name)


def native_type(provider: str, name: str) -> str:
    """The canonical spelling of a provider type (scopes of a snapshot compare on it)."""
    return observed_type(provider, name).native_type


def filter_names(value: str) -> frozenset[str]:
    """The stored ``native_type`` values (lowercased) the ``type`` filter ``value`` also names
    when it is a provider's own name for a type rather than the inventory's (``EC2 Instance``,
    ``AWS::EC2::Instance``, ``microsoft.compute/disks``): those of every provider that uses it."""
    wanted = value.lower()
    out: set[str] = set()
    for m in MAPPINGS:
        names = [n for n in (m.native_type, *m.bill_names) if n is not None]
        if any(n.lower() == wanted for n in names):
            out.update(n.lower() for n in names)
    return frozenset(out)
