"""allocation_rules: rules over a Kubernetes cluster's cost

A rule may now share one cluster's idle cost, a namespace's or the pods without a label
(``source_cluster_id``, ``source_idle``, ``source_namespace``; ``source_tag_*`` then name a pod
label) across the cluster's namespaces (``target_kind`` ``namespace``, no ``target_tag_key``)
or the values of a pod label (``target_kind`` ``tag``). Existing rules are cloud rules with a
tag target, as before.

Revision ID: b7e3c91a4d20
Revises: 5c0a9e3d7b21
Create Date: 2026-12-05 09:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b7e3c91a4d20"
down_revision: str | None = "5c0a9e3d7b21"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("allocation_rules", schema=None) as batch_op:
        batch_op.add_column(sa.Column("source_cluster_id", sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column("source_namespace", sa.String(length=253), nullable=True))
        batch_op.add_column(
            sa.Column("source_idle", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(
            sa.Column(
                "target_kind",
                sa.Enum("tag", "namespace", name="allocationtarget", native_enum=False, length=16),
                server_default="tag",
                nullable=False,
            )
        )
        batch_op.alter_column("target_tag_key", existing_type=sa.String(length=200), nullable=True)
        batch_op.create_index(
            batch_op.f("ix_allocation_rules_source_cluster_id"),
            ["source_cluster_id"],
            unique=False,
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_allocation_rules_source_cluster_id_kubernetes_clusters"),
            "kubernetes_clusters",
            ["source_cluster_id"],
            ["id"],
            ondelete="CASCADE",
        )


def downgrade() -> None:
    # Cluster rules have no meaning without these columns.
    op.execute(sa.text("DELETE FROM allocation_rules WHERE source_cluster_id IS NOT NULL"))
    with op.batch_alter_table("allocation_rules", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_allocation_rules_source_cluster_id_kubernetes_clusters"),
            type_="foreignkey",
        )
        batch_op.drop_index(batch_op.f("ix_allocation_rules_source_cluster_id"))
        batch_op.alter_column("target_tag_key", existing_type=sa.String(length=200), nullable=False)
        batch_op.drop_column("target_kind")
        batch_op.drop_column("source_idle")
        batch_op.drop_column("source_namespace")
        batch_op.drop_column("source_cluster_id")
