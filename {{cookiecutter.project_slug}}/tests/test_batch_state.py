{%- set package = cookiecutter.__package_name -%}
{%- set engine = cookiecutter.__batch_engine -%}
{%- set classification = cookiecutter.model_type != "regression" -%}
"""The batch job ({{ engine }} engine) joined with per-entity state, on SQLite and on a real
PostgreSQL: stored values fill what rows leave out, rows win, unknown entities are rejected."""

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from {{ package }}.batch import InputError
from {{ package }}.contract import Columns
from {{ package }}.data import Dataset
from {{ package }}.engine_{{ engine }} import EngineSettings, run
from {{ package }}.predictor import Predictor
from {{ package }}.sample_input import UNKNOWN_ENTITY_ID, bad_cells, sample_frame
from {{ package }}.settings import Settings
from {{ package }}.state import EntityStore, main, open_store
from {{ package }}.state_join import UNKNOWN_ENTITY, StateJoin

from contract_testing import CONTRACT, close_to, complete_rows, first_name
from postgres_testing import LOCAL_POSTGRES, in_schema, own_schema

CHUNK_ROWS = 50
NUMBER = first_name("number", "integer")
"""The input the tests give in the rows while the state holds the others."""
{%- if classification %}
OUTPUT = f"probability_{CONTRACT.labels[0]}"
{%- else %}
OUTPUT = "value"
{%- endif %}


@pytest.fixture(params=["sqlite", "postgresql"])
def state_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A state store of its own: a SQLite file, or a schema of its own on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'state' / 'entities.db'}"
        return
    configured = Settings().state_url
    server = configured if configured.startswith("postgresql://") else LOCAL_POSTGRES
    with own_schema(server, "test_batch_state") as schema:
        yield in_schema(server, schema)


@pytest.fixture
def store(state_url: str) -> Iterator[EntityStore]:
    store = open_store(state_url)
    yield store
    store.close()


@pytest.fixture
def settings(tmp_path: Path, model_dir: Path, state_url: str) -> EngineSettings:
    return EngineSettings(
        input=str(tmp_path / "input.parquet"),
        output_dir=tmp_path / "predictions",
        run_id="first",
        chunk_rows=CHUNK_ROWS,
        model_dir=model_dir,
        state_url=state_url,
{%- if engine == "dask" %}
        workers=2,
        processes=False,
{%- endif %}
    )


@pytest.fixture(scope="module")
def entities(held_out: Dataset) -> list[dict[str, Any]]:
    """Rows with every input, told apart by the model: each scores differently."""
    return complete_rows(held_out, 40)


def scores(predictor: Predictor, rows: Sequence[dict[str, Any]]) -> list[float]:
    """What the model says of complete rows, as the job's `OUTPUT` column holds it."""
    predictions = predictor.predict_columns(Columns.from_records(CONTRACT, rows))
{%- if classification %}
    return [p.probabilities[CONTRACT.labels[0]] for p in predictions]
{%- else %}
    return [p.value for p in predictions]
{%- endif %}


def write_input(settings: EngineSettings, frame: pd.DataFrame) -> None:
    pq.write_table(
        pa.Table.from_pandas(frame, preserve_index=False),
        settings.input,
        row_group_size=CHUNK_ROWS,
    )


def outputs(settings: EngineSettings, kind: str) -> pd.DataFrame:
    frame = pd.read_parquet(settings.output_dir / settings.run_id / kind)
    return frame.sort_values(["part", "row"], ignore_index=True)


