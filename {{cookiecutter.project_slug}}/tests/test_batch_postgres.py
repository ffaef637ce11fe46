"""The batch job reading its input from a real PostgreSQL query, chunk by chunk.

Each test works in a schema of its own, dropped afterwards. The server is
`{{ cookiecutter.__package_name | upper }}_TEST_POSTGRES_URL` (default: the local one); the tests are skipped, saying
so, when it cannot be reached, and fail instead under `REQUIRE_POSTGRES=1` (as in CI).
"""

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import psycopg
import pytest
from psycopg import sql

from {{ cookiecutter.__package_name }}.batch import RunMismatchError
from {{ cookiecutter.__package_name }}.batch_validation import InputError
from {{ cookiecutter.__package_name }}.data import Dataset
from {{ cookiecutter.__package_name }}.engine_pandas import EngineSettings, run
from {{ cookiecutter.__package_name }}.predictor import Predictor

from contract_testing import CONTRACT, records
from postgres_testing import LOCAL_POSTGRES, own_schema
from state_join_testing import WITHOUT_STATE

pytestmark = pytest.mark.integration

URL = os.environ.get("{{ cookiecutter.__package_name | upper }}_TEST_POSTGRES_URL", LOCAL_POSTGRES)
CHUNK_ROWS = 200
READ_ROWS = "SELECT * FROM {schema}.rows ORDER BY id"
READ_MISSING_TABLE = "SELECT * FROM {schema}.missing"
SQL_TYPES = {
    "number": "double precision",
    "integer": "bigint",
    "boolean": "boolean",
    "category": "text",
}


@pytest.fixture
def schema() -> Iterator[str]:
    with own_schema(URL, "batch") as name:
        yield name


def settings_for(query: str, tmp_path: Path, model_dir: Path, url: str = URL) -> EngineSettings:
    # The rows give every input; test_batch_state.py joins rows with stored state.
    return EngineSettings(
        input=url,
        query=query,
        output_dir=tmp_path / "predictions",
        run_id="postgres",
        chunk_rows=CHUNK_ROWS,
        model_dir=model_dir,
        **WITHOUT_STATE,
    )


def load_rows(schema: str, rows: list[dict[str, Any]]) -> None:
    """The rows as table `rows` (an id, one column per input, typed per its kind), by COPY."""
    # Quoted: an input may be named by an SQL keyword (`order`, `select`).
    columns = ", ".join(f'"{item.name}" {SQL_TYPES[item.kind]}' for item in CONTRACT.inputs)
    names = [item.name for item in CONTRACT.inputs]
    with psycopg.connect(URL) as connection:
        connection.execute(f"CREATE TABLE {schema}.rows (id integer PRIMARY KEY, {columns})")
        listed = ", ".join(["id", *(f'"{name}"' for name in names)])
        with connection.cursor().copy(f"COPY {schema}.rows ({listed}) FROM STDIN") as copy:
            for index, row in enumerate(rows):
                copy.write_row([index, *(row[name] for name in names)])


def test_a_query_is_scored_chunk_by_chunk_and_its_bad_rows_rejected(
    schema: str, predictor: Predictor, held_out: Dataset, model_dir: Path, tmp_path: Path
) -> None:
    count = 2 * CHUNK_ROWS + 1
    rows = records(held_out.columns.take(np.arange(count) % len(held_out)))
    item = CONTRACT.inputs[0]
    rows[5][item.name] = None
    expected = {} if item.nullable else {5: f"{item.name}: missing"}
    if item.kind == "number":
        rows[7][item.name] = float("nan")  # a missing value, to the job
        rows[9][item.name] = float("inf")
        expected |= {} if item.nullable else {7: f"{item.name}: missing"}
        expected[9] = f"{item.name}: not finite or outside the float32 range"
    load_rows(schema, rows)
    settings = settings_for(READ_ROWS.format(schema=schema), tmp_path, model_dir)

    summary = run(settings, predictor)

    rejects = pd.read_parquet(settings.output_dir / "postgres" / "rejects")
    reasons = dict(zip(rejects["row"], rejects["reason"], strict=True))
    assert reasons == expected
    assert (summary.parts, summary.rows) == (3, count)
    assert summary.scored == count - len(reasons)


def test_a_run_resumed_after_the_query_rows_changed_is_refused(
    schema: str, predictor: Predictor, held_out: Dataset, model_dir: Path, tmp_path: Path
) -> None:
    load_rows(schema, records(held_out.columns.take(slice(0, CHUNK_ROWS + 1))))
    settings = settings_for(READ_ROWS.format(schema=schema), tmp_path, model_dir)
    run(settings, predictor)
    (settings.output_dir / "postgres" / "_SUCCESS.json").unlink()  # as if killed
    with psycopg.connect(URL) as connection:
        delete = sql.SQL("DELETE FROM {}.rows WHERE id = 0").format(sql.Identifier(schema))
        connection.execute(delete)

    with pytest.raises(RunMismatchError, match="run postgres cannot resume: its input_fingerprint"):
        run(settings, predictor)


def test_a_failing_query_is_one_clear_error(
    schema: str, predictor: Predictor, model_dir: Path, tmp_path: Path
) -> None:
    settings = settings_for(READ_MISSING_TABLE.format(schema=schema), tmp_path, model_dir)
    with pytest.raises(InputError, match=r'^the input query failed: .*missing" does not exist'):
        run(settings, predictor)


def test_an_unreachable_database_is_one_clear_error(
    predictor: Predictor, model_dir: Path, tmp_path: Path
) -> None:
    unreachable = "postgresql://nobody@127.0.0.1:9/none"
    settings = settings_for("SELECT 1", tmp_path, model_dir, url=unreachable)
    with pytest.raises(InputError, match=r"^cannot connect to the input database: ") as error:
        run(settings, predictor)
    assert "\n" not in str(error.value)
