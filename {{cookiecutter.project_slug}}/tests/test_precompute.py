"""The precompute job against the embedded DuckDB store: completeness, reruns, rejects."""

import math
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from {{ cookiecutter.__package_name }}.contract import Columns
from {{ cookiecutter.__package_name }}.data import Dataset, load_dataset
from {{ cookiecutter.__package_name }}.precompute import PrecomputeSettings, main, run
from {{ cookiecutter.__package_name }}.precompute_state import load_sample
from {{ cookiecutter.__package_name }}.predictor import Predictor
from {{ cookiecutter.__package_name }}.settings import Settings
from {{ cookiecutter.__package_name }}.store_duckdb import DuckDBStore
from {{ cookiecutter.__package_name }}.store_state import Tables
from {{ cookiecutter.__package_name }}.stores import ENTITY_TYPES, Rejected, Scored, quoted

from contract_testing import CONTRACT, first, rows, valid_row
from precompute_testing import approximately, as_stored, stored_predictions

BATCH_SIZE = 100
PROJECT = Path(__file__).parents[1]


@pytest.fixture(scope="module")
def training() -> Dataset:
    """The rows `load-sample` writes as entities."""
    return load_dataset(Settings().training_data)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[DuckDBStore]:
    store = DuckDBStore(tmp_path / "entities.duckdb", Tables())
    yield store
    store.close()


Row = tuple[str | None, dict[str, Any]]


def write_entities(store: DuckDBStore, entities: Sequence[Row]) -> None:
    """An entities table without a primary key, so that it can hold what real sources do."""
    columns = ", ".join(
        f"{quoted(item.name)} {ENTITY_TYPES[item.kind]}" for item in CONTRACT.inputs
    )
    store.connection.execute(f"CREATE TABLE entities (entity_id TEXT, {columns})")
    placeholders = ", ".join("?" * (len(CONTRACT.inputs) + 1))
    store.connection.executemany(
        f"INSERT INTO entities VALUES ({placeholders})",  # noqa: S608 (no input in the text)
        [[entity_id, *(row[item.name] for item in CONTRACT.inputs)] for entity_id, row in entities],
    )


def refused(good: dict[str, Any]) -> dict[str, tuple[dict[str, Any], str]]:
    """Entities the job rejects, by id: the row and the reason it is rejected for."""
    bad = {}
    for item in CONTRACT.inputs:
        if not item.nullable:
            bad[f"{item.name}-null"] = (good | {item.name: None}, f"missing: {item.name}")
        if item.kind == "number":
            for value, reason in (
                (math.nan, "not a number"),
                (-math.inf, "infinite"),
                (1e300, "outside float32 range"),
            ):
                bad[f"{item.name}-{value}"] = (good | {item.name: value}, f"{reason}: {item.name}")
    return bad


def poison() -> tuple[str, str, str]:
    """An input, an SQL value of it that gets an entity rejected, and the reason."""
    if number := first("number"):
        return number.name, "'NaN'", f"not a number: {number.name}"
    required = next(item for item in CONTRACT.inputs if not item.nullable)
    return required.name, "NULL", f"missing: {required.name}"


def test_every_entity_gets_the_models_prediction(
    store: DuckDBStore, predictor: Predictor, training: Dataset
) -> None:
    entities = load_sample(store, Settings().training_data)

    counts = run(predictor, store, BATCH_SIZE)

    assert (counts.scored, counts.rejected) == (entities, 0)
    result = store.check(predictor.model_version, show=5)
    assert result.complete
    assert (result.entities, result.predicted, result.missing) == (entities, entities, 0)
    expected = predictor.predict_columns(training.columns)
    stored = stored_predictions(store.connection)
    assert len(stored) == entities
    for row, prediction in enumerate(expected):
        assert stored[f"sample-{row}"] == approximately(as_stored(prediction))


