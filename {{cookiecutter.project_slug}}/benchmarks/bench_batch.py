{%- set package = cookiecutter.__package_name -%}
{%- set engine = cookiecutter.__batch_engine -%}
{%- set legal = cookiecutter.legal_review == "yes" -%}
{%- set stateful = cookiecutter.stateful == "yes" -%}
"""End-to-end throughput and peak memory of the batch job next to two references.

For each input size (Parquet files of the sample data's rows repeated, in row groups of
`--chunk-rows`), one after the other:

- job: `{{ package }}-score` ({{ engine }} engine) in its own process: read, validate, score,
  write predictions and rejects as Parquet, commit; its peak resident memory is measured;
- raw limit: the same data read with pyarrow batch by batch, one onnxruntime call per batch
  on the model's input blocks (float32 numbers, text categories), the outputs written with
  pyarrow: no validation, no per-row objects;
- core limit: the same loop through `Predictor.score` and the job's output columns
  (what the job calls), without the job's validation, rejects and commit protocol;
- naive: pandas `DataFrame.apply` calling the model row by row, on `--naive-rows` rows only,
  extrapolated to the input size (it is far too slow to run in full).
{%- if engine == "spark" %}
- one process: the job's own pipeline (validate, score, commit each part) chunk after chunk
  in this process, without Spark: what the pandas engine runs, for the side-by-side.
{%- endif %}
{%- if stateful %}
- job, stateful: the same job on the same rows, each naming an entity (`entity_id`, drawn
  at random from `--entities` entities) and giving only the first half of the inputs: the
  other half comes from the entities' stored state, a SQLite state store in the scratch
  directory (`--state-url` for another, PostgreSQL say), joined onto each chunk as state_join.py
{%- if engine == "pandas" %}
  does (the table read once as Arrow columns, one join per chunk). Target: at least 0.7 of
{%- else %}
  does (one query per partition). Target: at least 0.7 of
{%- endif %}
  the stateless job's rows per second ("x stateless").
{%- endif %}

    make bench                                   # or: python benchmarks/bench_batch.py --help

Targets: the job sustains at least 0.8 of the raw limit's rows per second, and its peak
memory stays flat as the input grows tenfold (it is bounded by the chunk size). The job's
fixed startup ({% if engine == "spark" %}imports, Spark's JVM and session, the first Python worker and its model load: timed
on a one-row input, as Spark starts only when there is a part to score{% else %}imports and model load, timed on an empty input{% endif %}) is printed, and the job's
figures are shown with and without it.
{%- if legal %}

Legal review is on: the job and the core limit also compute each row's explanation (a model
call on every row with each feature ablated) and write one audit record per row; the raw
limit does neither, so here the ratio measures what those cost.
{%- endif %}
"""

import argparse
{%- if legal or stateful %}
import os
{%- endif %}
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import suppress
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import onnxruntime as ort
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from {{ package }}.artifact import MODEL_FILE, load_metadata
{%- if engine == "spark" %}
from {{ package }}.batch import BatchSettings, RunOutput, prediction_columns, score_chunk
{%- else %}
from {{ package }}.batch import BatchSettings, prediction_columns
{%- endif %}
from {{ package }}.contract import Columns, Input, load_contract
from {{ package }}.data import load_dataset
from {{ package }}.predictor import Predictor
{%- if stateful %}
from {{ package }}.state import open_store
{%- endif %}

Outputs = dict[str, Any]
Score = Callable[[Columns], Outputs]
ARROW_TYPES = {"number": pa.float64(), "integer": pa.int64(), "boolean": pa.bool_()}


ROW = "{:>10}  {:<26} {:>8} {:>10} {:>6} {:>12}"


