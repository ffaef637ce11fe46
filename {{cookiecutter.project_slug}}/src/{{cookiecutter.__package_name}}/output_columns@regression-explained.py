"""The regressor's columns in the predictions table: the predicted value, and how much each
input moved it, as one JSON object (the legal review's explanation)."""

import json
from typing import Any

from .scores import Scores

COLUMNS: tuple[tuple[str, str], ...] = (
    ("value", "DOUBLE PRECISION NOT NULL"),
    ("explanation", "{json} NOT NULL"),
)
"""Name and SQL type (`{json}`: the store's JSON type) of each column, named as the fields of
`Prediction`."""


def columns(scores: Scores) -> dict[str, list[Any]]:
    """The batch's answers, column by column, in `COLUMNS` order."""
    return {
        "value": scores.values.tolist(),
        "explanation": [
            json.dumps(dict(zip(scores.feature_names, row, strict=True)))
            for row in scores.explanations.tolist()
        ],
    }
