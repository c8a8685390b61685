"""The inventory's resource types: the README's table is ``inventory.types.MAPPINGS`` (so the
two cannot drift), every type a connector reports is mapped, the migration that renamed stored
rows agrees with the mapping, and the lookups behave."""

import importlib.util
from pathlib import Path

from xplorr.connectors.aws import inventory as aws
from xplorr.connectors.azure import inventory as azure
from xplorr.connectors.demo import resources as demo
from xplorr.connectors.gcp import inventory as gcp
from xplorr.inventory import types

ROOT = Path(__file__).parents[2]
SECTION = "## Resource types across clouds"
NONE = "—"


def documented() -> set[tuple[str, str, str | None, tuple[str, ...]]]:
    """The rows of the README's table: (inventory type, provider, API type, bill spellings)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index(SECTION) :]
    section = section[: section.index("\n## ", 1)]
    rows = set()
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if not line.startswith("| ") or cells[0] == "Inventory type" or len(cells) != 4:
            continue
        rtype, provider, native, bills = cells
        rows.add(
            (
                rtype,
                provider,
                None if native == NONE else native.strip("`"),
                () if bills == NONE else tuple(b.strip() for b in bills.split(",")),
            )
        )
    return rows


def test_the_readme_table_is_the_mapping() -> None:
    in_code = {
        (m.resource_type.value, m.provider, m.native_type, m.bill_names) for m in types.MAPPINGS
    }
    assert len(in_code) == len(types.MAPPINGS) > 20
    assert documented() == in_code
    # Every type of the vocabulary is some provider's
    assert {m.resource_type for m in types.MAPPINGS} == set(types.ResourceType)


def test_every_type_a_connector_reports_is_mapped() -> None:
    reported = (
        [("aws", t) for t in (*aws.REGIONAL_TYPES, aws.BUCKET)]
        + [("aws", t) for t in (demo.INSTANCE, demo.VOLUME, demo.SNAPSHOT, demo.EIP)]
        + [("aws", demo.LOAD_BALANCER)]
        + [("azure", t) for t in azure.SERVICES]
        + [("gcp", t) for t in gcp.TYPES]
    )
    for provider, native in reported:
        found = types.mapping_of(provider, native)
        assert found is not None, (provider, native)
        assert found.native_type == native  # reported in the table's own spelling


def test_the_rename_migration_agrees_with_the_mapping() -> None:
    (path,) = (ROOT / "src/xplorr/migrations/versions").glob("*0e22268de4f4*.py")
    spec = importlib.util.spec_from_file_location("rename_migration", path)
    assert spec is not None
    assert spec.loader is not None
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    for (provider, _old), (new, native) in migration.RENAMES.items():
        typed = types.observed_type(provider, native)
        assert (typed.resource_type, typed.native_type) == (new, native), (provider, native)


def test_lookups() -> None:
    # An API type in any case, a bill's spelling: the same mapping, the API's spelling kept
    assert types.observed_type("azure", "microsoft.compute/disks") == types.Typed(
        "Disk", "Microsoft.Compute/disks"
    )
    assert types.observed_type("aws", "Instance") == types.Typed(
        "Virtual Machine", "AWS::EC2::Instance"
    )
    # A bill-only spelling keeps its name as the native type; an unknown type both
    assert types.observed_type("gcp", "Cloud NAT Gateway") == types.Typed(
        "NAT Gateway", "Cloud NAT Gateway"
    )
    assert types.observed_type("aws", "Log Group") == types.Typed("Log Group", "Log Group")
    # Spellings are per provider: AWS's "Bucket" is not Azure's
    assert types.mapping_of("azure", "Bucket") is None
    # The type filter: a provider's name names that provider's spellings only
    assert types.filter_names("EC2 instance") == {
        "aws::ec2::instance",
        "ec2 instance",
        "instance",
    }
    assert types.filter_names("Virtual Machine") >= {
        "microsoft.compute/virtualmachines",
        "virtual machine",
    }
    assert types.filter_names("nothing of the kind") == frozenset()