{% if stateful -%}
def write_input(
    path: Path, rows: int, chunk_rows: int, entities: "npt.NDArray[np.int64] | None" = None
) -> None:
    """`rows` rows of the training data, repeated, written chunk by chunk, typed per kind;
    with `entities` (an entity per row), an `entity_id` column and the first half of the
    inputs only."""
    contract = load_contract()
    sample = load_dataset(BatchSettings().training_data, contract).columns
    inputs = [*contract.numbers, *contract.categories]
    written = inputs if entities is None else given_inputs(contract.inputs)
    fields = [(item.name, ARROW_TYPES.get(item.kind, pa.string())) for item in written]
    schema = pa.schema(fields if entities is None else [("entity_id", pa.string()), *fields])
    with pq.ParquetWriter(path, schema) as writer:
        for start in range(0, rows, chunk_rows):
            count = min(chunk_rows, rows - start)
            chunk = sample.take(np.arange(start, start + count) % len(sample))
            values = [*chunk.numbers.T.astype(np.float64), *chunk.categories.T]
            arrays = [
                arrow_column(item, value)
                for item, value in zip(inputs, values, strict=True)
                if item in written
            ]
            if entities is not None:
                ids = entities[start : start + count]
                arrays.insert(0, pa.array([f"e-{entity}" for entity in ids.tolist()]))
            writer.write_table(pa.Table.from_arrays(arrays, schema=schema))


