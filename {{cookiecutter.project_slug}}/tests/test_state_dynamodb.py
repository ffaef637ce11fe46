"""The per-entity state in DynamoDB (moto's server, over HTTP), and the function reading it:
requests completed from the state, unknown entities answered 404, and predictions that
follow the state as it changes."""

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from {{ cookiecutter.__package_name }}.data import Dataset
from {{ cookiecutter.__package_name }}.entities import (
    EntityRequest,
    IncompleteFeaturesError,
    KnownFeatures,
    UnknownEntityError,
    complete,
)
from {{ cookiecutter.__package_name }}.features import FEATURE_NAMES
from {{ cookiecutter.__package_name }}.function import FunctionSettings, create_app, respond
from {{ cookiecutter.__package_name }}.lambda_state import State
from {{ cookiecutter.__package_name }}.local_lambda import LocalContext, http_event
from {{ cookiecutter.__package_name }}.predictor import Predictor
from {{ cookiecutter.__package_name }}.schema import Features
from {{ cookiecutter.__package_name }}.state_dynamodb import BATCH_GET_LIMIT, DynamoEntityStore, main

from aws_testing import moto_server
from contract_testing import first_name
from dynamodb_testing import own_table, rows_told_apart

ENV_PREFIX = "{{ cookiecutter.__package_name | upper }}_"
NUMBER = first_name("number", "integer")
"""A number input the value tests below use."""


@pytest.fixture(scope="module")
def aws_endpoint() -> Iterator[str]:
    with moto_server() as endpoint:
        yield endpoint


@pytest.fixture
def store(aws_endpoint: str) -> Iterator[DynamoEntityStore]:
    with own_table(aws_endpoint) as store:
        yield store


@pytest.fixture
def two_rows(held_out: Dataset, predictor: Predictor) -> tuple[dict[str, Any], dict[str, Any]]:
    """Two complete held-out rows the model gives different predictions."""
    return rows_told_apart(held_out, predictor)


def test_stores_and_reads_back_entities_in_batches_beyond_dynamodbs_limits(
    store: DynamoEntityStore, two_rows: Any
) -> None:
    count = BATCH_GET_LIMIT * 2 + 30
    entities = [(f"e{i}", two_rows[i % 2]) for i in range(count)]
    assert store.put_many([*entities, ("partial", {NUMBER: 1.5})]) == count + 1
    wanted = [f"e{i}" for i in range(count)] + ["partial", "unknown", "e0"]
    assert store.get_many(wanted) == dict(entities) | {"partial": {NUMBER: 1.5}}
    assert store.get_many([]) == {}


