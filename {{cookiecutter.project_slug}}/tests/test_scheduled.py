{%- set stateful = cookiecutter.stateful == "yes" -%}
"""The scheduled function, triggered by a real EventBridge scheduled event, on a local
directory and on S3 (moto's S3 server, over HTTP); the storage itself is test_storage.py's."""

import csv
import io
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, given, settings
{%- if stateful %}
from hypothesis import strategies as st
{%- endif %}

from {{ cookiecutter.__package_name }}.data import Dataset
{%- if stateful %}
from {{ cookiecutter.__package_name }}.entities import sample_entities
from {{ cookiecutter.__package_name }}.invoke import LocalContext
from {{ cookiecutter.__package_name }}.lambda_state import State, entity_fill
{%- else %}
from {{ cookiecutter.__package_name }}.invoke import LocalContext
from {{ cookiecutter.__package_name }}.lambda_state import State
{%- endif %}
from {{ cookiecutter.__package_name }}.predictor import Predictor
from {{ cookiecutter.__package_name }}.scheduled import (
    FileResult,
    configured,
    flatten,
    handler,
    score_pending,
    to_csv,
    validate,
    write_sample,
)
from {{ cookiecutter.__package_name }}.schema import Features
{%- if stateful %}
from {{ cookiecutter.__package_name }}.state_dynamodb import BATCH_GET_LIMIT, DynamoEntityStore
from {{ cookiecutter.__package_name }}.storage import LocalStorage, Storage, open_storage

from aws_testing import moto_server, own_bucket
from contract_testing import CONTRACT, complete_rows, rows
from dynamodb_testing import own_table, rows_told_apart
{%- else %}
from {{ cookiecutter.__package_name }}.storage import LocalStorage, Storage, open_storage

from aws_testing import moto_server, own_bucket
from contract_testing import CONTRACT, complete_rows, rows
{%- endif %}

EVENT = Path(__file__).resolve().parents[1] / "events" / "scheduled.json"
ENV_PREFIX = "{{ cookiecutter.__package_name | upper }}_"
ROWS = 8
NAMES = [item.name for item in CONTRACT.inputs]
NUMBER = next(item for item in CONTRACT.inputs if item.kind != "category")
"""An input a word is not a valid value of (a word is a level of a category)."""
{%- if stateful %}
ID = "entity_id"
"""The column naming each row: its entity."""
IDS = [f"row-{i}" for i in range(ROWS)] + ["word", "short"]
"""The entities of `input_file`'s rows."""
{%- else %}
ID = "id"
"""The column naming each row."""
{%- endif %}

Score = Callable[[Storage], list[FileResult]]


def input_file(held_out: Dataset) -> bytes:
    """ROWS valid rows with an id column, a row with a word in it and one with an empty cell."""
    lines: list[dict[str, Any]] = [
        {ID: f"row-{i}", **row} for i, row in enumerate(complete_rows(held_out, ROWS))
    ]
    lines.insert(3, {**lines[0], ID: "word", NUMBER.name: "twelve"})
    lines.append({**lines[0], ID: "short", NAMES[-1]: None})
    return to_csv([ID, *NAMES], lines)


def read_csv(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))


def assert_predicted(
    written: list[dict[str, str]], predictor: Predictor, inputs: list[dict[str, Any]]
) -> None:
    """The prediction lines written are the row's id and the model's prediction for `inputs`."""
    expected = predictor.predict([Features.model_validate(row) for row in inputs])
    assert len(written) == len(expected)
    for line, prediction in zip(written, expected, strict=True):
        flat = flatten(prediction)
        assert line.keys() == {ID, *flat}
        for name, value in flat.items():
            if isinstance(value, float):
                assert float(line[name]) == pytest.approx(value, abs=1e-6)
            else:
                assert line[name] == str(value)


@pytest.fixture(scope="module")
def aws_endpoint() -> Iterator[str]:
    with moto_server() as endpoint:
        yield endpoint
{%- if stateful %}


