"""Cost explorer depth (issue 13): filters, the new groupings, thenBy, limit and other, strict
query strings, totals that add up, the trend's grains and comparisons, discovery.

Figures come from ``tests/costs/conftest.py`` (September 2024, USD: Compute Engine 20.125,
AmazonEC2 10.009 (10.005 on i-1, 0.004 on i-2), AmazonS3 3.25 (5.50 and a -2.25 credit),
BigQuery 3 -> 36.384; EUR 7.00; 100 USD on 2024-08-31; 1.11 USD Tax on 2024-10-01)."""

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import ClientFor
from tests.costs.conftest import Dataset
from tests.factories.cloud_accounts import grant, make_account
from tests.factories.costs import add_costs
from xplorr.costs.models import CostImport
from xplorr.orgs.models import Org
from xplorr.users.models import User

SEPT = {"startDate": "2024-09-01", "endDate": "2024-09-30"}


def rows(body: dict) -> list[tuple]:
    return [(d["key"], d["name"], d["cost"]) for d in body["data"]]


async def total(client, path: str = "/costs", **params) -> float:
    r = await client.get(path, params={**SEPT, **params})
    assert r.status_code == 200, r.text
    return r.json()["totalCost"]


class TestFilters:
    @pytest.mark.parametrize(
        ("params", "expected"),
        [
            ({"service": "Amazon Simple Storage Service"}, 3.25),
            ({"service": ["Amazon Simple Storage Service", "BigQuery"]}, 6.25),  # OR within a field
            ({"region": "us-central1"}, 23.13),
            ({"region": ["us-east-1", "us-west-2"]}, 13.26),
            ({"chargeCategory": "Credit"}, -2.25),
            ({"serviceCategory": "Storage"}, 3.25),
            ({"serviceCategory": ["Storage", "Analytics"]}, 6.25),
            ({"resourceId": ["i-1", "i-2"]}, 10.01),
            ({"tag": "env:prod"}, 10.01),
            ({"tag": ["env:prod", "env:dev"]}, 15.51),
            ({"tag": "env:"}, 0.75),  # untagged: the credit and BigQuery
            ({"tag": ["env:prod", "team:a"]}, 10.01),  # AND across keys: 10.005
            ({"tag": "team:b", "region": "us-central1"}, 23.13),  # AND across fields
            ({"tag": "team:b", "service": "Amazon Simple Storage Service"}, 0),
            ({"provider": "gcp", "serviceCategory": "Compute"}, 20.13),
            ({"service": "Amazon Simple Storage Service", "chargeCategory": "Usage"}, 5.5),
        ],
    )
    @pytest.mark.parametrize("path", ["/costs", "/costs/trend"])
    async def test_filters(
        self, client_for: ClientFor, admin: User, dataset: Dataset, path, params, expected
    ) -> None:
        assert await total(client_for(admin), path, **params) == expected

    async def test_any_provider_the_data_holds(
        self, client_for: ClientFor, admin: User, db: AsyncSession, org: Org, dataset: Dataset
    ) -> None:
        oci = await make_account(db, org, name="OCI export")
        await add_costs(
            db,
            oci,
            [{"usage_date": "2024-09-03", "billed_cost": "4.5", "provider": "oracle"}],
        )
        client = client_for(admin)
        assert await total(client, provider="oracle") == 4.5
        body = (await client.get("/costs", params={**SEPT, "groupBy": "provider"})).json()
        assert rows(body) == [
            ("gcp", "Google Cloud", 23.12),
            ("aws", "AWS", 13.26),
            ("oracle", "oracle", 4.5),
        ]

    async def test_grants_still_apply(
        self, client_for: ClientFor, member: User, db: AsyncSession, dataset: Dataset
    ) -> None:
        await grant(db, member, dataset.aws)
        client = client_for(member)
        assert await total(client, region="us-central1") == 0
        assert await total(client, tag="env:prod") == 10.01


