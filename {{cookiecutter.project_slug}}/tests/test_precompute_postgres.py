"""The precompute job against a real PostgreSQL: COPY, upsert, reruns and the check.

Each test works in a schema of its own, dropped afterwards. The server is
`{{ cookiecutter.__package_name | upper }}_TEST_POSTGRES_URL` (default: the local one); the tests are skipped, saying
so, when it cannot be reached, and fail instead under `REQUIRE_POSTGRES=1` (as in CI).
"""

import os
from collections.abc import Iterator
from typing import Any

import pytest

from {{ cookiecutter.__package_name }}.precompute import run
from {{ cookiecutter.__package_name }}.precompute_state import load_sample
from {{ cookiecutter.__package_name }}.predictor import Predictor
from {{ cookiecutter.__package_name }}.settings import Settings
from {{ cookiecutter.__package_name }}.store_postgres import PostgresStore
from {{ cookiecutter.__package_name }}.store_state import Tables
from {{ cookiecutter.__package_name }}.stores import StoreError

from contract_testing import CONTRACT, first
from postgres_testing import LOCAL_POSTGRES, own_schema

pytestmark = pytest.mark.integration

URL = os.environ.get("{{ cookiecutter.__package_name | upper }}_TEST_POSTGRES_URL", LOCAL_POSTGRES)
BATCH_SIZE = 100
COUNT = "SELECT count(*), count(DISTINCT entity_id) FROM {schema}.predictions"
LOSE_TWO = "DELETE FROM {schema}.predictions WHERE entity_id IN ('sample-1', 'sample-2')"
LOSE_ONE = "DELETE FROM {schema}.predictions WHERE entity_id = 'sample-9'"
POISON = "UPDATE {schema}.entities SET {name} = {value} WHERE entity_id = 'sample-0'"


def poison() -> tuple[str, str, str]:
    """An input, an SQL value of it that gets an entity rejected, and the reason."""
    if number := first("number"):
        return number.name, "'Infinity'", f"infinite: {number.name}"
    required = next(item for item in CONTRACT.inputs if not item.nullable)
    return required.name, "NULL", f"missing: {required.name}"


@pytest.fixture
def schema() -> Iterator[str]:
    with own_schema(URL, "precompute") as name:
        yield name


def sql(store: PostgresStore, schema: str, statement: str) -> list[tuple[Any, ...]]:
    """The rows of `statement`, run with `{schema}` standing for the test's schema."""
    cursor = store.connection.execute(statement.format(schema=schema))
    return cursor.fetchall() if cursor.description else []


@pytest.fixture
def store(schema: str) -> Iterator[PostgresStore]:
    tables = Tables(
        entities=f"{schema}.entities",
        predictions=f"{schema}.predictions",
        rejects=f"{schema}.prediction_rejects",
    )
    store = PostgresStore(URL, tables)
    yield store
    store.close()


def test_every_entity_gets_one_current_prediction(
    store: PostgresStore, schema: str, predictor: Predictor
) -> None:
    entities = load_sample(store, Settings().training_data)

    counts = run(predictor, store, BATCH_SIZE)

    assert (counts.scored, counts.rejected) == (entities, 0)
    result = store.check(predictor.model_version, show=5)
    assert result.complete
    assert (result.entities, result.predicted) == (entities, entities)
    assert sql(store, schema, COUNT) == [(entities, entities)]


def test_reruns_upsert_in_place_and_complete_after_a_crash(
    store: PostgresStore, schema: str, predictor: Predictor
) -> None:
    entities = load_sample(store, Settings().training_data)
    run(predictor, store, BATCH_SIZE)
    # A crash midway leaves some entities without a prediction: the rerun scores those only.
    sql(store, schema, LOSE_TWO)
    assert not store.check(predictor.model_version, show=5).complete

    assert run(predictor, store, BATCH_SIZE).scored == 2
    assert run(predictor, store, BATCH_SIZE, rescore=True).scored == entities

    result = store.check(predictor.model_version, show=5)
    assert (result.complete, result.predicted) == (True, entities)
    assert sql(store, schema, COUNT) == [(entities, entities)]


def test_bad_rows_are_rejected_and_missing_entities_named(
    store: PostgresStore, schema: str, predictor: Predictor
) -> None:
    entities = load_sample(store, Settings().training_data)
    name, value, reason = poison()
    sql(store, schema, POISON.replace("{name}", name).replace("{value}", value))

    counts = run(predictor, store, BATCH_SIZE)

    assert (counts.scored, counts.rejected) == (entities - 1, 1)
    result = store.check(predictor.model_version, show=5)
    assert result.complete
    assert result.first_rejects == [("sample-0", reason)]

    sql(store, schema, LOSE_ONE)
    result = store.check(predictor.model_version, show=5)
    assert (result.complete, result.missing, result.first_missing) == (False, 1, ["sample-9"])


def test_a_schema_without_entities_is_one_clear_error(
    store: PostgresStore, schema: str, predictor: Predictor
) -> None:
    missing = rf"^no entities to score: there is no table {schema}\.entities in "
    with pytest.raises(StoreError, match=missing):
        run(predictor, store, BATCH_SIZE)
    with pytest.raises(StoreError, match=missing):
        store.check(predictor.model_version, show=5)
