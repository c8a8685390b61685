"""Allocation rules: the three methods, priorities and untagged sources against the
hand-computed table of ``conftest.py``; conservation to the cent; the preview equals what is
applied once saved; the CRUD contract."""

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tests.allocation.conftest import EKS, Month
from tests.conftest import ClientFor
from tests.factories.allocation import make_rule
from tests.factories.cloud_accounts import make_account
from tests.factories.costs import add_costs
from xplorr.allocation.models import AllocationMethod, AllocationRule
from xplorr.core.audit import AuditEntry
from xplorr.orgs.models import Org
from xplorr.users.models import User


async def change(db: AsyncSession, rule: AllocationRule, **values: object) -> None:
    await db.execute(update(AllocationRule).where(AllocationRule.id == rule.id).values(**values))
    await db.commit()


def table_row(d: dict) -> tuple:
    return (d["key"], d["direct"], d["allocated"], d["cost"])


def table(body: dict) -> list[tuple]:
    return [table_row(d) for d in body["data"]]


async def allocated(client_for: ClientFor, user: User, month: Month, key: str = "team") -> dict:
    r = await client_for(user).get(
        "/costs", params={**month.params, "groupBy": f"tag:{key}", "allocate": "true"}
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["allocated"] is True
    assert body["totalCost"] == 145.0
    assert sum(Decimal(str(d["cost"])) for d in body["data"]) == Decimal(145)
    return body


class TestMethods:
    async def test_without_rules_direct_only(
        self, client_for: ClientFor, viewer: User, month: Month
    ) -> None:
        body = await allocated(client_for, viewer, month)
        assert table(body) == [
            (None, 65.0, 0.0, 65.0),
            ("api", 40.0, 0.0, 40.0),
            ("data", 40.0, 0.0, 40.0),
        ]
        plain = (
            await client_for(viewer).get("/costs", params={**month.params, "groupBy": "tag:team"})
        ).json()
        assert [(d["key"], d["cost"], d["direct"]) for d in plain["data"]] == [
            (None, 65.0, None),
            ("api", 40.0, None),
            ("data", 40.0, None),
        ]
        assert plain["allocated"] is False

    async def test_proportional_follows_each_days_direct_cost(
        self, db: AsyncSession, client_for: ClientFor, org: Org, viewer: User, month: Month
    ) -> None:
        # D1: 20 by 30:10 -> api 15, data 5; D2: 40 by 10:30 -> api 10, data 30.
        await make_rule(db, org)
        body = await allocated(client_for, viewer, month)
        assert table(body) == [
            ("data", 40.0, 35.0, 75.0),
            ("api", 40.0, 25.0, 65.0),
            (None, 5.0, 0.0, 5.0),
        ]

    async def test_fixed_splits(
        self, db: AsyncSession, client_for: ClientFor, org: Org, viewer: User, month: Month
    ) -> None:
        await make_rule(
            db,
            org,
            method=AllocationMethod.FIXED,
            splits={"api": Decimal(60), "data": Decimal(40)},
        )
        body = await allocated(client_for, viewer, month)
        assert table(body) == [
            ("api", 40.0, 36.0, 76.0),
            ("data", 40.0, 24.0, 64.0),
            (None, 5.0, 0.0, 5.0),
        ]

    async def test_even_among_values_seen_or_listed(
        self, db: AsyncSession, client_for: ClientFor, org: Org, viewer: User, month: Month
    ) -> None:
        rule = await make_rule(db, org, method=AllocationMethod.EVEN)
        body = await allocated(client_for, viewer, month)
        assert table(body) == [
            ("api", 40.0, 30.0, 70.0),
            ("data", 40.0, 30.0, 70.0),
            (None, 5.0, 0.0, 5.0),
        ]
        await change(db, rule, splits={"api": "1", "data": "1", "web": "1"})
        body = await allocated(client_for, viewer, month)
        assert table(body) == [
            ("api", 40.0, 20.0, 60.0),
            ("data", 40.0, 20.0, 60.0),
            ("web", 0.0, 20.0, 20.0),
            (None, 5.0, 0.0, 5.0),
        ]

    async def test_untagged_source_and_priority_order(
        self, db: AsyncSession, client_for: ClientFor, org: Org, viewer: User, month: Month
    ) -> None:
        # Untagged for team (EKS 60 + S3 5), proportional: D1 25 by 30:10 -> 18.75 / 6.25;
        # D2 40 by 10:30 -> 10 / 30. The untagged group disappears.
        rule = await make_rule(db, org, name="untagged", source_service=None, source_tag_key="team")
        body = await allocated(client_for, viewer, month)
        assert table(body) == [
            ("data", 40.0, 36.25, 76.25),
            ("api", 40.0, 28.75, 68.75),
        ]
        # A rule with a lower priority number takes EKS first (all to api); the untagged rule
        # then only finds S3's 5 on D1 (30:10 -> 3.75 / 1.25).
        await change(db, rule, priority=2)
        await make_rule(
            db,
            org,
            name="z EKS to api",  # sorts last by name: only its priority puts it first
            method=AllocationMethod.FIXED,
            splits={"api": Decimal(100)},
            priority=1,
        )
        body = await allocated(client_for, viewer, month)
        assert table(body) == [
            ("api", 40.0, 63.75, 103.75),
            ("data", 40.0, 1.25, 41.25),
        ]

    async def test_inactive_and_other_target_rules_are_ignored(
        self, db: AsyncSession, client_for: ClientFor, org: Org, viewer: User, month: Month
    ) -> None:
        await make_rule(db, org, active=False)
        await make_rule(db, org, name="by env", target_tag_key="env")
        body = await allocated(client_for, viewer, month)
        assert [d["allocated"] for d in body["data"]] == [0.0, 0.0, 0.0]

    async def test_odd_cent_goes_to_the_largest_remainder(
        self, db: AsyncSession, client_for: ClientFor, org: Org, viewer: User
    ) -> None:
        account = await make_account(db, org)
        await add_costs(db, account, [{"usage_date": "2024-05-01", "billed_cost": "1.00"}])
        await make_rule(
            db,
            org,
            source_service=None,
            source_tag_key="team",
            method=AllocationMethod.EVEN,
            splits={"a": Decimal(1), "b": Decimal(1), "c": Decimal(1)},
        )
        r = await client_for(viewer).get(
            "/costs",
            params={
                "startDate": "2024-05-01",
                "endDate": "2024-05-31",
                "groupBy": "tag:team",
                "allocate": "true",
            },
        )
        body = r.json()
        assert [(d["key"], d["cost"]) for d in body["data"]] == [
            ("a", 0.34),  # 0.333333334 at the store's precision (ties: key order)
            ("b", 0.33),
            ("c", 0.33),
        ]
        assert body["totalCost"] == 1.0

    async def test_with_filters_then_by_and_limit(
        self, db: AsyncSession, client_for: ClientFor, org: Org, viewer: User, month: Month
    ) -> None:
        # The proportional table (data 40 + 35, api 40 + 25, untagged 5): the shared EKS cost
        # keeps its service and changes team; `other` sums direct and allocated too.
        await make_rule(db, org)
        client = client_for(viewer)
        base = {**month.params, "groupBy": "tag:team", "allocate": "true"}
        body = (await client.get("/costs", params={**base, "thenBy": "service"})).json()
        assert table(body) == [
            ("data", 40.0, 35.0, 75.0),
            ("api", 40.0, 25.0, 65.0),
            (None, 5.0, 0.0, 5.0),
        ]
        ec2, s3 = "Amazon Elastic Compute Cloud", "Amazon Simple Storage Service"
        assert {d["key"]: [table_row(g) for g in d["groups"]] for d in body["data"]} == {
            "data": [(ec2, 40.0, 0.0, 40.0), (EKS, 0.0, 35.0, 35.0)],
            "api": [(ec2, 40.0, 0.0, 40.0), (EKS, 0.0, 25.0, 25.0)],
            None: [(s3, 5.0, 0.0, 5.0)],
        }
        limited = (
            await client.get("/costs", params={**base, "thenBy": "service", "limit": "1"})
        ).json()
        assert [(d["name"], d["other"], *table_row(d)[1:]) for d in limited["data"]] == [
            ("data", False, 40.0, 35.0, 75.0),
            ("other", True, 45.0, 25.0, 70.0),
        ]
        assert [(g["name"], *table_row(g)[1:]) for g in limited["data"][1]["groups"]] == [
            (ec2, 40.0, 0.0, 40.0),
            ("other", 5.0, 25.0, 30.0),
        ]
        assert limited["totalCost"] == 145.0
        # Filters apply before the rules: without S3 the untagged group is gone.
        filtered = (await client.get("/costs", params={**base, "service": [ec2, EKS]})).json()
        assert table(filtered) == [("data", 40.0, 35.0, 75.0), ("api", 40.0, 25.0, 65.0)]
        assert filtered["totalCost"] == 140.0

    async def test_daily_series_adds_up_to_the_totals(
        self, db: AsyncSession, client_for: ClientFor, org: Org, viewer: User, month: Month
    ) -> None:
        # Proportional is split day by day (D1: EKS 20 by 30:10; D2: 40 by 10:30), so each
        # team's days, read with thenBy=date (in date order), add up to its total of the
        # proportional table.
        await make_rule(db, org)
        params = {**month.params, "groupBy": "tag:team", "thenBy": "date", "allocate": "true"}
        body = (await client_for(viewer).get("/costs", params=params)).json()
        d1, d2 = month.start.isoformat(), (month.start + timedelta(days=1)).isoformat()
        assert {d["key"]: [table_row(g) for g in d["groups"]] for d in body["data"]} == {
            "data": [(d1, 10.0, 5.0, 15.0), (d2, 30.0, 30.0, 60.0)],
            "api": [(d1, 30.0, 15.0, 45.0), (d2, 10.0, 10.0, 20.0)],
            None: [(d1, 5.0, 0.0, 5.0)],
        }
        assert table(body) == [
            ("data", 40.0, 35.0, 75.0),
            ("api", 40.0, 25.0, 65.0),
            (None, 5.0, 0.0, 5.0),
        ]

    async def test_allocate_needs_a_tag_group(
        self, client_for: ClientFor, viewer: User, month: Month
    ) -> None:
        r = await client_for(viewer).get(
            "/costs", params={**month.params, "groupBy": "service", "allocate": "true"}
        )
        assert (r.status_code, r.json()["error"]["details"][0]["field"]) == (422, "allocate")


class TestPreview:
    async def test_preview_saves_nothing_and_equals_what_is_applied(
        self, db: AsyncSession, client_for: ClientFor, admin: User, month: Month
    ) -> None:
        client = client_for(admin)
        body = {
            "name": "EKS shared",
            "source": {"service": EKS},
            "target_tag_key": "team",
            "method": "proportional",
        }
        r = await client.post("/allocation-rules", params={"preview": "true"}, json=body)
        assert r.status_code == 200, r.text
        preview = r.json()
        assert (preview["start_date"], preview["end_date"]) == (
            month.start.isoformat(),
            month.end.isoformat(),
        )
        assert (preview["moved"], preview["currency"]) == (60.0, "USD")
        assert [
            (v["key"], v["cost_before"], v["cost_after"], v["change"]) for v in preview["values"]
        ] == [("data", 40.0, 75.0, 35.0), ("api", 40.0, 65.0, 25.0), (None, 65.0, 5.0, -60.0)]
        assert (await db.scalars(select(AllocationRule))).all() == []

        created = await client.post("/allocation-rules", json=body)
        assert created.status_code == 201, created.text
        applied = await allocated(client_for, admin, month)
        assert [(d["key"], d["cost"]) for d in applied["data"]] == [
            (v["key"], v["cost_after"]) for v in preview["values"]
        ]

        # PATCH preview: the same rule made fixed 50/50 -> api 70, data 70 (from 65 / 75).
        rule_id = created.json()["id"]
        change = {"method": "fixed", "splits": {"api": 50, "data": 50}}
        r = await client.patch(
            f"/allocation-rules/{rule_id}", params={"preview": "true"}, json=change
        )
        assert r.status_code == 200, r.text
        assert [(v["key"], v["cost_before"], v["cost_after"]) for v in r.json()["values"]] == [
            ("api", 65.0, 70.0),
            ("data", 75.0, 70.0),
            (None, 5.0, 5.0),
        ]
        saved = await client.patch(f"/allocation-rules/{rule_id}", json=change)
        assert saved.status_code == 200, saved.text
        assert saved.json()["splits"] == {"api": 50, "data": 50}
        applied = await allocated(client_for, admin, month)
        assert [(d["key"], d["cost"]) for d in applied["data"]] == [
            ("api", 70.0),
            ("data", 70.0),
            (None, 5.0),
        ]


class TestRules:
    async def test_create_list_update_delete(
        self, db: AsyncSession, client_for: ClientFor, admin: User, viewer: User, month: Month
    ) -> None:
        client = client_for(admin)
        r = await client.post(
            "/allocation-rules",
            json={
                "name": "Networking",
                "source": {
                    "provider": "aws",
                    "account_id": str(month.account.id),
                    "service": "Amazon Virtual Private Cloud",
                    "region": "us-east-1",
                },
                "target_tag_key": "team",
                "method": "fixed",
                "splits": {"api": 60, "data": 40},
                "priority": 3,
            },
        )
        assert r.status_code == 201, r.text
        rule = r.json()
        assert rule["source"]["account_id"] == str(month.account.id)
        assert rule["splits"] == {"api": 60, "data": 40}
        assert (rule["priority"], rule["active"]) == (3, True)
        listed = (await client_for(viewer).get("/allocation-rules")).json()
        assert [x["name"] for x in listed["data"]] == ["Networking"]
        dup = await client.post(
            "/allocation-rules",
            json={
                "name": "Networking",
                "source": {"service": "x"},
                "target_tag_key": "team",
                "method": "even",
            },
        )
        assert (dup.status_code, dup.json()["error"]["code"]) == (409, "ALLOCATION_RULE_EXISTS")
        r = await client.patch(f"/allocation-rules/{rule['id']}", json={"active": False})
        assert (r.status_code, r.json()["active"]) == (200, False)
        bad = await client.patch(f"/allocation-rules/{rule['id']}", json={"method": "proportional"})
        assert bad.status_code == 200  # switching to proportional drops the splits
        assert bad.json()["splits"] is None
        bad = await client.patch(f"/allocation-rules/{rule['id']}", json={"method": "fixed"})
        assert (bad.status_code, bad.json()["error"]["details"][0]["field"]) == (422, "splits")
        assert (await client.delete(f"/allocation-rules/{rule['id']}")).status_code == 204
        actions = set((await db.scalars(select(AuditEntry.action))).all())
        assert {
            "allocation_rule.created",
            "allocation_rule.updated",
            "allocation_rule.deleted",
        } <= actions

    async def test_foreign_source_account_is_404(
        self, db: AsyncSession, client_for: ClientFor, admin: User, other_org: Org
    ) -> None:
        foreign = await make_account(db, other_org)
        r = await client_for(admin).post(
            "/allocation-rules",
            json={
                "name": "x",
                "source": {"account_id": str(foreign.id)},
                "target_tag_key": "team",
                "method": "even",
            },
        )
        assert r.status_code == 404

    @pytest.mark.parametrize(
        "body",
        [
            {"name": "x", "source": {}, "target_tag_key": "team", "method": "even"},
            {"name": "x", "source": {"tag_value": "a"}, "target_tag_key": "t", "method": "even"},
            {"name": "x", "source": {"service": "s"}, "target_tag_key": "t", "method": "fixed"},
            {
                "name": "x",
                "source": {"service": "s"},
                "target_tag_key": "t",
                "method": "fixed",
                "splits": {"a": 60, "b": 30},
            },
            {
                "name": "x",
                "source": {"service": "s"},
                "target_tag_key": "t",
                "method": "fixed",
                "splits": {"a": 100.5, "b": -0.5},
            },
            {
                "name": "x",
                "source": {"service": "s"},
                "target_tag_key": "t",
                "method": "proportional",
                "splits": {"a": 100},
            },
            {"name": "x", "source": {"service": "s"}, "target_tag_key": "t", "method": "split"},
            {"name": "", "source": {"service": "s"}, "target_tag_key": "t", "method": "even"},
        ],
    )
    async def test_bad_bodies_are_422(self, client_for: ClientFor, admin: User, body) -> None:
        r = await client_for(admin).post("/allocation-rules", json=body)
        assert (r.status_code, r.json()["error"]["code"]) == (422, "VALIDATION_ERROR")
