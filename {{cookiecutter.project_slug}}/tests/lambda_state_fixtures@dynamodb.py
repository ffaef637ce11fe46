"""The functions' tests with the entities' state in DynamoDB (moto's server, over HTTP): a
request or a row names its entity, whose stored values fill in the features it leaves out (a
pytest plugin: conftest.py loads every *_fixtures.py)."""

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from {{ cookiecutter.__package_name }}.data import Dataset
from {{ cookiecutter.__package_name }}.entities import sample_entities
from {{ cookiecutter.__package_name }}.lambda_state import State
from {{ cookiecutter.__package_name }}.predictor import Predictor
from {{ cookiecutter.__package_name }}.scheduled import score_pending
from {{ cookiecutter.__package_name }}.state_dynamodb import DynamoEntityStore

from aws_testing import CREDENTIALS
from contract_testing import complete_rows
from dynamodb_testing import own_table
from scheduled_testing import ENV_PREFIX, ROWS, Score

ENTITY = "known"
"""The entity of the HTTP function's requests; its stored state is `stored_row`."""
ROW_IDS = [f"row-{i}" for i in range(ROWS)] + ["word", "short"]
"""The entities of `scheduled_testing.input_file`'s rows."""


@pytest.fixture(scope="module")
def stored_row(held_out: Dataset) -> dict[str, Any]:
    return complete_rows(held_out, 3)[2]


@pytest.fixture(scope="module")
def request_store(aws_endpoint: str, stored_row: dict[str, Any]) -> Iterator[DynamoEntityStore]:
    """A state table holding the state of ENTITY and of the sample event's entity."""
    with own_table(aws_endpoint) as store:
        store.put_many([(ENTITY, stored_row), ("sample-0", stored_row)])
        yield store


@pytest.fixture
def request_body() -> Callable[[dict[str, Any]], Any]:
    """The `POST /predict` body asking for ENTITY's prediction with the features of a row."""
    return lambda row: {"entity_id": ENTITY, "features": row}


@pytest.fixture
def filled(stored_row: dict[str, Any]) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """The row the model scores for `request_body(row)`: a feature left out, or null, is one
    the request does not know, filled from the stored state."""
    return lambda row: (
        stored_row | {name: value for name, value in row.items() if value is not None}
    )


@pytest.fixture
def state_settings(request_store: DynamoEntityStore) -> dict[str, Any]:
    """The HTTP function's settings naming where the state is: `request_store`."""
    return {
        "state_table": request_store.table,
        "aws_endpoint_url": request_store.client.meta.endpoint_url,
    }


@pytest.fixture
def state_environment(request_store: DynamoEntityStore) -> dict[str, str]:
    """The variables naming where the state is, `request_store`, and how to reach it."""
    return {
        ENV_PREFIX + "STATE_TABLE": request_store.table,
        ENV_PREFIX + "AWS_ENDPOINT_URL": request_store.client.meta.endpoint_url,
        **CREDENTIALS,
    }


@pytest.fixture
def store(aws_endpoint: str) -> Iterator[DynamoEntityStore]:
    """A state table holding the entities of `input_file`'s rows with nothing stored: their
    rows are scored as they give them."""
    with own_table(aws_endpoint) as store:
        store.put_many((entity_id, {}) for entity_id in ROW_IDS)
        yield store


@pytest.fixture
def score(predictor: Predictor, store: DynamoEntityStore) -> Score:
    """Score the files pending in a storage, with the entities' state in `store`."""
    return lambda storage: score_pending(storage, predictor, State(store))


@pytest.fixture
def scheduled_environment(
    model_dir: Path,
    store: DynamoEntityStore,
    aws_endpoint: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """The scheduled handler's settings: the test model, and `store` holding the first ROWS
    sample entities, as `state_dynamodb load-sample` stores them (the data URL is the test's)."""
    monkeypatch.chdir(tmp_path)  # anything the function writes stays in the test's directory
    monkeypatch.setenv(ENV_PREFIX + "MODEL_DIR", str(model_dir))
    monkeypatch.setenv(ENV_PREFIX + "STATE_TABLE", store.table)
    monkeypatch.setenv(ENV_PREFIX + "AWS_ENDPOINT_URL", aws_endpoint)
    store.put_many(sample_entities()[:ROWS])
