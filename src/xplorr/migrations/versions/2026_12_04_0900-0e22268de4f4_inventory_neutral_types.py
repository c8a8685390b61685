"""inventory_resources: one set of resource types for every cloud (``inventory.types``), and the
provider's own type in a new ``native_type`` column; stored rows renamed

Before, AWS names were the inventory's (``EC2 Instance``...), GCP resources borrowed them and
Azure kept its own (``Managed Disk``...). Each stored (provider, old type) is renamed to its
neutral type, its native type the one today's collectors write; a type not listed (a bill's
name the inventory kept, e.g. ``Log Group``) keeps its name for both. The next inventory
refresh writes the same values. The table is frozen here, as this revision knows it.

Revision ID: 0e22268de4f4
Revises: 7769ed15510e
Create Date: 2026-12-04 09:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0e22268de4f4"
down_revision: str | None = "7769ed15510e"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (provider, old type) -> (new type, native type)
RENAMES: dict[tuple[str, str], tuple[str, str]] = {
    ("aws", "EC2 Instance"): ("Virtual Machine", "AWS::EC2::Instance"),
    ("aws", "EBS Volume"): ("Disk", "AWS::EC2::Volume"),
    ("aws", "EBS Snapshot"): ("Disk Snapshot", "AWS::EC2::Snapshot"),
    ("aws", "Elastic IP"): ("Public IP Address", "AWS::EC2::EIP"),
    ("aws", "VPC"): ("Virtual Network", "AWS::EC2::VPC"),
    ("aws", "Subnet"): ("Subnet", "AWS::EC2::Subnet"),
    ("aws", "Security Group"): ("Security Group", "AWS::EC2::SecurityGroup"),
    ("aws", "NAT Gateway"): ("NAT Gateway", "AWS::EC2::NatGateway"),
    ("aws", "Internet Gateway"): ("Internet Gateway", "AWS::EC2::InternetGateway"),
    ("aws", "Load Balancer"): ("Load Balancer", "AWS::ElasticLoadBalancingV2::LoadBalancer"),
    ("aws", "RDS Instance"): ("Managed Database", "AWS::RDS::DBInstance"),
    ("aws", "Lambda Function"): ("Serverless Function", "AWS::Lambda::Function"),
    ("aws", "S3 Bucket"): ("Object Storage Bucket", "AWS::S3::Bucket"),
    ("azure", "Virtual Machine"): ("Virtual Machine", "Microsoft.Compute/virtualMachines"),
    ("azure", "Managed Disk"): ("Disk", "Microsoft.Compute/disks"),
    ("azure", "Public IP Address"): ("Public IP Address", "Microsoft.Network/publicIPAddresses"),
    ("azure", "Load Balancer"): ("Load Balancer", "Microsoft.Network/loadBalancers"),
    ("azure", "NAT Gateway"): ("NAT Gateway", "Microsoft.Network/natGateways"),
    ("azure", "Virtual Network"): ("Virtual Network", "Microsoft.Network/virtualNetworks"),
    ("azure", "SQL Database"): ("Managed Database", "Microsoft.Sql/servers/databases"),
    ("azure", "Storage Account"): ("Object Storage Bucket", "Microsoft.Storage/storageAccounts"),
    ("azure", "App Service Plan"): ("App Service Plan", "Microsoft.Web/serverFarms"),
    ("azure", "Function App"): ("Serverless Function", "Function App"),
    ("gcp", "EC2 Instance"): ("Virtual Machine", "compute.googleapis.com/Instance"),
    ("gcp", "VM Instance"): ("Virtual Machine", "compute.googleapis.com/Instance"),
    ("gcp", "EBS Volume"): ("Disk", "compute.googleapis.com/Disk"),
    ("gcp", "Elastic IP"): ("Public IP Address", "compute.googleapis.com/Address"),
    ("gcp", "S3 Bucket"): ("Object Storage Bucket", "storage.googleapis.com/Bucket"),
    ("gcp", "Bucket"): ("Object Storage Bucket", "storage.googleapis.com/Bucket"),
    ("gcp", "RDS Instance"): ("Managed Database", "sqladmin.googleapis.com/Instance"),
    ("gcp", "Cloud SQL Instance"): ("Managed Database", "sqladmin.googleapis.com/Instance"),
    ("gcp", "Cloud NAT Gateway"): ("NAT Gateway", "Cloud NAT Gateway"),
    ("gcp", "Cloud Function"): ("Serverless Function", "Cloud Function"),
}
# Downgrade: (provider, native type) -> the old type (the API collectors' names of the time)
_BACK: dict[tuple[str, str], str] = {}
for (_provider, _old), (_new, _native) in RENAMES.items():
    _BACK.setdefault((_provider, _native), _old)

CLASSIC = "AWS::ElasticLoadBalancing::LoadBalancer"  # AWS's Classic Load Balancers

_rows = sa.table(
    "inventory_resources",
    sa.column("provider", sa.String),
    sa.column("resource_type", sa.String),
    sa.column("native_type", sa.String),
    sa.column("attributes", sa.JSON),
)


def upgrade() -> None:
    with op.batch_alter_table("inventory_resources", schema=None) as batch_op:
        batch_op.add_column(sa.Column("native_type", sa.String(length=200), nullable=True))
    for (provider, old), (new, native) in RENAMES.items():
        op.execute(
            _rows.update()
            .where(_rows.c.provider == provider, _rows.c.resource_type == old)
            .values(resource_type=new, native_type=native)
        )
    op.execute(
        _rows.update()
        .where(
            _rows.c.provider == "aws",
            _rows.c.resource_type == "Load Balancer",
            _rows.c.attributes["lb_type"].as_string() == "classic",
        )
        .values(native_type=CLASSIC)
    )
    op.execute(
        _rows.update()
        .where(_rows.c.native_type.is_(None))
        .values(native_type=_rows.c.resource_type)
    )
    with op.batch_alter_table("inventory_resources", schema=None) as batch_op:
        batch_op.alter_column("native_type", existing_type=sa.String(length=200), nullable=False)


def downgrade() -> None:
    _BACK[("aws", CLASSIC)] = "Load Balancer"
    for (provider, native), old in _BACK.items():
        op.execute(
            _rows.update()
            .where(_rows.c.provider == provider, _rows.c.native_type == native)
            .values(resource_type=old)
        )
    with op.batch_alter_table("inventory_resources", schema=None) as batch_op:
        batch_op.drop_column("native_type")
