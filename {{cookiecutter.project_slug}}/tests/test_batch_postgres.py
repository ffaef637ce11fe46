{%- set package = cookiecutter.__package_name -%}
{%- set imputes = cookiecutter.feature_engineering == "yes" -%}
"""The batch job reading its input from a real PostgreSQL query, chunk by chunk.

Each test works in a schema of its own, dropped afterwards. The server is
`{{ package | upper }}_TEST_POSTGRES_URL` (default: the local one); the tests are skipped, saying
so, when it cannot be reached, and fail instead under `REQUIRE_POSTGRES=1` (as in CI).
"""

import os
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import psycopg
import pytest
from psycopg import sql

from {{ package }}.batch import InputError, RunMismatchError
from {{ package }}.data import Dataset
from {{ package }}.engine_pandas import EngineSettings, run
from {{ package }}.features import FEATURE_NAMES
from {{ package }}.predictor import Predictor

from postgres_testing import LOCAL_POSTGRES, own_schema

pytestmark = pytest.mark.integration

URL = os.environ.get("{{ package | upper }}_TEST_POSTGRES_URL", LOCAL_POSTGRES)
CHUNK_ROWS = 200
READ_ROWS = "SELECT * FROM {schema}.rows ORDER BY id"
READ_MISSING_TABLE = "SELECT * FROM {schema}.missing"


@pytest.fixture
def schema() -> Iterator[str]:
    with own_schema(URL, "batch") as name:
        yield name


def settings_for(query: str, tmp_path: Path, model_dir: Path, url: str = URL) -> EngineSettings:
    return EngineSettings(
        input=url,
        query=query,
        output_dir=tmp_path / "predictions",
        run_id="postgres",
        chunk_rows=CHUNK_ROWS,
        model_dir=model_dir,
    )


def load_rows(schema: str, rows: list[list[float | None]]) -> None:
    """The rows as table `rows` (an id, one double precision column per feature), by COPY."""
    columns = ", ".join(f"{name} double precision" for name in FEATURE_NAMES)
    with psycopg.connect(URL) as connection:
        connection.execute(f"CREATE TABLE {schema}.rows (id integer PRIMARY KEY, {columns})")
        names = ", ".join(["id", *FEATURE_NAMES])
        with connection.cursor().copy(f"COPY {schema}.rows ({names}) FROM STDIN") as copy:
            for index, row in enumerate(rows):
                copy.write_row([index, *row])


def test_a_query_is_scored_chunk_by_chunk_and_its_bad_rows_rejected(
    schema: str, predictor: Predictor, held_out: Dataset, model_dir: Path, tmp_path: Path
) -> None:
    count = 2 * CHUNK_ROWS + 1
    rows: list[list[float | None]] = [
        held_out.features[i % len(held_out.features)].tolist() for i in range(count)
    ]
    rows[5][0] = None
    rows[7][0] = float("nan")
    rows[9][0] = float("inf")
    load_rows(schema, rows)
    settings = settings_for(READ_ROWS.format(schema=schema), tmp_path, model_dir)

    summary = run(settings, predictor)

    rejects = pd.read_parquet(settings.output_dir / "postgres" / "rejects")
    reasons = dict(zip(rejects["row"], rejects["reason"], strict=True))
{%- if imputes %}
    # NULL and NaN are missing values, which the feature pipeline imputes.
    assert reasons == {9: f"{FEATURE_NAMES[0]}: not finite or outside the float32 range"}
{%- else %}
    assert reasons == {
        5: f"{FEATURE_NAMES[0]}: missing",
        7: f"{FEATURE_NAMES[0]}: missing",
        9: f"{FEATURE_NAMES[0]}: not finite or outside the float32 range",
    }
{%- endif %}
    assert (summary.parts, summary.rows) == (3, count)
    assert summary.scored == count - len(reasons)


def test_a_run_resumed_after_the_query_rows_changed_is_refused(
    schema: str, predictor: Predictor, held_out: Dataset, model_dir: Path, tmp_path: Path
) -> None:
    load_rows(schema, held_out.features[: CHUNK_ROWS + 1].tolist())
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
