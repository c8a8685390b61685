"""The Azure inventory through the refresh job a cost import queues, against the ARM double with
the real Resource Graph, Monitor and Advisor clients: every listed type mapped onto the
inventory's types with tags and state, Resource Graph pages followed, VM CPU read back,
Advisor's cost recommendations stored; /inventory, /inventory/filters, /inventory/export and
/network/summary show Azure beside AWS; denied reads keep their rows with warnings."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.azure.doubles import SUB, AzureFake, credentials, resource
from tests.conftest import ClientFor
from tests.factories.cloud_accounts import make_account
from tests.factories.costs import add_costs
from tests.factories.inventory import make_resource
from tests.inventory.test_aws import inventory, inventory_status, refresh
from xplorr.advisor.models import ProviderRecommendation
from xplorr.cloud_accounts.models import Provider
from xplorr.connectors.azure.inventory import scan_subscription
from xplorr.connectors.azure.session import open_session
from xplorr.core import clock
from xplorr.core.settings import Settings
from xplorr.inventory.models import InventoryResource
from xplorr.orgs.models import Org
from xplorr.users.models import User

VM, DISK, IP = (
    "microsoft.compute/virtualmachines",
    "microsoft.compute/disks",
    "microsoft.network/publicipaddresses",
)
VNET_ID = (
    f"/subscriptions/{SUB}/resourceGroups/rg-net/providers/Microsoft.Network/virtualNetworks/hub"
)
SUBNET_ID = f"{VNET_ID}/subnets/default"


def arrange(azure: AzureFake) -> dict[str, str]:
    running = resource(
        "Microsoft.Compute/virtualMachines",
        "web-1",
        tags={"env": "prod"},
        hardwareProfile={"vmSize": "Standard_D2s_v3"},
        storageProfile={"osDisk": {"osType": "Linux"}},
        extended={"instanceView": {"powerState": {"code": "PowerState/running"}}},
    )
    stopped = resource(
        "Microsoft.Compute/virtualMachines",
        "batch-1",
        extended={"instanceView": {"powerState": {"code": "PowerState/deallocated"}}},
    )
    azure.resources = [
        running,
        stopped,
        resource(
            "Microsoft.Compute/disks",
            "orphan",
            diskState="Unattached",
            diskSizeGB=128,
            sku={"name": "Premium_LRS"},
            tags={"team": "data"},
        ),
        resource("Microsoft.Compute/disks", "web-1-os", diskState="Attached", diskSizeGB=30),
        resource("Microsoft.Network/publicIPAddresses", "spare-ip", ipAddress="20.1.2.3"),
        resource(
            "Microsoft.Network/publicIPAddresses",
            "web-ip",
            ipConfiguration={"id": "/nic/ipconfig1"},
        ),
        resource(
            "Microsoft.Network/loadBalancers",
            "web-lb",
            group="rg-net",
            provisioningState="Succeeded",
            frontendIPConfigurations=[{"properties": {"subnet": {"id": SUBNET_ID}}}],
            backendAddressPools=[{}],
        ),
        resource(
            "Microsoft.Web/serverFarms",
            "plan-1",
            status="Ready",
            numberOfSites=0,
            sku={"name": "P1v3", "tier": "PremiumV3"},
        ),
        resource("Microsoft.Sql/servers/databases", "sql-1/orders", status="Online"),
        resource(
            "Microsoft.Storage/storageAccounts",
            "stlogs",
            statusOfPrimary="available",
            kind="StorageV2",
            accessTier="Hot",
            location="westeurope",
        ),
        resource(
            "Microsoft.Network/virtualNetworks",
            "hub",
            group="rg-net",
            provisioningState="Succeeded",
            addressSpace={"addressPrefixes": ["10.0.0.0/16"]},
        ),
        resource(
            "Microsoft.Network/natGateways",
            "nat-1",
            group="rg-net",
            provisioningState="Succeeded",
            subnets=[{"id": SUBNET_ID}],
        ),
        resource("Microsoft.KeyVault/vaults", "kv-1"),  # not a collected type
    ]
    two, three = ((datetime.now(UTC) - timedelta(days=n)).date().isoformat() for n in (2, 3))
    azure.cpu = {running["id"].lower(): [(three, 4.0, 4.0), (two, 20.0, 30.0)]}
    azure.advisor = [
        {
            "id": f"{running['id']}/providers/Microsoft.Advisor/recommendations/rec-1",
            "name": "rec-1",
            "type": "Microsoft.Advisor/recommendations",
            "properties": {
                "category": "Cost",
                "impact": "High",
                "impactedField": "Microsoft.Compute/virtualMachines",
                "impactedValue": "web-1",
                "lastUpdated": "2026-12-01T00:00:00Z",
                "shortDescription": {
                    "problem": "Right-size or shutdown underutilized virtual machines",
                    "solution": "Right-size or shutdown underutilized virtual machines",
                },
                "extendedProperties": {
                    "savingsAmount": "61.32",
                    "annualSavingsAmount": "735.84",
                    "savingsCurrency": "USD",
                    "targetSku": "Standard_B2s",
                },
                "resourceMetadata": {"resourceId": running["id"]},
            },
        }
    ]
    return {"vm": running["id"].lower(), "stopped": stopped["id"].lower()}


async def test_types_tags_cpu_advisor_and_the_inventory_endpoints(
    azure: AzureFake,
    settings: Settings,
    db: AsyncSession,
    org: Org,
    admin: User,
    client_for: ClientFor,
) -> None:
    client = client_for(admin)
    ids = arrange(azure)
    account = await make_account(db, org, provider=Provider.AZURE, provider_account_id=SUB)
    account_id = str(account.id)
    aws = await make_account(db, org, provider=Provider.AWS)
    await make_resource(db, aws, resource_id="i-0abc", resource_type="Load Balancer")
    nat_id = (
        f"/subscriptions/{SUB}/resourcegroups/rg-net/providers/microsoft.network/natgateways/nat-1"
    )
    today = clock.now().date()
    await add_costs(
        db,
        account,
        [
            {
                "usage_date": today - timedelta(days=2),
                "billed_cost": "4.50",
                "provider": "azure",
                "service_name": "NAT Gateway",
                "service_category": "Networking",
                "region": "eastus",
                "resource_id": nat_id,
            }
        ],
    )
    await refresh(db, settings, account)
    found = await inventory(db)
    assert azure.count("graph") == 6  # 12 rows of the types asked, 2 a page: $skipToken

    web = found[ids["vm"]]
    assert (web.provider, web.resource_type, web.service, web.status, web.region, web.tags) == (
        "azure",
        "Virtual Machine",
        "Virtual Machines",
        "Running",
        "eastus",
        {"env": "prod"},
    )
    assert web.attributes["vm_size"] == "Standard_D2s_v3"
    assert web.attributes["arm_id"].startswith(f"/subscriptions/{SUB}/resourceGroups/rg-app/")
    days = {d["date"]: (d["average"], d["maximum"]) for d in web.attributes["cpu_daily"]}
    assert list(days.values()) == [(4.0, 4.0), (20.0, 30.0)]
    assert web.attributes["cpu_maximum_14d"] == 30.0
    assert found[ids["stopped"]].status == "Deallocated"
    assert "cpu_daily" not in found[ids["stopped"]].attributes
    assert azure.count("metrics") == 1  # running VMs only
    by_name = {r.name: r for r in found.values() if r.provider == "azure"}
    # ARM types under the inventory's types (inventory.types), the ARM type kept
    vm, disk, ip = (
        "Microsoft.Compute/virtualMachines",
        "Microsoft.Compute/disks",
        "Microsoft.Network/publicIPAddresses",
    )
    assert {n: (r.resource_type, r.native_type, r.status) for n, r in by_name.items()} == {
        "web-1": ("Virtual Machine", vm, "Running"),
        "batch-1": ("Virtual Machine", vm, "Deallocated"),
        "orphan": ("Disk", disk, "Unattached"),
        "web-1-os": ("Disk", disk, "Attached"),
        "spare-ip": ("Public IP Address", ip, "Unassociated"),
        "web-ip": ("Public IP Address", ip, "Associated"),
        "web-lb": ("Load Balancer", "Microsoft.Network/loadBalancers", "Succeeded"),
        "plan-1": ("App Service Plan", "Microsoft.Web/serverFarms", "Ready"),
        "sql-1/orders": ("Managed Database", "Microsoft.Sql/servers/databases", "Online"),
        "stlogs": ("Object Storage Bucket", "Microsoft.Storage/storageAccounts", "Available"),
        "hub": ("Virtual Network", "Microsoft.Network/virtualNetworks", "Succeeded"),
        "nat-1": ("NAT Gateway", "Microsoft.Network/natGateways", "Succeeded"),
    }
    assert (by_name["orphan"].attributes["attached"], by_name["orphan"].tags) == (
        False,
        {"team": "data"},
    )
    assert by_name["nat-1"].attributes["vpc_id"] == VNET_ID.lower()
    assert by_name["web-lb"].attributes["vpc_id"] == VNET_ID.lower()
    await db.rollback()
    rec = await db.scalar(select(ProviderRecommendation))
    assert rec is not None
    assert (rec.source, rec.resource_id, rec.savings_amount, rec.currency, rec.impact) == (
        "azure-advisor",
        ids["vm"],
        Decimal("61.32"),
        "USD",
        "High",
    )

    lbs = (await client.get("/inventory", params={"type": "Load Balancer"})).json()
    assert sorted(i["provider"] for i in lbs["data"]) == ["aws", "azure"]
    filters = (await client.get("/inventory/filters")).json()
    assert {p["value"] for p in filters["providers"]} == {"aws", "azure"}
    assert "Disk" in {t["value"] for t in filters["types"]}
    disks = (await client.get("/inventory", params={"type": "microsoft.compute/disks"})).json()
    assert sorted(i["name"] for i in disks["data"]) == ["orphan", "web-1-os"]
    export = await client.get("/inventory/export", params={"provider": "azure"})
    assert export.status_code == 200
    assert export.text.count("\n") == 1 + 12
    nat = (await client.get("/inventory", params={"search": "nat-1"})).json()["data"][0]
    assert Decimal(str(nat["cost_30d"])) == Decimal("4.50")
    network = await client.get("/network/summary", params={"account_id": account_id})
    assert network.status_code == 200, network.text
    gateways = network.json()["nat_gateways"]
    assert [(g["resource_id"], g["name"], g["vpc_id"]) for g in gateways] == [
        (nat_id, "nat-1", VNET_ID.lower())
    ]


async def test_denied_reads_keep_their_rows_with_warnings(
    azure: AzureFake,
    settings: Settings,
    db: AsyncSession,
    org: Org,
    admin: User,
    client_for: ClientFor,
) -> None:
    arrange(azure)
    account = await make_account(db, org, provider=Provider.AZURE, provider_account_id=SUB)
    await refresh(db, settings, account)

    def azure_rows(found: dict[str, InventoryResource]) -> dict[str, InventoryResource]:
        return {r.name or "": r for r in found.values() if r.provider == "azure"}

    assert len(azure_rows(await inventory(db))) == 12
    # Resource Graph refused (Reader revoked): no scope is complete, nothing marked deleted.
    azure.denied = {"graph"}
    azure.resources = []
    await refresh(db, settings, account)
    assert all(r.deleted_at is None for r in azure_rows(await inventory(db)).values())
    scan = scan_subscription(open_session(settings, credentials()))
    assert [w[:38] for w in scan.warnings] == ["The inventory was not read (Microsoft."]
    assert scan.warnings[0].endswith("(permission denied)): grant Reader.")
    # ... and the user is told, beside the account's sync
    client = client_for(admin)
    assert (await inventory_status(client, account))["inventoryWarnings"] == scan.warnings

    # Monitor and Advisor refused: the resources are read (a disk gone is marked deleted),
    # CPU and recommendations are warnings and the stored recommendations are kept.
    azure.denied = {"metrics", "advisor"}
    arrange(azure)
    azure.resources = [r for r in azure.resources if r["name"] != "orphan"]
    await refresh(db, settings, account)
    found = azure_rows(await inventory(db))
    assert [n for n, r in found.items() if r.deleted_at is not None] == ["orphan"]
    assert "cpu_daily" not in found["web-1"].attributes
    assert await db.scalar(select(func.count()).select_from(ProviderRecommendation)) == 1
    scan = scan_subscription(open_session(settings, credentials()))
    assert [w.split(" (", 1)[0] for w in scan.warnings] == [
        "VM CPU was not read",
        "Advisor recommendations were not read",
    ]
    assert scan.recommendations is None
    # The newest refresh's warnings replace the ones before
    assert (await inventory_status(client, account))["inventoryWarnings"] == scan.warnings
