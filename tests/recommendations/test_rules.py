"""Each rule as a pure function over domain objects: exactly the resources it should find, none
of the others, savings from the price table to the cent."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from xplorr.recommendations import cost_rules, prices, rules
from xplorr.recommendations.rules import Facts, Resource

NOW = datetime(2026, 12, 3, 12, tzinfo=UTC)


def cpu(average: float, maximum: float, days: int = 14) -> list[dict[str, object]]:
    start = date(2026, 11, 19)
    return [
        {"date": (start + timedelta(days=i)).isoformat(), "average": average, "maximum": maximum}
        for i in range(days)
    ]


def requests(count: int, created_days_ago: int) -> dict[str, object]:
    """What the inventory stores of a load balancer's CloudWatch ``RequestCount``."""
    end = NOW.replace(hour=0)
    return {
        "requests_14d": count,
        "requests_window_start": (end - timedelta(days=14)).isoformat(),
        "requests_window_end": end.isoformat(),
        "requests_metric": "AWS/ApplicationELB RequestCount",
        "created_at": (NOW - timedelta(days=created_days_ago)).isoformat(),
    }


def instance(rid: str, itype: str, status: str = "Running", **attrs: object) -> Resource:
    return Resource(
        rid,
        rules.INSTANCE,
        region="us-east-1",
        name=rid,
        status=status,
        attributes={"instance_type": itype, **attrs},
    )


def volume(rid: str, size: int, vtype: str, attached: bool) -> Resource:
    return Resource(
        rid,
        rules.VOLUME,
        region="us-east-1",
        status="In use" if attached else "Available",
        attributes={"size_gib": size, "volume_type": vtype, "attached": attached},
    )


def snapshot(rid: str, volume_id: str, age_days: int, size: int = 30) -> Resource:
    return Resource(
        rid,
        rules.SNAPSHOT,
        region="us-east-1",
        status="Completed",
        attributes={
            "volume_id": volume_id,
            "size_gib": size,
            "started_at": (NOW - timedelta(days=age_days)).isoformat(),
        },
    )


FACTS = Facts(
    [
        instance("i-idle", "t3.large", cpu_daily=cpu(2.0, 9.0)),
        instance("i-busy", "t3.large", cpu_daily=cpu(55.0, 90.0)),
        instance("i-short", "t3.large", cpu_daily=cpu(1.0, 2.0, days=5)),  # too little data
        instance("i-unpriced", "x9.large", cpu_daily=cpu(1.0, 2.0)),
        instance("i-big", "m5.2xlarge", cpu_daily=cpu(20.0, 35.0)),
        instance("i-peaky", "m5.2xlarge", cpu_daily=cpu(20.0, 45.0)),
        instance("i-smallest", "m5.large", cpu_daily=cpu(20.0, 30.0)),  # no smaller m5 priced
        instance("i-old", "m4.xlarge", cpu_daily=cpu(50.0, 80.0)),
        instance("i-t2", "t2.micro", cpu_daily=cpu(50.0, 80.0)),
        instance("i-stopped", "m4.xlarge", status="Stopped", volume_ids=["vol-a", "vol-b"]),
        instance("i-stopped-novol", "t3.large", status="Stopped", volume_ids=["vol-unknown"]),
        volume("vol-a", 100, "gp3", attached=True),
        volume("vol-b", 50, "gp2", attached=True),
        volume("vol-free", 200, "gp2", attached=False),
        volume("vol-free-io", 10, "magnetic?", attached=False),  # unpriced type
        snapshot("snap-orphan", "vol-gone", 120),
        snapshot("snap-kept", "vol-a", 120),  # its volume exists
        snapshot("snap-young", "vol-gone", 30),
        Resource(
            "snap-ami",
            rules.SNAPSHOT,
            attributes={
                "volume_id": "vol-gone",
                "size_gib": 8,
                "started_at": (NOW - timedelta(days=400)).isoformat(),
                "description": "Created by CreateImage(i-1) for ami-0abc",
            },
        ),
        Resource(
            "eipalloc-free",
            rules.EIP,
            region="us-east-1",
            status="Unassociated",
            attributes={"public_ip": "198.51.100.7"},
        ),
        Resource("eipalloc-used", rules.EIP, region="us-east-1", status="Associated"),
        Resource(
            "arn:lb/app/empty",
            rules.LOAD_BALANCER,
            region="us-east-1",
            name="empty",
            attributes={"lb_type": "application", "targets": 1, "healthy_targets": 0},
        ),
        Resource(  # healthy targets, no request over a window it fully existed in
            "arn:lb/app/quiet",
            rules.LOAD_BALANCER,
            region="us-east-1",
            name="quiet",
            attributes={
                "lb_type": "application",
                "healthy_targets": 2,
                **requests(0, created_days_ago=200),
            },
        ),
        Resource(  # no request yet, but created within the window: maybe just new
            "arn:lb/app/new",
            rules.LOAD_BALANCER,
            region="us-east-1",
            name="new",
            attributes={
                "lb_type": "application",
                "healthy_targets": 1,
                **requests(0, created_days_ago=3),
            },
        ),
        Resource(
            "arn:lb/app/used",
            rules.LOAD_BALANCER,
            region="us-east-1",
            name="used",
            attributes={
                "lb_type": "application",
                "healthy_targets": 1,
                **requests(12, created_days_ago=200),
            },
        ),
        Resource(
            "arn:aws:elasticloadbalancing:us-east-1:1:loadbalancer/legacy",
            rules.LOAD_BALANCER,
            region="us-east-1",
            name="legacy",
            attributes={"lb_type": "classic", "targets": 2, "healthy_targets": 0},
        ),
        Resource(
            "arn:lb/app/busy",
            rules.LOAD_BALANCER,
            region="us-east-1",
            name="busy",
            attributes={"lb_type": "application", "healthy_targets": 2},
        ),
        Resource(
            "i-azure",
            rules.INSTANCE,
            provider="azure",
            status="Running",
            attributes={"instance_type": "t3.large", "cpu_daily": cpu(1.0, 2.0)},
        ),
    ],
    NOW,
)

