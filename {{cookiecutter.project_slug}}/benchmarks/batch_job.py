"""The batch job as its benchmark (bench_batch.py) runs it: inputs written as Parquet files of
the training data's rows, and the job in a process of its own, its memory measured."""

import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import suppress
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.parquet as pq

from {{ cookiecutter.__package_name }}.batch import BatchSettings
from {{ cookiecutter.__package_name }}.contract import Input, load_contract
from {{ cookiecutter.__package_name }}.data import load_dataset

ARROW_TYPES = {"number": pa.float64(), "integer": pa.int64(), "boolean": pa.bool_()}

Variant = tuple[str, float, str]
"""A line of the benchmark's table: the variant, its seconds, its peak memory (MiB) or ""."""


def arrow_field(item: Input) -> tuple[str, pa.DataType]:
    """The input's column, typed per kind."""
    return item.name, ARROW_TYPES.get(item.kind, pa.string())


def arrow_column(item: Input, values: npt.NDArray[Any]) -> pa.Array:
    """One input's values as its kind's Arrow column, null where missing."""
    if item.kind == "category":
        return pa.array([None if value == "" else value for value in values], pa.string())
    return pa.array(values, from_pandas=True).cast(ARROW_TYPES[item.kind])


def input_chunks(rows: int, chunk_rows: int) -> Iterator[tuple[range, dict[str, pa.Array]]]:
    """`rows` rows of the training data, repeated, chunk by chunk: each chunk's row numbers
    and its inputs' columns by name."""
    contract = load_contract()
    sample = load_dataset(BatchSettings().training_data, contract).columns
    inputs = [*contract.numbers, *contract.categories]
    for start in range(0, rows, chunk_rows):
        numbers = range(start, min(start + chunk_rows, rows))
        chunk = sample.take(np.arange(numbers.start, numbers.stop) % len(sample))
        values = [*chunk.numbers.T.astype(np.float64), *chunk.categories.T]
        arrays = [arrow_column(item, value) for item, value in zip(inputs, values, strict=True)]
        yield numbers, {item.name: array for item, array in zip(inputs, arrays, strict=True)}


def write_input(path: Path, rows: int, chunk_rows: int) -> None:
    """`rows` rows of the training data, repeated, written chunk by chunk, typed per kind."""
    contract = load_contract()
    schema = pa.schema([arrow_field(item) for item in (*contract.numbers, *contract.categories)])
    with pq.ParquetWriter(path, schema) as writer:
        for _, columns in input_chunks(rows, chunk_rows):
            writer.write_table(pa.table(columns, schema=schema))


def tree_rss_kib(pid: int) -> int:
    """Resident memory of a process and all its descendants (the Dask engine's workers are
    processes of their own), in KiB; 0 once it has exited."""
    total = 0
    with suppress(OSError):
        status = Path(f"/proc/{pid}/status").read_text()
        resident = re.search(r"VmRSS:\s+(\d+)", status)
        total += int(resident.group(1)) if resident else 0
        for task in Path(f"/proc/{pid}/task").iterdir():
            for child in (task / "children").read_text().split():
                total += tree_rss_kib(int(child))
    return total


def run_job(
    path: Path, output_dir: Path, chunk_rows: int, model_dir: Path, options: Sequence[str] = ()
) -> tuple[float, float]:
    """Seconds and peak resident memory (MiB) of the job scoring `path` in its own process,
    given `options` besides its input, output, chunk size and model.

    Memory is the job's process tree, sampled while it runs (the rusage of a child would also
    count the memory of the process that started it, and none of the child's children).
    """
    command = [
        sys.executable,
        "-m",
        "{{ cookiecutter.__package_name }}.score",
        f"--input={path}",
        f"--output-dir={output_dir}",
        f"--run-id=bench-{path.stem}",
        f"--chunk-rows={chunk_rows}",
        f"--model-dir={model_dir}",
        *options,
    ]
    with tempfile.TemporaryFile() as errors:
        started = time.perf_counter()
        job = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=errors)  # noqa: S603
        peak_kib = 0
        while job.poll() is None:
            peak_kib = max(peak_kib, tree_rss_kib(job.pid))
            time.sleep(0.02)
        seconds = time.perf_counter() - started
        if job.returncode != 0:
            errors.seek(0)
            raise RuntimeError(f"the job failed: {errors.read().decode()}")
    return seconds, peak_kib / 1024
