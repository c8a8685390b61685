"""/inventory, /inventory/filters and /inventory/export: filters, pagination, costs joined from
the cost store, grants and tenancy, CSV safety, validation."""

import csv
import io
import uuid
from typing import Any

import pytest
from sqlalchemy import ColumnElement, String, cast, func, insert, literal, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import ClientFor
from tests.factories.cloud_accounts import grant, make_account
from tests.factories.inventory import make_resource
from tests.inventory.conftest import Inv
from xplorr.cloud_accounts.models import Provider
from xplorr.inventory.models import InventoryResource
from xplorr.inventory.service import EXPORT_MAX_ROWS
from xplorr.orgs.models import Org
from xplorr.users.models import User


def ids(body: dict) -> list[str]:
    return [d["resource_id"] for d in body["data"]]


class TestList:
    async def test_live_resources_sorted_with_costs_of_the_last_30_days(
        self, client_for: ClientFor, admin: User, inv: Inv
    ) -> None:
        r = await client_for(admin).get("/inventory")
        assert r.status_code == 200, r.text
        body = r.json()
        assert (body["total"], body["page"], body["limit"]) == (5, 1, 50)
        assert ids(body) == [
            "vol-1",
            "nat-0abc",
            "i-batch",
            "i-web1",
            "//compute.googleapis.com/projects/p/zones/us-central1-a/instances/vm1",
        ]
        by_id = {d["resource_id"]: d for d in body["data"]}
        web = by_id["i-web1"]
        # 10.005 + 2 (the 99 of 40 days ago is outside); the other org's 5 never counts.
        assert (web["cost_30d"], web["currency"]) == (12.01, "USD")
        assert web["tags"] == {"env": "prod"}
        assert web["cloud_account_id"] == str(inv.aws.id)
        assert (web["type"], web["native_type"]) == ("Virtual Machine", "AWS::EC2::Instance")
        # The bill names the NAT gateway by ARN; the inventory by id (ARN in attributes).
        assert by_id["nat-0abc"]["cost_30d"] == 1.5
        assert by_id["vol-1"]["cost_30d"] is None
        assert by_id["vol-1"]["attributes"] == {"size_gib": 100, "attached": False}

    @pytest.mark.parametrize(
        ("params", "expected"),
        [
            ({"provider": "gcp"}, ["vm1"]),
            ({"region": "EU-WEST-1"}, ["batch 100%_done"]),
            ({"type": "disk"}, ['=HYPERLINK("http://evil")']),
            # One type across clouds; a provider's own name for a type lists that provider's
            ({"type": "Virtual Machine"}, ["batch 100%_done", "web-1", "vm1"]),
            ({"type": "ebs volume"}, ['=HYPERLINK("http://evil")']),
            ({"type": "EC2 Instance"}, ["batch 100%_done", "web-1"]),
            ({"type": "compute.googleapis.com/INSTANCE"}, ["vm1"]),
            ({"status": "stopped"}, ["batch 100%_done"]),
            ({"status": "Deleted"}, ["gone"]),
            ({"search": "WEB"}, ["web-1"]),
            ({"search": "100%_"}, ["batch 100%_done"]),
            ({"search": "%"}, ["batch 100%_done"]),
            ({"search": "nat-0"}, ["nat-a"]),
            ({"search": "us-central1-a"}, ["vm1"]),
            ({"provider": "aws", "status": "Running"}, ["web-1"]),
        ],
    )
    async def test_filters(
        self, client_for: ClientFor, admin: User, inv: Inv, params: dict, expected: list[str]
    ) -> None:
        r = await client_for(admin).get("/inventory", params=params)
        assert r.status_code == 200, r.text
        assert [d["name"] for d in r.json()["data"]] == expected

    async def test_account_filter_and_pagination(
        self, client_for: ClientFor, admin: User, inv: Inv
    ) -> None:
        client = client_for(admin)
        r = await client.get("/inventory", params={"accountId": str(inv.aws.id), "limit": 2})
        assert r.status_code == 200, r.text
        assert (r.json()["total"], ids(r.json())) == (4, ["vol-1", "nat-0abc"])
        r = await client.get(
            "/inventory", params={"accountId": str(inv.aws.id), "limit": 2, "page": 2}
        )
        assert (r.json()["page"], ids(r.json())) == (2, ["i-batch", "i-web1"])

    async def test_foreign_or_unknown_account_is_404(
        self, client_for: ClientFor, admin: User, inv: Inv
    ) -> None:
        for account in (inv.foreign.id, uuid.uuid4()):
            r = await client_for(admin).get("/inventory", params={"accountId": str(account)})
            assert r.status_code == 404, r.text

    async def test_member_sees_only_granted_accounts(
        self, db, client_for: ClientFor, member: User, inv: Inv
    ) -> None:
        await grant(db, member, inv.gcp)
        r = await client_for(member).get("/inventory")
        assert [d["name"] for d in r.json()["data"]] == ["vm1"]
        r = await client_for(member).get("/inventory", params={"accountId": str(inv.aws.id)})
        assert r.status_code == 404
        r = await client_for(member).get("/inventory/filters")
        assert [v["value"] for v in r.json()["accounts"]] == [str(inv.gcp.id)]
        r = await client_for(member).get("/inventory/export")
        assert "web-1" not in r.text
        assert "vm1" in r.text

    @pytest.mark.parametrize(
        "params",
        [
            {"limit": 101},
            {"provider": "oracle"},
            {"accountId": "nope"},
            {"page": 0},
            {"search": "a\x01b"},
            {"search": "x" * 201},
        ],
    )
    async def test_bad_input_is_422(self, client_for: ClientFor, admin: User, params: dict) -> None:
        r = await client_for(admin).get("/inventory", params=params)
        assert r.status_code == 422, r.text
        assert r.json()["error"]["code"] == "VALIDATION_ERROR"

    async def test_without_token_is_401(self, anon) -> None:
        for path in ("/inventory", "/inventory/filters", "/inventory/export"):
            assert (await anon.get(path)).status_code == 401


