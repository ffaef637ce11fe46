"""The precompute job joined with per-entity state, in each store: DuckDB, a directory of
Parquet files and a real PostgreSQL (a schema of its own, dropped afterwards; skipped when
the server cannot be reached, a failure under `REQUIRE_POSTGRES=1`)."""

import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from {{ cookiecutter.__package_name }}.contract import Columns
from {{ cookiecutter.__package_name }}.data import Dataset
from {{ cookiecutter.__package_name }}.precompute import main, run
from {{ cookiecutter.__package_name }}.predictor import Predictor
from {{ cookiecutter.__package_name }}.store_duckdb import DuckDBStore
from {{ cookiecutter.__package_name }}.store_parquet import ParquetStore
from {{ cookiecutter.__package_name }}.store_postgres import PostgresStore
from {{ cookiecutter.__package_name }}.store_state import UNKNOWN_ENTITY, Tables, state_table
from {{ cookiecutter.__package_name }}.stores import StoreError, quoted

from contract_testing import CONTRACT, complete_rows, first_name
from postgres_testing import LOCAL_POSTGRES, own_schema
from precompute_testing import Stored, approximately, as_stored, stored_predictions

URL = os.environ.get("{{ cookiecutter.__package_name | upper }}_TEST_POSTGRES_URL", LOCAL_POSTGRES)
BATCH_SIZE = 16
NUMBER = first_name("number", "integer")
"""The input the entities table gives while the state holds the others."""
Row = dict[str, Any]
AnyStore = DuckDBStore | PostgresStore
"""The stores (a ParquetStore is a DuckDBStore), with their tables and connection."""


