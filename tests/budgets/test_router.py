"""The /budgets HTTP contract: create, list with spend and forecast, update, delete; grants,
validation, audit."""

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import ClientFor
from tests.factories.budgets import make_budget
from tests.factories.cloud_accounts import grant, make_account
from tests.factories.costs import add_costs, mark_imported
from xplorr.budgets import service
from xplorr.budgets.models import Budget
from xplorr.core.audit import AuditEntry
from xplorr.core.jobs.models import Job
from xplorr.costs.forecast import Period, period_bounds
from xplorr.orgs.models import Org
from xplorr.users.models import User

BODY = {
    "name": "AWS Production",
    "amount": 5000,
    "currency": "USD",
    "alert_at_80": True,
    "alert_at_100": True,
}


async def _audit(db: AsyncSession, action: str) -> list[AuditEntry]:
    return list(await db.scalars(select(AuditEntry).where(AuditEntry.action == action)))


class TestCreate:
    async def test_reference_body_answers_with_spend_and_forecast(
        self, db: AsyncSession, client_for: ClientFor, org: Org, member: User
    ) -> None:
        prod = await make_account(db, org, name="prod")
        today = service.today()
        # 100 a day over the last 28 days (today included), 3 EUR today.
        rows: list[dict[str, object]] = [
            {"usage_date": today - timedelta(days=i), "billed_cost": "100"} for i in range(28)
        ]
        rows.append({"usage_date": today, "billed_cost": "3", "currency": "EUR"})
        await add_costs(db, prod, rows)
        await mark_imported(db, prod)
        r = await client_for(member).post(
            "/budgets", json={**BODY, "cloud_account_id": str(prod.id)}
        )
        assert r.status_code == 201, r.text
        body = r.json()
        start, end = period_bounds(Period.MONTHLY, today)
        elapsed = (today - start).days + 1
        days = (end - start).days + 1
        assert body == {
            "id": body["id"],
            "name": "AWS Production",
            "amount": 5000,
            "currency": "USD",
            "cloud_account_id": str(prod.id),
            "alert_at_80": True,
            "alert_at_100": True,
            "period": "monthly",
            "filters": None,
            "period_start": start.isoformat(),
            "period_end": end.isoformat(),
            "data_through": today.isoformat(),
            "current_spend": 100 * elapsed,
            "percent_used": 2 * elapsed,
            "forecast": 100 * days,
            "forecast_low": 100 * days,
            "forecast_high": 100 * days,
            "forecast_method": "weekday_seasonal",
            "projected_overrun": False,
            "other_currencies": [{"currency": "EUR", "spend": 3}],
            "note": service.OTHER_CURRENCIES_NOTE,
            "created_at": body["created_at"],
            "updated_at": body["updated_at"],
        }
        [entry] = await _audit(db, "budget.created")
        assert (entry.actor_user_id, entry.resource_name) == (member.id, "AWS Production")
        # The new budget is evaluated at once (it may already be crossed).
        jobs = (await db.scalars(select(Job).where(Job.name == "budgets.evaluate_org"))).all()
        assert [j.org_id for j in jobs] == [org.id]

    async def test_period_filters_and_validation(
        self, db: AsyncSession, client_for: ClientFor, admin: User, other_org: Org
    ) -> None:
        c = client_for(admin)
        r = await c.post(
            "/budgets",
            json={
                "name": "  Prod EC2 ",
                "amount": "1200.5",
                "currency": "eur",
                "period": "quarterly",
                "filters": {
                    "provider": "aws",
                    "service": "AmazonEC2",
                    "tag_key": "env",
                    "tag_value": "prod",
                },
            },
        )
        assert r.status_code == 201, r.text
        body = r.json()
        assert (body["name"], body["amount"], body["currency"], body["period"]) == (
            "Prod EC2",
            1200.5,
            "EUR",
            "quarterly",
        )
        assert body["filters"] == {
            "provider": "aws",
            "service": "AmazonEC2",
            "tag_key": "env",
            "tag_value": "prod",
        }
        assert (body["current_spend"], body["forecast"], body["data_through"]) == (0, None, None)

        foreign = await make_account(db, other_org)
        r = await c.post("/budgets", json={**BODY, "cloud_account_id": str(foreign.id)})
        assert (r.status_code, r.json()["error"]["code"]) == (404, "CLOUD_ACCOUNT_NOT_FOUND")
        r = await c.post("/budgets", json={**BODY, "name": "Prod EC2"})
        assert (r.status_code, r.json()["error"]["code"]) == (409, "BUDGET_NAME_TAKEN")
        bad = [
            ({**BODY, "amount": 0}, "amount"),
            ({**BODY, "amount": "12.345"}, "amount"),
            ({**BODY, "amount": "10.5", "currency": "JPY"}, "amount"),
            ({**BODY, "currency": "EURO"}, "currency"),
            ({**BODY, "name": "  "}, "name"),
            ({**BODY, "period": "weekly"}, "period"),
            ({**BODY, "filters": {"tag_key": "env"}}, "filters.tag_value"),
            ({**BODY, "filters": {"provider": "oracle"}}, "filters.provider"),
            ({**BODY, "filters": {"tag_key": 'a"b', "tag_value": "x"}}, "filters.tag_key"),
            ({**BODY, "org_id": str(other_org.id)}, "org_id"),
        ]
        for payload, field in bad:
            r = await c.post("/budgets", json=payload)
            assert r.status_code == 422, (payload, r.text)
            assert field in [d["field"] for d in r.json()["error"]["details"]], (field, r.text)

    async def test_members_limited_to_accounts(
        self, db: AsyncSession, client_for: ClientFor, org: Org, member: User
    ) -> None:
        mine, theirs = await make_account(db, org), await make_account(db, org)
        await grant(db, member, mine)
        c = client_for(member)
        r = await c.post("/budgets", json=BODY)
        assert r.status_code == 422
        assert r.json()["error"]["details"][0]["field"] == "cloud_account_id"
        r = await c.post("/budgets", json={**BODY, "cloud_account_id": str(theirs.id)})
        assert r.status_code == 404
        r = await c.post("/budgets", json={**BODY, "cloud_account_id": str(mine.id)})
        assert r.status_code == 201