class TestGroupings:
    @pytest.mark.parametrize(
        ("group_by", "expected"),
        [
            (
                "resource",
                [
                    (None, "(none)", 20.88),  # 20.875: Compute Engine, the credit, BigQuery
                    ("i-1", "i-1", 10.0),
                    ("bucket-1", "bucket-1", 5.5),
                    ("i-2", "i-2", 0.0),
                ],
            ),
            ("sku", [(None, "(none)", 26.37), ("sku-1", "sku-1", 10.01)]),
            ("chargeCategory", [("Usage", "Usage", 38.63), ("Credit", "Credit", -2.25)]),
            (
                "serviceCategory",
                [
                    ("Compute", "Compute", 30.13),
                    ("Storage", "Storage", 3.25),
                    ("Analytics", "Analytics", 3.0),
                ],
            ),
            ("pricingCategory", [(None, "(none)", 36.38)]),
            ("month", [("2024-09-01", "2024-09-01", 36.38)]),
            (
                "week",  # ISO weeks from Monday: 2024-09-01 is a Sunday
                [
                    ("2024-08-26", "2024-08-26", 10.01),
                    ("2024-09-02", "2024-09-02", 3.25),
                    ("2024-09-09", "2024-09-09", 20.12),
                    ("2024-09-16", "2024-09-16", 3.0),
                ],
            ),
        ],
    )
    async def test_new_group_bys(
        self, client_for: ClientFor, viewer: User, dataset: Dataset, group_by, expected
    ) -> None:
        r = await client_for(viewer).get("/costs", params={**SEPT, "groupBy": group_by})
        assert r.status_code == 200, r.text
        assert rows(r.json()) == expected
        assert r.json()["totalCost"] == 36.38

    async def test_months_over_more_than_a_year(
        self, client_for: ClientFor, admin: User, dataset: Dataset
    ) -> None:
        params = {"startDate": "2023-08-01", "endDate": "2024-10-31", "groupBy": "month"}
        body = (await client_for(admin).get("/costs", params=params)).json()
        assert rows(body) == [
            ("2024-08-01", "2024-08-01", 100.0),
            ("2024-09-01", "2024-09-01", 36.38),
            ("2024-10-01", "2024-10-01", 1.11),
        ]
        assert body["totalCost"] == 137.49
        params["groupBy"] = "service"  # 457 days by day: refused
        r = await client_for(admin).get("/costs", params=params)
        assert r.status_code == 422
        assert "366" in r.json()["error"]["details"][0]["message"]

    async def test_then_by_nests_groups_that_add_up(
        self, client_for: ClientFor, admin: User, dataset: Dataset
    ) -> None:
        params = {**SEPT, "groupBy": "region", "thenBy": "service"}
        body = (await client_for(admin).get("/costs", params=params)).json()
        assert body["thenBy"] == "service"
        nested = [
            (d["key"], d["cost"], [(g["key"], g["cost"], g["percentage"]) for g in d["groups"]])
            for d in body["data"]
        ]
        assert nested == [
            # 23.125 rounds to 23.12 beside 10.009 -> 10.01; its services add up to 23.12.
            ("us-central1", 23.12, [("Compute Engine", 20.12, 87.03), ("BigQuery", 3.0, 12.97)]),
            ("us-east-1", 10.01, [("Amazon Elastic Compute Cloud", 10.01, 100.0)]),
            ("us-west-2", 3.25, [("Amazon Simple Storage Service", 3.25, 100.0)]),
        ]

    async def test_then_by_a_tag_and_by_month(
        self, client_for: ClientFor, admin: User, dataset: Dataset
    ) -> None:
        params = {**SEPT, "groupBy": "service", "thenBy": "tag:env"}
        body = (await client_for(admin).get("/costs", params=params)).json()
        s3 = next(d for d in body["data"] if d["key"] == "Amazon Simple Storage Service")
        assert [(g["key"], g["name"], g["cost"]) for g in s3["groups"]] == [
            ("dev", "dev", 5.5),
            (None, "untagged", -2.25),
        ]
        params = {"startDate": "2024-08-01", "endDate": "2024-10-31"}
        body = (
            await client_for(admin).get(
                "/costs", params={**params, "groupBy": "month", "thenBy": "service"}
            )
        ).json()
        assert [(d["key"], [g["key"] for g in d["groups"]]) for d in body["data"]] == [
            ("2024-08-01", ["Amazon Elastic Compute Cloud"]),
            (
                "2024-09-01",
                [
                    "Compute Engine",
                    "Amazon Elastic Compute Cloud",
                    "Amazon Simple Storage Service",
                    "BigQuery",
                ],
            ),
            ("2024-10-01", ["Tax"]),
        ]

    async def test_limit_sums_the_rest_into_other(
        self, client_for: ClientFor, admin: User, dataset: Dataset
    ) -> None:
        body = (
            await client_for(admin).get("/costs", params={**SEPT, "groupBy": "service", "limit": 2})
        ).json()
        assert [(d["key"], d["name"], d["cost"], d["other"]) for d in body["data"]] == [
            ("Compute Engine", "Compute Engine", 20.12, False),
            ("Amazon Elastic Compute Cloud", "Amazon Elastic Compute Cloud", 10.01, False),
            (None, "other", 6.25, True),
        ]
        assert body["totalCost"] == 36.38
        params = {**SEPT, "groupBy": "provider", "thenBy": "service", "limit": 1}
        body = (await client_for(admin).get("/costs", params=params)).json()
        assert [
            (d["name"], [(g["name"], g["cost"]) for g in d["groups"]]) for d in body["data"]
        ] == [
            ("Google Cloud", [("Compute Engine", 20.12), ("other", 3.0)]),
            ("other", [("Amazon Elastic Compute Cloud", 10.01), ("other", 3.25)]),
        ]