@pytest.fixture(params=["duckdb", "parquet", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[AnyStore]:
    if request.param == "duckdb":
        store: AnyStore = DuckDBStore(tmp_path / "entities.duckdb", Tables(state="entity_features"))
    elif request.param == "parquet":
        store = ParquetStore(tmp_path, Tables(state="entity_features"))
    else:
        schema = request.getfixturevalue("schema")
        tables = Tables(
            entities=f"{schema}.entities",
            predictions=f"{schema}.predictions",
            rejects=f"{schema}.prediction_rejects",
            state=f"{schema}.entity_features",
        )
        store = PostgresStore(URL, tables)
    yield store
    store.close()


@pytest.fixture
def schema() -> Iterator[str]:
    with own_schema(URL, "precompute_state") as name:
        yield name


@pytest.fixture(scope="module")
def rows(held_out: Dataset) -> list[Row]:
    return complete_rows(held_out, 30)


def ids(count: int) -> list[str]:
    return [f"e-{index}" for index in range(count)]


def load_entities(store: AnyStore, entity_ids: Sequence[str], rows: Sequence[Row]) -> None:
    store.load_entities(CONTRACT, entity_ids, Columns.from_records(CONTRACT, rows))


def load_state(store: AnyStore, entity_ids: Sequence[str], rows: Sequence[Row]) -> None:
    values = {item.name: [row.get(item.name) for row in rows] for item in CONTRACT.inputs}
    store.load_state(CONTRACT, state_table(CONTRACT, entity_ids, values))


def only(name: str, rows: Sequence[Row]) -> list[Row]:
    """Rows that give `name` alone, every other input NULL."""
    return [
        {item.name: row[name] if item.name == name else None for item in CONTRACT.inputs}
        for row in rows
    ]


def predictions(predictor: Predictor, rows: Sequence[Row]) -> list[Stored]:
    """The model's predictions of `rows`, as the store holds them."""
    return [as_stored(p) for p in predictor.predict_columns(Columns.from_records(CONTRACT, rows))]


def stored(store: AnyStore, entity_ids: Sequence[str]) -> list[Stored]:
    """The stored predictions of `entity_ids`."""
    found = stored_predictions(store.connection, store.tables.predictions)
    return [found[entity_id] for entity_id in entity_ids]


def close(found: Sequence[Stored], expected: Sequence[Stored]) -> bool:
    """Whether each prediction found is the expected one, within float32 rounding."""
    return all(got == approximately(want) for got, want in zip(found, expected, strict=True))


def test_the_state_fills_null_inputs_and_the_entitys_own_values_win(
    store: AnyStore, predictor: Predictor, rows: list[Row]
) -> None:
    entity_ids = ids(len(rows))
    # Each entity's row gives one input, another entity's value; its state gives all.
    given = list(reversed(rows))
    load_entities(store, entity_ids, only(NUMBER, given))
    load_state(store, entity_ids, rows)

    counts = run(predictor, store, BATCH_SIZE)

    assert (counts.scored, counts.rejected) == (len(rows), 0)
    expected = [{**row, NUMBER: other[NUMBER]} for row, other in zip(rows, given, strict=True)]
    assert close(stored(store, entity_ids), predictions(predictor, expected))


def test_a_state_change_makes_the_next_run_score_the_entity_again(
    store: AnyStore, predictor: Predictor, rows: list[Row]
) -> None:
    entity_ids = ids(len(rows))
    load_entities(store, entity_ids, only(NUMBER, rows))
    load_state(store, entity_ids, rows)
    run(predictor, store, BATCH_SIZE)
    before = stored(store, entity_ids)
    # Half the entities get another entity's state; nothing is restarted or rescored.
    half = len(rows) // 2
    others = list(reversed(rows))[:half]
    changed = [{**other, NUMBER: row[NUMBER]} for row, other in zip(rows, others, strict=False)]
    load_state(store, entity_ids[:half], changed)

    counts = run(predictor, store, BATCH_SIZE)

    assert (counts.scored, counts.rejected) == (half, 0)
    after = stored(store, entity_ids)
    assert close(after[:half], predictions(predictor, changed))
    assert after[half:] == before[half:]
    assert not close(after[:half], before[:half])
    assert store.check(predictor.model_version, show=5).complete


def test_an_entity_without_state_is_rejected_until_its_state_is_stored(
    store: AnyStore, predictor: Predictor, rows: list[Row]
) -> None:
    entity_ids = ids(len(rows))
    # Every input given: without state the entity is rejected all the same (REST: 404).
    load_entities(store, entity_ids, rows)
    load_state(store, entity_ids[1:], rows[1:])

    first = run(predictor, store, BATCH_SIZE)
    result = store.check(predictor.model_version, show=5)

    assert (first.scored, first.rejected) == (len(rows) - 1, 1)
    assert result.complete
    assert result.first_rejects == [(entity_ids[0], UNKNOWN_ENTITY)]
    assert run(predictor, store, BATCH_SIZE).scored == 0
    load_state(store, entity_ids[:1], rows[:1])
    second = run(predictor, store, BATCH_SIZE)
    assert (second.scored, second.rejected) == (1, 0)
    result = store.check(predictor.model_version, show=5)
    assert (result.predicted, result.rejected, result.complete) == (len(rows), 0, True)


def test_a_store_without_the_state_table_is_one_clear_error(
    tmp_path: Path, predictor: Predictor, rows: list[Row]
) -> None:
    store = DuckDBStore(tmp_path / "entities.duckdb", Tables(state="entity_features"))
    load_entities(store, ids(len(rows)), rows)
    with pytest.raises(StoreError, match="no per-entity state: there is no table entity_features"):
        run(predictor, store, BATCH_SIZE)
    store.close()


@pytest.mark.usefixtures("job_environment")
def test_the_command_line_stores_the_state_of_a_csv_file(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    rows: list[Row],
) -> None:
    source = tmp_path / "entities.duckdb"
    monkeypatch.setenv("{{ cookiecutter.__package_name | upper }}_SOURCE", str(source))
    assert main(["load-sample"]) == 0
    row = rows[0]
    csv = tmp_path / "state.csv"
    csv.write_text(
        "entity_id," + ",".join(row) + "\n"
        "sample-0," + ",".join("" if value is None else str(value) for value in row.values()) + "\n"
    )
    assert main(["load-state", str(csv)]) == 0
    assert "stored the state of 1 entities" in capsys.readouterr().out

    bad = tmp_path / "bad.csv"
    bad.write_text("entity_id,customer_mood\nsample-0,1.0\n")
    assert main(["load-state", str(bad)]) == 2
    assert "unknown: ['customer_mood']" in capsys.readouterr().err

    store = DuckDBStore(source, Tables(state="entity_features"))
    stored = store.connection.execute(
        f"SELECT {quoted(NUMBER)} FROM entity_features WHERE entity_id = 'sample-0'"  # noqa: S608
    ).fetchall()
    store.close()
    assert stored == [(pytest.approx(row[NUMBER]),)]
