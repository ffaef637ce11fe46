"""Rows per second scored inside the database, next to scoring the same rows in Python.

    python benchmarks/bench_database.py [--rows 100000] [--postgres postgresql://...]

For DuckDB (in memory) and PostgreSQL (a schema of its own, dropped afterwards), the same rows
of the training data (the sample data set by default) are scored twice into a new table:
- in the database: `CREATE TABLE ... AS SELECT * FROM model_predictions`, the compiled model;
- in Python: the rows pulled out, turned into the model's columns, scored by the ONNX
  predictor in batches, and written back (DuckDB from numpy arrays, PostgreSQL with COPY).
The target is in-database throughput at least that of the Python round trip (ratio >= 1).
"""

# The SQL names in these queries are the package's constants.
# ruff: noqa: S608

import argparse
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import duckdb
import numpy as np
import pandas as pd
import psycopg
from psycopg import sql

from {{ cookiecutter.__package_name }}.artifact import load_metadata
from {{ cookiecutter.__package_name }}.contract import Columns
from {{ cookiecutter.__package_name }}.data import load_dataset
from {{ cookiecutter.__package_name }}.db import DatabaseSettings, connect, migrate
from {{ cookiecutter.__package_name }}.predictor import Predictor
from {{ cookiecutter.__package_name }}.review import scratch_settings
from {{ cookiecutter.__package_name }}.sql import (
    CONTRACT,
    INPUT_TABLE,
    VIEW,
    compile_model,
    create_input_table,
    values,
)
from {{ cookiecutter.__package_name }}.sql_outputs import OUTPUTS, prediction_row

BATCH = 10_000
"""Rows per model call and per write in the Python round trip."""
NAMES = [item.name for item in CONTRACT.inputs]
"""The input table's columns after `id`, in contract order."""


def sample_rows(rows: int, training_data: Path | None) -> list[list[object]]:
    """`rows` rows of the training data (repeated), as the input table: id and the inputs."""
    table = values(load_dataset(training_data).columns)
    return [[index, *table[index % len(table)]] for index in range(rows)]


def score_in_python(predictor: Predictor, pulled: list[tuple[Any, ...]]) -> list[list[Any]]:
    """The outputs of `predictor` for rows pulled from the input table (id first), as columns
    in `OUTPUTS` order."""
    outputs: list[list[Any]] = [[] for _ in OUTPUTS]
    for start in range(0, len(pulled), BATCH):
        batch = [dict(zip(NAMES, row[1:], strict=True)) for row in pulled[start : start + BATCH]]
        for prediction in predictor.predict_columns(Columns.from_records(CONTRACT, batch)):
            for column, value in zip(outputs, prediction_row(prediction), strict=True):
                column.append(value)
    return outputs


def timed(work: Callable[[], None]) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def bench_duckdb(
    columns: list[list[object]], predictor: Predictor, migrations: Path
) -> tuple[float, float]:
    """Seconds to score every row in DuckDB, and in Python with the round trip."""
    connection = duckdb.connect()
    create_input_table(connection)
    connection.register("sample", pd.DataFrame(columns, columns=["id", *NAMES]))
    connection.execute(f"INSERT INTO {INPUT_TABLE} SELECT * FROM sample")
    for path in sorted((migrations / "duckdb").glob("*.up.sql")):
        connection.execute(path.read_text(encoding="utf-8"))

    def in_database() -> None:
        connection.execute(f"CREATE TABLE scored_sql AS SELECT * FROM {VIEW}")

    def in_python() -> None:
        pulled = connection.execute(f"SELECT id, {', '.join(NAMES)} FROM {INPUT_TABLE}").fetchall()
        outputs = score_in_python(predictor, pulled)
        scored = {"id": np.array([row[0] for row in pulled], dtype=np.int64)} | {
            name: np.array(values, dtype=object if name == "label" else np.float64)
            for name, values in zip(OUTPUTS, outputs, strict=True)
        }
        connection.register("scored", scored)
        connection.execute("CREATE TABLE scored_python AS SELECT * FROM scored")

    seconds = timed(in_database), timed(in_python)
    connection.close()
    return seconds


def bench_postgres(
    server: str, columns: list[list[object]], predictor: Predictor, migrations: Path
) -> tuple[float, float] | str:
    """Seconds to score every row in PostgreSQL, and in Python; or why it could not run."""
    try:
        admin = psycopg.connect(server, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as error:
        return f"not reachable at {server}: {str(error).strip()}"
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    separator = "&" if "?" in server else "?"
    url = f"{server}{separator}options={quote(f'-csearch_path={schema}')}"
    with admin:
        admin.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
        try:
            return bench_postgres_schema(url, columns, predictor, migrations)
        finally:
            admin.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))


def bench_postgres_schema(
    url: str, columns: list[list[object]], predictor: Predictor, migrations: Path
) -> tuple[float, float]:
    with connect(url) as database:
        create_input_table(database)
        migrate(database, migrations)
    names = ["id", *NAMES]
    with psycopg.connect(url, autocommit=True) as connection:
        with connection.cursor().copy(
            sql.SQL("COPY {} ({}) FROM STDIN").format(
                sql.Identifier(INPUT_TABLE), sql.SQL(", ").join(map(sql.Identifier, names))
            )
        ) as copy:
            for row in columns:
                copy.write_row(row)
        connection.execute(f"ANALYZE {INPUT_TABLE}")

        def in_database() -> None:
            connection.execute(f"CREATE TABLE scored_sql AS SELECT * FROM {VIEW}")

        def in_python() -> None:
            pulled = connection.execute(
                f"SELECT id, {', '.join(NAMES)} FROM {INPUT_TABLE}"
            ).fetchall()
            outputs = score_in_python(predictor, pulled)
            definitions = ", ".join(
                f"{name} {'TEXT' if name == 'label' else 'FLOAT8'}" for name in OUTPUTS
            )
            connection.execute(f"CREATE TABLE scored_python (id BIGINT, {definitions})")
            with connection.cursor().copy(
                f"COPY scored_python (id, {', '.join(OUTPUTS)}) FROM STDIN"
            ) as copy:
                for row in zip([row[0] for row in pulled], *outputs, strict=True):
                    copy.write_row(row)

        return timed(in_database), timed(in_python)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    settings = DatabaseSettings(**scratch_settings(Path(tempfile.mkdtemp())))
    _, metadata = load_metadata(settings.model_dir)
    predictor = Predictor.from_settings(settings)
    migrations = Path(tempfile.mkdtemp()) / "migrations"
    compile_model(settings.model_dir, migrations)
    columns = sample_rows(args.rows, settings.training_data)
    print(f"model {metadata.version}, {args.rows} rows of the training data\n")
    print(f"{'database':<12}{'in database':>16}{'Python round trip':>20}{'ratio':>8}")
    results = {
        "DuckDB": bench_duckdb(columns, predictor, migrations),
        "PostgreSQL": bench_postgres(args.postgres, columns, predictor, migrations),
    }
    for name, result in results.items():
        if isinstance(result, str):
            print(f"{name:<12}skipped: {result}")
            continue
        in_database, in_python = result
        print(
            f"{name:<12}{args.rows / in_database:>12,.0f} r/s{args.rows / in_python:>16,.0f} r/s"
            f"{in_python / in_database:>7.1f}x"
        )


if __name__ == "__main__":
    main()
