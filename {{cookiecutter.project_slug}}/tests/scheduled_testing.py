"""What the scheduled function's tests share: the input file they drop, and how they read
what it wrote."""

import csv
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from {{ cookiecutter.__package_name }}.data import Dataset
from {{ cookiecutter.__package_name }}.lambda_state import ROW_ID
from {{ cookiecutter.__package_name }}.predictor import Predictor
from {{ cookiecutter.__package_name }}.scheduled import FileResult, flatten, to_csv
from {{ cookiecutter.__package_name }}.schema import Features
from {{ cookiecutter.__package_name }}.storage import Storage

from contract_testing import CONTRACT, complete_rows

EVENT = Path(__file__).resolve().parents[1] / "events" / "scheduled.json"
ENV_PREFIX = "{{ cookiecutter.__package_name | upper }}_"
ROWS = 8
NAMES = [item.name for item in CONTRACT.inputs]
NUMBER = next(item for item in CONTRACT.inputs if item.kind != "category")
"""An input a word is not a valid value of (a word is a level of a category)."""
ID = ROW_ID
"""The column naming each row (with state, its entity)."""

Score = Callable[[Storage], list[FileResult]]
"""Scores the files pending in a storage."""


def input_file(held_out: Dataset) -> bytes:
    """ROWS valid rows with an id column, a row with a word in it and one with an empty cell."""
    lines: list[dict[str, Any]] = [
        {ID: f"row-{i}", **row} for i, row in enumerate(complete_rows(held_out, ROWS))
    ]
    lines.insert(3, {**lines[0], ID: "word", NUMBER.name: "twelve"})
    lines.append({**lines[0], ID: "short", NAMES[-1]: None})
    return to_csv([ID, *NAMES], lines)


def read_csv(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))


def assert_predicted(
    written: list[dict[str, str]], predictor: Predictor, inputs: list[dict[str, Any]]
) -> None:
    """The prediction lines written are the row's id and the model's prediction for `inputs`."""
    expected = predictor.predict([Features.model_validate(row) for row in inputs])
    assert len(written) == len(expected)
    for line, prediction in zip(written, expected, strict=True):
        flat = flatten(prediction)
        assert line.keys() == {ID, *flat}
        for name, value in flat.items():
            if isinstance(value, float):
                assert float(line[name]) == pytest.approx(value, abs=1e-6)
            else:
                assert line[name] == str(value)