class TestStrictQuery:
    @pytest.mark.parametrize("path", ["/costs", "/costs/trend", "/costs/dimensions", "/costs/tags"])
    async def test_unknown_parameter_is_422_naming_it(
        self, client_for: ClientFor, admin: User, path: str
    ) -> None:
        r = await client_for(admin).get(path, params={"servcie": "Amazon Bedrock", "x": "1"})
        assert r.status_code == 422, r.text
        err = r.json()["error"]
        assert err["code"] == "VALIDATION_ERROR"
        assert [d["field"] for d in err["details"]] == ["servcie", "x"]
        assert "servcie" in err["message"]
        assert "service" in err["message"]
        assert "Amazon Bedrock" not in r.text  # never the value

    async def test_a_single_valued_parameter_twice_is_422(
        self, client_for: ClientFor, admin: User
    ) -> None:
        r = await client_for(admin).get("/costs?groupBy=service&groupBy=region&service=a&service=b")
        assert r.status_code == 422, r.text
        assert [d["field"] for d in r.json()["error"]["details"]] == ["groupBy"]

    @pytest.mark.parametrize(
        ("params", "field", "says"),
        [
            ({"groupBy": "Service"}, "groupBy", "provider, service, region"),
            ({"groupBy": "service", "thenBy": "service"}, "thenBy", "differ"),
            ({"thenBy": "resources"}, "thenBy", "pricingCategory, month, week or tag:<key>"),
            ({"tag": "env"}, "tag", "key:value"),
            ({"tag": ":prod"}, "tag", "empty"),
            ({"service": ""}, "service", "empty"),
            ({"limit": "0"}, "limit", ""),
            ({"chargeCategory": "usage"}, "chargeCategory.0", "'Usage', 'Purchase'"),
        ],
    )
    async def test_messages_say_what_is_allowed(
        self, client_for: ClientFor, admin: User, params, field, says
    ) -> None:
        r = await client_for(admin).get("/costs", params=params)
        assert r.status_code == 422, r.text
        details = r.json()["error"]["details"]
        assert [d["field"] for d in details] == [field]
        assert says in details[0]["message"]


