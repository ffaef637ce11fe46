"""The entities' state table for the tests: a DynamoDB table of its own on moto's server
(`aws_testing.moto_server`), and rows whose predictions tell two states apart."""

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from {{ cookiecutter.__package_name }}.data import Dataset
from {{ cookiecutter.__package_name }}.predictor import Predictor
from {{ cookiecutter.__package_name }}.schema import Features
from {{ cookiecutter.__package_name }}.state_dynamodb import DynamoEntityStore, StateSettings

from contract_testing import complete_rows


@contextmanager
def own_table(endpoint: str) -> Iterator[DynamoEntityStore]:
    """A new state table, as template.yaml declares it; deleted afterwards."""
    settings = StateSettings(state_table=f"test-{uuid.uuid4().hex[:12]}", aws_endpoint_url=endpoint)
    store = DynamoEntityStore.from_settings(settings)
    store.create_table()
    try:
        yield store
    finally:
        store.client.delete_table(TableName=store.table)


def rows_told_apart(
    dataset: Dataset, predictor: Predictor
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Two complete rows of `dataset` the model gives different predictions: a state that
    changes from one to the other changes the prediction."""
    rows = complete_rows(dataset, 200)
    predictions = predictor.predict([Features.model_validate(row) for row in rows])
    for row, prediction in zip(rows[1:], predictions[1:], strict=True):
        if prediction != predictions[0]:
            return rows[0], row
    raise AssertionError("the model predicts the same for 200 rows")
