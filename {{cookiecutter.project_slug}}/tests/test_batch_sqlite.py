"""The pandas engine reading its input from a SQLite query, chunk by chunk (the Dask and
Spark engines read files only)."""

import sqlite3
from contextlib import closing
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from {{ cookiecutter.__package_name }}.batch import RunMismatchError
from {{ cookiecutter.__package_name }}.data import Dataset
from {{ cookiecutter.__package_name }}.engine_pandas import EngineSettings, run
from {{ cookiecutter.__package_name }}.predictor import Predictor

from contract_testing import records
from state_join_testing import WITHOUT_STATE

CHUNK_ROWS = 200
QUERY = "SELECT * FROM rows ORDER BY id"


@pytest.fixture
def database(tmp_path: Path) -> Path:
    return tmp_path / "rows.db"


@pytest.fixture
def settings(tmp_path: Path, model_dir: Path, database: Path) -> EngineSettings:
    # The rows give every input; test_batch_state.py joins rows with stored state.
    return EngineSettings(
        input=f"sqlite:///{database}",
        query=QUERY,
        output_dir=tmp_path / "predictions",
        run_id="sqlite",
        chunk_rows=CHUNK_ROWS,
        model_dir=model_dir,
        **WITHOUT_STATE,
    )


def write_rows(database: Path, count: int, held_out: Dataset) -> pd.DataFrame:
    """`count` held-out rows (repeated) as table `rows`, with an `id` column."""
    frame = pd.DataFrame(records(held_out.columns.take(np.arange(count) % len(held_out))))
    with closing(sqlite3.connect(database)) as connection:
        frame.to_sql("rows", connection, index_label="id")
    return frame


def test_a_sqlite_table_is_scored_by_query(
    settings: EngineSettings, predictor: Predictor, held_out: Dataset, database: Path
) -> None:
    frame = write_rows(database, 2 * CHUNK_ROWS + 1, held_out)
    summary = run(settings, predictor)
    assert (summary.parts, summary.rows, summary.scored) == (3, len(frame), len(frame))


@pytest.mark.parametrize(
    ("change", "changed"),
    [
        ("INSERT INTO rows (id) VALUES (-1)", "input_fingerprint"),
        ("DELETE FROM rows WHERE id = 0", "input_fingerprint"),
        ("", "query"),
    ],
)
def test_a_query_run_resumed_with_other_rows_or_another_query_is_refused(
    settings: EngineSettings,
    predictor: Predictor,
    held_out: Dataset,
    database: Path,
    change: str,
    changed: str,
) -> None:
    write_rows(database, 2 * CHUNK_ROWS, held_out)
    run(settings, predictor)
    (settings.output_dir / settings.run_id / "_SUCCESS.json").unlink()  # as if killed
    if change:
        with closing(sqlite3.connect(database)) as connection, connection:
            connection.execute(change)
    else:
        settings.query = "SELECT * FROM rows ORDER BY id DESC"

    with pytest.raises(RunMismatchError) as refused:
        run(settings, predictor)

    assert f"run {settings.run_id} cannot resume: its {changed} changed" in str(refused.value)
