"""Tagging policies: CRUD contract and violations computed from the cost store's resources and
the live inventory.

Data (billed USD, every day inside the 30-day window that ends yesterday):
AWS (FOCUS) account: i-1 EC2 15.00 (10 + 5; tags team=api), i-2 EC2 7.50 (``Team``=api: AWS
keys are case-sensitive, so team is missing), i-3 EC2 3.25 (team=marketing, not allowed),
b-1 S3 1.10 (no tags), a row without resource 100.00 (never a resource). Azure account: vm-1
4.00 (``Team``=data: Azure names are case-insensitive, complies). Outside the window: i-9 50.
"""

from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import ClientFor
from tests.factories.cloud_accounts import grant, make_account
from tests.factories.costs import add_costs
from tests.factories.inventory import make_resource
from tests.factories.tagging import make_policy
from xplorr.cloud_accounts.models import CloudAccount, Provider
from xplorr.core import clock
from xplorr.core.audit import AuditEntry
from xplorr.inventory import types
from xplorr.orgs.models import Org
from xplorr.tagging.models import AppliesTo, TaggingPolicy
from xplorr.tagging.service import APPLIES_TO
from xplorr.users.models import User

EC2 = {"service_name": "Amazon Elastic Compute Cloud", "service_category": "Compute"}
S3 = {"service_name": "Amazon Simple Storage Service", "service_category": "Storage"}


def day(n: int) -> str:
    return (clock.now().date() - timedelta(days=n)).isoformat()


@pytest.fixture
async def accounts(db: AsyncSession, org: Org) -> tuple[CloudAccount, CloudAccount]:
    aws = await make_account(db, org, name="prod")
    azure = await make_account(db, org, provider=Provider.AZURE, name="apps")
    await add_costs(
        db,
        aws,
        [
            {
                "usage_date": day(3),
                "billed_cost": "10",
                "resource_id": "i-1",
                **EC2,
                "resource_name": "api-1",
                "resource_type": "Instance",
                "tags": {"team": "dev"},
            },
            {
                "usage_date": day(2),
                "billed_cost": "5",
                "resource_id": "i-1",
                **EC2,
                "resource_name": "api-1",
                "resource_type": "Instance",
                "tags": {"team": "api"},
            },
            {
                "usage_date": day(2),
                "billed_cost": "7.50",
                "resource_id": "i-2",
                **EC2,
                "tags": {"Team": "api"},
            },
            {
                "usage_date": day(2),
                "billed_cost": "3.25",
                "resource_id": "i-3",
                **EC2,
                "tags": {"team": "marketing"},
            },
            {
                "usage_date": day(2),
                "billed_cost": "1.10",
                "resource_id": "b-1",
                **S3,
                "region": None,
            },
            {"usage_date": day(2), "billed_cost": "100", "charge_category": "Tax"},
            {"usage_date": day(40), "billed_cost": "50", "resource_id": "i-9", **EC2},
        ],
    )
    await add_costs(
        db,
        azure,
        [
            {
                "usage_date": day(2),
                "billed_cost": "4",
                "resource_id": "vm-1",
                "service_name": "Virtual Machines",
                "service_category": "Compute",
                "region": "westeurope",
                "tags": {"Team": "data"},
            },
        ],
    )
    return aws, azure


async def _policies(db: AsyncSession, org: Org) -> None:
    await make_policy(db, org, tag_key="team", allowed_values=["api", "data", "frontend"])
    await make_policy(db, org, tag_key="env", applies_to=AppliesTo.S3)


def brief(body: dict) -> list[tuple]:
    return [
        (v["resource"]["id"], v["policy"]["tag_key"], v["kind"], v["value"], v["cost"])
        for v in body["data"]
    ]


