"""What the batch benchmark (bench_batch.py) adds for the per-entity state: the same job on
the same rows, each naming an entity (`entity_id`, drawn at random from `--entities`
entities) and giving only the first half of the inputs. The other half comes from the
entities' stored state, a SQLite state store in the scratch directory (`--state-url` for
another, PostgreSQL say), joined onto each chunk as state_join.py does (the pandas engine
reads the table once as Arrow columns and joins each chunk; Dask queries once per partition).
Target: at least 0.7 of the stateless job's rows per second ("x stateless").
"""

import argparse
import os
import time
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.parquet as pq
from batch_job import Variant, arrow_field, input_chunks, run_job

from {{ cookiecutter.__package_name }}.batch import BatchSettings
from {{ cookiecutter.__package_name }}.contract import Input, load_contract
from {{ cookiecutter.__package_name }}.data import load_dataset
from {{ cookiecutter.__package_name }}.state import open_store

STATELESS_OPTIONS = ("--entity-id-column=",)
"""The job's options for rows that give every input: no entity, no state read."""


def add_state_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--entities", type=int, default=1_000_000, help="entities in the state store"
    )
    parser.add_argument("--state-url", help="the state store (default: SQLite, in scratch)")


def given_inputs(inputs: tuple[Input, ...]) -> list[Input]:
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


def write_stateful_input(
    path: Path, rows: int, chunk_rows: int, entities: npt.NDArray[np.int64]
) -> None:
    """`rows` rows of the training data, repeated, each naming its entity (`entities`, one
    per row) in an `entity_id` column and giving the first half of the inputs only."""
    given = given_inputs(load_contract().inputs)
    schema = pa.schema([("entity_id", pa.string()), *(arrow_field(item) for item in given)])
    with pq.ParquetWriter(path, schema) as writer:
        for numbers, columns in input_chunks(rows, chunk_rows):
            ids = pa.array([f"e-{entity}" for entity in entities[numbers.start : numbers.stop]])
            arrays = [ids, *(columns[item.name] for item in given)]
            writer.write_table(pa.Table.from_arrays(arrays, schema=schema))


class StateBenchmark:
    """The stateful job next to the stateless one, on a state store it fills first."""

    def __init__(self, arguments: argparse.Namespace, work: Path, inputs: int) -> None:
        self.entities: int = arguments.entities
        # The job reads the state store its settings name: this one.
        state_url = arguments.state_url or f"sqlite:///{work / 'state' / 'entities.db'}"
        os.environ["{{ cookiecutter.__package_name | upper }}_STATE_URL"] = state_url
        started = time.perf_counter()
        write_state(state_url, self.entities)
        given = len(given_inputs(load_contract().inputs))
        print(
            f"state of {self.entities} entities in {state_url}"
            f" ({time.perf_counter() - started:.0f} s to store); stateful rows give"
            f" {given} of {inputs} inputs"
        )

    def measure(
        self, rows: int, work: Path, chunk_rows: int, model_dir: Path, job: float, startup: float
    ) -> tuple[list[Variant], list[str]]:
        """The stateful job's lines of the table, and its comparison with the stateless `job`
        (seconds, `startup` of them its startup)."""
        # Another file, so another run id: the same rows, naming their entities.
        path = work / f"stateful-{rows}.parquet"
        entities = np.random.default_rng(7).integers(0, self.entities, rows)
        write_stateful_input(path, rows, chunk_rows, entities)
        stateful, peak = run_job(
            path, work / "predictions", chunk_rows, model_dir, ("--entity-id-column=entity_id",)
        )
        path.unlink()
        comparison = (
            f"{rows:>10}  stateful / stateless: {job / stateful:.2f} x the rows per second"
            f" ({(job - startup) / (stateful - startup):.2f} x without startup; target 0.7)"
        )
        variants = [
            ("job, stateful", stateful, f"{peak:.0f}"),
            ("job, stateful, no startup", stateful - startup, ""),
        ]
        return variants, [comparison]
