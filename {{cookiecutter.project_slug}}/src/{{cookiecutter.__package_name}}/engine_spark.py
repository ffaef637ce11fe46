"""The Spark engine: the input's parts are scored in parallel by Spark executors.

The driver plans the run's parts from the input itself: one per Parquet row group, or one
per block of about `chunk_rows` CSV lines. The plan depends on the input only, never on the
cluster's size or Spark's split settings, so a resumed run (on another cluster, with more
executors) scores the same rows under the same part numbers. Spark runs one task per part
through `mapInArrow`: the task reads its part, validates, scores it with onnxruntime (the
model loaded once per Python worker, not per task or row) and commits it. Executors write
the outputs themselves: on a cluster, the input and `output_dir` must be storage every
executor and the driver share.

By default Spark runs in local mode (`local[*]`: one task per core, in this process's
JVM); with `MASTER` set to `k8s://https://<api-server>` the job is the driver of executor
pods on Kubernetes (see deploy/batch/spark.yaml).
"""

import argparse
import logging
import os
import sys
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from functools import cache, partial
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from pyspark.sql import SparkSession

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

ENGINE = "spark"
BYTES_PER_INPUT = 8
"""About what one input value of a CSV row takes: sizes the CSV blocks."""
PART_SCHEMA = "part bigint, file string, row_group int, start bigint, stop bigint"
COUNTS_SCHEMA = "part bigint, rows bigint, scored bigint, rejected bigint"
COUNTS = pa.schema([(name, pa.int64()) for name in ("part", "rows", "scored", "rejected")])

logger = logging.getLogger(__name__)


class EngineSettings(BatchSettings):
    """The shared batch settings and where Spark runs."""

    master: str = "local[*]"
    """The Spark master: `local[*]` (a task per core, here), `local[N]`, or a cluster
    (`k8s://https://kubernetes.default.svc:443`, with spark-defaults.conf for the rest)."""


def add_input_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--input", help="a Parquet or CSV file, or a directory of Parquet files")


@dataclass(frozen=True)
class Part:
    """One part of the input: a Parquet row group, or the CSV lines in bytes [start, stop).
    Read by the task that scores it, so no input row passes through the driver."""

    part: int
    file: str
    row_group: int = -1
    start: int = 0
    stop: int = 0

    def read(self, header: bytes) -> pa.Table:
        if self.row_group >= 0:
            return pq.ParquetFile(self.file).read_row_group(self.row_group)
        with Path(self.file).open("rb") as stream:
            stream.seek(self.start)
            lines = stream.read(self.stop - self.start)
        # Input columns are read as text and parsed per kind by validation, so one bad value
        # rejects its row instead of failing the whole part; categories stay text.
        return pacsv.read_csv(
            pa.py_buffer(header + lines),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(input_names(), pa.string()), strings_can_be_null=True
            ),
        )


@dataclass(frozen=True)
class Plan:
    """The run's parts, the CSV header every CSV part is read with, and, for Parquet, each
    part's row count (from the footers: checked against what the parts committed)."""

    parts: list[Part]
    header: bytes
    rows: list[int] | None


def plan(settings: BatchSettings) -> Plan:
    """The input's parts: a Parquet row group each, or blocks of about `chunk_rows` CSV lines.

    The input's columns are checked here, on the driver: an exception raised in a task
    reaches the driver as Spark's, not as the InputError the entry point reports in one line.
    """
    path = Path(settings.input)
    if not path.exists():
        raise InputError(f"the input {path} does not exist (the Spark engine reads files)")
    if path.suffix == ".csv":
        return plan_csv(path, settings.chunk_rows * BYTES_PER_INPUT * len(input_names()) * 2)
    groups = []
    for file in sorted(path.rglob("*.parquet")) if path.is_dir() else [path]:
        parquet = pq.ParquetFile(file)
        require_columns(parquet.schema_arrow.names, file)
        groups += [
            (file, group, parquet.metadata.row_group(group).num_rows)
            for group in range(parquet.num_row_groups)
        ]
    parts = [Part(part, str(file), group) for part, (file, group, _) in enumerate(groups)]
    return Plan(parts, b"", [rows for _, _, rows in groups])


def require_columns(columns: list[str], file: Path) -> None:
    absent = [name for name in input_names() if name not in columns]
    if absent:
        raise InputError(
            f"{file} has no column {', '.join(absent)} (the keys and inputs features.yaml names)"
        )


