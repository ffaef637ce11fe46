"""What the legal review changes in the batch benchmark (bench_batch.py): nothing, this
project has none (it was generated with `legal_review=no`), so no prediction is audited."""

from pathlib import Path


def audit_into(work: Path) -> None:
    """Nothing is audited."""