@pytest.fixture
def store(aws_endpoint: str) -> Iterator[DynamoEntityStore]:
    """A state table holding the entities of `input_file`'s rows with nothing stored: their
    rows are scored as they give them."""
    with own_table(aws_endpoint) as store:
        store.put_many((entity_id, {}) for entity_id in IDS)
        yield store


@pytest.fixture
def score(predictor: Predictor, store: DynamoEntityStore) -> Score:
    """Score the files pending in a storage, with the entities' state in `store`."""
    return lambda storage: score_pending(storage, predictor, State(store))


@pytest.fixture
def function_environment(
    model_dir: Path,
    store: DynamoEntityStore,
    aws_endpoint: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """The handler's settings: the test model, and `store` holding the first ROWS sample
    entities, as `state_dynamodb load-sample` stores them (the data URL is the test's)."""
    monkeypatch.chdir(tmp_path)  # anything the function writes stays in the test's directory
    monkeypatch.setenv(ENV_PREFIX + "MODEL_DIR", str(model_dir))
    monkeypatch.setenv(ENV_PREFIX + "STATE_TABLE", store.table)
    monkeypatch.setenv(ENV_PREFIX + "AWS_ENDPOINT_URL", aws_endpoint)
    store.put_many(sample_entities()[:ROWS])
{%- else %}


@pytest.fixture
def score(predictor: Predictor) -> Score:
    """Score the files pending in a storage."""
    return lambda storage: score_pending(storage, predictor, State())


@pytest.fixture
def function_environment(model_dir: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The handler's settings: the test model (the data URL is the test's)."""
    monkeypatch.chdir(tmp_path)  # anything the function writes stays in the test's directory
    monkeypatch.setenv(ENV_PREFIX + "MODEL_DIR", str(model_dir))
{%- endif %}


def test_a_file_is_scored_with_bad_rows_rejected(
    tmp_path: Path, score: Score, predictor: Predictor, held_out: Dataset
) -> None:
    storage = LocalStorage(tmp_path)
    storage.write("incoming/day-1.csv", input_file(held_out))

    (result,) = score(storage)

    predictions = read_csv(tmp_path / "predictions" / "day-1.csv")
    # The short row misses its last input: scored when features.yaml lets it be null (the
    # model imputes it), rejected otherwise. The word is always rejected.
    short_is_scored = CONTRACT.inputs[-1].nullable
    scored = [f"row-{i}" for i in range(ROWS)] + (["short"] if short_is_scored else [])
    assert [p[ID] for p in predictions] == scored
    assert_predicted(predictions[:ROWS], predictor, complete_rows(held_out, ROWS))
    rejects = read_csv(tmp_path / "rejects" / "day-1.csv")
    rejected = [("5", "word")] + ([] if short_is_scored else [("11", "short")])
    assert [(r["line"], r[ID]) for r in rejects] == rejected
    assert result.scored == len(scored)
    assert NUMBER.name in rejects[0]["error"]
    assert result.rejected == len(rejects)


def test_a_scored_file_is_not_scored_again(tmp_path: Path, score: Score, held_out: Dataset) -> None:
    storage = LocalStorage(tmp_path)
    storage.write("incoming/day-1.csv", input_file(held_out))
    assert [r.name for r in score(storage)] == ["day-1.csv"]
    written = (tmp_path / "predictions" / "day-1.csv").stat().st_mtime_ns

    storage.write("incoming/day-2.csv", input_file(held_out))
    storage.write("incoming/notes.txt", b"not a CSV file")
    assert [r.name for r in score(storage)] == ["day-2.csv"]
    assert score(storage) == []
    assert (tmp_path / "predictions" / "day-1.csv").stat().st_mtime_ns == written


def test_a_file_without_valid_rows_gets_an_empty_prediction_file(
    tmp_path: Path, score: Score
) -> None:
    storage = LocalStorage(tmp_path)
    storage.write("incoming/empty.csv", to_csv([ID, *NAMES], []))
    (result,) = score(storage)
    assert (result.scored, result.rejected) == (0, 0)
    assert (tmp_path / "predictions" / "empty.csv").read_text() == f"{ID}\n"
    assert not (tmp_path / "rejects" / "empty.csv").exists()


@pytest.mark.usefixtures("function_environment")
def test_the_scheduled_event_runs_the_lambda_handler(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV_PREFIX + "DATA_URL", f"file://{tmp_path / 'data'}")
    write_sample(tmp_path / "data" / "incoming" / "sample.csv", rows=5)
    event = json.loads(EVENT.read_text(encoding="utf-8"))
    assert event["detail-type"] == "Scheduled Event"
    configured.cache_clear()
    try:
        answer = handler(event, LocalContext())
    finally:
        configured.cache_clear()
    assert answer["files"] == ["sample.csv"]
    assert (answer["scored"], answer["rejected"]) == (5, 1)
    assert len(read_csv(tmp_path / "data" / "predictions" / "sample.csv")) == 5


{%- if stateful %}


# The entities' state is in DynamoDB (moto's server, over HTTP): it completes the rows, rows
# naming no entity or one without state are rejected, and each run reads it anew.


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    row=rows(),
    stored=rows(),
    left_out=st.sets(st.sampled_from(NAMES)),
    without_columns=st.booleans(),
)
def test_stored_values_fill_what_a_row_leaves_out_and_its_own_values_win(
    row: dict[str, Any], stored: dict[str, Any], left_out: set[str], without_columns: bool
) -> None:
    state = {name: value for name, value in stored.items() if value is not None}
    given = {name: None if name in left_out else value for name, value in row.items()}
    columns = [name for name in NAMES if not (without_columns and name in left_out)]
    cells = {ID: "e", **{name: given[name] for name in columns}}
    (line,) = csv.DictReader(io.StringIO(to_csv([ID, *columns], [cells]).decode()))
    expected = {name: state.get(name) if value is None else value for name, value in given.items()}
    assert validate(line, entity_fill(line, {"e": state})) == Features.model_validate(expected)


@pytest.mark.parametrize("stored", ["nothing", "every input"])
def test_a_cell_that_does_not_fit_its_kind_is_refused_naming_the_input(
    held_out: Dataset, stored: str
) -> None:
    row = {ID: "e", **dict.fromkeys(NAMES, ""), NUMBER.name: "twelve"}
    # A stored value does not stand in for a cell the row gives, and the cell's problem is
    # told once.
    state = complete_rows(held_out, 1)[0] if stored == "every input" else {}
    with pytest.raises(ValueError, match=NUMBER.name) as error:
        validate(row, entity_fill(row, {"e": state}))
    problems = str(error.value).split("; ")
    assert [p for p in problems if p.startswith(f"{NUMBER.name}: ")] == [problems[0]]
    assert "\n" not in str(error.value)


@pytest.mark.parametrize(
    ("entity_id", "reason"),
    [
        (None, "entity_id: missing"),
        ("", "entity_id: missing"),
        ("nobody", "entity_id: no state is stored for entity 'nobody'"),
        ("two words", "entity_id: String should match pattern"),
        ("x" * 129, "entity_id: String should have at most 128 characters"),
    ],
)
def test_a_row_naming_no_entity_or_one_without_state_is_refused_naming_entity_id(
    held_out: Dataset, entity_id: str | None, reason: str
) -> None:
    row = complete_rows(held_out, 1)[0] | ({} if entity_id is None else {ID: entity_id})
    with pytest.raises(ValueError, match=f"^{ID}: ") as error:
        validate(row, entity_fill(row, {"known": {}}))
    assert str(error.value).startswith(reason)
    assert "\n" not in str(error.value)
{%- else %}


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(row=rows())
def test_a_row_written_as_csv_reads_back_as_the_same_input(row: dict[str, Any]) -> None:
    (line,) = csv.DictReader(io.StringIO(to_csv(NAMES, [row]).decode()))
    (fill,) = State().fills([line])
    assert validate(line, fill) == Features.model_validate(row)


def test_a_cell_that_does_not_fit_its_kind_is_refused_naming_the_input() -> None:
    row = dict.fromkeys(NAMES, "")
    row[NUMBER.name] = "twelve"
    with pytest.raises(ValueError, match=NUMBER.name) as error:
        validate(row, State().fills([row])[0])
    assert "\n" not in str(error.value)
{%- endif %}


@pytest.fixture
def bucket(aws_endpoint: str) -> Iterator[str]:
    with own_bucket(aws_endpoint) as name:
        yield name


@pytest.mark.usefixtures("function_environment")
def test_files_in_s3_are_scored_by_the_lambda_handler_once(
    aws_endpoint: str, bucket: str, held_out: Dataset, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV_PREFIX + "DATA_URL", f"s3://{bucket}/scoring")
    monkeypatch.setenv(ENV_PREFIX + "AWS_ENDPOINT_URL", aws_endpoint)
    storage = open_storage(f"s3://{bucket}/scoring", aws_endpoint)
    storage.write("incoming/day-1.csv", input_file(held_out))
    event = json.loads(EVENT.read_text(encoding="utf-8"))
    configured.cache_clear()
    try:
        first = handler(event, LocalContext())
        second = handler(event, LocalContext())
    finally:
        configured.cache_clear()

    assert first["files"] == ["day-1.csv"]
    assert second["files"] == []
    predictions = list(csv.DictReader(io.StringIO(storage.read("predictions/day-1.csv").decode())))
    assert [p[ID] for p in predictions][:ROWS] == [f"row-{i}" for i in range(ROWS)]
    assert len(predictions) == first["scored"]
    rejects = list(csv.DictReader(io.StringIO(storage.read("rejects/day-1.csv").decode())))
    assert rejects[0][ID] == "word"
    assert len(rejects) == first["rejected"]


def test_an_unreadable_s3_file_fails_the_run_and_is_scored_once_replaced(
    aws_endpoint: str, bucket: str, score: Score, held_out: Dataset
) -> None:
    storage = open_storage(f"s3://{bucket}", aws_endpoint)
    storage.write("incoming/day-1.csv", b"id,\xff\xfe\n")
    with pytest.raises(UnicodeDecodeError):
        score(storage)
    assert storage.keys("predictions/") == []
    assert storage.keys("rejects/") == []
    storage.write("incoming/day-1.csv", input_file(held_out))
    assert [result.name for result in score(storage)] == ["day-1.csv"]


def test_a_missing_bucket_or_object_is_an_error_naming_it(
    aws_endpoint: str, bucket: str, score: Score
) -> None:
    with pytest.raises(ClientError, match="NoSuchBucket"):
        score(open_storage("s3://no-such-bucket-here", aws_endpoint))
    with pytest.raises(ClientError, match="NoSuchKey"):
        open_storage(f"s3://{bucket}", aws_endpoint).read("incoming/gone.csv")
{%- if stateful %}


def test_stored_state_fills_what_rows_leave_out_and_their_own_values_win(
    tmp_path: Path, store: DynamoEntityStore, score: Score, predictor: Predictor, held_out: Dataset
) -> None:
    stored, given = rows_told_apart(held_out, predictor)
    store.put_many([("a", stored)])
    storage = LocalStorage(tmp_path)
    first = NAMES[0]
    lines = [{ID: "a"}, {ID: "a", **given}, {ID: "a", first: given[first]}]
    storage.write("incoming/cells.csv", to_csv([ID, *NAMES], lines))
    storage.write("incoming/no-inputs.csv", to_csv([ID], [{ID: "a"}]))

    assert [(r.scored, r.rejected) for r in score(storage)] == [(3, 0), (1, 0)]

    expected = [stored, given, stored | {first: given[first]}]
    assert_predicted(read_csv(tmp_path / "predictions" / "cells.csv"), predictor, expected)
    assert_predicted(read_csv(tmp_path / "predictions" / "no-inputs.csv"), predictor, [stored])


def test_rows_naming_no_entity_or_one_without_state_are_rejected_with_the_reason(
    tmp_path: Path, store: DynamoEntityStore, score: Score, held_out: Dataset
) -> None:
    row = complete_rows(held_out, 1)[0]
    last = CONTRACT.inputs[-1]
    store.put_many([("a", row), ("partial", {**row, last.name: None})])
    storage = LocalStorage(tmp_path)
    entities = ["a", "", "nobody", "two words", "a", "partial"]
    storage.write("incoming/day-1.csv", to_csv([ID], [{ID: entity} for entity in entities]))

    (result,) = score(storage)

    # "partial" lacks its last input in the row and in the state: scored when features.yaml
    # lets it be null, rejected as any row missing it otherwise.
    scored = ["a", "a"] + (["partial"] if last.nullable else [])
    assert [p[ID] for p in read_csv(tmp_path / "predictions" / "day-1.csv")] == scored
    rejects = read_csv(tmp_path / "rejects" / "day-1.csv")
    rejected = ["3", "4", "5"] + ([] if last.nullable else ["7"])
    assert [r["line"] for r in rejects] == rejected
    assert rejects[0]["error"].startswith("entity_id: missing")
    assert rejects[1]["error"] == "entity_id: no state is stored for entity 'nobody'"
    assert rejects[2]["error"].startswith("entity_id: ")
    assert all(r["error"].startswith(f"{last.name}: ") for r in rejects[3:])
    assert (result.scored, result.rejected) == (len(scored), len(rejects))
    assert result.scored + result.rejected == len(entities)


def test_a_file_naming_more_entities_than_one_batch_get_reads_is_scored_whole(
    tmp_path: Path, store: DynamoEntityStore, score: Score, held_out: Dataset
) -> None:
    row = complete_rows(held_out, 1)[0]
    entities = [f"e{i}" for i in range(BATCH_GET_LIMIT * 2 + 1)]
    store.put_many((entity, row) for entity in entities)
    storage = LocalStorage(tmp_path)
    storage.write("incoming/many.csv", to_csv([ID], [{ID: e} for e in reversed(entities)]))
    (result,) = score(storage)
    assert (result.scored, result.rejected) == (len(entities), 0)
    predictions = read_csv(tmp_path / "predictions" / "many.csv")
    assert [p[ID] for p in predictions] == entities[::-1]


@pytest.mark.usefixtures("function_environment")
def test_a_state_change_reaches_the_next_run_without_a_restart(
    aws_endpoint: str,
    bucket: str,
    store: DynamoEntityStore,
    predictor: Predictor,
    held_out: Dataset,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    before, after = rows_told_apart(held_out, predictor)
    monkeypatch.setenv(ENV_PREFIX + "DATA_URL", f"s3://{bucket}")
    storage = open_storage(f"s3://{bucket}", aws_endpoint)
    event = json.loads(EVENT.read_text(encoding="utf-8"))
    configured.cache_clear()
    try:
        store.put_many([("customer", before)])
        storage.write("incoming/day-1.csv", to_csv([ID], [{ID: "customer"}]))
        first = handler(event, LocalContext())
        store.put_many([("customer", after)])
        storage.write("incoming/day-2.csv", to_csv([ID], [{ID: "customer"}]))
        second = handler(event, LocalContext())
    finally:
        configured.cache_clear()

    assert (first["files"], second["files"]) == (["day-1.csv"], ["day-2.csv"])
    for name, state in (("day-1.csv", before), ("day-2.csv", after)):
        written = list(csv.DictReader(io.StringIO(storage.read(f"predictions/{name}").decode())))
        assert_predicted(written, predictor, [state])
{%- endif %}