def test_stored_state_fills_what_rows_leave_out_and_the_rows_values_win(
    settings: EngineSettings,
    predictor: Predictor,
    store: EntityStore,
    entities: list[dict[str, Any]],
) -> None:
    store.put_many((f"e-{index}", row) for index, row in enumerate(entities))
    given = [row[NUMBER] for row in reversed(entities)]
    # The rows give one input (another entity's value) and leave the others to the state:
    # those inputs have no column at all.
    frame = pd.DataFrame({"entity_id": [f"e-{i}" for i in range(len(entities))], NUMBER: given})
    write_input(settings, frame)
    summary = run(settings, predictor)
    assert (summary.rows, summary.scored, summary.rejected) == (len(entities), len(entities), 0)
    expected = [{**row, NUMBER: value} for row, value in zip(entities, given, strict=True)]
    assert outputs(settings, "predictions")[OUTPUT].tolist() == close_to(
        scores(predictor, expected)
    )


def test_a_csv_row_with_empty_cells_is_filled_per_kind(
    settings: EngineSettings,
    predictor: Predictor,
    store: EntityStore,
    entities: list[dict[str, Any]],
) -> None:
    store.put_many((f"e-{index}", row) for index, row in enumerate(entities))
    frame = pd.DataFrame(entities).astype("string")
    frame[[name for name in frame.columns if name != NUMBER]] = pd.NA
    frame.insert(0, "entity_id", [f"e-{index}" for index in range(len(entities))])
    settings.input = str(Path(settings.input).with_suffix(".csv"))
    frame.to_csv(settings.input, index=False)
    summary = run(settings, predictor)
    assert summary.scored == len(entities)
    assert outputs(settings, "predictions")[OUTPUT].tolist() == close_to(
        scores(predictor, entities)
    )


def test_predictions_follow_the_state_from_one_run_to_the_next(
    settings: EngineSettings,
    predictor: Predictor,
    store: EntityStore,
    entities: list[dict[str, Any]],
) -> None:
    ids = [f"e-{index}" for index in range(len(entities))]
    store.put_many(zip(ids, entities, strict=True))
    write_input(settings, pd.DataFrame({"entity_id": ids}))
    run(settings, predictor)
    before = outputs(settings, "predictions")[OUTPUT].tolist()
    # Every entity now holds another entity's state; the job is not restarted, only rerun.
    changed = list(reversed(entities))
    store.put_many(zip(ids, changed, strict=True))
    settings.run_id = "second"
    run(settings, predictor)
    after = outputs(settings, "predictions")[OUTPUT].tolist()
    assert before == close_to(scores(predictor, entities))
    assert after == close_to(scores(predictor, changed))
    assert after != close_to(before)


def test_a_change_reaches_the_next_chunk_through_the_same_connection(
    state_url: str, store: EntityStore, entities: list[dict[str, Any]]
) -> None:
    first, second = entities[0], entities[1]
    store.put_many([("e", first)])
    state = StateJoin.open(state_url, CONTRACT, "entity_id")
    chunk = pa.table({"entity_id": ["e"]})
    try:
        before, _ = state.fill(chunk)
        store.put_many([("e", second)])
        after, _ = state.fill(chunk)
    finally:
        state.close()
    assert before.column(NUMBER).to_pylist() == [pytest.approx(first[NUMBER])]
    assert after.column(NUMBER).to_pylist() == [pytest.approx(second[NUMBER])]


def test_an_input_a_later_chunk_leaves_out_is_filled_too(
    state_url: str, store: EntityStore, entities: list[dict[str, Any]]
) -> None:
    stored, given = entities[0], entities[1]
    store.put_many([("e", stored)])
    others = {name: [value] for name, value in given.items() if name != NUMBER}
    state = StateJoin.open(state_url, CONTRACT, "entity_id")
    try:
        # The first chunk leaves out one input only; the second gives that one alone.
        first, _ = state.fill(pa.table({"entity_id": ["e"], **others}))
        second, _ = state.fill(pa.table({"entity_id": ["e"], NUMBER: [given[NUMBER]]}))
    finally:
        state.close()
    assert first.column(NUMBER).to_pylist() == [pytest.approx(stored[NUMBER])]
    assert second.to_pylist() == [
        {"entity_id": "e", NUMBER: pytest.approx(given[NUMBER])}
        | {name: pytest.approx(stored[name]) for name in others}
    ]


