"""A local server speaking the AWS APIs moto lacks (Cost Explorer's purchase recommendations,
the Price List), shared by this area's tests: ``tests.commitments.aws_double``."""

from collections.abc import Iterator

import pytest

from tests.commitments.aws_double import AwsDouble, serve
from xplorr.core.settings import Settings


@pytest.fixture(scope="module")
def aws_server() -> Iterator[tuple[str, AwsDouble]]:
    yield from serve()


@pytest.fixture
def double(aws_server: tuple[str, AwsDouble]) -> Iterator[AwsDouble]:
    _, state = aws_server
    state.reset()
    yield state
    state.reset()


@pytest.fixture
def aws_settings(settings: Settings, aws_server: tuple[str, AwsDouble]) -> Settings:
    return settings.model_copy(update={"aws_endpoint_url": aws_server[0], "aws_max_attempts": 1})
