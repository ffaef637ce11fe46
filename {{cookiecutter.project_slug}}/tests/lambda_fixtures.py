"""Fixtures of both functions' tests (a pytest plugin: conftest.py loads every *_fixtures.py).
What depends on the state is lambda_state_fixtures.py's."""

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from {{ cookiecutter.__package_name }}.function import FunctionSettings, create_app, respond
from {{ cookiecutter.__package_name }}.local_lambda import LocalContext
from {{ cookiecutter.__package_name }}.predictor import Predictor

from aws_testing import moto_server, own_bucket
from function_testing import MAX_BATCH_SIZE, MAX_BODY_BYTES, Call


@pytest.fixture(scope="module")
def aws_endpoint() -> Iterator[str]:
    """moto's server, over HTTP: S3 and DynamoDB as the functions reach AWS."""
    with moto_server() as endpoint:
        yield endpoint


@pytest.fixture
def bucket(aws_endpoint: str) -> Iterator[str]:
    with own_bucket(aws_endpoint) as name:
        yield name


@pytest.fixture
def call(model_dir: Path, predictor: Predictor, state_settings: dict[str, Any]) -> Call:
    """Send an event through the HTTP function's routes; returns the status and the JSON body."""
    function_settings = FunctionSettings(
        model_dir=model_dir,
        max_batch_size=MAX_BATCH_SIZE,
        max_body_bytes=MAX_BODY_BYTES,
        **state_settings,
    )
    app = create_app(function_settings, predictor, function_settings.state())

    def send(event: dict[str, Any]) -> tuple[int, Any]:
        response = respond(event, LocalContext(), function_settings, app)
        return int(response["statusCode"]), json.loads(response["body"])

    return send