def test_storing_again_replaces_the_values(store: DynamoEntityStore, two_rows: Any) -> None:
    store.put_many([("a", two_rows[0])])
    store.put_many([("a", {NUMBER: 2.0})])
    assert store.get_many(["a"]) == {"a": {NUMBER: 2.0}}


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"customer_mood": 1.0}, "unknown features"),
        ({NUMBER: float("nan")}, "finite number"),
        ({NUMBER: "high"}, "valid number"),
    ],
)
def test_refuses_values_the_model_cannot_use_and_stores_nothing(
    store: DynamoEntityStore, two_rows: Any, values: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        store.put_many([("good", two_rows[0]), ("bad", values)])
    assert store.get_many(["good", "bad"]) == {}


def test_complete_fills_the_gaps_from_the_stored_values(
    store: DynamoEntityStore, two_rows: Any
) -> None:
    store.put_many([("a", two_rows[0])])
    given = EntityRequest(entity_id="a", features=KnownFeatures(**{NUMBER: 42.0}))
    (features,) = complete([given], store)
    assert features == Features(**{**two_rows[0], NUMBER: 42.0})


def test_complete_refuses_an_unknown_entity(store: DynamoEntityStore) -> None:
    with pytest.raises(UnknownEntityError, match="'nobody'"):
        complete([EntityRequest(entity_id="nobody")], store)


def test_complete_names_features_stored_nowhere(store: DynamoEntityStore, two_rows: Any) -> None:
    store.put_many([("a", two_rows[0]), ("b", {NUMBER: 1.0})])
    with pytest.raises(IncompleteFeaturesError) as raised:
        complete([EntityRequest(entity_id="a"), EntityRequest(entity_id="b")], store)
    missing = tuple(name for name in FEATURE_NAMES if name != NUMBER)
    assert (raised.value.position, raised.value.missing) == (1, missing)


def settings_of(store: DynamoEntityStore, model_dir: Path) -> FunctionSettings:
    endpoint = store.client.meta.endpoint_url
    return FunctionSettings(model_dir=model_dir, state_table=store.table, aws_endpoint_url=endpoint)


def answer(
    store: DynamoEntityStore, model_dir: Path, predictor: Predictor, body: Any, path: str
) -> tuple[int, Any]:
    settings = settings_of(store, model_dir)
    app = create_app(settings, predictor, State(store))
    response = respond(http_event(json.dumps(body), path), LocalContext(), settings, app)
    return int(response["statusCode"]), json.loads(response["body"])


def model_answers(predictor: Predictor, rows: list[dict[str, Any]]) -> list[Any]:
    """The model's own answers for `rows`, scored together, as JSON."""
    predictions = predictor.predict([Features.model_validate(row) for row in rows])
    return [prediction.model_dump(mode="json") for prediction in predictions]


def test_the_function_answers_from_the_state_and_follows_its_changes(
    store: DynamoEntityStore, model_dir: Path, predictor: Predictor, two_rows: Any
) -> None:
    before, after = two_rows
    store.put_many([("customer", before)])
    status, first = answer(store, model_dir, predictor, {"entity_id": "customer"}, "/predict")
    assert (status, [first]) == (200, model_answers(predictor, [before]))
    store.put_many([("customer", after)])
    status, second = answer(store, model_dir, predictor, {"entity_id": "customer"}, "/predict")
    assert (status, [second]) == (200, model_answers(predictor, [after]))
    assert first != second


def test_the_request_s_features_win_over_the_stored_ones(
    store: DynamoEntityStore, model_dir: Path, predictor: Predictor, two_rows: Any
) -> None:
    stored, given = two_rows
    store.put_many([("a", stored), ("b", stored)])
    body = [{"entity_id": "a", "features": given}, {"entity_id": "b"}]
    status, answers = answer(store, model_dir, predictor, body, "/predict/batch")
    assert status == 200
    assert answers == model_answers(predictor, [given, stored])


def test_an_unknown_entity_gets_a_404(
    store: DynamoEntityStore, model_dir: Path, predictor: Predictor
) -> None:
    status, body = answer(store, model_dir, predictor, {"entity_id": "nobody"}, "/predict")
    assert status == 404
    (problem,) = body["detail"]
    assert problem["type"] == "unknown_entity"
    assert "'nobody'" in problem["msg"]


def test_a_feature_stored_nowhere_gets_a_422_naming_it(
    store: DynamoEntityStore, model_dir: Path, predictor: Predictor
) -> None:
    store.put_many([("thin", {NUMBER: 1.0})])
    status, body = answer(store, model_dir, predictor, [{"entity_id": "thin"}], "/predict/batch")
    assert status == 422
    missing = [name for name in FEATURE_NAMES if name != NUMBER]
    assert [problem["loc"][-1] for problem in body["detail"]] == missing
    assert all(problem["type"] == "missing" for problem in body["detail"])


def test_command_line_loads_a_csv_file_and_the_sample(
    store: DynamoEntityStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, two_rows: Any
) -> None:
    row = two_rows[0]
    csv = tmp_path / "entities.csv"
    csv.write_text(
        "entity_id," + ",".join(row) + "\n" + "a," + ",".join(map(str, row.values())) + "\n"
    )
    monkeypatch.setenv(f"{ENV_PREFIX}STATE_TABLE", store.table)
    monkeypatch.setenv(f"{ENV_PREFIX}AWS_ENDPOINT_URL", store.client.meta.endpoint_url)
    main(["load", str(csv)])
    assert store.get_many(["a"]) == {"a": row}
    main(["load-sample"])
    assert "sample-0" in store.get_many(["sample-0"])


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("entity_id,customer_mood\na,1.0\n", "unknown features ['customer_mood']"),
        (None, "ResourceNotFoundException"),
    ],
    ids=["unknown feature", "no such table"],
)
def test_command_line_refuses_in_one_line_and_writes_nothing(
    store: DynamoEntityStore,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    two_rows: Any,
    content: str | None,
    message: str,
) -> None:
    csv = tmp_path / "entities.csv"
    row = two_rows[0]
    good = "a," + ",".join(map(str, row.values()))
    csv.write_text(content or "entity_id," + ",".join(row) + "\n" + good + "\n")
    table = store.table if content else "no-such-table"
    monkeypatch.setenv(f"{ENV_PREFIX}STATE_TABLE", table)
    monkeypatch.setenv(f"{ENV_PREFIX}AWS_ENDPOINT_URL", store.client.meta.endpoint_url)
    with pytest.raises(SystemExit):
        main(["load", str(csv)])
    (error,) = [line for line in capsys.readouterr().err.splitlines() if "error:" in line]
    assert message in error
    assert store.get_many(["a"]) == {}
