"""Alert rule pages: list, create (422 next to the field, input kept), detail with firings, edit
keeping the masked webhook, delete; only admins see and use the write buttons (a member's direct
POST is refused by the API in words)."""

import re

from sqlalchemy.ext.asyncio import AsyncSession
from tests.factories.alerts import make_alert_rule

from xplorr.orgs.models import Org
from xplorr.users.models import User


async def test_admin_creates_edits_and_deletes(console_for, admin: User) -> None:
    client = console_for(admin)
    html = (await client.get("/alerts")).text
    assert "No alert rule yet" in html
    assert 'href="/alerts/new"' in html
    form = {
        "name": "Daily over 500",
        "metric": "daily_spend",
        "conditionOp": ">",
        "threshold": "500",
        "currency": "USD",
        "notifyEmails": "finops@example.com, not-an-email",
        "enabled": "on",
    }
    r = await client.submit("/alerts/new", form)
    assert r.status_code == 422
    assert 'id="e-notifyEmails"' in r.text
    assert 'value="Daily over 500"' in r.text
    r = await client.submit("/alerts/new", {**form, "notifyEmails": "finops@example.com"})
    assert r.status_code == 303, r.text
    rule_path = r.headers["location"]
    assert re.fullmatch(r"/alerts/[0-9a-f-]{36}", rule_path)
    html = (await client.get(rule_path)).text
    assert "Alert rule Daily over 500 created." in html
    assert "has not fired yet" in html
    assert "Daily spend (the last complete day) is above $500.00" in html

    r = await client.submit(
        rule_path, {**form, "notifyEmails": "a@example.com", "threshold": "750"}
    )
    assert r.status_code == 303
    html = (await client.get(rule_path)).text
    assert "$750.00" in html
    assert "a@example.com" in html
    html = (await client.get("/alerts")).text
    assert "Daily over 500" in html

    r = await client.submit(f"{rule_path}/delete")
    assert r.status_code == 303
    assert "No alert rule yet" in (await client.get("/alerts")).text


async def test_member_reads_but_cannot_write(
    console_for, db: AsyncSession, org: Org, member: User
) -> None:
    rule = await make_alert_rule(db, org, name="Month over 10k")
    client = console_for(member)
    html = (await client.get("/alerts")).text
    assert "Month over 10k" in html
    assert "New alert rule" not in html
    html = (await client.get(f"/alerts/{rule.id}")).text
    assert "Delete alert rule" not in html
    assert "finops@example.com" in html
    r = await client.submit(f"/alerts/{rule.id}/delete")
    assert r.status_code == 403
    assert 'role="alert"' in r.text
    assert (await client.get("/alerts/new")).status_code == 403
    assert (await client.get("/alerts/7b0c2a1e-7d1c-4a55-a3a4-1e0c8e5a9f00")).status_code == 404
