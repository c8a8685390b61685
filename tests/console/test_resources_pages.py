"""Resources pages without a browser: inventory (filters from the API's values, pages, the CSV
export through the console), network costs, Kubernetes clusters (token shown once, rotate,
delete, rightsizing) and tagging policies with violations; roles and the API's refusals."""

from sqlalchemy.ext.asyncio import AsyncSession
from tests.factories.cloud_accounts import make_account
from tests.factories.inventory import make_resource
from tests.factories.kubernetes import make_cluster
from tests.factories.tagging import make_policy

from xplorr.cloud_accounts.models import Provider
from xplorr.orgs.models import Org
from xplorr.users.models import User


async def test_inventory_filters_pages_and_export(
    console_for, db: AsyncSession, org: Org, viewer: User
) -> None:
    account = await make_account(db, org, provider=Provider.AWS, name="prod")
    for n in range(27):
        await make_resource(db, account, f"i-{n:04d}", name=f"web-{n}", tags={"team": "a"})
    await make_resource(
        db, account, "vol-1", resource_type="Disk", status="Available", region="eu-west-1"
    )
    client = console_for(viewer)
    html = (await client.get("/inventory")).text
    assert "28 resources" in html
    assert "Page 1 of 2" in html
    assert '<option value="eu-west-1">eu-west-1 (1)</option>' in html
    assert 'href="/inventory?page=2"' in html
    html = (await client.get("/inventory?region=eu-west-1")).text
    assert "1 resource<" in html
    assert "vol-1" in html
    assert 'href="/inventory/export?region=eu-west-1"' in html

    export = await client.get("/inventory/export?region=eu-west-1")
    assert export.status_code == 200
    assert export.headers["content-type"].startswith("text/csv")
    assert "attachment" in export.headers["content-disposition"]
    assert "vol-1" in export.text
    assert "i-0001" not in export.text

    html = (await client.get("/inventory?search=nothing-like-it")).text
    assert "Nothing matches these filters" in html
    bad = await client.get("/inventory?accountId=nope")
    assert bad.status_code == 422


async def test_inventory_empty_state_by_role(console_for, admin: User, viewer: User) -> None:
    assert 'href="/cloud-accounts"' in (await console_for(admin).get("/inventory")).text
    html = (await console_for(viewer).get("/inventory")).text
    assert "No resource yet" in html
    assert 'class="button" href="/cloud-accounts"' not in html


async def test_network_page_and_bad_period(console_for, viewer: User) -> None:
    client = console_for(viewer)
    html = (await client.get("/network")).text
    assert "No network spend yet" in html
    bad = await client.get("/network?days=999")
    assert bad.status_code == 422
    assert "366" in bad.text or "less than" in bad.text.lower()


async def test_kubernetes_token_once_rotate_delete_and_roles(
    console_for, db: AsyncSession, org: Org, admin: User, viewer: User
) -> None:
    client = console_for(admin)
    created = await client.submit("/kubernetes", {"name": "prod-eks", "currency": "usd"})
    assert created.status_code == 201
    token = created.text.split('data-testid="ingest-token">', 1)[1].split("<", 1)[0]
    assert token.startswith("xpk8s_")
    listed = (await client.get("/kubernetes")).text
    assert "prod-eks" in listed
    assert token not in listed  # never shown again

    taken = await client.submit("/kubernetes", {"name": "prod-eks", "currency": "USD"})
    assert taken.status_code == 409
    assert 'value="prod-eks"' in taken.text

    cluster, _ = await make_cluster(db, org, name="staging")
    rotated = await client.submit(f"/kubernetes/{cluster.id}/token")
    assert rotated.status_code == 200
    assert "The old token stopped working" in rotated.text
    detail = await console_for(viewer).get(f"/kubernetes/{cluster.id}")
    assert detail.status_code == 200
    assert "No usage yet" in detail.text

    html = (await console_for(viewer).get("/kubernetes")).text
    assert "Register a cluster" not in html
    assert "Rotate token" not in html
    refused = await console_for(viewer).submit(f"/kubernetes/{cluster.id}/delete")
    assert refused.status_code == 403
    deleted = await client.submit(f"/kubernetes/{cluster.id}/delete")
    assert deleted.status_code == 303
    assert "staging" not in (await client.get("/kubernetes")).text


async def test_tagging_policies_violations_and_roles(
    console_for, db: AsyncSession, org: Org, admin: User, member: User
) -> None:
    account = await make_account(db, org, provider=Provider.AWS)
    await make_resource(db, account, "i-untagged", name="untagged-box")
    client = console_for(admin)
    made = await client.submit(
        "/tagging",
        {"tag_key": "team", "applies_to": "all", "allowed_values": "a, b", "required": "on"},
    )
    assert made.status_code == 303
    html = (await client.get("/tagging")).text
    assert "a, b" in html
    assert "untagged-box" in html
    assert "tag missing" in html

    again = await client.submit(
        "/tagging", {"tag_key": "team", "applies_to": "all", "required": "on"}
    )
    assert again.status_code == 409
    assert 'value="team"' in again.text

    html = (await console_for(member).get("/tagging")).text
    assert "New policy" not in html
    assert ">Delete<" not in html
    policy = await make_policy(db, org, tag_key="env")
    refused = await console_for(member).submit(f"/tagging/{policy.id}/delete")
    assert refused.status_code == 403
    assert "admin" in refused.text.lower()
    done = await client.submit(f"/tagging/{policy.id}/delete")
    assert done.status_code == 303