class TestFilters:
    async def test_distinct_values_with_counts(
        self, client_for: ClientFor, admin: User, inv: Inv
    ) -> None:
        r = await client_for(admin).get("/inventory/filters")
        assert r.status_code == 200, r.text
        body = r.json()
        pairs = lambda key: [(v["value"], v["count"]) for v in body[key]]  # noqa: E731
        assert pairs("providers") == [("aws", 4), ("gcp", 1)]
        assert [v["label"] for v in body["providers"]] == ["AWS", "Google Cloud"]
        assert sorted(pairs("accounts")) == sorted([(str(inv.aws.id), 4), (str(inv.gcp.id), 1)])
        assert {v["label"] for v in body["accounts"]} == {"prod", "data"}
        assert pairs("regions") == [("eu-west-1", 1), ("us-central1", 1), ("us-east-1", 3)]
        assert pairs("types") == [("Disk", 1), ("NAT Gateway", 1), ("Virtual Machine", 3)]
        assert pairs("statuses") == [
            ("Available", 2),
            ("Running", 2),
            ("Stopped", 1),
            ("Deleted", 1),
        ]


class TestExport:
    async def test_csv_of_the_filters_with_formulas_neutralised(
        self, client_for: ClientFor, admin: User, inv: Inv
    ) -> None:
        r = await client_for(admin).get("/inventory/export", params={"provider": "aws"})
        assert r.status_code == 200, r.text
        assert r.headers["content-type"].startswith("text/csv")
        assert "attachment" in r.headers["content-disposition"]
        rows = list(csv.reader(io.StringIO(r.text)))
        assert rows[0][:7] == [
            "provider",
            "account_id",
            "account_name",
            "region",
            "service",
            "type",
            "resource_id",
        ]
        by_id = {row[6]: row for row in rows[1:]}
        assert set(by_id) == {"vol-1", "i-batch", "i-web1", "nat-0abc"}
        assert by_id["vol-1"][7] == '\'=HYPERLINK("http://evil")'
        assert (by_id["i-web1"][9], by_id["i-web1"][10]) == ("12.01", "USD")
        assert by_id["i-web1"][2] == "prod"
        assert (rows[0][-1], by_id["vol-1"][5], by_id["vol-1"][-1]) == (
            "native_type",
            "Disk",
            "AWS::EC2::Volume",
        )

    async def test_deleted_ones_on_request(
        self, client_for: ClientFor, admin: User, inv: Inv
    ) -> None:
        r = await client_for(admin).get("/inventory/export", params={"status": "Deleted"})
        rows = list(csv.reader(io.StringIO(r.text)))
        assert [row[6] for row in rows[1:]] == ["i-gone"]
        assert rows[1][14] != ""

    async def test_at_most_50000_rows(
        self, client_for: ClientFor, admin: User, org: Org, db: AsyncSession
    ) -> None:
        account = await make_account(db, org, provider=Provider.AWS)
        await make_resource(db, account, "i-seed")
        # 50,000 copies of it made by the database in one INSERT ... SELECT (rows through the
        # ORM would take seconds): a new id and resource id each, the other columns the same.
        n = select(literal(1).label("n")).cte("n", recursive=True)
        n = n.union_all(select(n.c.n + 1).where(n.c.n < EXPORT_MAX_ROWS))
        if db.bind.dialect.name == "postgresql":
            new_id: ColumnElement[Any] = func.gen_random_uuid()
        else:  # SQLAlchemy's Uuid on SQLite: 32 hex digits
            new_id = func.lower(func.hex(func.randomblob(16)))
        t = InventoryResource.__table__
        copied = [c for c in t.columns if c.name not in ("id", "resource_id")]
        seed = select(t).where(t.c.resource_id == "i-seed").subquery()
        await db.execute(
            insert(t).from_select(
                ["id", "resource_id", *(c.name for c in copied)],
                select(
                    new_id,
                    literal("i-") + cast(n.c.n, String),
                    *(seed.c[c.name] for c in copied),
                ).select_from(seed.join(n, true())),
            )
        )
        await db.commit()
        r = await client_for(admin).get("/inventory/export", params={"account_id": str(account.id)})
        assert r.status_code == 200, r.text
        rows = list(csv.reader(io.StringIO(r.text)))
        assert EXPORT_MAX_ROWS == 50_000
        assert len(rows) == 1 + 50_000  # the header and the cap, not the 50,001st resource
