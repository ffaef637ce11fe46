"""The regressor's column in the predictions table: the predicted value."""

from typing import Any

from .scores import Scores

COLUMNS: tuple[tuple[str, str], ...] = (("value", "DOUBLE PRECISION NOT NULL"),)
"""Name and SQL type of each column, named as the fields of `Prediction`."""


def columns(scores: Scores) -> dict[str, list[Any]]:
    """The batch's answers, column by column, in `COLUMNS` order."""
    return {"value": scores.values.tolist()}
