"""The /costs HTTP contract: breakdown by every groupBy, trend with zero-filled days and the
previous period, currencies kept apart, grants and tenancy, validation, auth and rate limit.

Figures come from ``tests/costs/conftest.py`` (September 2024, USD: Compute Engine 20.125,
AmazonEC2 10.009, AmazonS3 3.25 (5.50 and a -2.25 credit), BigQuery 3 -> 36.384; EUR 7.00;
100 USD on 2024-08-31; 1.11 USD on 2024-10-01)."""

import uuid
from datetime import timedelta

import pytest

from tests.conftest import ClientFor
from tests.costs.conftest import Dataset
from tests.factories.cloud_accounts import grant
from xplorr.core import clock
from xplorr.users.models import User

SEPT = {"startDate": "2024-09-01", "endDate": "2024-09-30"}


def rows(body: dict) -> list[tuple]:
    return [(d["key"], d["name"], d["cost"], d["percentage"]) for d in body["data"]]


class TestBreakdown:
    async def test_by_service_sorted_by_cost_rounded_to_cents(
        self, client_for: ClientFor, admin: User, dataset: Dataset
    ) -> None:
        r = await client_for(admin).get("/costs", params=SEPT)
        assert r.status_code == 200, r.text
        body = r.json()
        assert rows(body) == [
            ("Compute Engine", "Compute Engine", 20.12, 55.31),  # largest remainder: 20.125
            (
                "Amazon Elastic Compute Cloud",
                "Amazon Elastic Compute Cloud",
                10.01,
                27.51,
            ),  # 10.009 gets the cent: 36.38 in all
            ("Amazon Simple Storage Service", "Amazon Simple Storage Service", 3.25, 8.93),
            ("BigQuery", "BigQuery", 3.0, 8.25),
        ]
        assert body["totalCost"] == 36.38
        assert body["currency"] == "USD"
        assert body["currencies"] == [
            {"currency": "USD", "totalCost": 36.38},
            {"currency": "EUR", "totalCost": 7.0},
        ]
        assert (body["startDate"], body["endDate"]) == ("2024-09-01", "2024-09-30")
        assert (body["groupBy"], body["metric"]) == ("service", "billed")
        # JSON numbers, never strings.
        assert '"totalCost":36.38' in r.text.replace(" ", "")

    @pytest.mark.parametrize(
        ("group_by", "expected"),
        [
            ("provider", [("gcp", "Google Cloud", 23.12), ("aws", "AWS", 13.26)]),
            (
                "region",
                [
                    ("us-central1", "us-central1", 23.12),
                    ("us-east-1", "us-east-1", 10.01),
                    ("us-west-2", "us-west-2", 3.25),
                ],
            ),
            (
                "date",  # by date, oldest first; only days with costs
                [
                    ("2024-09-01", "2024-09-01", 10.01),
                    ("2024-09-02", "2024-09-02", 3.25),
                    ("2024-09-15", "2024-09-15", 20.12),
                    ("2024-09-16", "2024-09-16", 3.0),
                ],
            ),
            (
                "tag:env",
                [
                    ("", "", 20.12),  # {"env": null}
                    ("prod", "prod", 10.01),
                    ("dev", "dev", 5.5),
                    (None, "untagged", 0.75),  # the credit -2.25 and BigQuery 3
                ],
            ),
            ("tag:team", [("b", "b", 23.13), ("a", "a", 10.0), (None, "untagged", 3.25)]),
        ],
    )
    async def test_every_group_by(
        self, client_for: ClientFor, admin: User, dataset: Dataset, group_by: str, expected
    ) -> None:
        r = await client_for(admin).get("/costs", params={**SEPT, "groupBy": group_by})
        assert r.status_code == 200, r.text
        assert [row[:3] for row in rows(r.json())] == expected
        assert r.json()["totalCost"] == 36.38
        assert r.json()["groupBy"] == group_by

    async def test_by_account_names_the_accounts(
        self, client_for: ClientFor, admin: User, dataset: Dataset
    ) -> None:
        r = await client_for(admin).get("/costs", params={**SEPT, "groupBy": "account"})
        assert [row[:3] for row in rows(r.json())] == [
            (str(dataset.gcp.id), "Data GCP", 23.12),
            (str(dataset.aws.id), "Prod AWS", 13.26),
        ]

    async def test_other_currency_on_request(
        self, client_for: ClientFor, viewer: User, dataset: Dataset
    ) -> None:
        r = await client_for(viewer).get("/costs", params={**SEPT, "currency": "eur"})
        body = r.json()
        assert rows(body) == [
            ("Amazon Elastic Compute Cloud", "Amazon Elastic Compute Cloud", 7.0, 100.0)
        ]
        assert (body["currency"], body["totalCost"]) == ("EUR", 7.0)
        r = await client_for(viewer).get("/costs", params={**SEPT, "currency": "JPY"})
        assert (r.json()["data"], r.json()["totalCost"], r.json()["currency"]) == ([], 0, "JPY")

    async def test_metric_and_provider(
        self, client_for: ClientFor, member: User, dataset: Dataset
    ) -> None:
        params = {**SEPT, "metric": "effective", "provider": "aws", "groupBy": "service"}
        body = (await client_for(member).get("/costs", params=params)).json()
        # EC2 effective: 8.000000001 + 0.004; S3: 5.50 - 2.25.
        assert [row[:3] for row in rows(body)] == [
            ("Amazon Elastic Compute Cloud", "Amazon Elastic Compute Cloud", 8.0),
            ("Amazon Simple Storage Service", "Amazon Simple Storage Service", 3.25),
        ]
        assert (body["metric"], body["totalCost"]) == ("effective", 11.25)

    async def test_date_edges_are_inclusive(
        self, client_for: ClientFor, admin: User, dataset: Dataset
    ) -> None:
        client = client_for(admin)
        last = await client.get(
            "/costs", params={"startDate": "2024-09-30", "endDate": "2024-09-30"}
        )
        # Only EUR was spent that day; the answer stays in the default currency (most accounts
        # bill in USD) and lists the EUR total beside it.
        assert (last.json()["currency"], last.json()["totalCost"]) == ("USD", 0)
        assert last.json()["currencies"] == [{"currency": "EUR", "totalCost": 7.0}]
        wide = {"startDate": "2024-08-31", "endDate": "2024-10-01", "currency": "USD"}
        assert (await client.get("/costs", params=wide)).json()["totalCost"] == 137.49

    async def test_defaults_are_the_last_30_days(
        self, client_for: ClientFor, admin: User, dataset: Dataset
    ) -> None:
        body = (await client_for(admin).get("/costs")).json()
        today = clock.now().date()
        assert body["endDate"] == today.isoformat()
        assert body["startDate"] == (today - timedelta(days=30)).isoformat()
        assert (body["groupBy"], body["metric"], body["data"], body["currency"]) == (
            "service",
            "billed",
            [],
            "USD",  # the default currency does not depend on the range
        )

    async def test_account_filter(
        self, client_for: ClientFor, admin: User, dataset: Dataset
    ) -> None:
        client = client_for(admin)
        r = await client.get("/costs", params={**SEPT, "accountId": str(dataset.gcp.id)})
        assert r.json()["totalCost"] == 23.13
        for foreign in (dataset.foreign.id, uuid.uuid4()):
            r = await client.get("/costs", params={**SEPT, "accountId": str(foreign)})
            assert r.status_code == 404
            assert r.json()["error"]["code"] == "CLOUD_ACCOUNT_NOT_FOUND"

    async def test_other_org_sees_only_its_own(
        self, client_for: ClientFor, other_admin: User, dataset: Dataset
    ) -> None:
        body = (await client_for(other_admin).get("/costs", params=SEPT)).json()
        assert rows(body) == [
            ("Amazon Elastic Compute Cloud", "Amazon Elastic Compute Cloud", 999.0, 100.0)
        ]
        assert body["currencies"] == [{"currency": "USD", "totalCost": 999.0}]

    async def test_without_token_is_401(self, anon) -> None:
        assert (await anon.get("/costs")).status_code == 401
        assert (await anon.get("/costs/trend")).status_code == 401


