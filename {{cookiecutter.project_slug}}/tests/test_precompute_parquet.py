"""The precompute job writing to a directory of Parquet files: whole files, reruns, the check."""

from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from {{ cookiecutter.__package_name }}.data import load_dataset
from {{ cookiecutter.__package_name }}.precompute import main, run
from {{ cookiecutter.__package_name }}.precompute_state import load_sample
from {{ cookiecutter.__package_name }}.predictor import Predictor
from {{ cookiecutter.__package_name }}.settings import Settings
from {{ cookiecutter.__package_name }}.store_parquet import ParquetStore
from {{ cookiecutter.__package_name }}.store_source import open_store
from {{ cookiecutter.__package_name }}.store_state import Tables
from {{ cookiecutter.__package_name }}.stores import Rejected, Scored, StoreError

from precompute_testing import FIELDS, approximately, as_stored, stored_row

BATCH_SIZE = 100


@pytest.fixture
def command_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, job_environment: None) -> Path:
    """The command line's settings: a directory of Parquet files as the store (returned), and
    the test model."""
    source = tmp_path / "store"
    monkeypatch.setenv("{{ cookiecutter.__package_name | upper }}_SOURCE", f"{source}/")
    return source


def test_a_directory_source_is_a_parquet_store(tmp_path: Path) -> None:
    assert isinstance(open_store(f"{tmp_path}/files/", Tables()), ParquetStore)
    assert isinstance(open_store(str(tmp_path), Tables()), ParquetStore)


def test_every_entity_gets_one_prediction_in_the_predictions_file(
    tmp_path: Path, predictor: Predictor
) -> None:
    store = ParquetStore(tmp_path, Tables())
    entities = load_sample(store, Settings().training_data)

    counts = run(predictor, store, BATCH_SIZE)

    assert (counts.scored, counts.rejected) == (entities, 0)
    assert store.check(predictor.model_version, show=5).complete
    table = pq.read_table(tmp_path / "predictions.parquet")
    assert table.num_rows == entities
    assert sorted(table["entity_id"].to_pylist()) == sorted(f"sample-{i}" for i in range(entities))
    assert set(table["model_version"].to_pylist()) == {predictor.model_version}
    assert table["scored_at"].null_count == 0
    expected = {
        f"sample-{row}": prediction
        for row, prediction in enumerate(
            predictor.predict_columns(load_dataset(Settings().training_data).columns)
        )
    }
    for entity_id, row in zip(
        table["entity_id"].to_pylist(), table.select(FIELDS).to_pylist(), strict=True
    ):
        assert stored_row(row) == approximately(as_stored(expected[entity_id]))
    store.close()


class CrashingStore(ParquetStore):
    """Fails while saving its second batch, as a job killed midway would."""

    saves = 0

    def save(self, scored: Scored, rejected: Rejected) -> None:
        self.saves += 1
        if self.saves == 2:
            raise ConnectionError("lost the disk")
        super().save(scored, rejected)


def test_a_rerun_after_a_crash_scores_only_what_is_left(
    tmp_path: Path, predictor: Predictor
) -> None:
    crashing = CrashingStore(tmp_path, Tables())
    entities = load_sample(crashing, Settings().training_data)
    with pytest.raises(ConnectionError):
        run(predictor, crashing, BATCH_SIZE)
    crashing.close()
    # The file holds the first batch, whole (the store may read fewer rows than a batch).
    first_batch = pq.read_table(tmp_path / "predictions.parquet").num_rows
    assert 0 < first_batch <= BATCH_SIZE

    store = ParquetStore(tmp_path, Tables())
    counts = run(predictor, store, BATCH_SIZE)

    assert counts.scored == entities - first_batch
    assert pq.read_table(tmp_path / "predictions.parquet").num_rows == entities
    assert run(predictor, store, BATCH_SIZE).scored == 0
    store.close()


def test_the_check_names_entities_missing_from_the_file_and_a_rerun_fills_them(
    command_line: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["load-sample"]) == 0
    assert main(["run"]) == 0
    predictions = command_line / "predictions.parquet"
    table = pq.read_table(predictions)
    lost = pc.is_in(table["entity_id"], value_set=pc.cast(["sample-1", "sample-2"], "string"))
    pq.write_table(table.filter(pc.invert(lost)), predictions)
    capsys.readouterr()

    assert main(["check"]) == 1
    assert "2 missing" in capsys.readouterr().out

    assert main(["run"]) == 0
    assert "scored 2 entities" in capsys.readouterr().out
    assert pq.read_table(predictions).num_rows == table.num_rows


def test_a_directory_without_entities_is_one_clear_error(
    command_line: Path, predictor: Predictor, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(StoreError, match=r"entities\.parquet does not exist"):
        run(predictor, ParquetStore(command_line, Tables()), BATCH_SIZE)

    assert main(["run"]) == 2
    assert capsys.readouterr().err.strip().endswith("entities.parquet does not exist")