class TestTrendTime:
    async def test_by_month_over_three_years(
        self, client_for: ClientFor, admin: User, dataset: Dataset
    ) -> None:
        client = client_for(admin)
        params = {"startDate": "2022-01-01", "endDate": "2024-12-31", "granularity": "month"}
        body = (await client.get("/costs/trend", params=params)).json()
        assert len(body["data"]) == 36
        by_month = {d["date"]: d["cost"] for d in body["data"] if d["cost"]}
        assert by_month == {"2024-08-01": 100.0, "2024-09-01": 36.38, "2024-10-01": 1.11}
        assert (body["totalCost"], body["granularity"]) == (137.49, "month")
        too_long = {**params, "startDate": "2021-12-31"}
        assert (await client.get("/costs/trend", params=too_long)).status_code == 422
        daily = {**params, "granularity": "day"}
        assert (await client.get("/costs/trend", params=daily)).status_code == 422

    async def test_by_week_and_points_add_up(
        self, client_for: ClientFor, admin: User, dataset: Dataset
    ) -> None:
        body = (
            await client_for(admin).get("/costs/trend", params={**SEPT, "granularity": "week"})
        ).json()
        assert [(d["date"], d["cost"]) for d in body["data"]] == [
            ("2024-08-26", 10.01),  # only 2024-09-01 of that week is in the range
            ("2024-09-02", 3.25),
            ("2024-09-09", 20.12),
            ("2024-09-16", 3.0),
            ("2024-09-23", 0),
            ("2024-09-30", 0),
        ]
        assert body["totalCost"] == 36.38
        daily = (await client_for(admin).get("/costs/trend", params=SEPT)).json()
        cents = sum(round(d["cost"] * 100) for d in daily["data"])
        assert cents == 3638

    async def test_default_range_ends_at_data_through(
        self, client_for: ClientFor, admin: User, db: AsyncSession, org: Org, dataset: Dataset
    ) -> None:
        await db.execute(
            update(CostImport)
            .where(CostImport.org_id == org.id)
            .values(last_date=date(2024, 9, 20), snapshot_at=datetime(2024, 10, 5, tzinfo=UTC))
        )
        await db.commit()
        client = client_for(admin)
        body = (await client.get("/costs/trend")).json()
        assert (body["startDate"], body["endDate"]) == ("2024-08-21", "2024-09-20")
        assert body["data"][-1]["date"] == "2024-09-20"
        body = (await client.get("/costs/trend", params={"granularity": "month"})).json()
        assert (body["startDate"], body["endDate"]) == ("2023-09-01", "2024-09-20")
        assert len(body["data"]) == 13
        body = (await client.get("/costs", params={"groupBy": "month"})).json()
        assert (body["startDate"], body["endDate"]) == ("2023-09-01", "2024-09-20")

    async def test_month_to_date_against_the_same_days_of_last_month(
        self, client_for: ClientFor, admin: User, dataset: Dataset
    ) -> None:
        client = client_for(admin)
        params = {"endDate": "2024-10-01", "previousPeriod": "month_to_date"}
        body = (await client.get("/costs/trend", params=params)).json()
        assert (body["startDate"], body["endDate"]) == ("2024-10-01", "2024-10-01")
        assert (body["previousStartDate"], body["previousEndDate"]) == ("2024-09-01", "2024-09-01")
        assert (body["totalCost"], body["previousPeriodTotal"]) == (1.11, 10.01)
        assert body["changePercent"] == -88.91  # (1.11 - 10.009) / 10.009
        assert body["previousPeriod"] == "month_to_date"
        params = {"endDate": "2024-03-31", "previousPeriod": "month_to_date"}
        body = (await client.get("/costs/trend", params=params)).json()
        assert (body["previousStartDate"], body["previousEndDate"]) == ("2024-02-01", "2024-02-29")
        r = await client.get("/costs/trend", params={**SEPT, "previousPeriod": "month_to_date"})
        assert r.status_code == 422
        assert [d["field"] for d in r.json()["error"]["details"]] == ["startDate"]

    async def test_year_over_year(
        self, client_for: ClientFor, admin: User, db: AsyncSession, dataset: Dataset
    ) -> None:
        await add_costs(db, dataset.aws, [{"usage_date": "2023-09-10", "billed_cost": "18.192"}])
        params = {**SEPT, "previousPeriod": "year_over_year"}
        body = (await client_for(admin).get("/costs/trend", params=params)).json()
        assert (body["previousStartDate"], body["previousEndDate"]) == ("2023-09-01", "2023-09-30")
        assert (body["previousPeriodTotal"], body["changePercent"]) == (18.19, 100.0)
        leap = {
            "startDate": "2024-02-01",
            "endDate": "2024-02-29",
            "previousPeriod": "year_over_year",
        }
        body = (await client_for(admin).get("/costs/trend", params=leap)).json()
        assert (body["previousStartDate"], body["previousEndDate"]) == ("2023-02-01", "2023-02-28")