class TestViolations:
    async def test_violations_kinds_costs_and_compliance(
        self, db: AsyncSession, client_for: ClientFor, org: Org, viewer: User, accounts
    ) -> None:
        await _policies(db, org)
        r = await client_for(viewer).get("/tagging-policies/violations")
        assert r.status_code == 200, r.text
        body = r.json()
        assert brief(body) == [
            ("i-2", "team", "missing", None, 7.5),
            ("i-3", "team", "value_not_allowed", "marketing", 3.25),
            ("b-1", "env", "missing", None, 1.1),
            ("b-1", "team", "missing", None, 1.1),
        ]
        assert (body["total"], body["total_violations"]) == (4, 4)
        first = body["data"][0]["resource"]
        assert first["provider"] == "aws"
        assert first["account_name"] == "prod"
        assert first["service"] == "Amazon Elastic Compute Cloud"
        assert body["end_date"] == day(1)
        assert body["start_date"] == day(30)
        compliance = {(p["tag_key"], p["currency"]): p for p in body["policies"]}
        team = compliance[("team", "USD")]
        assert (team["total_cost"], team["compliant_cost"], team["compliant_percent"]) == (
            30.85,
            19.0,
            61.59,
        )
        assert (team["resources"], team["violating_resources"]) == (5, 3)
        env = compliance[("env", "USD")]
        assert (env["total_cost"], env["compliant_cost"], env["compliant_percent"]) == (
            1.1,
            0.0,
            0.0,
        )

    async def test_member_sees_only_granted_accounts(
        self, db: AsyncSession, client_for: ClientFor, org: Org, member: User, accounts
    ) -> None:
        aws, _azure = accounts
        await _policies(db, org)
        await grant(db, member, aws)
        body = (await client_for(member).get("/tagging-policies/violations")).json()
        team = next(p for p in body["policies"] if p["tag_key"] == "team")
        assert (team["total_cost"], team["compliant_cost"], team["compliant_percent"]) == (
            26.85,
            15.0,
            55.87,
        )

    async def test_azure_key_case_insensitive_aws_not(
        self, db: AsyncSession, client_for: ClientFor, org: Org, admin: User, accounts
    ) -> None:
        await make_policy(db, org, tag_key="TEAM", applies_to=AppliesTo.COMPUTE)
        body = (await client_for(admin).get("/tagging-policies/violations")).json()
        # vm-1 (Azure, "Team") complies; every AWS compute resource lacks "TEAM".
        assert sorted(v["resource"]["id"] for v in body["data"]) == ["i-1", "i-2", "i-3"]

    async def test_optional_key_checks_values_only(
        self, db: AsyncSession, client_for: ClientFor, org: Org, admin: User, accounts
    ) -> None:
        await make_policy(db, org, tag_key="team", required=False, allowed_values=["api"])
        body = (await client_for(admin).get("/tagging-policies/violations")).json()
        assert brief(body) == [
            ("vm-1", "team", "value_not_allowed", "data", 4.0),
            ("i-3", "team", "value_not_allowed", "marketing", 3.25),
        ]

    async def test_capped_at_200_and_paginated(
        self, db: AsyncSession, client_for: ClientFor, org: Org, admin: User
    ) -> None:
        account = await make_account(db, org)
        await add_costs(
            db,
            account,
            [
                {
                    "usage_date": day(1),
                    "billed_cost": str(Decimal(i) / 100),
                    "resource_id": f"r-{i:03}",
                }
                for i in range(1, 206)
            ],
        )
        await make_policy(db, org)
        client = client_for(admin)
        body = (await client.get("/tagging-policies/violations", params={"limit": 200})).json()
        assert (body["total"], body["total_violations"], len(body["data"])) == (200, 205, 200)
        assert body["data"][0]["resource"]["id"] == "r-205"
        page = (
            await client.get("/tagging-policies/violations", params={"limit": 50, "page": 4})
        ).json()
        assert [v["resource"]["id"] for v in page["data"]][-1] == "r-006"
        r = await client.get("/tagging-policies/violations", params={"limit": 201})
        assert r.status_code == 422

    async def test_no_policies_no_violations(
        self, client_for: ClientFor, admin: User, accounts
    ) -> None:
        body = (await client_for(admin).get("/tagging-policies/violations")).json()
        assert (body["data"], body["total"], body["policies"]) == ([], 0, [])


