"""The CUR 2.0 -> FOCUS table of ``connectors.aws.cur``, line item type by line item type."""

from decimal import Decimal

import pyarrow as pa

from tests.aws.billing_data import RI, SP, cur_line, cur_lines
from xplorr.connectors.aws.cur import CUR_COLUMNS, is_cur, to_focus


def _batch(lines: list[dict[str, str]]) -> pa.RecordBatch:
    names = [c for c in CUR_COLUMNS if any(c in line for line in lines)]
    return pa.RecordBatch.from_arrays(
        [pa.array([line.get(c) or None for line in lines], pa.string()) for c in names],
        names=names,
    )


def test_each_line_item_type_lands_in_its_categories() -> None:
    lines = cur_lines()
    out = to_focus(_batch(lines), file="f").to_pylist()
    by_type = {line["line_item_line_item_type"]: row for line, row in zip(lines, out, strict=True)}
    expected = {
        # type: (ChargeCategory, ChargeFrequency, PricingCategory, commitment type, status)
        "SavingsPlanCoveredUsage": ("Usage", "Usage-Based", "Committed", "Savings Plan", "Used"),
        "SavingsPlanNegation": ("Usage", "Usage-Based", "Committed", "Savings Plan", None),
        "SavingsPlanRecurringFee": ("Purchase", "Recurring", None, "Savings Plan", None),
        "DiscountedUsage": ("Usage", "Usage-Based", "Committed", "Reserved Instance", "Used"),
        "RIFee": ("Purchase", "Recurring", None, "Reserved Instance", None),
        "Fee": ("Purchase", "One-Time", None, None, None),
        "Tax": ("Tax", "One-Time", None, None, None),
        "Credit": ("Credit", "One-Time", None, None, None),
        "Refund": ("Credit", "One-Time", None, None, None),
    }
    for kind, (category, frequency, pricing, commitment, status) in expected.items():
        row = by_type[kind]
        assert row["ChargeCategory"] == category, kind
        assert row["ChargeFrequency"] == frequency, kind
        assert row["PricingCategory"] == pricing, kind
        assert row["CommitmentDiscountType"] == commitment, kind
        assert row["CommitmentDiscountStatus"] == status, kind
    assert by_type["DiscountedUsage"]["CommitmentDiscountId"] == RI
    assert by_type["SavingsPlanCoveredUsage"]["CommitmentDiscountId"] == SP
    assert by_type["SavingsPlanCoveredUsage"]["EffectiveCost"] == Decimal("2.5")
    assert by_type["SavingsPlanRecurringFee"]["EffectiveCost"] == Decimal("0.5")
    assert by_type["RIFee"]["EffectiveCost"] == Decimal("0.25")
    assert by_type["Fee"]["EffectiveCost"] == Decimal(0)
    assert by_type["Tax"]["ConsumedQuantity"] is None


def test_usage_lines() -> None:
    spot, on_demand = to_focus(
        _batch(
            [
                cur_line("Usage", "0.5", pricing_term="Spot", pricing_public_on_demand_cost="1.5"),
                cur_line("Usage", "2", pricing_public_on_demand_cost=""),
            ]
        ),
        file="f",
    ).to_pylist()
    assert spot["PricingCategory"] == "Dynamic"
    assert spot["ListCost"] == Decimal("1.5")
    assert on_demand["PricingCategory"] == "Standard"
    assert on_demand["ListCost"] == Decimal(2)  # no public price: the billed cost
    assert on_demand["ServiceName"] == "Amazon Elastic Compute Cloud"
    assert on_demand["ServiceCategory"] == "Compute"
    assert on_demand["RegionId"] == "us-east-1"
    assert on_demand["ConsumedUnit"] == "Hrs"
    assert on_demand["Tags"] == '{"aws:createdBy":"me","team":"web"}'
    assert on_demand["BillingAccountId"] == "123456789012"
    # the usage type beside the opaque product code: what network and family rules read
    assert (on_demand["SkuId"], on_demand["x_UsageType"]) == (
        "9QH3PVGFZB2MTCJ7",
        "BoxUsage:m5.large",
    )


def test_cur_and_focus_headers_are_told_apart() -> None:
    assert is_cur(["bill_payer_account_id", "line_item_unblended_cost"])
    assert not is_cur(["BilledCost", "ChargePeriodStart"])
