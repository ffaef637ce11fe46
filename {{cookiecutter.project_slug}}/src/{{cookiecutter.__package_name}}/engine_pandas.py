"""The pandas engine: one process reads the input in chunks of `chunk_rows` and scores them.

Memory is bounded by the chunk size, not by the input size: Parquet and CSV are streamed
with pyarrow datasets, SQLite rows read `chunk_rows` at a time, PostgreSQL rows through a
server-side cursor.

Each chunk passes through state_join.py before it is validated: the per-entity state, where the
project keeps any, fills the inputs its rows leave out.
"""

import argparse
import logging
import sqlite3
from collections.abc import Generator, Iterator
from contextlib import closing
from dataclasses import astuple
from pathlib import Path
from typing import Any

import pandas as pd
import psycopg
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.dataset as ds

from .batch import (
    BatchSettings,
    RunOutput,
    RunSummary,
    check_counts,
    file_fingerprint,
    input_names,
    run_identity,
    score_chunk,
)
from .batch_validation import InputError
from .predictor import Predictor
from .state_join import StateSettings

ENGINE = "pandas"
SQLITE = "sqlite:///"
POSTGRESQL = ("postgresql://", "postgres://")

logger = logging.getLogger(__name__)


class EngineSettings(BatchSettings, StateSettings):
    """The pandas engine needs nothing beyond the shared batch settings and the state's."""


def add_input_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--input", help="Parquet or CSV file, Parquet directory, sqlite:///x.db, postgresql://..."
    )
    parser.add_argument("--query", help="SQL query for a database input (with an ORDER BY)")


def input_fingerprint(settings: BatchSettings) -> Any:
    """What identifies the input's rows when a run starts: the files' fingerprint, or the
    query's row count (its text is recorded with the run)."""
    if not settings.input.startswith((SQLITE, *POSTGRESQL)):
        return file_fingerprint(Path(settings.input))
    if not settings.query:
        raise InputError("a database input needs a query (the QUERY setting)")
    # The operator's own query, as the job runs it.
    counting = f"SELECT count(*) FROM ({settings.query.strip().rstrip(';')}) AS input"  # noqa: S608
    if settings.input.startswith(SQLITE):
        with closing(sqlite3.connect(settings.input.removeprefix(SQLITE))) as connection:
            try:
                (rows,) = connection.execute(counting).fetchone()
            except sqlite3.Error as error:
                raise InputError(f"the input query failed: {one_line(error)}") from error
    else:
        with connect(settings.input) as connection:
            try:
                (rows,) = connection.execute(counting).fetchone() or (0,)
            except psycopg.Error as error:
                raise InputError(f"the input query failed: {one_line(error)}") from error
    return {"rows": int(rows)}


def read_chunks(settings: EngineSettings) -> Generator[pa.Table]:
    """The input, `chunk_rows` rows at a time, in the same chunks on every run."""
    if settings.input.startswith((SQLITE, *POSTGRESQL)) and not settings.query:
        raise InputError("a database input needs a query (the QUERY setting)")
    if settings.input.startswith(SQLITE):
        with closing(sqlite3.connect(settings.input.removeprefix(SQLITE))) as connection:
            for frame in pd.read_sql_query(
                settings.query, connection, chunksize=settings.chunk_rows
            ):
                yield pa.Table.from_pandas(frame, preserve_index=False)
        return
    if settings.input.startswith(POSTGRESQL):
        yield from read_postgresql(settings.input, settings.query, settings.chunk_rows)
        return
    path = Path(settings.input)
    if not path.exists():
        raise InputError(f"the input {path} does not exist")
    if path.suffix == ".csv":
        # Input columns are read as text and parsed per kind by validation, so one bad
        # value rejects its row instead of failing the whole read; categories stay text.
        csv = ds.CsvFileFormat(
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys([*input_names(), *settings.text_columns()], pa.string()),
                strings_can_be_null=True,
            )
        )
        dataset = ds.dataset(path, format=csv)
    else:
        # Column chunks are read as they are decoded, not pre-buffered ahead of the consumer.
        parquet = ds.ParquetFileFormat(
            default_fragment_scan_options=ds.ParquetFragmentScanOptions(pre_buffer=False)
        )
        dataset = ds.dataset(path, format=parquet)
    # No read-ahead and no scanner threads: both let the reader run ahead of a slower
    # consumer. Memory stays bounded by the chunk size.
    batches = dataset.to_batches(
        batch_size=settings.chunk_rows, batch_readahead=0, fragment_readahead=0, use_threads=False
    )
    for batch in batches:
        yield pa.Table.from_batches([batch])


def connect(url: str) -> psycopg.Connection[Any]:
    try:
        return psycopg.connect(url, connect_timeout=10)
    except psycopg.OperationalError as error:
        raise InputError(f"cannot connect to the input database: {one_line(error)}") from error


def read_postgresql(url: str, query: str, chunk_rows: int) -> Iterator[pa.Table]:
    """The query's rows through a server-side cursor: PostgreSQL sends `chunk_rows` at a time."""
    connection = connect(url)
    with connection, connection.cursor(name="batch_input") as cursor:
        try:
            cursor.execute(query)
            while rows := cursor.fetchmany(chunk_rows):
                names = [column.name for column in cursor.description or []]
                columns = zip(*rows, strict=True)
                yield pa.table(
                    {name: pa.array(values) for name, values in zip(names, columns, strict=True)}
                )
        except psycopg.Error as error:
            raise InputError(f"the input query failed: {one_line(error)}") from error


def one_line(error: Exception) -> str:
    return " ".join(str(error).split())


def run(settings: EngineSettings, predictor: Predictor) -> RunSummary:
    """Score the input into `<output_dir>/<run_id>/`, resuming a run that did not finish."""
    output = RunOutput(settings)
    output.start(run_identity(settings, predictor, ENGINE, input_fingerprint(settings)))
    if (summary := output.completed()) is not None:
        logger.info("run %s is already complete", settings.run_id)
        return summary
    committed = output.committed()
    parts = rows_read = 0
    with closing(settings.state_join()) as state:
        for part, chunk, filled in state.filled(read_chunks(settings), committed):
            parts, rows_read = part + 1, rows_read + len(chunk)
            if filled is None:
                check_counts([(part, len(chunk))], committed)
                continue
            predictions, rejects = score_chunk(
                filled.chunk, part, predictor, settings.run_id, filled.reasons
            )
            counts = output.commit(part, predictions, rejects)
            logger.info("part %d: %d rows, %d scored, %d rejected", part, *astuple(counts))
    return output.finish(parts, rows_read, predictor.model_version)
