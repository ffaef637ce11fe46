"""What the batch benchmark (bench_batch.py) measures of the pandas engine: its startup
(imports and model load), timed on an empty input, and no reference of its own (the core
limit is its pipeline's loop already)."""

from pathlib import Path

from batch_job import Variant

from {{ cookiecutter.__package_name }}.predictor import Predictor

ENGINE = "pandas"
STARTUP = "imports, model load, an empty input"
STARTUP_ROWS = 0
"""The rows of the input the startup is timed on."""


def engine_references(
    path: Path, output_dir: Path, chunk_rows: int, predictor: Predictor
) -> list[Variant]:
    """None besides the job: it runs in one process, as the core limit does."""
    return []
