"""The precompute job on many entities, in PostgreSQL and DuckDB, beside plain COPY.

The training data's rows (the sample data set by default) are repeated up to `--entities`
(default one million), loaded into each store, and the job runs end to end: read, validate,
score, stage, upsert. Printed, per store, in one table:

- load: writing the entities table (COPY for PostgreSQL), not part of the job;
- job, first run: every entity scored and inserted through the upsert;
- job, rescore: every entity scored again and updated in place (the conflict path);
- upsert only: the already scored rows staged and upserted again, no reading or scoring;
- COPY only: the same rows written into an empty table with no staging and no upsert, the
  floor of what the database can take;
- check: the completeness check.

The scoring alone (validation, ONNX, building the rows, no database) is measured first.

    make bench                                   # or: python benchmarks/bench_precompute.py --help
"""

import argparse
import os
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import psycopg
import pyarrow as pa

from {{ cookiecutter.__package_name }}.contract import Columns, load_contract
from {{ cookiecutter.__package_name }}.data import load_dataset
from {{ cookiecutter.__package_name }}.precompute import PrecomputeSettings, run, score
from {{ cookiecutter.__package_name }}.predictor import Predictor
from {{ cookiecutter.__package_name }}.store_duckdb import DuckDBStore
from {{ cookiecutter.__package_name }}.store_postgres import PostgresStore
from {{ cookiecutter.__package_name }}.store_rows import prediction_columns
from {{ cookiecutter.__package_name }}.store_source import Store
from {{ cookiecutter.__package_name }}.store_state import Pending, Tables
from {{ cookiecutter.__package_name }}.stores import Rejected, Scored, quoted

Batches = list[tuple[Scored, Rejected]]
LOCAL_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
DEFAULT_URL = os.environ.get("{{ cookiecutter.__package_name | upper }}_TEST_POSTGRES_URL", LOCAL_POSTGRES)


CONTRACT = load_contract()
Entities = tuple[list[str], Columns]


def entities(count: int, training_data: Path | None) -> Entities:
    """`count` entities: the training rows over and over, each with its own id."""
    training = load_dataset(training_data).columns
    columns = training.take(np.arange(count) % len(training))
    return [f"entity-{row}" for row in range(count)], columns


def batches(data: Entities, size: int, model_version: str) -> list[Pending]:
    """The entities as the job reads them, batch by batch: loaded into a DuckDB store of their
    own and read back through its query, so that what is scored is what a run scores."""
    with tempfile.TemporaryDirectory() as directory:
        store = DuckDBStore(Path(directory) / "batches.duckdb", Tables())
        try:
            store.load_entities(CONTRACT, *data)
            store.prepare()
            return list(store.pending(CONTRACT, model_version, size, rescore=True))
        finally:
            store.close()


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def upsert_again(store: Store, scored: Batches) -> None:
    for predictions, rejects in scored:
        store.save(predictions, rejects)


def copy_only_postgres(store: PostgresStore, table: str, scored: Batches) -> None:
    with store.connection.transaction(), store.connection.cursor() as cursor:
        cursor.execute(f"CREATE TABLE {quoted(table)} (LIKE {quoted(store.tables.predictions)})")
        for predictions, _ in scored:
            columns = prediction_columns(predictions)
            with cursor.copy(f"COPY {quoted(table)} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in zip(*columns.values(), strict=True):
                    copy.write_row(row)


def copy_only_duckdb(store: DuckDBStore, table: str, scored: Batches) -> None:
    connection = store.connection
    connection.execute(f"CREATE TABLE {quoted(table)} AS FROM {quoted(store.tables.predictions)}")
    connection.execute(f"TRUNCATE {quoted(table)}")
    for predictions, _ in scored:
        connection.register("staged", pa.table(prediction_columns(predictions)))
        connection.execute(f"INSERT INTO {quoted(table)} SELECT * FROM staged")  # noqa: S608
        connection.unregister("staged")


def measure(
    name: str,
    store: Store,
    copy_only: Callable[[], None],
    predictor: Predictor,
    data: Entities,
    scored: Batches,
    batch_size: int,
) -> list[tuple[str, str, float]]:
    figures = [(name, "load entities", timed(lambda: store.load_entities(CONTRACT, *data)))]
    figures.append((name, "job, first run", timed(lambda: run(predictor, store, batch_size))))
    rescore = timed(lambda: run(predictor, store, batch_size, rescore=True))
    figures.append((name, "job, rescore", rescore))
    figures.append((name, "upsert only", timed(lambda: upsert_again(store, scored))))
    figures.append((name, "COPY only" if name == "PostgreSQL" else "insert only", timed(copy_only)))
    result = store.check(predictor.model_version, show=0)
    if not result.complete or result.predicted != len(data[0]):
        raise SystemExit(f"{name}: the check failed: {result}")
    figures.append((name, "check", timed(lambda: store.check(predictor.model_version, show=0))))
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entities", type=int, default=1_000_000)
    parser.add_argument("--batch-size", type=int, default=PrecomputeSettings().batch_size)
    parser.add_argument("--postgres-url", default=DEFAULT_URL)
    arguments = parser.parse_args()
    settings = PrecomputeSettings()
    predictor = Predictor.from_settings(settings)
    data = entities(arguments.entities, settings.training_data)
    size = arguments.batch_size
    print(f"{arguments.entities} entities, {len(CONTRACT.inputs)} inputs, batches of {size}")

    scored: Batches = []
    pending = batches(data, arguments.batch_size, predictor.model_version)
    started = time.perf_counter()
    now = datetime.now(UTC)
    for batch in pending:
        scored.append(score(predictor, batch, now))
    figures = [("no database", "score only", time.perf_counter() - started)]

    schema = f"bench_{uuid.uuid4().hex[:12]}"
    try:
        admin = psycopg.connect(arguments.postgres_url, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as error:
        print(f"PostgreSQL skipped: {arguments.postgres_url} is unreachable ({error})")
    else:
        admin.execute(f"CREATE SCHEMA {schema}")
        tables = Tables(f"{schema}.entities", f"{schema}.predictions", f"{schema}.rejects")
        postgres = PostgresStore(arguments.postgres_url, tables)
        try:
            figures += measure(
                "PostgreSQL",
                postgres,
                lambda: copy_only_postgres(postgres, f"{schema}.copy_only", scored),
                predictor,
                data,
                scored,
                arguments.batch_size,
            )
        finally:
            postgres.close()
            admin.execute(f"DROP SCHEMA {schema} CASCADE")
            admin.close()

    with tempfile.TemporaryDirectory() as directory:
        duckdb = DuckDBStore(Path(directory) / "bench.duckdb", Tables())
        try:
            figures += measure(
                "DuckDB",
                duckdb,
                lambda: copy_only_duckdb(duckdb, "copy_only", scored),
                predictor,
                data,
                scored,
                arguments.batch_size,
            )
        finally:
            duckdb.close()

    print(f"\n{'store':<12} {'stage':<16} {'seconds':>8} {'entities/s':>12}")
    for store, stage, seconds in figures:
        print(f"{store:<12} {stage:<16} {seconds:>8.2f} {arguments.entities / seconds:>12,.0f}")


if __name__ == "__main__":
    main()
