"""What the batch benchmark (bench_batch.py) measures of the Spark engine: its startup, and
the job's pipeline run without Spark for the side-by-side.

Spark starts only when there is a part to score, so the startup (imports, Spark's JVM and
session, the first Python worker and its model load) is timed on a one-row input. The
reference of its own, "one process": the job's pipeline (validate, score, commit each part)
chunk after chunk in this process, without Spark: what the pandas engine runs.
"""

import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from batch_job import Variant

from {{ cookiecutter.__package_name }}.batch import BatchSettings, RunOutput, score_chunk
from {{ cookiecutter.__package_name }}.predictor import Predictor

ENGINE = "spark"
STARTUP = "Spark, a Python worker, model load; one row"
STARTUP_ROWS = 1
"""The rows of the input the startup is timed on."""


def engine_references(
    path: Path, output_dir: Path, chunk_rows: int, predictor: Predictor
) -> list[Variant]:
    """The job's pipeline in this process, without Spark."""
    return [("one process (pandas loop)", one_process(path, output_dir, chunk_rows, predictor), "")]


def one_process(path: Path, output_dir: Path, chunk_rows: int, predictor: Predictor) -> float:
    """Seconds for the job's pipeline in this process, part after part, without Spark."""
    settings = BatchSettings(
        input=str(path), output_dir=output_dir, run_id=f"one-{path.stem}", chunk_rows=chunk_rows
    )
    output = RunOutput(settings)
    output.start({})
    started = time.perf_counter()
    for part, batch in enumerate(pq.ParquetFile(path).iter_batches(batch_size=chunk_rows)):
        chunk = pa.Table.from_batches([batch])
        # No rows rejected for their entity: the Spark engine reads no per-entity state.
        output.commit(part, *score_chunk(chunk, part, predictor, settings.run_id, {}))
    return time.perf_counter() - started
