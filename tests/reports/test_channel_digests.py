"""The daily digest in chat channels (``/channels`` rows) against the local Slack: a digest
setting with a channel destination (its own time and zone), the channels' ``notify.digest``
toggle at their own time zone, never two digests a day for one channel, a deleted channel
stopping its digest with a reason, the open recommendations in the message. The clock is
driven through the scheduler's own entry points (``periodic.scan_due`` and
``chat.post_channel_dailies`` take "now"), every 15 minutes across Auckland's switch to
daylight saving time (2024-09-29 02:00 NZST -> 03:00 NZDT), on the cost tests' September 2024
dataset. The org has no webhook: a channel-only org."""

import json
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import ClientFor
from tests.costs.conftest import Dataset
from tests.factories.channels import make_channel, make_slack_install
from tests.factories.recommendations import make_recommendation
from tests.factories.reports import make_digest
from tests.factories.settings import make_org_settings
from tests.mail import load_job_modules, run_jobs
from tests.slack.conftest import _slack_server, settings, slack
from tests.slack.fake_slack import FakeSlack
from xplorr.channels import routing
from xplorr.channels.models import ScopeType
from xplorr.core.audit import AuditEntry
from xplorr.core.jobs import cron, periodic
from xplorr.core.settings import Settings
from xplorr.notifications.models import NotificationDelivery
from xplorr.orgs.models import Org
from xplorr.reports import chat, digests
from xplorr.reports import jobs as report_jobs
from xplorr.reports.models import DigestSetting
from xplorr.users.models import User

__all__ = ["_slack_server", "settings", "slack"]

TOKEN = "xoxb-digest"
ZONE = "Pacific/Auckland"
START = datetime(2024, 9, 27, 18, tzinfo=UTC)  # 2024-09-28 06:00 NZST
END = datetime(2024, 9, 29, 21, tzinfo=UTC)  # 2024-09-30 10:00 NZDT
STEP = timedelta(minutes=15)  # the chat digest job's period


def _title(call_args: dict[str, Any]) -> str:
    blocks = call_args["blocks"]
    if isinstance(blocks, str):
        blocks = json.loads(blocks)
    return str(blocks[0]["text"]["text"])


def _fields(call_args: dict[str, Any]) -> list[str]:
    blocks = call_args["blocks"]
    if isinstance(blocks, str):
        blocks = json.loads(blocks)
    return [f["text"] for b in blocks if b.get("fields") for f in b["fields"]]


