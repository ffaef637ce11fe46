"""What the batch benchmark (bench_batch.py) adds for the per-entity state: nothing, this
project has none (it was generated with `stateful=no`), so every row gives all its inputs."""

import argparse
from pathlib import Path

from batch_job import Variant

STATELESS_OPTIONS: tuple[str, ...] = ()
"""The job's options for rows that give every input: none, it reads no state."""


def add_state_arguments(parser: argparse.ArgumentParser) -> None:
    """No per-entity state: no options."""


class StateBenchmark:
    """No per-entity state: nothing to store, no stateful job to run."""

    def __init__(self, arguments: argparse.Namespace, work: Path, inputs: int) -> None:
        """Nothing to set up."""

    def measure(
        self, rows: int, work: Path, chunk_rows: int, model_dir: Path, job: float, startup: float
    ) -> tuple[list[Variant], list[str]]:
        """No lines besides the stateless job's."""
        return [], []
