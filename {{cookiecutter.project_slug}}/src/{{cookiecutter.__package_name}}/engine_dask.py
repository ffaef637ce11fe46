"""The Dask engine: the input's partitions are scored in parallel by a Dask cluster.

By default the job starts a `distributed.LocalCluster` on this machine; with
`SCHEDULER_ADDRESS` set it submits to an existing cluster instead (see deploy/batch/dask.yaml).
Each partition is read, validated, scored and committed by one task, so a worker holds a
few partitions at a time whatever the input size. Workers write the outputs themselves:
on a cluster, `output_dir` must be storage every worker and the job share.

Each partition passes through state_join.py in the task that scores it: the per-entity
state, where the project keeps any, fills the inputs its rows leave out.
"""

import argparse
import logging
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import astuple, dataclass
from functools import cache
from pathlib import Path

import dask.dataframe as dd
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from dask.delayed import Delayed, delayed
from distributed import Client, LocalCluster
from pydantic import Field

from .batch import (
    BatchSettings,
    PartCounts,
    RunOutput,
    RunSummary,
    file_fingerprint,
    input_names,
    run_identity,
    score_chunk,
)
from .batch_validation import InputError
from .predictor import Predictor
from .state_join import StateSettings

ENGINE = "dask"
BYTES_PER_INPUT = 8
"""About what one input value of a CSV row takes: sizes the CSV blocks."""

logger = logging.getLogger(__name__)


class EngineSettings(BatchSettings, StateSettings):
    """The shared batch settings, the state's, and where the Dask cluster is."""

    scheduler_address: str = ""
    """An existing cluster's scheduler (`tcp://scheduler:8786`); empty starts a LocalCluster."""

    workers: int = Field(default=0, ge=0)
    """LocalCluster worker processes (0: one per core)."""

    processes: bool = True
    """LocalCluster workers as processes (true) or as threads of this process (false)."""


def add_input_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--input", help="a Parquet or CSV file, or a directory of Parquet files")


@dataclass(frozen=True)
class RowGroup:
    """One row group of a Parquet file: read by the task that scores it, so no task result
    holds input rows and a worker's memory is bounded by the row groups it is scoring."""

    file: Path
    group: int

    def read(self) -> pa.Table:
        return pq.ParquetFile(self.file).read_row_group(self.group)


def read_partitions(settings: EngineSettings) -> list[Delayed | RowGroup]:
    """The input's partitions: a Parquet row group each, or CSV blocks of about `chunk_rows`
    rows (delayed Dask DataFrame partitions)."""
    path = Path(settings.input)
    if not path.exists():
        raise InputError(f"the input {path} does not exist (the Dask engine reads files)")
    if path.suffix == ".csv":
        # Input columns are read as text and parsed per kind by validation, so one bad
        # value rejects its row instead of failing the whole read; categories stay text.
        frame = dd.read_csv(
            path,
            dtype=dict.fromkeys([*input_names(), *settings.text_columns()], "string"),
            blocksize=settings.chunk_rows * BYTES_PER_INPUT * len(input_names()) * 2,
        )
        return list(frame.to_delayed())
    files = sorted(path.rglob("*.parquet")) if path.is_dir() else [path]
    return [
        RowGroup(file, group)
        for file in files
        for group in range(pq.ParquetFile(file).metadata.num_row_groups)
    ]


@cache
def _predictor(settings_json: str) -> Predictor:
    """One predictor per worker process, loaded by its first task."""
    return Predictor.from_settings(EngineSettings.model_validate_json(settings_json))


def score_partition(
    partition: pd.DataFrame | RowGroup, part: int, settings: EngineSettings
) -> PartCounts:
    """Score and commit one partition (runs on a worker)."""
    predictor = _predictor(settings.model_dump_json())
    if isinstance(partition, RowGroup):
        chunk = partition.read()
    else:
        chunk = pa.Table.from_pandas(partition, preserve_index=False)
    # A join of the task's own (state_join.py): a worker holds nothing of it between tasks.
    with closing(settings.state_join()) as state:
        filled, entity_reasons = state.fill(chunk)
    predictions, rejects = score_chunk(filled, part, predictor, settings.run_id, entity_reasons)
    return RunOutput(settings).commit(part, predictions, rejects)


def run(settings: EngineSettings, predictor: Predictor) -> RunSummary:
    """Score the input into `<output_dir>/<run_id>/`, resuming a run that did not finish."""
    output = RunOutput(settings)
    fingerprint = file_fingerprint(Path(settings.input))
    output.start(run_identity(settings, predictor, ENGINE, fingerprint))
    if (summary := output.completed()) is not None:
        logger.info("run %s is already complete", settings.run_id)
        return summary
    partitions = read_partitions(settings)
    committed = output.committed()
    pending = [part for part in range(len(partitions)) if part not in committed]
    logger.info("%d partitions, %d already committed", len(partitions), len(committed))
    tasks = [delayed(score_partition)(partitions[part], part, settings) for part in pending]
    with _client(settings) as client:
        for part, counts in zip(pending, client.gather(client.compute(tasks)), strict=True):
            logger.info("part %d: %d rows, %d scored, %d rejected", part, *astuple(counts))
    rows = sum(counts.rows for counts in output.committed().values())
    return output.finish(len(partitions), rows, predictor.model_version)


@contextmanager
def _client(settings: EngineSettings) -> Iterator[Client]:
    """A client of the configured cluster, or of a LocalCluster that lives as long as it."""
    if settings.scheduler_address:
        with Client(settings.scheduler_address, set_as_default=False) as client:
            yield client
        return
    with (
        LocalCluster(
            n_workers=settings.workers or None,
            threads_per_worker=1,
            processes=settings.processes,
            dashboard_address=None,
        ) as cluster,
        Client(cluster, set_as_default=False) as client,
    ):
        yield client