def plan_csv(path: Path, block_bytes: int) -> Plan:
    """Blocks of whole lines of about `block_bytes` each, after the header line. A line ends
    at a newline: quoted values holding newlines are not supported (as in Dask's read_csv)."""
    size = path.stat().st_size
    parts: list[Part] = []
    with path.open("rb") as stream:
        header = stream.readline()
        require_columns(pacsv.read_csv(pa.py_buffer(header)).column_names, path)
        start = stream.tell()
        while start < size:
            stream.seek(min(start + block_bytes, size))
            if stream.tell() < size:
                stream.readline()  # to the end of the line the block boundary falls in
            stop = stream.tell()
            parts.append(Part(len(parts), str(path), start=start, stop=stop))
            start = stop
    return Plan(parts, header, None)


@cache
def _predictor(settings_json: str) -> Predictor:
    """One predictor per Python worker, loaded by its first task (workers are reused)."""
    return Predictor.from_settings(EngineSettings.model_validate_json(settings_json))


def score_parts(
    descriptors: Iterator[pa.RecordBatch], settings_json: str, header: bytes
) -> Iterator[pa.RecordBatch]:
    """Score and commit the parts a task is given (runs on an executor); yields their counts."""
    settings = EngineSettings.model_validate_json(settings_json)
    predictor = _predictor(settings_json)
    output = RunOutput(settings)
    for batch in descriptors:
        for descriptor in batch.to_pylist():
            part = Part(**descriptor)
            # No rows rejected for their entity: the Spark engine reads no per-entity state.
            predictions, rejects = score_chunk(
                part.read(header), part.part, predictor, settings.run_id, {}
            )
            counts = output.commit(part.part, predictions, rejects)
            yield pa.RecordBatch.from_pylist([{"part": part.part, **asdict(counts)}], COUNTS)


def run(settings: EngineSettings, predictor: Predictor) -> RunSummary:
    """Score the input into `<output_dir>/<run_id>/`, resuming a run that did not finish."""
    output = RunOutput(settings)
    fingerprint = file_fingerprint(Path(settings.input))
    output.start(run_identity(settings, predictor, ENGINE, fingerprint))
    if (summary := output.completed()) is not None:
        logger.info("run %s is already complete", settings.run_id)
        return summary
    parts = plan(settings)
    committed = output.committed()
    if parts.rows is not None:
        check_counts(enumerate(parts.rows), committed)
    pending = [part for part in parts.parts if part.part not in committed]
    logger.info("%d parts, %d already committed", len(parts.parts), len(committed))
    if pending:
        with spark_session(settings) as spark:
            # One partition per part: a task scores one part, and a failed task redoes one.
            tasks = spark.createDataFrame(
                spark.sparkContext.parallelize([asdict(part) for part in pending], len(pending)),
                PART_SCHEMA,
            )
            scoring = partial(
                score_parts, settings_json=settings.model_dump_json(), header=parts.header
            )
            with warnings.catch_warnings():
                # mapInArrow checks pandas' version although Arrow batches need no pandas.
                warnings.filterwarnings("ignore", "PySpark does not yet fully support pandas")
                scored = tasks.mapInArrow(scoring, COUNTS_SCHEMA)
            for row in scored.collect():
                logger.info(
                    "part %d: %d rows, %d scored, %d rejected",
                    row.part,
                    row.rows,
                    row.scored,
                    row.rejected,
                )
    if parts.rows is not None:
        rows = sum(parts.rows)
    else:
        rows = sum(counts.rows for counts in output.committed().values())
    return output.finish(len(parts.parts), rows, predictor.model_version)


@contextmanager
def spark_session(settings: EngineSettings) -> Iterator[SparkSession]:
    """The active Spark session when there is one (a notebook's, a test session's), or one
    on the configured master that lives as long as the run."""
    active = SparkSession.getActiveSession()
    if active is not None:
        yield active
        return
    spark = start_spark(settings.master, f"{{ cookiecutter.__package_name }}-score {settings.run_id}")
    try:
        yield spark
    finally:
        spark.stop()


def start_spark(master: str, name: str) -> SparkSession:
    """A Spark session whose Python workers run this interpreter, with this environment's
    packages (in the image, executors have the same path)."""
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    return (
        SparkSession.builder.master(master)
        .appName(name)
        .config("spark.ui.showConsoleProgress", "false")
        # Spark sets up Ivy (for packages this job does not use) under the user's home,
        # which the image's user has none of.
        .config("spark.jars.ivy", str(Path(tempfile.gettempdir()) / "ivy"))
        .getOrCreate()
    )
