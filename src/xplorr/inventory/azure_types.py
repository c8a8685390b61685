"""Azure resource types -> the inventory's resource types (one table, also in the README).

The inventory names types as people say them, one set for every cloud: where a concept has the
same name across clouds, Azure's resources take the name AWS's already use ("Load Balancer",
"NAT Gateway"), so ``/inventory?type=Load Balancer`` lists both; the others take Azure's own
name, the one Azure's bill gives them (the demo data's ResourceType), so bill-derived and
API-read Azure inventories agree. ``kind`` is the cross-cloud family the filters and the
savings area may group by.

=========================================  ====================  =================  =========
ARM type (Resource Graph ``type``)         inventory type        service            kind
=========================================  ====================  =================  =========
microsoft.compute/virtualmachines          Virtual Machine       Virtual Machines   compute
microsoft.compute/disks                    Managed Disk          Storage            storage
microsoft.network/publicipaddresses        Public IP Address     Virtual Network    network
microsoft.network/loadbalancers            Load Balancer         Load Balancer      network
microsoft.web/serverfarms                  App Service Plan      Azure App Service  compute
microsoft.sql/servers/databases            SQL Database          SQL Database       database
microsoft.storage/storageaccounts          Storage Account       Storage            storage
microsoft.network/virtualnetworks          Virtual Network       Virtual Network    network
microsoft.network/natgateways              NAT Gateway           NAT Gateway        network
=========================================  ====================  =================  =========
"""

from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True, slots=True)
class InventoryType:
    resource_type: str
    service: str
    kind: str


VIRTUAL_MACHINE: Final = "microsoft.compute/virtualmachines"
DISK: Final = "microsoft.compute/disks"
PUBLIC_IP: Final = "microsoft.network/publicipaddresses"
LOAD_BALANCER: Final = "microsoft.network/loadbalancers"
APP_SERVICE_PLAN: Final = "microsoft.web/serverfarms"
SQL_DATABASE: Final = "microsoft.sql/servers/databases"
STORAGE_ACCOUNT: Final = "microsoft.storage/storageaccounts"
VIRTUAL_NETWORK: Final = "microsoft.network/virtualnetworks"
NAT_GATEWAY: Final = "microsoft.network/natgateways"

AZURE_TYPES: Final[dict[str, InventoryType]] = {
    VIRTUAL_MACHINE: InventoryType("Virtual Machine", "Virtual Machines", "compute"),
    DISK: InventoryType("Managed Disk", "Storage", "storage"),
    PUBLIC_IP: InventoryType("Public IP Address", "Virtual Network", "network"),
    LOAD_BALANCER: InventoryType("Load Balancer", "Load Balancer", "network"),
    APP_SERVICE_PLAN: InventoryType("App Service Plan", "Azure App Service", "compute"),
    SQL_DATABASE: InventoryType("SQL Database", "SQL Database", "database"),
    STORAGE_ACCOUNT: InventoryType("Storage Account", "Storage", "storage"),
    VIRTUAL_NETWORK: InventoryType("Virtual Network", "Virtual Network", "network"),
    NAT_GATEWAY: InventoryType("NAT Gateway", "NAT Gateway", "network"),
}


def inventory_type(arm_type: str) -> InventoryType | None:
    """The inventory's type of an ARM type (case-insensitive, as ARM types are)."""
    return AZURE_TYPES.get(arm_type.lower())
