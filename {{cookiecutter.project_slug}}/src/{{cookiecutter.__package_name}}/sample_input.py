"""Writes sample input for the batch job: the training data's rows, plus a few bad ones.

    python -m {{ cookiecutter.__package_name }}.sample_input data/sample.csv   # or .parquet

Every cell is written as text, as a CSV holds it; the job parses each input per its kind in
features.yaml. The bad rows (a value that is not a number, an infinite value, a value float32
cannot hold, an empty cell) show where rejected rows go: the job scores every other row,
including an empty cell where features.yaml allows it and a category level never seen in
training. What the rows say of their entities is state_join.py's (`with_sample_entities`,
`sample_rows`).
"""

import argparse
from dataclasses import dataclass
from itertools import cycle
from pathlib import Path

import numpy as np
import pandas as pd

from .batch_validation import MISSING, NOT_A_NUMBER, OUT_OF_RANGE
from .contract import MISSING_LEVEL, Contract, Input, load_contract
from .data import load_dataset, load_keys
from .settings import Settings
from .state_join import sample_rows, with_sample_entities

UNSEEN_LEVEL = "a level never seen in training"


@dataclass(frozen=True)
class BadCell:
    """One sample row's deliberately bad cell: the job rejects the row with `reason`, or
    scores it when `reason` is None."""

    input: str
    text: str | None
    reason: str | None


def bad_cells(contract: Contract) -> list[BadCell]:
    """The sample's bad cells, one per bad row, for the inputs this contract has."""
    cells = []
    numeric = [item for item in contract.numbers if item.kind != "boolean"]
    problems = (("not a number", NOT_A_NUMBER), ("inf", OUT_OF_RANGE), ("1e39", OUT_OF_RANGE))
    for (text, problem), item in zip(problems, cycle(numeric), strict=False):
        cells.append(BadCell(item.name, text, f"{item.name}: {problem}"))
    missing = contract.inputs[len(cells) % len(contract.inputs)]
    reason = None if missing.nullable else f"{missing.name}: {MISSING}"
    cells.append(BadCell(missing.name, None, reason))
    cells += [BadCell(item.name, UNSEEN_LEVEL, None) for item in contract.categories[:1]]
    return cells


def spellings(item: Input) -> tuple[str, str]:
    """How a boolean input's true and false are written: as in the training file."""
    if item.true_values and item.false_values:
        return item.true_values[0], item.false_values[0]
    return "true", "false"


def sample_frame(repeat: int = 1) -> pd.DataFrame:
    """The training data's rows `repeat` times, their keys first (features.yaml's `keys`),
    then one row per bad cell (all as text)."""
    contract = load_contract()
    columns = load_dataset(Settings().training_data, contract).columns
    frame = pd.DataFrame(index=range(len(columns)))
    for index, item in enumerate(contract.numbers):
        values = columns.numbers[:, index].astype(np.float64)
        if item.kind == "boolean":
            # As the training file spells them (Yes/No ...), or true/false.
            text = np.where(values == 1, *spellings(item))
        elif item.kind == "integer":
            text = np.nan_to_num(values).astype(np.int64).astype(str)
        else:
            text = values.astype(str)
        frame[item.name] = pd.Series(text, dtype="string").mask(np.isnan(values))
    for index, item in enumerate(contract.categories):
        levels = pd.Series(columns.categories[:, index], dtype="string")
        frame[item.name] = levels.mask(levels == MISSING_LEVEL)
    keys = load_keys(Settings().training_data, contract)
    frame = pd.concat([keys, frame[[item.name for item in contract.inputs]]], axis=1)
    frame = with_sample_entities(frame)
    frame = pd.concat([frame] * repeat, ignore_index=True)
    cells = bad_cells(contract)
    bad = frame.iloc[: len(cells)].copy()
    for row, cell in enumerate(cells):
        bad.iloc[row, bad.columns.get_loc(cell.input)] = cell.text
    return sample_rows(frame, bad)


def write_sample(path: Path) -> int:
    """Write the sample rows to `path` (.csv or .parquet); returns how many."""
    frame = sample_frame()
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".csv":
        frame.to_csv(path, index=False)
    else:
        frame.to_parquet(path, index=False)
    return len(frame)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", type=Path, help="the file to write (.csv or .parquet)")
    path = parser.parse_args(argv).path
    print(f"wrote {write_sample(path)} sample rows to {path}")


if __name__ == "__main__":
    main()
