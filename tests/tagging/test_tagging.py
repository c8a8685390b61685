"""Tagging policies: CRUD contract and violations computed from the cost store's resources.

Data (billed USD, every day inside the 30-day window that ends yesterday):
AWS (FOCUS) account: i-1 EC2 15.00 (10 + 5; tags team=api), i-2 EC2 7.50 (``Team``=api: AWS
keys are case-sensitive, so team is missing), i-3 EC2 3.25 (team=marketing, not allowed),
b-1 S3 1.10 (no tags), a row without resource 100.00 (never a resource). Azure account: vm-1
4.00 (``Team``=data: Azure names are case-insensitive, complies). Outside the window: i-9 50.
"""

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import ClientFor
from tests.factories.cloud_accounts import grant, make_account
from tests.factories.costs import add_costs
from tests.factories.tagging import make_policy
from xplorr.cloud_accounts.models import CloudAccount, Provider
from xplorr.core import clock
from xplorr.core.audit import AuditEntry
from xplorr.orgs.models import Org
from xplorr.tagging.models import AppliesTo, TaggingPolicy
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