@pytest.fixture
async def inventory_accounts(db: AsyncSession, org: Org) -> tuple[CloudAccount, CloudAccount]:
    """Live inventory beside the cost store.

    ``ce`` (an AWS account billed through Cost Explorer: its cost row names no resource):
    i-ok (team=api), i-bare (no tags), vol-1 (a disk, no tags), an Azure VM elsewhere; none
    has cost of its own. ``dx`` (billed with resource ids): i-web, known by its ARN on the
    bill (12.00, bill tags team=api) but tagged ``Team`` now (AWS keys are case-sensitive);
    i-data (team=data, 8.00 by bare id); vol-2 (a disk, no tags, 3.00 billed under EC2);
    i-old (only on the bill, team=marketing, 2.00); i-gone (deleted from the inventory with no
    tags, on the bill with team=api, 1.00)."""
    ce = await make_account(db, org, name="ce")
    dx = await make_account(db, org, name="dx")
    azure = await make_account(db, org, provider=Provider.AZURE, name="apps")
    await make_resource(db, ce, "i-ok", tags={"team": "api"})
    await make_resource(db, ce, "i-bare", name="batch")
    await make_resource(db, ce, "vol-1", service="Amazon EBS", resource_type="Disk")
    await make_resource(
        db, azure, "/subscriptions/s/vm-a", provider="azure", service="Virtual Machines"
    )
    await add_costs(db, ce, [{"usage_date": day(2), "billed_cost": "40", **EC2}])
    arn = "arn:aws:ec2:us-east-1:111111111111:instance/i-web"
    await make_resource(db, dx, "i-web", name="web", tags={"Team": "api"}, attributes={"arn": arn})
    await make_resource(db, dx, "i-data", tags={"team": "data"})
    await make_resource(db, dx, "vol-2", service="Amazon EBS", resource_type="Disk")
    await make_resource(db, dx, "i-gone", deleted_at=clock.now())
    await add_costs(
        db,
        dx,
        [
            {
                "usage_date": day(2),
                "billed_cost": "12",
                "resource_id": arn,
                **EC2,
                "tags": {"team": "api"},
            },
            {"usage_date": day(2), "billed_cost": "8", "resource_id": "i-data", **EC2},
            {"usage_date": day(2), "billed_cost": "3", "resource_id": "vol-2", **EC2},
            {
                "usage_date": day(2),
                "billed_cost": "2",
                "resource_id": "i-old",
                **EC2,
                "tags": {"team": "marketing"},
            },
            {
                "usage_date": day(2),
                "billed_cost": "1",
                "resource_id": "i-gone",
                **EC2,
                "tags": {"team": "api"},
            },
        ],
    )
    return ce, dx


class TestViolationsWithInventory:
    async def test_live_resources_priced_from_the_bill_or_null(
        self, db: AsyncSession, client_for: ClientFor, org: Org, viewer: User, inventory_accounts
    ) -> None:
        await make_policy(
            db, org, tag_key="team", allowed_values=["api", "data"], applies_to=AppliesTo.EC2
        )
        await make_policy(db, org, tag_key="owner", applies_to=AppliesTo.STORAGE)
        body = (await client_for(viewer).get("/tagging-policies/violations")).json()
        # Costliest first, those without cost last. i-web: the inventory's tags, the bill's
        # cost (by ARN). vol-2: a disk, reached by ``ec2`` through its EC2 cost rows. vol-1: a
        # disk with no cost, not an ``ec2`` resource. i-old: only on the bill. i-gone: deleted,
        # so checked with the bill's tags (complies). The Azure VM: not AWS.
        assert brief(body) == [
            ("i-web", "team", "missing", None, 12.0),
            ("vol-2", "owner", "missing", None, 3.0),
            ("vol-2", "team", "missing", None, 3.0),
            ("i-old", "team", "value_not_allowed", "marketing", 2.0),
            ("i-bare", "team", "missing", None, None),
            ("vol-1", "owner", "missing", None, None),
        ]
        web = body["data"][0]
        assert (web["resource"]["type"], web["resource"]["name"], web["currency"]) == (
            "Virtual Machine",
            "web",
            "USD",
        )
        last = body["data"][-1]
        assert (last["currency"], last["resource"]["type"]) == (None, "Disk")
        team = next(p for p in body["policies"] if p["tag_key"] == "team")
        # i-web 12 + i-data 8 + vol-2 3 + i-old 2 + i-gone 1; i-data and i-gone comply.
        assert (team["resources"], team["violating_resources"]) == (5, 3)
        assert (team["total_cost"], team["compliant_cost"], team["compliant_percent"]) == (
            26.0,
            9.0,
            34.62,
        )
        assert [
            (p["tag_key"], p["resources"], p["violating_resources"]) for p in body["without_cost"]
        ] == [("team", 2, 1), ("owner", 1, 1)]

    async def test_member_sees_the_inventory_of_granted_accounts_only(
        self, db: AsyncSession, client_for: ClientFor, org: Org, member: User, inventory_accounts
    ) -> None:
        ce, _dx = inventory_accounts
        await grant(db, member, ce)
        await make_policy(db, org, tag_key="team")
        body = (await client_for(member).get("/tagging-policies/violations")).json()
        assert brief(body) == [
            ("i-bare", "team", "missing", None, None),
            ("vol-1", "team", "missing", None, None),
        ]
        assert body["policies"] == []


