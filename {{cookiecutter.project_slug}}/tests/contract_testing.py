"""Rows drawn from the feature contract, so the tests hold for any features.yaml."""

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import strategies as st

from {{ cookiecutter.__package_name }}.contract import MISSING_LEVEL, Columns, Contract, Input, load_contract
from {{ cookiecutter.__package_name }}.data import Dataset

CONTRACT = load_contract()
# Scores are float32: a batch of another size or order may round differently in the last place.
RTOL, ATOL = 1e-5, 1e-6
MIXED = Contract.model_validate(
    {
        "target": CONTRACT.target.model_dump(exclude_none=True),
        "inputs": [
            {
                "name": "min_price",
                "column": "Min.Price",
                "kind": "number",
                "nullable": True,
                "min": 6.7,
                "max": 61.9,
            },
            {"name": "visits", "column": "visits", "kind": "integer", "min": 0, "max": 20},
            {"name": "member", "column": "member", "kind": "boolean"},
            {
                "name": "country",
                "column": "country",
                "kind": "category",
                "nullable": True,
                "levels": ["de", "fr", "nl"],
            },
            {"name": "segment", "column": "segment", "kind": "category", "levels": ["a", "b"]},
        ],
    }
)
"""A contract with every kind, nullable and not, whatever the project's own: the policies for
missing values and unseen levels are tested on it in every project."""


def value_strategy(item: Input) -> st.SearchStrategy[Any]:
    """Valid values of one input: within its training range or levels; null when nullable."""
    values: st.SearchStrategy[Any]
    low = item.min if item.min is not None else -1000.0
    high = item.max if item.max is not None else 1000.0
    if item.kind == "category":
        values = st.sampled_from(item.levels or ("",))
    elif item.kind == "boolean":
        values = st.booleans()
    elif item.kind == "integer":
        values = st.integers(math.ceil(low), math.floor(high))
    else:
        # As float32 holds them: what the model computes with.
        values = st.floats(low, high).map(lambda value: float(np.float32(value)))
    return st.none() | values if item.nullable else values


def rows(contract: Contract = CONTRACT) -> st.SearchStrategy[dict[str, Any]]:
    """Valid request rows: every input of the contract."""
    return st.fixed_dictionaries({item.name: value_strategy(item) for item in contract.inputs})


def records(columns: Columns, contract: Contract = CONTRACT) -> list[dict[str, Any]]:
    """Columns as request rows (None where a value is missing), in the contract's order."""
    return columns.records(contract)


def complete_rows(
    dataset: Dataset, count: int, contract: Contract = CONTRACT
) -> list[dict[str, Any]]:
    """The first `count` rows of `dataset` that have every input."""
    present = ~np.isnan(dataset.columns.numbers).any(axis=1) & ~(
        dataset.columns.categories == MISSING_LEVEL
    ).any(axis=1)
    return records(dataset.columns.take(np.flatnonzero(present)[:count]), contract)


def valid_row(dataset: Dataset) -> dict[str, Any]:
    """One row with every input present."""
    return complete_rows(dataset, 1)[0]


def first(kind: str, contract: Contract = CONTRACT) -> Input | None:
    """The first input of a kind, if the contract has one."""
    return next((item for item in contract.inputs if item.kind == kind), None)


def first_name(*kinds: str, contract: Contract = CONTRACT) -> str:
    """The name of the first input of the first of `kinds` the contract has."""
    return next(item.name for kind in kinds for item in contract.inputs if item.kind == kind)


def synthetic_table(rows: int, contract: Contract = CONTRACT, seed: int = 7) -> pd.DataFrame:
    """A training table drawn from the contract, its target learnable from the first input:
    what the tests train on where the project's own table is not at hand (a fresh clone)."""
    generator = np.random.default_rng(seed)
    table: dict[str, Any] = {}
    for item in contract.inputs:
        low = item.min if item.min is not None else 0.0
        high = item.max if item.max is not None and item.max > low else low + 1.0
        if item.kind == "category":
            values: Any = generator.choice(list(item.levels or ("",)), rows).astype(object)
        elif item.kind == "boolean":
            values = generator.integers(0, 2, rows).astype(bool).astype(object)
        elif item.kind == "integer":
            values = generator.integers(math.ceil(low), math.floor(high) + 1, rows).astype(object)
        else:
            values = generator.uniform(low, high, rows).astype(object)
        if item.nullable:
            values[generator.random(rows) < 0.05] = None
        table[item.column] = values
    frame = pd.DataFrame(table)
    first = contract.inputs[0]
    signal = frame[first.column].astype("string").fillna("").rank(method="dense").to_numpy()
    signal = (signal - signal.min()) / max(float(np.ptp(signal)), 1.0)
    if contract.labels:
        classes = np.minimum((signal * len(contract.labels)).astype(int), len(contract.labels) - 1)
        frame[contract.target.column] = np.asarray(contract.labels, dtype=object)[classes]
    else:
        frame[contract.target.column] = signal * 100 + generator.normal(0, 1, rows)
    return frame


@dataclass(frozen=True)
class MixedModel:
    """A model of the project's kind fitted on a table drawn from `MIXED`."""

    pipeline: Any
    """The fitted scikit-learn pipeline."""
    session: Any
    """Its ONNX export, in onnxruntime."""
    rows: Columns
    """Twenty of its training rows."""


def close_to(expected: Any) -> Any:
    """`expected` as pytest.approx within float32 rounding (`RTOL`, `ATOL`)."""
    return pytest.approx(expected, rel=RTOL, abs=ATOL)


def constant_columns(count: int, value: float) -> Columns:
    """`count` rows: every number `value`, every category its first level."""
    return Columns(
        np.full((count, len(CONTRACT.numbers)), value, dtype=np.float32),
        np.array(
            [[item.levels[0] for item in CONTRACT.categories if item.levels]] * count, dtype=object
        ).reshape(count, len(CONTRACT.categories)),
    )
