"""The reports tests read the cost tests' hand-summed dataset (``tests/costs/conftest.py``):
September 2024, USD: Compute Engine 20.125, AmazonEC2 10.009, AmazonS3 3.25, BigQuery 3 ->
36.384; EUR 7.00 (AmazonEC2, eu-west-1); 100 USD on 2024-08-31; 1.11 USD on 2024-10-01.
``data`` marks both accounts imported (complete through their last day: the GCP account's
2024-09-16), so the month's forecast projects the rest of September."""

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from tests.costs.conftest import Dataset, dataset
from tests.factories.costs import mark_imported

__all__ = ["Dataset", "data", "dataset"]


@pytest.fixture
async def data(db: AsyncSession, dataset: Dataset) -> Dataset:
    await mark_imported(db, dataset.aws)
    await mark_imported(db, dataset.gcp)
    return dataset