EXPECTED: dict[rules.Rule, dict[str, str]] = {
    # 0.0832 USD/h x 730 h
    rules.idle_instances: {"stop_idle_instance:i-idle": "60.74"},
    # (0.384 - 0.192) x 730
    rules.rightsize_instances: {"rightsize_instance:i-big": "140.16"},
    # m4.xlarge -> m5.xlarge: (0.20 - 0.192) x 730; t2.micro -> t3.micro: 0.0012 x 730 = 0.876
    rules.previous_generation: {
        "upgrade_previous_generation:i-old": "5.84",
        "upgrade_previous_generation:i-t2": "0.88",
    },
    # 100 GiB gp3 x 0.08 + 50 GiB gp2 x 0.10
    rules.stopped_instance_volumes: {"stopped_instance_volumes:i-stopped": "13.00"},
    rules.unattached_volumes: {"delete_unattached_ebs_volume:vol-free": "20.00"},
    # GiB x (0.10 - 0.08)
    rules.gp2_to_gp3: {"migrate_gp2_to_gp3:vol-b": "1.00", "migrate_gp2_to_gp3:vol-free": "4.00"},
    # 30 GiB x 0.05
    rules.orphan_snapshots: {"delete_orphan_snapshot:snap-orphan": "1.50"},
    # 0.005 x 730
    rules.unassociated_eips: {"release_unassociated_eip:eipalloc-free": "3.65"},
    # 0.0225 x 730 = 16.425; a Classic one 0.025 x 730
    rules.idle_load_balancers: {
        "delete_idle_load_balancer:arn:lb/app/empty": "16.43",
        "delete_idle_load_balancer:arn:lb/app/quiet": "16.43",
        "delete_idle_load_balancer:arn:aws:elasticloadbalancing:us-east-1:1:loadbalancer/legacy": (
            "18.25"
        ),
    },
}


def test_each_rule_finds_exactly_its_resources_priced_to_the_cent() -> None:
    aws_only = Facts([r for r in FACTS.resources if r.provider == "aws"], NOW)
    for rule, expected in EXPECTED.items():
        found = {f.fingerprint: f for f in rule(aws_only)}
        assert {k: str(f.savings) for k, f in found.items()} == expected, rule.__name__
        for f in found.values():
            assert (f.currency, f.savings) == ("USD", Decimal(expected[f.fingerprint]))
            assert f.evidence, f.fingerprint
            assert f.how_to_apply.console_steps, f.fingerprint
            assert f.how_to_apply.cli, f.fingerprint
            assert f.risk in ("low", "medium", "high")
            assert f.title, f.fingerprint
            assert f.description, f.fingerprint
    every = rules.run_aws_rules(FACTS)  # the azure resource is not the AWS rules' business
    assert sorted(f.fingerprint for f in every) == sorted(k for e in EXPECTED.values() for k in e)


