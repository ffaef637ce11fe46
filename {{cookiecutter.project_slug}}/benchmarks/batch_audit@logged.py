"""What the legal review changes in the batch benchmark (bench_batch.py): the job and the
core limit also compute each row's explanation (a model call on every row with each feature
ablated) and write one audit record per row; the raw limit does neither, so there the ratio
measures what those cost."""

import os
from pathlib import Path


def audit_into(work: Path) -> None:
    """Every variant audits its predictions, as the project does, into `work`."""
    os.environ["{{ cookiecutter.__package_name | upper }}_AUDIT_LOG_PATH"] = str(work / "audit.jsonl")
