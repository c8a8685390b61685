"""An approval request posted by the bot tags the org's admins, each looked up with
``users.lookupByEmail``: a failed lookup (Slack's rate limit, HTTP 429) ends the lookups, and
the request is still posted, with the mentions found before it."""

import uuid

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tests.factories.channels import make_channel, make_slack_install
from tests.factories.users import make_user
from tests.mail import run_jobs
from tests.slack.fake_slack import FakeSlack
from xplorr.core import clock
from xplorr.core.jobs.runner import load_job_modules
from xplorr.core.settings import Settings
from xplorr.core.tenancy import Role
from xplorr.notifications import hub
from xplorr.notifications.events import ApprovalNotice
from xplorr.notifications.models import DeliveryStatus, NotificationDelivery
from xplorr.orgs.models import Org
from xplorr.users.models import User


async def test_a_failed_lookup_posts_the_request_with_the_mentions_found(
    db: AsyncSession, org: Org, slack: FakeSlack, settings: Settings
) -> None:
    load_job_modules()
    token = "xoxb-T001-mentions"
    slack.tokens[token] = "T001"
    await make_slack_install(db, org, token=token)
    channel = await make_channel(db, org, channel_id="CDEFAULT", is_default=True)
    admins = ("a-admin@acme.test", "b-admin@acme.test", "c-admin@acme.test")  # address order
    for n, email in enumerate(admins):
        user = await make_user(db, org, role=Role.ADMIN, email=email)
        await db.execute(
            update(User).where(User.id == user.id).values(email_verified_at=clock.now())
        )
        slack.add_user(f"U{n}", email)
    await db.commit()
    slack.lookup_failures["b-admin@acme.test"] = (429, "ratelimited")

    event = ApprovalNotice(
        org_id=org.id, approval_id=uuid.uuid4(), status="requested",
        action="apply_recommendation: Stop i-1", requested_by="member@acme.test",
    )  # fmt: skip
    await hub.notify(db, event)
    await db.commit()
    await run_jobs(settings)

    # The lookups stopped at the failure: the third admin was not asked for.
    assert [c.args["email"] for c in slack.of("users.lookupByEmail")] == list(admins[:2])
    (post,) = slack.of("chat.postMessage")
    head = "<@U0>: an approval is waiting for an admin."
    assert (post.args["channel"], post.token) == ("CDEFAULT", token)
    assert post.args["text"].startswith(f"{head} ")
    assert post.args["blocks"][0]["text"]["text"] == head
    db.expunge_all()
    await db.rollback()  # read what the worker committed
    delivery = await db.scalar(
        select(NotificationDelivery).where(
            NotificationDelivery.target == f"chat_channel:{channel.id}"
        )
    )
    assert delivery is not None
    assert delivery.status == DeliveryStatus.SENT