def test_evidence_carries_the_figures() -> None:
    aws = Facts([r for r in FACTS.resources if r.provider == "aws"], NOW)
    [idle] = rules.idle_instances(aws)
    assert idle.evidence["cpu_average_percent"] == "2.00"
    assert idle.evidence["days_with_data"] == 14
    assert idle.evidence["window"] == "2026-11-19..2026-12-02"
    assert idle.evidence["hourly_price"] == "0.0832"
    assert (idle.evidence["price_source"], idle.evidence["price_date"]) == (
        "shipped table",
        prices.PRICES_AS_OF,
    )
    assert (idle.evidence["price_region"], idle.evidence["resource_region"]) == (
        "us-east-1",
        "us-east-1",
    )
    assert "price_warning" not in idle.evidence
    assert "aws ec2 stop-instances --region us-east-1 --instance-ids i-idle" in str(
        idle.how_to_apply.cli
    )
    [big] = rules.rightsize_instances(aws)
    assert (big.evidence["recommended_type"], big.evidence["cpu_max_daily_maximum_percent"]) == (
        "m5.xlarge",
        "35.0",
    )
    [snap] = rules.orphan_snapshots(aws)
    assert (snap.evidence["age_days"], snap.evidence["source_volume_id"]) == (120, "vol-gone")
    lbs = {f.resource_name: f for f in rules.idle_load_balancers(aws)}
    quiet = lbs["quiet"]
    assert quiet.description.startswith("quiet (application) served no request in 14 days")
    assert (quiet.evidence["no_requests"], quiet.evidence["no_healthy_target"]) == (True, False)
    assert (
        quiet.evidence["requests_window"] == "2026-11-19T00:00:00+00:00..2026-12-03T00:00:00+00:00"
    )
    assert lbs["empty"].evidence["no_requests"] is False
    assert lbs["legacy"].how_to_apply.cli == (
        "aws elb delete-load-balancer --region us-east-1 --load-balancer-name legacy"
    )


def test_thresholds_are_strict() -> None:
    at_idle = Facts([instance("i-5", "t3.large", cpu_daily=cpu(5.0, 9.0))], NOW)
    assert rules.idle_instances(at_idle) == []  # 5 % is not under 5 %
    at_40 = Facts([instance("i-40", "m5.2xlarge", cpu_daily=cpu(20.0, 40.0))], NOW)
    assert rules.rightsize_instances(at_40) == []
    at_90 = Facts([snapshot("snap-90", "vol-gone", 90)], NOW)
    assert [f.subject for f in rules.orphan_snapshots(at_90)] == ["snap-90"]


def series(
    daily: list[str], category: str | None = "Compute", currency: str = "USD"
) -> cost_rules.OnDemandSeries:
    return cost_rules.OnDemandSeries(
        provider="aws",
        service_category=category,
        service="AmazonEC2",
        currency=currency,
        daily=[Decimal(d) for d in daily],
        first_day="2026-11-03",
        last_day="2026-12-02",
    )


def test_steady_on_demand_spend() -> None:
    steady = series(["10.00"] * 10 + ["25.50"] * 20)
    [f] = cost_rules.steady_on_demand([steady])
    # floor 10 a day x 365/12 days x 20 % = 60.8333...
    assert (f.fingerprint, f.savings, f.currency) == (
        "commitment_purchase:aws:AmazonEC2:USD",
        Decimal("60.83"),
        "USD",
    )
    assert f.evidence["daily_floor"] == "10.00"
    assert f.evidence["suggested_hourly_commitment"] == "0.42"
    assert f.evidence["days_with_on_demand_use"] == 30
    gap = series(["10"] * 29 + ["0"])
    storage = series(["10"] * 30, category="Storage")
    short = series(["10"] * 20)
    tiny = series(["0.10"] * 30)  # saves 0.61 a month: below the 1.00 floor
    assert cost_rules.steady_on_demand([gap, storage, short, tiny]) == []
    [yen] = cost_rules.steady_on_demand([series(["1000"] * 30, currency="JPY")])
    assert yen.savings == Decimal(6083)  # JPY has no minor unit


