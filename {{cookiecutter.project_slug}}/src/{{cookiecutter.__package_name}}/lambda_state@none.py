"""What the functions score: the features as a request or a row of an input file gives them.

No per-entity state completes them: a `POST /predict` body is every input of features.yaml,
and a row of an input file has a column per input (the columns that are not inputs, ids and
keys, are copied through to the predictions).
"""

from collections.abc import Callable, Mapping, Sequence
from http import HTTPStatus
from typing import Any

import numpy as np

from .contract import MISSING_LEVEL, load_contract
from .schema import Features
from .settings import Settings

Request = Features
"""A `POST /predict` body: every input of features.yaml."""
Row = Mapping[str, str | None]
"""A row of an input file, as `csv.DictReader` reads it."""
Fill = Callable[[dict[str, Any]], dict[str, Any]]
"""Completes the input values read from a row's cells."""
Problem = tuple[HTTPStatus, list[dict[str, Any]]]
"""An HTTP status and the problems it answers (`loc`, `msg`, `type` each)."""

ROW_ID = "id"
"""The column naming each row of the sample input file (copied through, as every column that
is not an input is)."""
CONTRACT = load_contract()


def as_given(values: dict[str, Any]) -> dict[str, Any]:
    """A row's values, as its cells give them."""
    return values


class State:
    """No state: requests and rows are scored as they are."""

    def features(self, requests: Sequence[Features]) -> list[Features]:
        """The requests' feature rows: the requests themselves."""
        return list(requests)

    def fills(self, rows: Sequence[Row]) -> list[Fill]:
        """Nothing completes a row: each is scored with its own values."""
        return [as_given for _ in rows]


class LambdaSettings(Settings):
    """The shared settings: there is no state to locate."""

    def state(self) -> State:
        return State()


REJECTIONS: dict[type[Exception], Callable[[Any], Problem]] = {}
"""No state, no errors of its own: a request is validated as a whole by its route."""


def sample_rows(count: int) -> list[dict[str, Any]]:
    """The first `count` rows of the training data (the `training_data` setting, the sample
    data set by default) that have every input, as a caller sends them (needs the train extra)."""
    from .data import load_dataset

    columns = load_dataset(Settings().training_data).columns
    missing = np.isnan(columns.numbers).any(axis=1)
    missing |= (columns.categories == MISSING_LEVEL).any(axis=1)
    chosen = columns.take(np.flatnonzero(~missing)[:count])
    kinds: dict[str, Callable[[np.float32], Any]] = {
        "integer": int,
        "boolean": bool,
        "number": lambda value: float(str(value)),
    }
    rows = []
    for numbers, categories in zip(chosen.numbers, chosen.categories.tolist(), strict=True):
        # float(str(float32)): the shortest decimal that is the same float32, as typed.
        values = {
            item.name: kinds[item.kind](value)
            for item, value in zip(CONTRACT.numbers, numbers, strict=True)
        }
        values.update(zip((item.name for item in CONTRACT.categories), categories, strict=True))
        rows.append({item.name: values[item.name] for item in CONTRACT.inputs})
    return rows


def sample_request() -> dict[str, Any]:
    """The `POST /predict` body of the training data's first complete row (needs the train
    extra): `make` rewrites events/predict.json with it whenever features.yaml changes."""
    (row,) = sample_rows(1)
    return row


def sample_file(rows: int) -> tuple[list[str], list[dict[str, Any]]]:
    """The header and lines of a sample input file: `rows` rows of the training data with an
    `id` column, and one row whose numbers are not numbers, which lands in the rejects (needs
    the train extra)."""
    lines = [{ROW_ID: f"sample-{i}", **row} for i, row in enumerate(sample_rows(rows))]
    if CONTRACT.numbers:
        broken = dict.fromkeys((item.name for item in CONTRACT.numbers), "unknown")
        lines.append({**lines[0], ROW_ID: "broken", **broken})
    return [ROW_ID, *(item.name for item in CONTRACT.inputs)], lines