class TestGrants:
    async def test_member_sees_only_granted_accounts(
        self, client_for: ClientFor, member: User, db, dataset: Dataset
    ) -> None:
        await grant(db, member, dataset.aws)
        client = client_for(member)
        body = (await client.get("/costs", params={**SEPT, "groupBy": "account"})).json()
        assert [row[:3] for row in rows(body)] == [(str(dataset.aws.id), "Prod AWS", 13.26)]
        assert body["currencies"] == [
            {"currency": "USD", "totalCost": 13.26},
            {"currency": "EUR", "totalCost": 7.0},
        ]
        tags = (await client.get("/costs", params={**SEPT, "groupBy": "tag:env"})).json()
        assert sum(d["cost"] for d in tags["data"]) == pytest.approx(13.26)
        trend = (await client.get("/costs/trend", params=SEPT)).json()
        assert trend["totalCost"] == 13.26
        for path in ("/costs", "/costs/trend"):
            r = await client.get(path, params={**SEPT, "accountId": str(dataset.gcp.id)})
            assert r.status_code == 404
            assert r.json()["error"]["code"] == "CLOUD_ACCOUNT_NOT_FOUND"
        r = await client.get("/costs", params={**SEPT, "accountId": str(dataset.aws.id)})
        assert r.json()["totalCost"] == 13.26