def test_a_rerun_scores_nothing_and_rescore_replaces_in_place(
    store: DuckDBStore, predictor: Predictor
) -> None:
    entities = load_sample(store, Settings().training_data)
    run(predictor, store, BATCH_SIZE)
    first = stored_predictions(store.connection)

    assert run(predictor, store, BATCH_SIZE).scored == 0
    assert stored_predictions(store.connection) == first

    assert run(predictor, store, BATCH_SIZE, rescore=True).scored == entities
    again = stored_predictions(store.connection)
    assert again.keys() == first.keys()
    assert store.check(predictor.model_version, show=5).complete


class CrashingStore(DuckDBStore):
    """Fails while saving its second batch, as a job killed midway would."""

    saves = 0

    def save(self, scored: Scored, rejected: Rejected) -> None:
        self.saves += 1
        if self.saves == 2:
            raise ConnectionError("lost the database")
        super().save(scored, rejected)


def test_a_rerun_after_a_crash_completes_the_job(tmp_path: Path, predictor: Predictor) -> None:
    crashing = CrashingStore(tmp_path / "entities.duckdb", Tables())
    entities = load_sample(crashing, Settings().training_data)
    with pytest.raises(ConnectionError):
        run(predictor, crashing, BATCH_SIZE)
    # The first batch was committed, the second one rolled back.
    interrupted = crashing.check(predictor.model_version, show=5)
    assert 0 < interrupted.predicted <= BATCH_SIZE
    assert interrupted.predicted + interrupted.missing == entities
    crashing.close()

    store = DuckDBStore(tmp_path / "entities.duckdb", Tables())
    counts = run(predictor, store, BATCH_SIZE)

    assert counts.scored == interrupted.missing
    assert store.check(predictor.model_version, show=5).complete
    store.close()


def test_bad_rows_are_rejected_with_their_reason(
    store: DuckDBStore, predictor: Predictor, training: Dataset
) -> None:
    good = valid_row(training)
    bad = refused(good)
    # A NULL where features.yaml allows one is a missing value, scored as such.
    nullable = [item.name for item in CONTRACT.inputs if item.nullable]
    write_entities(
        store,
        [
            ("good", good),
            *((entity_id, row) for entity_id, (row, _) in bad.items()),
            *((f"{name}-null", good | {name: None}) for name in nullable),
            ("twice", good),
            ("twice", good),
        ],
    )

    counts = run(predictor, store, BATCH_SIZE)

    result = store.check(predictor.model_version, show=len(bad) + 1)
    expected = {entity_id: reason for entity_id, (_, reason) in bad.items()}
    assert dict(result.first_rejects) == expected | {
        "twice": "entity id occurs 2 times in the source"
    }
    scored = {"good", *(f"{name}-null" for name in nullable)}
    assert set(stored_predictions(store.connection)) == scored
    assert (counts.scored, counts.rejected) == (1 + len(nullable), len(bad) + 1)
    assert result.complete
    assert result.entities == result.predicted + result.rejected


@given(drawn=st.lists(rows(), min_size=1, max_size=20))
@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_any_valid_entities_are_scored_as_the_model_scores_them(
    drawn: list[dict[str, Any]], predictor: Predictor
) -> None:
    """Rows drawn from features.yaml: every kind, missing values where allowed."""
    with tempfile.TemporaryDirectory() as directory:
        store = DuckDBStore(Path(directory) / "entities.duckdb", Tables())
        write_entities(store, [(f"e-{index}", row) for index, row in enumerate(drawn)])
        counts = run(predictor, store, BATCH_SIZE)
        stored = stored_predictions(store.connection)
        store.close()
    assert (counts.scored, counts.rejected) == (len(drawn), 0)
    expected = predictor.predict_columns(Columns.from_records(CONTRACT, drawn))
    for index, prediction in enumerate(expected):
        assert stored[f"e-{index}"] == approximately(as_stored(prediction))