class TestList:
    async def test_grants_pages_and_order(
        self, db: AsyncSession, client_for: ClientFor, org: Org, viewer: User, admin: User
    ) -> None:
        mine, theirs = await make_account(db, org), await make_account(db, org)
        b = await make_budget(db, org, name="b", account=mine)
        a = await make_budget(db, org, name="a", account=mine)
        await make_budget(db, org, name="c", account=theirs)
        await make_budget(db, org, name="org-wide")
        r = await client_for(admin).get("/budgets", params={"limit": 2, "page": 2})
        assert [d["name"] for d in r.json()["data"]] == ["c", "org-wide"]
        assert r.json()["total"] == 4
        await grant(db, viewer, mine)
        r = await client_for(viewer).get("/budgets")
        assert r.status_code == 200
        assert [d["id"] for d in r.json()["data"]] == [str(a.id), str(b.id)]
        assert r.json()["total"] == 2

    async def test_get_one_as_listed(
        self, db: AsyncSession, client_for: ClientFor, org: Org, viewer: User, other_org: Org
    ) -> None:
        mine, theirs = await make_account(db, org), await make_account(db, org)
        b = await make_budget(db, org, name="b", account=mine, service="AmazonEC2")
        hidden = await make_budget(db, org, name="c", account=theirs)
        foreign = await make_budget(db, other_org, name="x")
        await grant(db, viewer, mine)
        c = client_for(viewer)
        r = await c.get(f"/budgets/{b.id}")
        assert r.status_code == 200, r.text
        assert r.json() == (await c.get("/budgets")).json()["data"][0]
        assert r.json()["filters"]["service"] == "AmazonEC2"
        for other in (hidden, foreign):
            r = await c.get(f"/budgets/{other.id}")
            assert (r.status_code, r.json()["error"]["code"]) == (404, "BUDGET_NOT_FOUND")


class TestUpdateDelete:
    async def test_update_fields_and_audit(
        self, db: AsyncSession, client_for: ClientFor, org: Org, member: User
    ) -> None:
        prod = await make_account(db, org)
        budget = await make_budget(
            db, org, name="x", account=prod, service="AmazonEC2", provider="aws"
        )
        await make_budget(db, org, name="taken")
        c = client_for(member)
        r = await c.patch(
            f"/budgets/{budget.id}",
            json={"amount": 250, "alert_at_80": False, "cloud_account_id": None, "filters": None},
        )
        assert r.status_code == 200, r.text
        body = r.json()
        assert (body["amount"], body["alert_at_80"], body["cloud_account_id"], body["filters"]) == (
            250,
            False,
            None,
            None,
        )
        [entry] = await _audit(db, "budget.updated")
        assert entry.details == {"fields": ["alert_at_80", "amount", "cloud_account_id", "filters"]}
        r = await c.patch(f"/budgets/{budget.id}", json={"name": "taken"})
        assert (r.status_code, r.json()["error"]["code"]) == (409, "BUDGET_NAME_TAKEN")
        r = await c.patch(f"/budgets/{budget.id}", json={"name": None})
        assert r.status_code == 422
        r = await c.patch(f"/budgets/{budget.id}", json={"currency": "JPY", "amount": "1.5"})
        assert r.status_code == 422
        r = await c.patch(f"/budgets/{budget.id}", json={})
        assert (r.status_code, r.json()["name"]) == (200, "x")

    async def test_delete(
        self, db: AsyncSession, client_for: ClientFor, org: Org, member: User
    ) -> None:
        budget = await make_budget(db, org, name="gone")
        r = await client_for(member).delete(f"/budgets/{budget.id}")
        assert r.status_code == 204
        assert await db.get(Budget, budget.id, populate_existing=True) is None
        [entry] = await _audit(db, "budget.deleted")
        assert entry.resource_name == "gone"
        r = await client_for(member).delete(f"/budgets/{budget.id}")
        assert (r.status_code, r.json()["error"]["code"]) == (404, "BUDGET_NOT_FOUND")