class TestPolicies:
    async def test_create_list_delete(
        self, db: AsyncSession, client_for: ClientFor, admin: User, org: Org
    ) -> None:
        client = client_for(admin)
        r = await client.post(
            "/tagging-policies",
            json={
                "tag_key": "team",
                "required": True,
                "allowed_values": ["api", "data"],
                "applies_to": "ec2",
            },
        )
        assert r.status_code == 201, r.text
        created = r.json()
        assert (created["tag_key"], created["applies_to"], created["allowed_values"]) == (
            "team",
            "ec2",
            ["api", "data"],
        )
        listed = (await client.get("/tagging-policies")).json()
        assert [p["id"] for p in listed["data"]] == [created["id"]]
        assert listed["total"] == 1
        again = await client.post(
            "/tagging-policies", json={"tag_key": "team", "applies_to": "ec2"}
        )
        assert (again.status_code, again.json()["error"]["code"]) == (409, "TAGGING_POLICY_EXISTS")
        assert (await client.delete(f"/tagging-policies/{created['id']}")).status_code == 204
        assert (await db.scalars(select(TaggingPolicy))).all() == []
        actions = (
            await db.scalars(select(AuditEntry.action).order_by(AuditEntry.created_at))
        ).all()
        assert "tagging_policy.created" in actions
        assert "tagging_policy.deleted" in actions

    @pytest.mark.parametrize(
        "body",
        [
            {"tag_key": "team", "applies_to": "lambda"},
            {"tag_key": ""},
            {"tag_key": 'a"b'},
            {"tag_key": "team", "allowed_values": ["a", "a"]},
            {"tag_key": "team", "allowed_values": [""]},
            {"tag_key": "team", "org_id": "x"},
        ],
    )
    async def test_bad_bodies_are_422(self, client_for: ClientFor, admin: User, body) -> None:
        r = await client_for(admin).post("/tagging-policies", json=body)
        assert (r.status_code, r.json()["error"]["code"]) == (422, "VALIDATION_ERROR")

    async def test_defaults(self, client_for: ClientFor, admin: User) -> None:
        r = await client_for(admin).post("/tagging-policies", json={"tag_key": "env"})
        assert r.status_code == 201
        assert (r.json()["required"], r.json()["allowed_values"], r.json()["applies_to"]) == (
            True,
            None,
            "all",
        )


def _readme_applies_to() -> dict[str, tuple[str, str]]:
    """The README's applies_to table: value -> (inventory types, providers' types)."""
    text = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    rows = {}
    for line in text[text.index("| applies_to | inventory types") :].splitlines()[2:]:
        if not line.startswith("| `"):
            break
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        rows[cells[0].strip("`")] = (cells[1], cells[2])
    return rows


def test_applies_to_reaches_the_inventory_types_the_readme_prints() -> None:
    """The inventory side of APPLIES_TO in neutral types, and the providers' own types they
    cover (``inventory.types.MAPPINGS``) as the README prints them; the native types the table
    named before the neutral types are all still reached (but the three never collected)."""
    readme = _readme_applies_to()
    assert set(readme) == {a.value for a in AppliesTo}
    for applies_to, reach in APPLIES_TO.items():
        if reach.types is None:
            assert readme[applies_to.value] == ("every type", "every type")
            continue
        names = ", ".join(sorted(t.value for t in reach.types))
        on = f", on {reach.provider.upper()}" if reach.provider else ""
        natives = sorted(
            m.native_type
            for m in types.MAPPINGS
            if m.native_type and m.resource_type in reach.types
            if reach.provider in (None, m.provider)
        )
        assert readme[applies_to.value] == (names + on, ", ".join(natives)), applies_to
    before = {
        AppliesTo.EC2: ["AWS::EC2::Instance"],
        AppliesTo.RDS: ["AWS::RDS::DBInstance"],
        AppliesTo.S3: ["AWS::S3::Bucket"],
        AppliesTo.COMPUTE: [
            "AWS::EC2::Instance",
            "AWS::Lambda::Function",
            "Microsoft.Compute/virtualMachines",
            "compute.googleapis.com/Instance",
        ],
        AppliesTo.STORAGE: [
            "AWS::S3::Bucket",
            "AWS::EC2::Volume",
            "Microsoft.Storage/storageAccounts",
            "storage.googleapis.com/Bucket",
        ],
    }
    provider = {"AWS": "aws", "Mic": "azure"}
    for applies_to, natives in before.items():
        for native in natives:
            cloud = provider.get(native[:3], "gcp")
            typed = types.observed_type(cloud, native)
            assert APPLIES_TO[applies_to].reaches_type(cloud, typed.resource_type), native