def test_price_table_helpers() -> None:
    assert prices.one_size_down("m5.2xlarge") == "m5.xlarge"
    assert prices.one_size_down("t3.nano") is None
    assert prices.one_size_down("weird") is None
    assert prices.successor("c4.large") == "c5.large"
    assert prices.successor("c5.large") is None


def test_price_book_prefers_the_pricing_api_per_region_and_never_mixes_sources() -> None:
    def api(price: str) -> prices.Quote:
        return prices.Quote(Decimal(price), prices.PRICING_API, "2026-12-01", "eu-west-1")

    book = prices.PriceBook(
        {
            ("ec2", "t3.large", "eu-west-1"): api("0.0912"),
            ("ec2", "m5.2xlarge", "eu-west-1"): api("0.428"),  # m5.xlarge not read: no pair
            ("ec2", "c5.2xlarge", "eu-west-1"): api("0.384"),
            ("ec2", "c5.xlarge", "eu-west-1"): api("0.192"),
            ("ec2", "m7g.large", "eu-west-1"): api("0.0952"),  # not in the shipped table
            ("ebs", "gp2", "eu-west-1"): api("0.11"),
            ("ebs", "gp3", "eu-west-1"): api("0.088"),
        },
        warning=None,
    )

    def eu(r: Resource) -> Resource:
        return Resource(r.resource_id, r.resource_type, region="eu-west-1", name=r.resource_id,
                        status=r.status, attributes=r.attributes)  # fmt: skip

    facts = Facts(
        [
            eu(instance("i-idle", "t3.large", cpu_daily=cpu(2.0, 9.0))),
            eu(instance("i-idle-new", "m7g.large", cpu_daily=cpu(2.0, 9.0))),
            eu(instance("i-big", "m5.2xlarge", cpu_daily=cpu(20.0, 35.0))),
            eu(instance("i-c5", "c5.2xlarge", cpu_daily=cpu(20.0, 35.0))),
            eu(volume("vol-free", 200, "gp2", attached=False)),
            instance("i-us", "t3.large", cpu_daily=cpu(2.0, 9.0)),  # us-east-1: shipped table
        ],
        NOW,
        book,
    )
    found = {f.fingerprint: f for f in rules.run_aws_rules(facts)}
    assert {k: str(f.savings) for k, f in found.items()} == {
        "stop_idle_instance:i-idle": "66.58",  # 0.0912 x 730 (eu-west-1, Pricing API)
        "stop_idle_instance:i-idle-new": "69.50",  # 0.0952 x 730: priced only by the API
        "stop_idle_instance:i-us": "60.74",  # 0.0832 x 730 (shipped)
        "rightsize_instance:i-big": "140.16",  # shipped pair: (0.384 - 0.192) x 730
        "rightsize_instance:i-c5": "140.16",  # API pair: (0.384 - 0.192) x 730
        "delete_unattached_ebs_volume:vol-free": "22.00",  # 200 x 0.11
        "migrate_gp2_to_gp3:vol-free": "4.40",  # 200 x (0.11 - 0.088)
    }
    idle = found["stop_idle_instance:i-idle"].evidence
    assert {k: idle[k] for k in ("price_source", "price_date", "price_region", "hourly_price")} == {
        "price_source": "pricing-api",
        "price_date": "2026-12-01",
        "price_region": "eu-west-1",
        "hourly_price": "0.0912",
    }
    big = found["rightsize_instance:i-big"].evidence
    assert (big["price_source"], big["recommended_price_source"], big["hourly_price"]) == (
        "shipped table",
        "shipped table",
        "0.384",
    )
    c5 = found["rightsize_instance:i-c5"].evidence
    assert (c5["price_source"], c5["recommended_price_source"], c5["recommended_price_region"]) == (
        "pricing-api",
        "pricing-api",
        "eu-west-1",
    )
    # A denied refresh: the shipped prices say why they were used.
    denied = Facts(facts.resources, NOW, prices.PriceBook(warning="pricing:GetProducts denied"))
    [us] = [f for f in rules.idle_instances(denied) if f.subject == "i-us"]
    assert (us.evidence["price_source"], us.evidence["price_warning"]) == (
        "shipped table",
        "pricing:GetProducts denied",
    )
