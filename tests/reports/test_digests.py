"""``/digest-settings`` and the daily digest: CRUD, the schedule in a time zone, and one send
checked figure by figure (yesterday against the 7-day average, the month's top services, the
forecast), once per slot, as the creator now."""

from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import ClientFor
from tests.costs.conftest import Dataset, principal
from tests.factories.budgets import make_budget
from tests.factories.cloud_accounts import grant
from tests.factories.reports import make_digest
from tests.mail import Mailbox, html_of, run_jobs, text_of
from xplorr.budgets import service as budgets
from xplorr.budgets.models import Budget
from xplorr.core import money
from xplorr.core.audit import AuditEntry
from xplorr.core.db import make_engine, make_sessionmaker
from xplorr.core.jobs import cron, queue
from xplorr.core.settings import Settings
from xplorr.core.tenancy import Role
from xplorr.orgs.models import Org
from xplorr.reports import jobs as report_jobs
from xplorr.reports.models import DigestSetting
from xplorr.users.models import User, UserStatus

# Sent 2024-09-17 09:00 UTC: yesterday is 2024-09-16 (BigQuery 3 USD); the 7 days before
# hold Compute Engine's 20.125 (mean 2.875).
DUE = datetime(2024, 9, 17, 9, tzinfo=UTC)


async def send(settings: Settings, org: Org, row_id: object, due: datetime = DUE) -> None:
    engine = make_engine(settings.db_url)
    try:
        async with make_sessionmaker(engine)() as s:
            await queue.enqueue(
                s,
                report_jobs.DIGEST_SEND_JOB,
                {"id": str(row_id), "due_at": due.isoformat()},
                org_id=org.id,
            )
            await s.commit()
    finally:
        await engine.dispose()
    await run_jobs(settings)


async def test_crud_with_a_local_send_time(client_for: ClientFor, admin: User) -> None:
    c = client_for(admin)
    r = await c.post(
        "/digest-settings",
        json={
            "recipients": ["Team@Example.com"],
            "hour": 8,
            "minute": 30,
            "timezone": "Asia/Tokyo",
        },
    )
    assert r.status_code == 201, r.text
    out = r.json()
    assert out["recipients"] == ["team@example.com"]
    local = datetime.fromisoformat(out["next_run_at"]).astimezone(cron.zone("Asia/Tokyo"))
    assert (local.hour, local.minute) == (8, 30)
    assert (await c.get("/digest-settings")).json()["total"] == 1
    r = await c.patch(f"/digest-settings/{out['id']}", json={"enabled": False})
    assert r.json()["next_run_at"] is None
    r = await c.post("/digest-settings", json={"recipients": ["x@example.com"], "minute": 60})
    assert r.status_code == 422
    assert (await c.delete(f"/digest-settings/{out['id']}")).status_code == 204
    assert (await c.get("/digest-settings")).json()["total"] == 0


async def test_the_digest_figures_once_per_slot(
    db: AsyncSession, org: Org, admin: User, data: Dataset, mailbox: Mailbox, settings: Settings
) -> None:
    row = await make_digest(db, org, admin)
    await send(settings, org, row.id)
    await send(settings, org, row.id)  # the same slot again: nothing more
    (msg,) = mailbox.to("team@example.com")
    assert msg["Subject"] == "Cloud costs of Acme, 2024-09-16"
    text = text_of(msg)
    assert "USD: yesterday $3.00 ↑ +4.35 % against the 7-day average ($2.88)" in text
    assert "Compute Engine: $20.13 (n/a)" in text
    assert "BigQuery: $3.00 (n/a)" in text
    assert "Forecast for the month: $" in text
    assert "EUR" not in text  # no EUR cost in the digest's days
    sent = await db.scalar(select(AuditEntry).where(AuditEntry.action == "digest_setting.sent"))
    assert sent is not None
    assert sent.details["day"] == "2024-09-16"


async def test_the_creator_now_scopes_the_digest_and_deactivation_stops_it(
    db: AsyncSession, org: Org, admin: User, data: Dataset, mailbox: Mailbox, settings: Settings
) -> None:
    row = await make_digest(db, org, admin)
    user = await db.get(User, admin.id)
    assert user is not None
    user.role = Role.MEMBER
    await db.commit()
    await grant(db, admin, data.aws)  # AWS only: no BigQuery, no Compute Engine
    await send(settings, org, row.id)
    text = text_of(mailbox.to("team@example.com")[-1])
    assert "yesterday $0.00" in text
    assert "Compute Engine" not in text

    user = await db.get(User, admin.id, populate_existing=True)
    assert user is not None
    user.status = UserStatus.DEACTIVATED
    await db.commit()
    await send(settings, org, row.id, datetime(2024, 9, 18, 9, tzinfo=UTC))
    assert len(mailbox.to("team@example.com")) == 1
    stopped = await db.get(DigestSetting, row.id, populate_existing=True)
    assert stopped is not None
    assert (stopped.enabled, stopped.next_run_at) == (False, None)


async def test_the_digest_draws_each_budgets_usage_bar_and_forecast_against_it(
    db: AsyncSession, org: Org, admin: User, data: Dataset, mailbox: Mailbox, settings: Settings
) -> None:
    """Section 25: budget usage bars and the forecast against the budget. As of 2024-09-16
    the GCP budget of $20 has 20.125 + 3 spent (115.63 %); the EUR budget nothing yet (its
    currency gets a block of its own although it had no spend)."""
    await make_budget(db, org, name="Data GCP monthly", amount="20", account=data.gcp)
    await make_budget(db, org, name="Org EUR", amount="50", currency="EUR")
    gcp = await db.scalar(select(Budget).where(Budget.name == "Data GCP monthly"))
    assert gcp is not None
    [status] = await budgets.statuses(db, principal(org), [gcp], date(2024, 9, 16))
    assert status.forecast is not None
    forecast = money.round_money(status.forecast.forecast, "USD")
    row = await make_digest(db, org, admin)
    await send(settings, org, row.id)
    (msg,) = mailbox.to("team@example.com")
    text = text_of(msg)
    assert "Budgets: 1 over budget, 0 projected over, 1 on track" in text
    used = (forecast * 100 / 20).quantize(Decimal("0.01"))
    assert (
        "  Data GCP monthly (monthly): [####################] 115.63 % of $20.00 ($23.13 spent);"
        f" forecast ${forecast} by 2024-09-30, {used} % of the budget (${forecast - 20} over)"
    ) in text
    assert "  Org EUR (monthly): [....................] 0.00 % of €50.00 (€0.00 spent)" in text
    assert "EUR: yesterday €0.00" in text
    assert "Budgets against actuals" not in text  # the bars replace the section's counts
    html = html_of(msg)
    assert "background:#dc2626;width:100%" in html  # over: a full red bar
    assert "background:#16a34a;width:0%" in html