def test_a_chunk_naming_few_of_the_stored_entities_is_filled_as_one_naming_them_all(
    state_url: str, store: EntityStore, entities: list[dict[str, Any]]
) -> None:
    # One entity of 40 is too few to read the whole state for: it is queried instead.
    ids = [f"e-{index}" for index in range(len(entities))]
    store.put_many(zip(ids, entities, strict=True))
    state = StateJoin.open(state_url, CONTRACT, "entity_id")
    try:
        few, _ = state.fill(pa.table({"entity_id": ids[-1:]}))
        many, _ = state.fill(pa.table({"entity_id": ids}))
    finally:
        state.close()
    assert few.column(NUMBER).to_pylist() == [pytest.approx(entities[-1][NUMBER])]
    assert many.column(NUMBER).to_pylist() == [pytest.approx(row[NUMBER]) for row in entities]


def test_a_column_without_any_value_is_filled_from_the_state(
    state_url: str, store: EntityStore, entities: list[dict[str, Any]]
) -> None:
    store.put_many([("e", entities[0])])
    # A Parquet column no row has a value in has no type of its own.
    chunk = pa.table({"entity_id": ["e"], NUMBER: pa.nulls(1)})
    state = StateJoin.open(state_url, CONTRACT, "entity_id")
    try:
        filled, rejected = state.fill(chunk)
    finally:
        state.close()
    assert rejected == {}
    assert filled.column(NUMBER).to_pylist() == [pytest.approx(entities[0][NUMBER])]


def test_unknown_and_missing_entities_are_rejected_once_with_the_reason(
    settings: EngineSettings,
    predictor: Predictor,
    store: EntityStore,
    entities: list[dict[str, Any]],
) -> None:
    store.put_many((f"e-{index}", row) for index, row in enumerate(entities))
    ids: list[str | None] = [f"e-{index}" for index in range(len(entities))]
    ids[3], ids[7] = "nobody", None
    # Every input given: an unknown entity is rejected all the same, as REST answers 404.
    frame = pd.DataFrame(entities).assign(entity_id=pd.Series(ids, dtype="string"))
    write_input(settings, frame)
    summary = run(settings, predictor)
    assert (summary.rows, summary.scored, summary.rejected) == (len(entities), len(entities) - 2, 2)
    rejects = outputs(settings, "rejects")
    assert rejects["reason"].tolist() == [
        f"entity_id: {UNKNOWN_ENTITY}",
        "entity_id: missing",
    ]
    assert rejects["entity_id"].fillna("(none)").tolist() == ["nobody", "(none)"]
    keys = pd.concat([outputs(settings, "predictions"), rejects])[["part", "row"]]
    assert len(keys) == len(entities)
    assert not keys.duplicated().any()


def test_an_input_without_the_entity_column_is_refused(
    settings: EngineSettings, predictor: Predictor, entities: list[dict[str, Any]]
) -> None:
    write_input(settings, pd.DataFrame(entities))
    with pytest.raises(InputError, match="no column entity_id: each row names its entity"):
        run(settings, predictor)


def test_the_sample_input_is_scored_against_the_sample_state(
    settings: EngineSettings,
    predictor: Predictor,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("{{ package | upper }}_STATE_URL", settings.state_url)
    main(["load-sample"])
    frame = sample_frame()
    settings.input = str(tmp_path / "sample.csv")
    frame.to_csv(settings.input, index=False)
    summary = run(settings, predictor)
    # The empty cell is filled from the entity's state; the unknown entity is rejected.
    bad = [cell for cell in bad_cells(CONTRACT) if cell.text is not None and cell.reason]
    assert (summary.rows, summary.rejected) == (len(frame), len(bad) + 1)
    rejects = outputs(settings, "rejects")
    unknown = rejects[rejects["reason"] == f"entity_id: {UNKNOWN_ENTITY}"]
    assert unknown["entity_id"].tolist() == [UNKNOWN_ENTITY_ID]
