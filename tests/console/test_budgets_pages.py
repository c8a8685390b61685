"""Budgets pages: the list with spend, bar, forecast range and overrun flag; create through the
form (a 422 re-renders it with the input and the message next to the field); edit and delete; a
viewer sees no write button and its direct POST is refused by the API in words."""

import re
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession
from tests.factories.budgets import make_budget
from tests.factories.cloud_accounts import make_account
from tests.factories.costs import add_costs, mark_imported

from xplorr.core import clock
from xplorr.orgs.models import Org
from xplorr.users.models import User


async def spend(db: AsyncSession, org: Org) -> None:
    account = await make_account(db, org, name="Production")
    today = clock.now().date()
    rows = [{"usage_date": today - timedelta(days=i), "billed_cost": "100"} for i in range(28)]
    await add_costs(db, account, rows)
    await mark_imported(db, account)


async def test_list_shows_progress_and_forecast(
    console_for, db: AsyncSession, org: Org, viewer: User
) -> None:
    await spend(db, org)
    b = await make_budget(db, org, name="Cloud", amount="150")
    html = (await console_for(viewer).get("/budgets")).text
    assert f'href="/budgets/{b.id}"' in html
    assert "<meter" in html
    assert 'aria-label="Share of Cloud used"' in html
    assert "of $150.00" in html
    assert "Projected over" in html
    # A viewer sees no write button.
    assert "New budget" not in html
    html = (await console_for(viewer).get(f"/budgets/{b.id}")).text
    assert "Delete budget" not in html
    assert "Save" not in html
    assert "Projected over the amount" in html
    r = await console_for(viewer).submit(f"/budgets/{b.id}/delete")
    assert r.status_code == 403
    assert 'role="alert"' in r.text
    r = await console_for(viewer).get("/budgets/new")
    assert r.status_code == 403


async def test_member_creates_edits_and_deletes(
    console_for, db: AsyncSession, org: Org, member: User
) -> None:
    client = console_for(member)
    html = (await client.get("/budgets")).text
    assert "No budget yet" in html
    assert 'href="/budgets/new"' in html
    form = {
        "name": "Team A",
        "amount": "12.345",
        "currency": "USD",
        "period": "monthly",
        "alert_at_80": "on",
        "tag_key": "team",
        "tag_value": "a",
    }
    r = await client.submit("/budgets/new", form)
    assert r.status_code == 422
    assert 'id="e-amount"' in r.text
    assert "decimals" in r.text
    assert 'value="Team A"' in r.text  # the input is kept
    r = await client.submit("/budgets/new", {**form, "amount": "1200.50"})
    assert r.status_code == 303, r.text
    assert r.headers["location"] == "/budgets"
    html = (await client.get("/budgets")).text
    assert "Budget Team A created." in html
    budget_id = re.search(r'href="/budgets/([0-9a-f-]{36})"', html).group(1)
    html = (await client.get(f"/budgets/{budget_id}")).text
    assert 'value="1200.50"' in html
    assert 'value="team"' in html
    assert 'id="f-alert_at_100"' in html
    assert 'name="alert_at_100">' in html

    r = await client.submit(
        f"/budgets/{budget_id}", {**form, "amount": "900", "name": "Team A+", "tag_value": ""}
    )
    assert r.status_code == 422
    assert "tag_key and tag_value together" in r.text
    r = await client.submit(f"/budgets/{budget_id}", {**form, "amount": "900", "name": "Team A+"})
    assert r.status_code == 303
    html = (await client.get(f"/budgets/{budget_id}")).text
    assert "Budget Team A+ saved." in html
    assert "$900.00" in html

    r = await client.submit(f"/budgets/{budget_id}/delete")
    assert r.status_code == 303
    html = (await client.get("/budgets")).text
    assert "Budget deleted." in html
    assert "Team A+" not in html
    r = await client.get(f"/budgets/{budget_id}")
    assert r.status_code == 404
