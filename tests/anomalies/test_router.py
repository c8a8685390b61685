"""The /anomalies HTTP contract: list with filters and pages, grants, status changes audited."""

from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import ClientFor
from tests.factories.anomalies import make_anomaly
from tests.factories.cloud_accounts import grant, make_account
from xplorr.anomalies.models import Anomaly, AnomalyStatus, Severity
from xplorr.core.audit import AuditEntry
from xplorr.orgs.models import Org
from xplorr.users.models import User


class TestList:
    async def test_fields_order_and_filters(
        self, db: AsyncSession, client_for: ClientFor, org: Org, admin: User, other_org: Org
    ) -> None:
        prod = await make_account(db, org, name="prod")
        low = await make_anomaly(db, org, account=prod, day=date(2024, 9, 8))
        crit = await make_anomaly(
            db,
            org,
            account=prod,
            service=None,
            day=date(2024, 9, 8),
            actual="750",
            severity=Severity.CRITICAL,
        )
        older = await make_anomaly(
            db,
            org,
            day=date(2024, 9, 1),
            actual="250.005",
            severity=Severity.MEDIUM,
            status=AnomalyStatus.RESOLVED,
        )
        await make_anomaly(db, other_org, account=await make_account(db, other_org))
        c = client_for(admin)

        r = await c.get("/anomalies")
        assert r.status_code == 200, r.text
        body = r.json()
        assert (body["total"], body["page"], body["limit"]) == (3, 1, 50)
        assert [d["id"] for d in body["data"]] == [str(crit.id), str(low.id), str(older.id)]
        first = body["data"][1]
        assert first == {
            "id": str(low.id),
            "scope": "service",
            "cloud_account_id": str(prod.id),
            "account_name": "prod",
            "service": "AmazonEC2",
            "date": "2024-09-08",
            "currency": "USD",
            "actual_cost": 165,
            "baseline_cost": 100,
            "excess_cost": 65,
            "percent_above": 65,
            "severity": "low",
            "direction": "spike",
            "status": "open",
            "root_cause": [],
            "detected_at": first["detected_at"],
            "updated_at": first["updated_at"],
            "status_changed_at": None,
        }
        org_wide = body["data"][2]
        assert (org_wide["scope"], org_wide["cloud_account_id"], org_wide["service"]) == (
            "org",
            None,
            None,
        )
        assert (org_wide["actual_cost"], org_wide["percent_above"]) == (250.01, 150.01)

        async def ids(**params: object) -> list[str]:
            got = await c.get("/anomalies", params=params)
            assert got.status_code == 200, got.text
            return [d["id"] for d in got.json()["data"]]

        assert await ids(status="open") == [str(crit.id), str(low.id)]
        assert await ids(severity="critical") == [str(crit.id)]
        assert await ids(accountId=str(prod.id), status="resolved") == []
        assert await ids(accountId=str(prod.id)) == [str(crit.id), str(low.id)]
        assert await ids(limit=1, page=2) == [str(low.id)]
        assert await ids(limit=2, offset=2) == [str(older.id)]

    async def test_foreign_account_is_404_and_bad_filters_422(
        self, db: AsyncSession, client_for: ClientFor, admin: User, other_org: Org
    ) -> None:
        foreign = await make_account(db, other_org)
        c = client_for(admin)
        r = await c.get("/anomalies", params={"accountId": str(foreign.id)})
        assert (r.status_code, r.json()["error"]["code"]) == (404, "CLOUD_ACCOUNT_NOT_FOUND")
        for params in ({"severity": "huge"}, {"status": "gone"}, {"limit": 101}):
            r = await c.get("/anomalies", params=params)
            assert (r.status_code, r.json()["error"]["code"]) == (422, "VALIDATION_ERROR")

    async def test_grants_limit_members(
        self, db: AsyncSession, client_for: ClientFor, org: Org, member: User
    ) -> None:
        mine, theirs = await make_account(db, org), await make_account(db, org)
        seen = await make_anomaly(db, org, account=mine)
        await make_anomaly(db, org, account=theirs)
        await make_anomaly(db, org)  # organization-wide: every account's total
        await grant(db, member, mine)
        c = client_for(member)
        r = await c.get("/anomalies")
        assert [d["id"] for d in r.json()["data"]] == [str(seen.id)]
        r = await c.get("/anomalies", params={"accountId": str(theirs.id)})
        assert (r.status_code, r.json()["error"]["code"]) == (404, "CLOUD_ACCOUNT_NOT_FOUND")

    async def test_date_range(
        self, db: AsyncSession, client_for: ClientFor, org: Org, admin: User
    ) -> None:
        account = await make_account(db, org)
        days = [date(2024, 9, d) for d in (1, 5, 10)]
        made = [await make_anomaly(db, org, account=account, day=d) for d in days]
        c = client_for(admin)
        r = await c.get("/anomalies", params={"startDate": "2024-09-05", "endDate": "2024-09-09"})
        assert [d["id"] for d in r.json()["data"]] == [str(made[1].id)]
        r = await c.get("/anomalies", params={"startDate": "2024-09-05"})
        assert [d["id"] for d in r.json()["data"]] == [str(made[2].id), str(made[1].id)]
        # Not a calendar day, and a number pydantic would otherwise read as Unix time.
        for bad in ({"endDate": "2024-09-31"}, {"startDate": "0"}, {"endDate": "1725148800"}):
            r = await c.get("/anomalies", params=bad)
            assert (r.status_code, r.json()["error"]["code"]) == (422, "VALIDATION_ERROR"), bad