async def test_one_digest_per_channel_and_day_at_local_time_across_dst(
    db: AsyncSession,
    org: Org,
    admin: User,
    data: Dataset,
    settings: Settings,
    slack: FakeSlack,
) -> None:
    load_job_modules()  # the hub's senders and sources, as in every worker
    await make_slack_install(db, org, token=TOKEN)
    slack.tokens[TOKEN] = "T001"
    await make_org_settings(db, org, settings=settings, timezone="UTC", digest_time="08:00")
    await make_recommendation(db, data.aws, savings="70.08")
    await make_recommendation(db, data.aws, savings="12.5")
    # A: a digest setting's destination at 09:00 Auckland (its toggle is on too: it must still
    # get one a day); B: the toggle only, the org's 08:00 in B's own zone; C: toggle off.
    a = await make_channel(db, org, channel_id="CA", name="#finops")
    b = await make_channel(db, org, channel_id="CB", name="#team")
    await make_channel(db, org, channel_id="CC", name="#quiet", notify={"digest": False})
    b.timezone = ZONE
    await db.commit()
    row = await make_digest(
        db,
        org,
        admin,
        recipients=[],
        destination="channel",
        channel_config_id=a.id,
        timezone=ZONE,
        next_run_at=cron.next_fire("0 9 * * *", ZONE, START),
    )
    row_id, org_id = row.id, org.id
    assert org.id in set((await db.scalars(chat.orgs_with_chat())).all())  # no webhook set

    scanner = periodic.SCANNERS[report_jobs.DIGEST_SCAN_JOB]
    slots: list[tuple[str, datetime]] = []
    now = START
    while now <= END:
        queued = await periodic.scan_due(db, scanner, now)
        toggled = await chat.post_channel_dailies(db, org_id, now)
        await db.commit()
        if queued:
            slots.append(("CA", now))
        if toggled:
            slots += [("CB", now)] * toggled
            assert await chat.post_daily(db, org_id, now) == 0  # the channels take over
        if queued or toggled:
            await run_jobs(settings)
        now += STEP
    await run_jobs(settings)

    # The first 15-minute tick at or after the local time, each local day; the hour moves by
    # one in UTC when Auckland moves to NZDT (UTC+13) on 2024-09-29.
    assert slots == [
        ("CB", datetime(2024, 9, 27, 20, tzinfo=UTC)),  # 08:00 NZST, Sep 28
        ("CA", datetime(2024, 9, 27, 21, tzinfo=UTC)),  # 09:00 NZST
        ("CB", datetime(2024, 9, 28, 19, tzinfo=UTC)),  # 08:00 NZDT, Sep 29
        ("CA", datetime(2024, 9, 28, 20, tzinfo=UTC)),  # 09:00 NZDT
        ("CB", datetime(2024, 9, 29, 19, tzinfo=UTC)),
        ("CA", datetime(2024, 9, 29, 20, tzinfo=UTC)),
    ]
    posts = slack.of("chat.postMessage")
    per = Counter((p.args["channel"], _title(p.args)) for p in posts)
    assert per
    assert set(per.values()) == {1}
    days = {day for (_channel, title) in per for day in [title.split(" ")[3]]}
    assert days == {"2024-09-27", "2024-09-28", "2024-09-29"}
    for channel in ("CA", "CB"):
        got = {t.split(" ")[3] for (c, t) in per if c == channel}
        assert got == days, channel
    assert {c for (c, _t) in per} == {"CA", "CB"}  # not CC (toggle off)
    usd = next(p.args for p in posts if _title(p.args).endswith("(USD)"))
    assert "*Open recommendations*\n2, $82.58/month" in _fields(usd)
    assert "*Do something about" in " ".join(_fields(usd))

    # A deleted channel stops its digest with a reason; the next slot posts nothing.
    before = len(slack.of("chat.postMessage"))
    await db.delete(await db.get_one(type(a), a.id))
    await db.commit()
    assert await periodic.scan_due(db, scanner, datetime(2024, 9, 30, 20, tzinfo=UTC)) == 1
    await db.commit()
    await run_jobs(settings)
    db.expire_all()
    stopped = await db.scalar(select(DigestSetting).where(DigestSetting.id == row_id))
    assert stopped is not None
    assert (stopped.enabled, stopped.next_run_at) == (False, None)
    assert stopped.last_error == digests.CHANNEL_GONE
    paused = await db.scalar(select(AuditEntry).where(AuditEntry.action == "digest_setting.paused"))
    assert paused is not None
    assert paused.details["reason"] == digests.CHANNEL_GONE
    assert len(slack.of("chat.postMessage")) == before
    # B's own digest (the toggle) goes on, the next local morning.
    assert await chat.post_channel_dailies(db, org_id, datetime(2024, 9, 30, 19, tzinfo=UTC)) == 1
    await db.commit()


