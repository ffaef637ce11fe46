"""End-to-end throughput and peak memory of the batch job next to two references.

For each input size (Parquet files of the sample data's rows repeated, in row groups of
`--chunk-rows`), one after the other:

- job: `{{ cookiecutter.__package_name }}-score` (the project's engine) in its own process: read,
  validate, score, write predictions and rejects as Parquet, commit; its peak resident memory
  is measured;
- raw limit: the same data read with pyarrow batch by batch, one onnxruntime call per batch
  on the model's input blocks (float32 numbers, text categories), the outputs written with
  pyarrow: no validation, no per-row objects;
- core limit: the same loop through `Predictor.score` and the job's output columns
  (what the job calls), without the job's validation, rejects and commit protocol;
- naive: pandas `DataFrame.apply` calling the model row by row, on `--naive-rows` rows only,
  extrapolated to the input size (it is far too slow to run in full);
- the engine's own references, if it has any (batch_engine.py), and the job on rows that
  name their entities, if the project keeps per-entity state (batch_state.py).

    make bench                                   # or: python benchmarks/bench_batch.py --help

Targets: the job sustains at least 0.8 of the raw limit's rows per second, and its peak
memory stays flat as the input grows tenfold (it is bounded by the chunk size). The job's
fixed startup (what it holds and the input it is timed on: batch_engine.py) is printed, and
the job's figures are shown with and without it. The job and the core limit audit their
predictions as the project does, into the scratch directory (review.py).
"""

import argparse
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
from batch_engine import ENGINE, STARTUP, STARTUP_ROWS, engine_references
from batch_job import run_job, write_input
from batch_state import STATELESS_OPTIONS, StateBenchmark, add_state_arguments

from {{ cookiecutter.__package_name }}.artifact import MODEL_FILE, load_metadata
from {{ cookiecutter.__package_name }}.batch import BatchSettings, prediction_columns
from {{ cookiecutter.__package_name }}.contract import Columns, load_contract
from {{ cookiecutter.__package_name }}.predictor import Predictor
from {{ cookiecutter.__package_name }}.review import scratch_settings

Outputs = dict[str, Any]
Score = Callable[[Columns], Outputs]


ROW = "{:>10}  {:<26} {:>8} {:>10} {:>6} {:>12}"


def batches(path: Path, chunk_rows: int) -> Iterator[Columns]:
    contract = load_contract()
    for batch in ds.dataset(path).to_batches(batch_size=chunk_rows):
        numbers = np.empty((batch.num_rows, len(contract.numbers)), dtype=np.float32)
        for index, item in enumerate(contract.numbers):
            numbers[:, index] = batch.column(item.name).to_numpy(zero_copy_only=False)
        categories = np.empty((batch.num_rows, len(contract.categories)), dtype=object)
        for index, item in enumerate(contract.categories):
            levels = batch.column(item.name).fill_null("")
            categories[:, index] = levels.to_numpy(zero_copy_only=False)
        yield Columns(numbers, categories)


def loop(path: Path, output: Path, chunk_rows: int, score: Score) -> float:
    """Seconds to read `path`, score each batch with `score` and write the outputs."""
    score(next(batches(path, chunk_rows)))  # untimed: a session's first run pays its setup
    started = time.perf_counter()
    writer = None
    for columns in batches(path, chunk_rows):
        table = pa.table(score(columns))
        writer = writer or pq.ParquetWriter(output, table.schema)
        writer.write_table(table)
    if writer is not None:
        writer.close()
    return time.perf_counter() - started


def raw_scorer(model_dir: Path) -> Score:
    directory, _ = load_metadata(model_dir)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(
        str(directory / MODEL_FILE), options, providers=["CPUExecutionProvider"]
    )

    def score(columns: Columns) -> Outputs:
        outputs: Outputs = {}
        for index, output in enumerate(session.run(None, columns.feeds())):
            values = np.asarray(output, dtype=np.float64).reshape(len(columns), -1)
            outputs |= {f"output_{index}_{j}": values[:, j] for j in range(values.shape[1])}
        return outputs

    return score


def core_scorer(predictor: Predictor) -> Score:
    def score(columns: Columns) -> Outputs:
        return prediction_columns(predictor.score(columns))

    return score


def naive_seconds_per_row(path: Path, rows: int, predictor: Predictor) -> float:
    contract = load_contract()
    frame = pd.read_parquet(path).head(rows)

    def predict(row: "pd.Series[Any]") -> object:
        record = {name: None if pd.isna(value) else value for name, value in row.items()}
        return predictor.predict_columns(Columns.from_records(contract, [record]))[0]

    started = time.perf_counter()
    frame.apply(predict, axis=1)
    return (time.perf_counter() - started) / rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="1000000,10000000", help="input sizes, comma separated")
    parser.add_argument("--chunk-rows", type=int, default=100_000, help="rows per chunk")
    parser.add_argument("--naive-rows", type=int, default=5_000, help="rows of the naive baseline")
    add_state_arguments(parser)
    arguments = parser.parse_args()
    sizes = [int(size) for size in arguments.rows.split(",")]
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        # Every variant's predictions go to a scratch audit log, if the project keeps one;
        # through the environment, so the job's own process reads it too.
        prefix = BatchSettings.model_config["env_prefix"]
        for name, value in scratch_settings(work).items():
            os.environ[f"{prefix}{name.upper()}"] = str(value)
        settings = BatchSettings()
        model_dir = settings.model_dir
        predictor = Predictor.from_settings(settings)
        print(f"model {predictor.model_version}, {len(predictor.feature_names)} inputs")
        print(f"chunks of {arguments.chunk_rows} rows, naive baseline on {arguments.naive_rows}")
        state = StateBenchmark(arguments, work, len(predictor.feature_names))
        write_input(work / "startup.parquet", STARTUP_ROWS, arguments.chunk_rows)
        startup, _ = run_job(
            work / "startup.parquet", work / "predictions", 1, model_dir, STATELESS_OPTIONS
        )
        print(f"job startup ({STARTUP}): {startup:.2f} s")
        print(ROW.format("rows", "variant", "seconds", "rows/s", "x raw", "peak RSS MiB"))
        for rows in sizes:
            path = work / f"input-{rows}.parquet"
            write_input(path, rows, arguments.chunk_rows)
            raw = loop(path, work / "raw.parquet", arguments.chunk_rows, raw_scorer(model_dir))
            core = loop(path, work / "core.parquet", arguments.chunk_rows, core_scorer(predictor))
            references = engine_references(
                path, work / "predictions", arguments.chunk_rows, predictor
            )
            job, peak = run_job(
                path, work / "predictions", arguments.chunk_rows, model_dir, STATELESS_OPTIONS
            )
            naive = naive_seconds_per_row(path, min(rows, arguments.naive_rows), predictor) * rows
            stateful, comparisons = state.measure(
                rows, work, arguments.chunk_rows, model_dir, job, startup
            )
            for variant, seconds, memory in (
                ("raw limit (pyarrow + onnx)", raw, ""),
                ("core limit (score)", core, ""),
                *references,
                (f"job ({ENGINE})", job, f"{peak:.0f}"),
                ("job, startup excluded", job - startup, ""),
                *stateful,
                ("naive apply (extrapolated)", naive, ""),
            ):
                rate, relative = f"{rows / seconds:,.0f}", f"{raw / seconds:.2f}"
                print(ROW.format(rows, variant, f"{seconds:.2f}", rate, relative, memory))
            for line in comparisons:
                print(line)
            path.unlink()


if __name__ == "__main__":
    main()