class TestGet:
    async def test_one_with_root_cause_and_hidden_rows(
        self, db: AsyncSession, client_for: ClientFor, org: Org, member: User, other_org: Org
    ) -> None:
        mine, theirs = await make_account(db, org, name="mine"), await make_account(db, org)
        seen = await make_anomaly(db, org, account=mine)
        hidden = await make_anomaly(db, org, account=theirs)
        foreign = await make_anomaly(db, other_org, account=await make_account(db, other_org))
        await grant(db, member, mine)
        c = client_for(member)
        r = await c.get(f"/anomalies/{seen.id}")
        assert r.status_code == 200, r.text
        listed = (await c.get("/anomalies")).json()["data"][0]
        assert r.json() == listed
        assert r.json()["account_name"] == "mine"
        assert r.json()["root_cause"] == []
        for other in (hidden, foreign):
            r = await c.get(f"/anomalies/{other.id}")
            assert (r.status_code, r.json()["error"]["code"]) == (404, "ANOMALY_NOT_FOUND")


class TestUpdate:
    async def test_member_acknowledges_then_resolves_audited(
        self, db: AsyncSession, client_for: ClientFor, org: Org, member: User
    ) -> None:
        anomaly = await make_anomaly(db, org, account=await make_account(db, org))
        c = client_for(member)
        r = await c.patch(f"/anomalies/{anomaly.id}", json={"status": "acknowledged"})
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "acknowledged"
        assert r.json()["status_changed_at"] is not None
        r = await c.patch(f"/anomalies/{anomaly.id}", json={"status": "resolved"})
        assert r.json()["status"] == "resolved"
        r = await c.patch(f"/anomalies/{anomaly.id}", json={"status": "resolved"})
        assert r.status_code == 200
        rows = (
            await db.scalars(
                select(AuditEntry)
                .where(AuditEntry.action == "anomaly.status_changed")
                .order_by(AuditEntry.created_at)
            )
        ).all()
        assert [(e.details, e.actor_user_id, e.resource_id) for e in rows] == [
            ({"from": "open", "to": "acknowledged"}, member.id, str(anomaly.id)),
            ({"from": "acknowledged", "to": "resolved"}, member.id, str(anomaly.id)),
        ]
        stored = await db.get(Anomaly, anomaly.id, populate_existing=True)
        assert stored is not None
        assert stored.status_changed_by == member.id

    async def test_bad_body_and_hidden_rows(
        self, db: AsyncSession, client_for: ClientFor, org: Org, member: User
    ) -> None:
        mine = await make_account(db, org)
        org_wide = await make_anomaly(db, org)
        await grant(db, member, mine)
        c = client_for(member)
        r = await c.patch(f"/anomalies/{org_wide.id}", json={"status": "resolved"})
        assert (r.status_code, r.json()["error"]["code"]) == (404, "ANOMALY_NOT_FOUND")
        visible = await make_anomaly(db, org, account=mine)
        for body in ({"status": "ignored"}, {}, {"status": "open", "severity": "low"}):
            r = await c.patch(f"/anomalies/{visible.id}", json=body)
            assert (r.status_code, r.json()["error"]["code"]) == (422, "VALIDATION_ERROR")
        r = await c.patch(f"/anomalies/{visible.id}", json={})
        assert r.json()["error"]["details"] == [{"field": "status", "message": "Field required"}]
