"""Allocation pages without a browser: rules (list, preview through ``?preview=true`` with
nothing saved, create, edit, delete, the API's 422 next to the form) and unit economics (cost
per unit, record a value); roles and the API's refusals in words."""

import re
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from tests.factories.allocation import make_rule
from tests.factories.cloud_accounts import make_account
from tests.factories.costs import add_costs
from tests.factories.unit_economics import add_metrics

from xplorr.allocation.models import AllocationRule
from xplorr.core import clock
from xplorr.orgs.models import Org
from xplorr.users.models import User

RULE = {
    "name": "Shared support",
    "source_service": "AWS Support",
    "target_kind": "tag",
    "target_tag_key": "team",
    "method": "fixed",
    "splits": "web=60\ndata=40",
    "priority": "1",
    "active": "on",
}


async def _rules(db: AsyncSession) -> int:
    return int(await db.scalar(select(func.count()).select_from(AllocationRule)) or 0)


async def test_preview_then_create_edit_and_delete_a_rule(
    console_for, db: AsyncSession, org: Org, admin: User
) -> None:
    account = await make_account(db, org)
    last_month = clock.now().date().replace(day=1) - timedelta(days=1)
    await add_costs(
        db,
        account,
        [
            {"usage_date": last_month, "billed_cost": "100", "service_name": "AWS Support"},
            {
                "usage_date": last_month,
                "billed_cost": "10",
                "service_name": "Amazon EC2",
                "tags": {"team": "web"},
            },
        ],
    )
    client = console_for(admin)
    assert "No allocation rule" in (await client.get("/allocation")).text

    preview = await client.submit("/allocation/new", {**RULE, "action": "preview"})
    assert preview.status_code == 200, preview.text
    assert "nothing saved" in preview.text
    assert "$100.00" in preview.text  # what the rule would share that month
    assert 'value="Shared support"' in preview.text
    assert await _rules(db) == 0

    bad = await client.submit("/allocation/new", {**RULE, "splits": "web=60\ndata=30"})
    assert bad.status_code == 422
    assert "sum to 100" in bad.text
    assert "data=30" in bad.text

    made = await client.submit("/allocation/new", {**RULE, "action": "save"})
    assert made.status_code == 303
    html = (await client.get("/allocation")).text
    assert "Shared support" in html
    rule_id = re.findall(r'href="/allocation/([0-9a-f-]{36})"', html)[0]
    edit = await client.get(f"/allocation/{rule_id}")
    assert "web=60" in edit.text

    previewed = await client.submit(
        f"/allocation/{rule_id}", {**RULE, "method": "even", "splits": "", "action": "preview"}
    )
    assert previewed.status_code == 200, previewed.text
    assert "nothing saved" in previewed.text
    saved = await client.submit(
        f"/allocation/{rule_id}", {**RULE, "name": "Support, evenly", "method": "even",
                                   "splits": "", "action": "save"},
    )  # fmt: skip
    assert saved.status_code == 303
    assert "Support, evenly" in (await client.get("/allocation")).text
    deleted = await client.submit(f"/allocation/{rule_id}/delete")
    assert deleted.status_code == 303
    assert await _rules(db) == 0


async def test_unit_economics_empty_state(console_for, member: User) -> None:
    html = (await console_for(member).get("/unit-economics")).text
    assert "No business metric yet" in html
    assert "Record a value" in html


async def test_allocation_roles(console_for, db: AsyncSession, org: Org, member: User) -> None:
    rule = await make_rule(db, org)
    client = console_for(member)
    html = (await client.get("/allocation")).text
    assert "EKS shared" in html
    assert "New rule" not in html
    assert ">Delete<" not in html
    assert (await client.get("/allocation/new")).status_code == 403
    refused = await client.submit("/allocation/new", {**RULE, "action": "save"})
    assert refused.status_code == 403
    assert "admin" in refused.text.lower()
    refused = await client.submit(f"/allocation/{rule.id}/delete")
    assert refused.status_code == 403
    assert await _rules(db) == 1


async def test_unit_economics_shows_cost_per_unit_and_records_a_value(
    console_for, db: AsyncSession, org: Org, member: User, viewer: User
) -> None:
    account = await make_account(db, org)
    day = clock.now().date() - timedelta(days=2)
    await add_costs(db, account, [{"usage_date": day, "billed_cost": "50"}])
    await add_metrics(db, org, {day.isoformat(): 100})
    client = console_for(member)
    # The first metric the organization records is shown at once, picked from a select.
    html = (await client.get("/unit-economics")).text
    assert 'data-testid="cost-per-unit">0.5 USD<' in html
    assert '<option value="Active Customers" selected>Active Customers (1 day)</option>' in html

    bad = await client.submit(
        "/unit-economics",
        {"name": "Orders", "metric_type": "transactions", "value": "-3", "date": day.isoformat()},
    )
    assert bad.status_code == 422
    assert 'value="-3"' in bad.text
    done = await client.submit(
        "/unit-economics",
        {"name": "Orders", "metric_type": "transactions", "value": "25", "date": day.isoformat()},
    )
    assert done.status_code == 303
    assert done.headers["location"] == "/unit-economics?metricName=Orders"
    assert 'data-testid="cost-per-unit">2 USD<' in (await client.get(done.headers["location"])).text

    html = (await console_for(viewer).get("/unit-economics")).text
    assert "Record a value" not in html
    assert "Orders (1 day)" in html
    refused = await console_for(viewer).submit(
        "/unit-economics", {"name": "Orders", "value": "1", "date": day.isoformat()}
    )
    assert refused.status_code == 403
    bad_range = await client.get("/unit-economics?metricName=Orders&startDate=2026-13-01")
    assert bad_range.status_code == 422
    assert "YYYY-MM-DD" in bad_range.text or "date" in bad_range.text.lower()
    unknown = await client.get("/unit-economics?metricName=Ordres")
    assert unknown.status_code == 404
    assert 'role="alert"' in unknown.text
    assert 'value="Ordres"' in unknown.text  # the typed name kept in a text input