def given_inputs(inputs: "tuple[Input, ...]") -> "list[Input]":
    """What the stateful rows give: the first half of the inputs (the state has the rest)."""
    return list(inputs[: len(inputs) // 2])


def write_state(state_url: str, entities: int) -> None:
    """The state of `entities` entities, `e-<n>`: the training data's rows, repeated."""
    contract = load_contract()
    sample = load_dataset(BatchSettings().training_data, contract).columns.records(contract)
    store = open_store(state_url)
    try:
        for start in range(0, entities, 50_000):
            batch = range(start, min(start + 50_000, entities))
            store.put_many((f"e-{n}", sample[n % len(sample)]) for n in batch)
    finally:
        store.close()
{%- else -%}
def write_input(path: Path, rows: int, chunk_rows: int) -> None:
    """`rows` rows of the training data, repeated, written chunk by chunk, typed per kind."""
    contract = load_contract()
    sample = load_dataset(BatchSettings().training_data, contract).columns
    inputs = [*contract.numbers, *contract.categories]
    schema = pa.schema([(item.name, ARROW_TYPES.get(item.kind, pa.string())) for item in inputs])
    with pq.ParquetWriter(path, schema) as writer:
        for start in range(0, rows, chunk_rows):
            count = min(chunk_rows, rows - start)
            chunk = sample.take(np.arange(start, start + count) % len(sample))
            values = [*chunk.numbers.T.astype(np.float64), *chunk.categories.T]
            arrays = [arrow_column(item, value) for item, value in zip(inputs, values, strict=True)]
            writer.write_table(pa.Table.from_arrays(arrays, schema=schema))
{%- endif %}


def arrow_column(item: Input, values: npt.NDArray[Any]) -> pa.Array:
    """One input's values as its kind's Arrow column, null where missing."""
    if item.kind == "category":
        return pa.array([None if value == "" else value for value in values], pa.string())
    return pa.array(values, from_pandas=True).cast(ARROW_TYPES[item.kind])


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


{%- if engine == "spark" %}


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
        output.commit(part, *score_chunk(chunk, part, predictor, settings.run_id))
    return time.perf_counter() - started
{%- endif %}


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


{% if stateful -%}
def run_job(
    path: Path, output_dir: Path, chunk_rows: int, model_dir: Path, *, stateful: bool = False
) -> tuple[float, float]:
    """Seconds and peak resident memory (MiB) of the job scoring `path` in its own process
    (joined with the stored state when `stateful`).
{%- else -%}
def run_job(path: Path, output_dir: Path, chunk_rows: int, model_dir: Path) -> tuple[float, float]:
    """Seconds and peak resident memory (MiB) of the job scoring `path` in its own process.
{%- endif %}

    Memory is the job's process tree, sampled while it runs (the rusage of a child would also
    count the memory of the process that started it, and none of the child's children).
    """
    command = [
        sys.executable,
        "-m",
        "{{ package }}.score",
        f"--input={path}",
        f"--output-dir={output_dir}",
        f"--run-id=bench-{path.stem}",
        f"--chunk-rows={chunk_rows}",
        f"--model-dir={model_dir}",
{%- if stateful %}
        f"--entity-id-column={'entity_id' if stateful else ''}",
{%- endif %}
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
{%- if stateful %}
    parser.add_argument(
        "--entities", type=int, default=1_000_000, help="entities in the state store"
    )
    parser.add_argument("--state-url", help="the state store (default: SQLite, in scratch)")
{%- endif %}
    arguments = parser.parse_args()
    sizes = [int(size) for size in arguments.rows.split(",")]
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
{%- if legal %}
        # Every variant audits its predictions, as the project does, into the scratch directory.
        os.environ["{{ package | upper }}_AUDIT_LOG_PATH"] = str(work / "audit.jsonl")
{%- endif %}
        settings = BatchSettings()
        model_dir = settings.model_dir
        predictor = Predictor.from_settings(settings)
        print(f"model {predictor.model_version}, {len(predictor.feature_names)} inputs")
        print(f"chunks of {arguments.chunk_rows} rows, naive baseline on {arguments.naive_rows}")
{%- if stateful %}
        # The job reads the state store its settings name: this one.
        state_url = arguments.state_url or f"sqlite:///{work / 'state' / 'entities.db'}"
        os.environ["{{ package | upper }}_STATE_URL"] = state_url
        started = time.perf_counter()
        write_state(state_url, arguments.entities)
        given = len(given_inputs(load_contract().inputs))
        print(
            f"state of {arguments.entities} entities in {state_url}"
            f" ({time.perf_counter() - started:.0f} s to store); stateful rows give"
            f" {given} of {len(predictor.feature_names)} inputs"
        )
{%- endif %}
{%- if engine == "spark" %}
        write_input(work / "one.parquet", 1, arguments.chunk_rows)
        startup, _ = run_job(work / "one.parquet", work / "predictions", 1, model_dir)
        print(f"job startup (Spark, a Python worker, model load; one row): {startup:.2f} s")
{%- else %}
        write_input(work / "empty.parquet", 0, arguments.chunk_rows)
        startup, _ = run_job(work / "empty.parquet", work / "predictions", 1, model_dir)
        print(f"job startup (imports, model load, an empty input): {startup:.2f} s")
{%- endif %}
        print(ROW.format("rows", "variant", "seconds", "rows/s", "x raw", "peak RSS MiB"))
        for rows in sizes:
            path = work / f"input-{rows}.parquet"
            write_input(path, rows, arguments.chunk_rows)
            raw = loop(path, work / "raw.parquet", arguments.chunk_rows, raw_scorer(model_dir))
            core = loop(path, work / "core.parquet", arguments.chunk_rows, core_scorer(predictor))
{%- if engine == "spark" %}
            single = one_process(path, work / "predictions", arguments.chunk_rows, predictor)
{%- endif %}
            job, peak = run_job(path, work / "predictions", arguments.chunk_rows, model_dir)
            naive = naive_seconds_per_row(path, min(rows, arguments.naive_rows), predictor) * rows
{%- if stateful %}
            # Another file, so another run id: the same rows, naming their entities.
            stateful_path = work / f"stateful-{rows}.parquet"
            entities = np.random.default_rng(7).integers(0, arguments.entities, rows)
            write_input(stateful_path, rows, arguments.chunk_rows, entities)
            stateful, stateful_peak = run_job(
                stateful_path, work / "predictions", arguments.chunk_rows, model_dir, stateful=True
            )
            stateful_path.unlink()
{%- endif %}
            for variant, seconds, memory in (
                ("raw limit (pyarrow + onnx)", raw, ""),
                ("core limit (score)", core, ""),
{%- if engine == "spark" %}
                ("one process (pandas loop)", single, ""),
{%- endif %}
                ("job ({{ engine }})", job, f"{peak:.0f}"),
                ("job, startup excluded", job - startup, ""),
{%- if stateful %}
                ("job, stateful", stateful, f"{stateful_peak:.0f}"),
                ("job, stateful, no startup", stateful - startup, ""),
{%- endif %}
                ("naive apply (extrapolated)", naive, ""),
            ):
                rate, relative = f"{rows / seconds:,.0f}", f"{raw / seconds:.2f}"
                print(ROW.format(rows, variant, f"{seconds:.2f}", rate, relative, memory))
{%- if stateful %}
            print(
                f"{rows:>10}  stateful / stateless: {job / stateful:.2f} x the rows per second"
                f" ({(job - startup) / (stateful - startup):.2f} x without startup; target 0.7)"
            )
{%- endif %}
            path.unlink()


if __name__ == "__main__":
    main()
