"""The batch job ({{ cookiecutter.__batch_engine }} engine) joined with per-entity state, on SQLite and on a real
PostgreSQL: stored values fill what rows leave out, rows win, unknown entities are rejected."""

from collections.abc import Generator, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from {{ cookiecutter.__package_name }}.batch import prediction_columns
from {{ cookiecutter.__package_name }}.batch_validation import InputError
from {{ cookiecutter.__package_name }}.contract import Columns
from {{ cookiecutter.__package_name }}.data import Dataset
from {{ cookiecutter.__package_name }}.engine_{{ cookiecutter.__batch_engine }} import EngineSettings, run
from {{ cookiecutter.__package_name }}.predictor import Predictor
from {{ cookiecutter.__package_name }}.sample_input import bad_cells, sample_frame
from {{ cookiecutter.__package_name }}.settings import Settings
from {{ cookiecutter.__package_name }}.state import EntityStore, main, open_store
from {{ cookiecutter.__package_name }}.state_join import (
    UNKNOWN_ENTITY,
    UNKNOWN_ENTITY_ID,
    StateJoin,
    StateSettings,
)

from contract_testing import ATOL, CONTRACT, RTOL, complete_rows, first_name
from engine_testing import running_engine
from postgres_testing import LOCAL_POSTGRES, in_schema, own_schema

CHUNK_ROWS = 50
NUMBER = first_name("number", "integer")
"""The input the tests give in the rows while the state holds the others."""


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


@pytest.fixture(scope="module")
def engine() -> Iterator[dict[str, Any]]:
    """The engine, running for every test that needs it; its own settings (engine_testing.py)."""
    with running_engine() as engine_settings:
        yield engine_settings


@pytest.fixture
def settings(
    tmp_path: Path, model_dir: Path, state_url: str, engine: dict[str, Any]
) -> EngineSettings:
    return EngineSettings(
        input=str(tmp_path / "input.parquet"),
        output_dir=tmp_path / "predictions",
        run_id="first",
        chunk_rows=CHUNK_ROWS,
        model_dir=model_dir,
        state_url=state_url,
        **engine,
    )


def state_join(state_url: str) -> StateJoin:
    """The join of `entity_id`'s state at `state_url`, as the job opens it."""
    return StateSettings(state_url=state_url, entity_id_column="entity_id").state_join()


def filled_chunks(state_url: str, chunks: Iterable[pa.Table]) -> list[pa.Table]:
    """The chunks filled one after the other, as a job fills its chunks (through a snapshot)."""
    state = state_join(state_url)
    try:
        return [filled.chunk for _, _, filled in state.filled(iter_chunks(chunks), ()) if filled]
    finally:
        state.close()


def iter_chunks(chunks: Iterable[pa.Table]) -> Generator[pa.Table]:
    """The chunks as a reader's generator: each taken when the join asks for it."""
    yield from chunks


@pytest.fixture(scope="module")
def entities(held_out: Dataset) -> list[dict[str, Any]]:
    """Rows with every input, told apart by the model: each scores differently."""
    return complete_rows(held_out, 40)


def assert_scored_as(
    settings: EngineSettings, predictor: Predictor, rows: Sequence[dict[str, Any]]
) -> None:
    """The run's predictions are what the model says of `rows` (complete rows), in order."""
    columns = Columns.from_records(CONTRACT, rows)
    expected = pa.table(prediction_columns(predictor.score(columns))).to_pandas()
    scored = outputs(settings, "predictions")[expected.columns]
    # Labels equal, numbers equal within float32 rounding.
    pd.testing.assert_frame_equal(
        scored, expected, check_dtype=False, check_categorical=False, rtol=RTOL, atol=ATOL
    )


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
    assert_scored_as(settings, predictor, expected)


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
    assert_scored_as(settings, predictor, entities)


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
    assert_scored_as(settings, predictor, entities)
    # Every entity now holds another entity's state; the job is not restarted, only rerun.
    changed = list(reversed(entities))
    store.put_many(zip(ids, changed, strict=True))
    settings.run_id = "second"
    run(settings, predictor)
    assert_scored_as(settings, predictor, changed)


def test_a_change_reaches_the_next_chunk_through_the_same_connection(
    state_url: str, store: EntityStore, entities: list[dict[str, Any]]
) -> None:
    first, second = entities[0], entities[1]
    store.put_many([("e", first)])
    chunk = pa.table({"entity_id": ["e"]})

    def chunks() -> Iterator[pa.Table]:
        yield chunk
        store.put_many([("e", second)])  # before the next chunk is filled
        yield chunk

    before, after = filled_chunks(state_url, chunks())
    assert before.column(NUMBER).to_pylist() == [pytest.approx(first[NUMBER])]
    assert after.column(NUMBER).to_pylist() == [pytest.approx(second[NUMBER])]


def test_an_input_a_later_chunk_leaves_out_is_filled_too(
    state_url: str, store: EntityStore, entities: list[dict[str, Any]]
) -> None:
    stored, given = entities[0], entities[1]
    store.put_many([("e", stored)])
    others = {name: [value] for name, value in given.items() if name != NUMBER}
    # The first chunk leaves out one input only; the second gives that one alone.
    first, second = filled_chunks(
        state_url,
        [
            pa.table({"entity_id": ["e"], **others}),
            pa.table({"entity_id": ["e"], NUMBER: [given[NUMBER]]}),
        ],
    )
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
    few, many = filled_chunks(
        state_url, [pa.table({"entity_id": ids[-1:]}), pa.table({"entity_id": ids})]
    )
    assert few.column(NUMBER).to_pylist() == [pytest.approx(entities[-1][NUMBER])]
    assert many.column(NUMBER).to_pylist() == [pytest.approx(row[NUMBER]) for row in entities]


def test_a_column_without_any_value_is_filled_from_the_state(
    state_url: str, store: EntityStore, entities: list[dict[str, Any]]
) -> None:
    store.put_many([("e", entities[0])])
    # A Parquet column no row has a value in has no type of its own.
    chunk = pa.table({"entity_id": ["e"], NUMBER: pa.nulls(1)})
    state = state_join(state_url)
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
    monkeypatch.setenv("{{ cookiecutter.__package_name | upper }}_STATE_URL", settings.state_url)
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