def test_a_rejected_entity_loses_its_stale_prediction(
    store: DuckDBStore, predictor: Predictor
) -> None:
    load_sample(store, Settings().training_data)
    run(predictor, store, BATCH_SIZE)
    name, value, reason = poison()
    store.connection.execute(
        f"UPDATE entities SET {name} = {value} WHERE entity_id = 'sample-0'"  # noqa: S608
    )

    run(predictor, store, BATCH_SIZE, rescore=True)

    assert "sample-0" not in stored_predictions(store.connection)
    assert dict(store.check(predictor.model_version, show=5).first_rejects) == {"sample-0": reason}


def test_the_check_names_what_is_missing(store: DuckDBStore, predictor: Predictor) -> None:
    entities = load_sample(store, Settings().training_data)
    run(predictor, store, BATCH_SIZE)
    store.connection.execute(
        "DELETE FROM predictions WHERE entity_id IN ('sample-7', 'sample-3', 'sample-42')"
    )

    result = store.check(predictor.model_version, show=2)

    assert not result.complete
    assert result.missing == 3
    assert result.first_missing == ["sample-3", "sample-42"]
    # Predictions of another model version are not current.
    assert store.check("another-version", show=0).missing == entities


def test_rows_without_an_entity_id_fail_the_check(
    store: DuckDBStore, predictor: Predictor, training: Dataset
) -> None:
    good = valid_row(training)
    write_entities(store, [("a", good), (None, good)])

    run(predictor, store, BATCH_SIZE)

    result = store.check(predictor.model_version, show=5)
    assert (result.predicted, result.without_id, result.complete) == (1, 1, False)


@pytest.mark.usefixtures("job_environment")
def test_the_command_line_scores_checks_and_exits_1_when_incomplete(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    training: Dataset,
) -> None:
    source = tmp_path / "entities.duckdb"
    monkeypatch.setenv("{{ cookiecutter.__package_name | upper }}_SOURCE", str(source))
    entities = len(training)

    assert main(["load-sample"]) == 0
    assert main(["run"]) == 0
    assert f"{entities} entities: {entities} with a current prediction" in capsys.readouterr().out

    store = DuckDBStore(source, Tables())
    store.connection.execute("DELETE FROM predictions WHERE entity_id = 'sample-5'")
    store.close()
    assert main(["check"]) == 1
    assert "first 1: sample-5" in capsys.readouterr().out


@pytest.mark.parametrize("name", ["entities; DROP TABLE x", "a.b.c", "1table", ""])
def test_table_names_must_be_plain_identifiers(name: str) -> None:
    with pytest.raises(ValidationError):
        PrecomputeSettings(entities_table=name)


def test_entities_are_read_in_batches_of_at_most_the_batch_size(
    store: DuckDBStore, predictor: Predictor, training: Dataset
) -> None:
    load_sample(store, Settings().training_data)
    store.prepare()
    batches = store.pending(CONTRACT, predictor.model_version, 64, rescore=False)
    sizes = [len(batch.entity_ids) for batch in batches]
    assert max(sizes) <= 64
    assert sum(sizes) == len(training)


@pytest.mark.usefixtures("job_environment")
def test_a_store_without_entities_is_one_clear_error(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("{{ cookiecutter.__package_name | upper }}_SOURCE", str(tmp_path / "empty.duckdb"))

    expected = f"no entities to score: there is no table entities in {tmp_path / 'empty.duckdb'}"
    for command in ("run", "check"):
        assert main([command]) == 2
        assert capsys.readouterr().err == f"error: {expected}\n"


@pytest.mark.usefixtures("job_environment")
def test_the_benchmark_runs_end_to_end_on_a_few_entities() -> None:
    """`make bench` on 40 entities: every stage runs and the check it makes passes."""
    bench = PROJECT / "benchmarks" / "bench_precompute.py"
    result = subprocess.run(
        [sys.executable, str(bench), "--entities", "40", "--batch-size", "16"],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    for stage in ("score only", "job, first run", "job, rescore", "upsert only", "check"):
        assert stage in result.stdout