class TestDiscovery:
    async def test_dimensions_with_totals(
        self, client_for: ClientFor, viewer: User, dataset: Dataset
    ) -> None:
        r = await client_for(viewer).get("/costs/dimensions", params=SEPT)
        assert r.status_code == 200, r.text
        body = r.json()
        assert rows({"data": body["providers"]}) == [
            ("gcp", "Google Cloud", 23.12),
            ("aws", "AWS", 13.26),
        ]
        assert [d["name"] for d in body["accounts"]] == ["Data GCP", "Prod AWS"]
        assert [d["key"] for d in body["services"]] == [
            "Compute Engine",
            "Amazon Elastic Compute Cloud",
            "Amazon Simple Storage Service",
            "BigQuery",
        ]
        assert [d["key"] for d in body["regions"]] == ["us-central1", "us-east-1", "us-west-2"]
        assert rows({"data": body["chargeCategories"]}) == [
            ("Usage", "Usage", 38.63),
            ("Credit", "Credit", -2.25),
        ]
        assert [d["key"] for d in body["serviceCategories"]] == ["Compute", "Storage", "Analytics"]
        assert rows({"data": body["pricingCategories"]}) == [(None, "(none)", 36.38)]
        assert (body["totalCost"], body["currency"]) == (36.38, "USD")
        filtered = (
            await client_for(viewer).get("/costs/dimensions", params={**SEPT, "provider": "aws"})
        ).json()
        assert [d["key"] for d in filtered["services"]] == [
            "Amazon Elastic Compute Cloud",
            "Amazon Simple Storage Service",
        ]

    async def test_tag_keys_with_their_share(
        self, client_for: ClientFor, viewer: User, dataset: Dataset
    ) -> None:
        body = (await client_for(viewer).get("/costs/tags", params=SEPT)).json()
        assert [(d["key"], d["cost"], d["percentage"]) for d in body["data"]] == [
            ("env", 35.63, 97.94),  # 35.634 of 36.384
            ("team", 33.13, 91.06),
            ("other", 0, 0),
        ]
        wider = {"startDate": "2024-08-31", "endDate": "2024-10-01"}  # partial months too
        body = (await client_for(viewer).get("/costs/tags", params=wider)).json()
        assert [(d["key"], d["cost"]) for d in body["data"]] == [
            ("env", 135.63),
            ("team", 33.13),
            ("other", 0),
        ]
        filtered = (
            await client_for(viewer).get("/costs/tags", params={**SEPT, "provider": "gcp"})
        ).json()
        assert [(d["key"], d["cost"]) for d in filtered["data"]] == [
            ("team", 23.13),
            ("env", 20.13),
            ("other", 0),
        ]

    async def test_tag_case_insensitive(
        self, client_for: ClientFor, admin: User, db: AsyncSession, dataset: Dataset
    ) -> None:
        await add_costs(
            db,
            dataset.gcp,
            [{"usage_date": "2024-09-20", "billed_cost": "2", "tags": {"Env": "prod"}}],
        )
        client = client_for(admin)
        body = (await client.get("/costs/tags", params=SEPT)).json()
        assert [(d["key"], d["cost"]) for d in body["data"]][:2] == [
            ("env", 35.63),
            ("team", 33.13),
        ]
        body = (await client.get("/costs/tags", params={**SEPT, "tagCase": "insensitive"})).json()
        assert next((d["key"], d["variants"], d["cost"]) for d in body["data"]) == (
            "env",
            ["Env", "env"],
            37.63,
        )
        values = (
            await client.get("/costs/tags/ENV/values", params={**SEPT, "tagCase": "insensitive"})
        ).json()
        assert values["variants"] == ["Env", "env"]
        assert rows(values) == [
            ("", "", 20.12),
            ("prod", "prod", 12.01),
            ("dev", "dev", 5.5),
            (None, "untagged", 0.75),
        ]
        assert values["totalCost"] == 38.38
        r = await client.get("/costs/tags/ENV/values", params=SEPT)
        assert r.status_code == 404
        assert r.json()["error"]["code"] == "TAG_KEY_NOT_FOUND"

    async def test_tag_values_add_up(
        self, client_for: ClientFor, viewer: User, dataset: Dataset
    ) -> None:
        client = client_for(viewer)
        body = (await client.get("/costs/tags/env/values", params=SEPT)).json()
        assert rows(body) == [
            ("", "", 20.12),
            ("prod", "prod", 10.01),
            ("dev", "dev", 5.5),
            (None, "untagged", 0.75),
        ]
        assert body["totalCost"] == 36.38
        limited = (await client.get("/costs/tags/env/values", params={**SEPT, "limit": 1})).json()
        assert rows(limited) == [("", "", 20.12), (None, "other", 16.26)]

    async def test_discovery_rate_limit_is_the_cost_one(
        self, client_for: ClientFor, viewer: User
    ) -> None:
        client = client_for(viewer)
        for _ in range(30):
            assert (await client.get("/costs/tags")).status_code == 200
        r = await client.get("/costs/tags")
        assert r.status_code == 429
        assert 1 <= int(r.headers["retry-after"]) <= 60
