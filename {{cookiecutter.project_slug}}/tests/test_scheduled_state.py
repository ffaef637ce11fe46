"""The scheduled function with the entities' state in DynamoDB (moto's server, over HTTP): it
completes the rows, rows naming no entity or one without state are rejected, and each run reads
it anew."""

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from {{ cookiecutter.__package_name }}.data import Dataset
from {{ cookiecutter.__package_name }}.lambda_state import entity_fill
from {{ cookiecutter.__package_name }}.local_lambda import LocalContext
from {{ cookiecutter.__package_name }}.predictor import Predictor
from {{ cookiecutter.__package_name }}.scheduled import configured, handler, to_csv, validate
from {{ cookiecutter.__package_name }}.schema import Features
from {{ cookiecutter.__package_name }}.state_dynamodb import BATCH_GET_LIMIT, DynamoEntityStore
from {{ cookiecutter.__package_name }}.storage import LocalStorage, open_storage

from contract_testing import CONTRACT, complete_rows, rows
from dynamodb_testing import rows_told_apart
from scheduled_testing import (
    ENV_PREFIX,
    EVENT,
    ID,
    NAMES,
    NUMBER,
    Score,
    assert_predicted,
    read_csv,
)


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


@pytest.mark.usefixtures("scheduled_environment")
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
