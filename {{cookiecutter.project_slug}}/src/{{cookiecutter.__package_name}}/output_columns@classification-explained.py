"""The classifier's columns in the predictions table: the most probable class, each class's
probability as one JSON object, so that a table holds any number of classes, and how much
each input moved the answer, as another (the legal review's explanation)."""

import json
from typing import Any

from .scores import Scores

COLUMNS: tuple[tuple[str, str], ...] = (
    ("label", "TEXT NOT NULL"),
    ("probabilities", "{json} NOT NULL"),
    ("explanation", "{json} NOT NULL"),
)
"""Name and SQL type (`{json}`: the store's JSON type) of each column, named as the fields of
`Prediction`."""


def columns(scores: Scores) -> dict[str, list[Any]]:
    """The batch's answers, column by column, in `COLUMNS` order."""
    return {
        "label": scores.predicted_labels().tolist(),
        "probabilities": [
            json.dumps(dict(zip(scores.labels, row, strict=True)))
            for row in scores.probabilities.tolist()
        ],
        "explanation": [
            json.dumps(dict(zip(scores.feature_names, row, strict=True)))
            for row in scores.explanations.tolist()
        ],
    }