async def test_channel_destinations_through_the_api(
    client_for: ClientFor, db: AsyncSession, org: Org, other_org: Org, admin: User
) -> None:
    mine = await make_channel(db, org, channel_id="CM")
    theirs = await make_channel(db, other_org, channel_id="CT")
    c = client_for(admin)
    r = await c.post(
        "/digest-settings",
        json={"channel_id": str(mine.id), "hour": 7, "timezone": "Europe/Paris"},
    )
    assert r.status_code == 201, r.text
    out = r.json()
    assert (out["destination"], out["channel_id"], out["recipients"]) == (
        "channel",
        str(mine.id),
        [],
    )
    local = datetime.fromisoformat(out["next_run_at"]).astimezone(cron.zone("Europe/Paris"))
    assert (local.hour, local.minute) == (7, 0)
    bad: list[tuple[str, dict[str, Any], int]] = [
        ("post", {"channel_id": str(theirs.id)}, 404),  # another org's channel
        ("post", {"channel_id": "not-a-uuid"}, 422),
        ("post", {}, 422),  # no destination
        ("post", {"channel_id": str(mine.id), "recipients": ["a@example.com"]}, 422),  # two
        ("patch", {"channel_id": str(theirs.id)}, 404),
        ("patch", {"recipients": ["a@example.com"]}, 422),  # a channel digest has none
    ]
    for method, body, status in bad:
        if method == "post":
            r = await c.post("/digest-settings", json=body)
        else:
            r = await c.patch(f"/digest-settings/{out['id']}", json=body)
        assert r.status_code == status, (body, r.text)
        assert "error" in r.json()
    listed = (await c.get("/digest-settings")).json()
    assert [d["channel_id"] for d in listed["data"]] == [str(mine.id)]
    email = await c.post("/digest-settings", json={"recipients": ["x@example.com"]})
    assert email.json()["destination"] == "email"
    r = await c.patch(f"/digest-settings/{email.json()['id']}", json={"channel_id": str(mine.id)})
    assert r.status_code == 422
    # The channel goes: the digest keeps saying it was a channel digest, with no channel.
    await db.delete(await db.get_one(type(mine), mine.id))
    await db.commit()
    got = (await c.get("/digest-settings")).json()["data"][0]
    assert (got["destination"], got["channel_id"]) == ("channel", None)
    other = await make_channel(db, org, channel_id="CN")
    r = await c.patch(f"/digest-settings/{out['id']}", json={"channel_id": str(other.id)})
    assert r.status_code == 200
    assert r.json()["channel_id"] == str(other.id)


async def test_the_weekly_summary_goes_to_every_digest_channel_not_the_webhook(
    db: AsyncSession, org: Org, data: Dataset, settings: Settings, slack: FakeSlack
) -> None:
    """Section 25: the weekly summary "goes to every digest-enabled channel" (``channels.
    routing`` rule 5: whatever the channel's scope, default or not). Once the org routes to
    channels its webhook is no fallback, for the weekly summary as for every other type."""
    load_job_modules()
    await make_slack_install(db, org, token=TOKEN)
    slack.tokens[TOKEN] = "T001"
    await make_org_settings(
        db, org, settings=settings, slack_webhook="https://hooks.slack.com/services/T/B/x"
    )
    org_id = org.id
    week = (date(2024, 9, 9), date(2024, 9, 15))
    # Only a channel with the digest toggle off: nothing is posted, and nothing is marked
    # posted (the audit row says a summary went).
    await make_channel(db, org, channel_id="CQ", notify={"digest": False}, is_default=True)
    assert await chat.post_weekly(db, settings, org_id, *week) == 0
    marked = select(AuditEntry).where(AuditEntry.action == "weekly_summary.posted")
    assert (await db.scalars(marked)).all() == []
    # An account-scoped channel and an "all" channel, both with the toggle on (the default).
    await make_channel(
        db, org, channel_id="CS", scope_type=ScopeType.ACCOUNTS, scope_values=[str(data.aws.id)]
    )
    await make_channel(db, org, channel_id="CA")
    assert await chat.post_weekly(db, settings, org_id, *week) == 2  # one currency, 2 channels
    assert await chat.post_weekly(db, settings, org_id, *week) == 0  # once a week
    await db.commit()
    deliveries = (
        await db.scalars(
            select(NotificationDelivery.target).where(
                NotificationDelivery.event_type == "weekly_summary"
            )
        )
    ).all()
    assert all(t.startswith(f"{routing.SOURCE}:") for t in deliveries)  # no webhook target
    await run_jobs(settings)

    posts = [p.args for p in slack.of("chat.postMessage")]
    assert sorted(p["channel"] for p in posts) == ["CA", "CS"]
    for post in posts:
        assert _title(post) == "Weekly cost summary 2024-09-09 to 2024-09-15 (USD)"
    fields = _fields(posts[0])
    assert "*Spend*\n$20.13" in fields
    assert "*Week before*\n$3.25 (+519.2 % week over week)" in fields
    assert "*Google Cloud*\n$20.13 (n/a; before $0.00)" in fields
    assert "*AWS*\n$0.00 (-100.0 %; before $3.25)" in fields  # spent the week before only
    assert any(f.startswith("*Mover: Compute Engine*\n$20.13 (before $0.00") for f in fields)
    (row,) = (await db.scalars(marked)).all()
    assert row.details["deliveries"] == 2
    assert row.details["insight_model"] is None  # no LLM configured: no insight
    assert not any("Insight" in f for f in fields)