class TestTrend:
    async def test_every_day_and_the_previous_period(
        self, client_for: ClientFor, member: User, dataset: Dataset
    ) -> None:
        r = await client_for(member).get("/costs/trend", params=SEPT)
        assert r.status_code == 200, r.text
        body = r.json()
        assert [d["date"] for d in body["data"]] == [f"2024-09-{d:02}" for d in range(1, 31)]
        by_day = {d["date"]: d["cost"] for d in body["data"]}
        assert by_day["2024-09-01"] == 10.01
        assert by_day["2024-09-02"] == 3.25
        assert by_day["2024-09-03"] == 0
        assert by_day["2024-09-30"] == 0  # the EUR cost is not added to USD
        assert body["totalCost"] == 36.38
        assert body["currency"] == "USD"
        # 2024-08-02 .. 2024-08-31: 100 USD.
        assert (body["previousStartDate"], body["previousEndDate"]) == ("2024-08-02", "2024-08-31")
        assert body["previousPeriodTotal"] == 100.0
        assert body["changePercent"] == -63.62  # (36.384 - 100) / 100
        assert (body["startDate"], body["endDate"], body["metric"]) == (
            "2024-09-01",
            "2024-09-30",
            "billed",
        )

    async def test_change_is_null_without_previous_costs(
        self, client_for: ClientFor, admin: User, dataset: Dataset
    ) -> None:
        params = {"startDate": "2024-10-01", "endDate": "2024-10-01"}
        body = (await client_for(admin).get("/costs/trend", params=params)).json()
        assert body["data"] == [{"date": "2024-10-01", "cost": 1.11}]
        assert (body["currency"], body["totalCost"]) == ("USD", 1.11)
        assert body["previousPeriodTotal"] == 0  # 2024-09-30 holds only EUR
        assert body["changePercent"] is None

    async def test_currency_and_empty_range(
        self, client_for: ClientFor, admin: User, dataset: Dataset
    ) -> None:
        client = client_for(admin)
        eur = (await client.get("/costs/trend", params={**SEPT, "currency": "EUR"})).json()
        assert eur["totalCost"] == 7.0
        assert eur["data"][-1] == {"date": "2024-09-30", "cost": 7.0}
        empty = {"startDate": "2030-01-01", "endDate": "2030-01-03"}
        body = (await client.get("/costs/trend", params=empty)).json()
        assert [d["cost"] for d in body["data"]] == [0, 0, 0]
        assert (body["currency"], body["totalCost"], body["changePercent"]) == ("USD", 0, None)


class TestValidation:
    @pytest.mark.parametrize(
        ("params", "field"),
        [
            ({"startDate": "2024-02-30"}, "startDate"),
            ({"startDate": "20240901"}, "startDate"),
            ({"endDate": "yesterday"}, "endDate"),
            ({"startDate": "2024-09-02", "endDate": "2024-09-01"}, "endDate"),
            ({"startDate": "2023-01-01", "endDate": "2024-01-02"}, "endDate"),  # 367 days
            ({"startDate": "0001-01-01", "endDate": "0001-01-02"}, "startDate"),
            ({"provider": "AWS"}, "provider"),
            ({"metric": "gross"}, "metric"),
            ({"currency": "US"}, "currency"),
            ({"accountId": "not-a-uuid"}, "accountId"),
        ],
    )
    @pytest.mark.parametrize("path", ["/costs", "/costs/trend"])
    async def test_bad_filters_are_422(
        self, client_for: ClientFor, admin: User, path: str, params: dict, field: str
    ) -> None:
        r = await client_for(admin).get(path, params=params)
        assert r.status_code == 422, r.text
        err = r.json()["error"]
        assert err["code"] == "VALIDATION_ERROR"
        assert [d["field"] for d in err["details"]] == [field]

    @pytest.mark.parametrize(
        "group_by", ["resources", "tag:", 'tag:a"b', "tag:a\\b", "tag:" + "k" * 201, "Service"]
    )
    async def test_bad_group_by_is_422(
        self, client_for: ClientFor, admin: User, group_by: str
    ) -> None:
        r = await client_for(admin).get("/costs", params={"groupBy": group_by})
        assert r.status_code == 422, r.text
        assert [d["field"] for d in r.json()["error"]["details"]] == ["groupBy"]

    async def test_366_days_fit(self, client_for: ClientFor, admin: User) -> None:
        for params in (
            {"startDate": "2024-01-01", "endDate": "2024-12-31"},
            {"startDate": "2023-01-01", "endDate": "2024-01-01"},
        ):
            assert (await client_for(admin).get("/costs", params=params)).status_code == 200


@pytest.mark.parametrize("path", ["/costs", "/costs/trend"])
async def test_30_per_minute_then_429(client_for: ClientFor, viewer: User, path: str) -> None:
    client = client_for(viewer)
    for _ in range(30):
        assert (await client.get(path)).status_code == 200
    r = await client.get(path)
    assert r.status_code == 429
    assert r.json()["error"]["code"] == "RATE_LIMITED"
    assert 1 <= int(r.headers["retry-after"]) <= 60
