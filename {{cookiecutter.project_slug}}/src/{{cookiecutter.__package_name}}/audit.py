"""The prediction audit log: one append-only JSON line per prediction.

A record holds the UTC time, the model version, the sha256 of the input and the whole
output. The input itself is not stored: `input_digest` of a row the caller kept proves which
record belongs to it. Rotate or ship the file with your log tooling; nothing here rewrites it.
"""

import hashlib
import json
import math
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .contract import MISSING_LEVEL, Columns
from .schema import Scores


def is_missing(value: Any) -> bool:
    return value == MISSING_LEVEL or (isinstance(value, float) and math.isnan(value))


def input_digest(feature_names: Sequence[str], row: Sequence[Any]) -> str:
    """sha256 of the row as the model saw it: canonical JSON of the values by name (numbers
    as float32, categories as text), missing values as null."""
    values = {
        name: None if is_missing(value) else value
        for name, value in zip(feature_names, row, strict=True)
    }
    canonical = json.dumps(values, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


class AuditLog:
    """Appends one record per prediction to a JSON lines file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def record(
        self,
        feature_names: Sequence[str],
        rows: Columns,
        scores: Scores,
    ) -> None:
        """Append the records of one batch with a single write."""
        time = datetime.now(UTC).isoformat()
        lines = "".join(
            json.dumps(
                {
                    "time": time,
                    "model_version": scores.model_version,
                    "input_sha256": input_digest(feature_names, row),
                    "output": output,
                }
            )
            + "\n"
            for row, output in zip(
                (
                    [*numbers, *categories]
                    for numbers, categories in zip(
                        rows.numbers.tolist(), rows.categories.tolist(), strict=True
                    )
                ),
                scores.outputs(),
                strict=True,
            )
        )
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as log:
            log.write(lines)
