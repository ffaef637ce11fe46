"""The training data: a table whose columns the feature contract (features.yaml) names.

Give your own as a CSV or Parquet file (`make train DATA=...`, `--data`, or the
`{{ cookiecutter.__package_name | upper }}_TRAINING_DATA` setting). Without one, training reads the
sample data set (sample.py).

Rows without a target are dropped and counted; any other problem (a missing column, a value
that does not fit its kind, a missing value where the contract allows none) is refused with
a one-line `DataError`, never dropped.
"""

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.model_selection import train_test_split

from .contract import MISSING_LEVEL, Columns, Contract, Input, load_contract
from .contract_inference import MISSING_TEXT
from .sample import sample_table

HELD_OUT_FRACTION = 0.25
SEED = 20240611


class DataError(ValueError):
    """The training data does not fit the contract (a one-line message)."""


@dataclass(frozen=True)
class Dataset:
    """Inputs as the model takes them, and targets (class index, or value), row by row."""

    columns: Columns
    target: npt.NDArray[Any]
    dropped: int = 0
    """Rows left out because their target was missing."""

    def __len__(self) -> int:
        return len(self.target)

    def take(self, rows: npt.NDArray[np.intp]) -> "Dataset":
        return Dataset(self.columns.take(rows), self.target[rows])

    def fingerprint(self, contract: Contract) -> str:
        """sha256 of the input names, inputs and target: identifies the training data."""
        digest = hashlib.sha256()
        digest.update("\n".join(contract.names).encode())
        digest.update(np.ascontiguousarray(self.columns.numbers).tobytes())
        digest.update("\x1f".join(self.columns.categories.ravel().tolist()).encode())
        digest.update(np.ascontiguousarray(self.target).tobytes())
        return digest.hexdigest()


def read_table(path: Path) -> pd.DataFrame:
    """A CSV or Parquet file as a table; DataError for anything else or an unreadable file."""
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".parquet", ".pq"):
        raise DataError(f"{path}: not a CSV or Parquet file (give a .csv or .parquet file)")
    try:
        if suffix == ".csv":
            return pd.read_csv(path, keep_default_na=False, na_values=sorted(MISSING_TEXT))
        return pd.read_parquet(path)
    except FileNotFoundError as error:
        raise DataError(f"{path}: no such file") from error
    except pd.errors.EmptyDataError as error:
        raise DataError(f"{path}: the file is empty") from error
    except (pd.errors.ParserError, ValueError, OSError) as error:
        message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise DataError(f"{path}: cannot be read: {message}") from error


def numbers_of(values: "pd.Series[Any]", item: Input, source: str) -> npt.NDArray[np.float32]:
    """A number, integer or boolean column as float32, NaN where missing."""
    if item.kind == "boolean":
        if values.dtype == bool:
            flags: npt.NDArray[np.float32] = values.to_numpy(dtype=np.float32)
            return flags
        if pd.api.types.is_numeric_dtype(values):
            converted = values.where(values.isin((0, 1))).astype("Float32")
        else:
            text = values.astype("string").str.strip().str.lower()
            converted = text.map(item.boolean_text).astype("Float32")
    else:
        converted = pd.to_numeric(values, errors="coerce")
    invalid = converted.isna() & values.notna()
    if invalid.any():
        first = values[invalid].iloc[0]
        allowed = item.spelled() if item.kind == "boolean" else "numbers"
        raise DataError(
            f"{source}: column {item.column!r} ({item.kind}) holds {int(invalid.sum())} values"
            f" that are not {allowed}, for example {first!r}"
        )
    numbers: npt.NDArray[np.float32] = converted.to_numpy(dtype=np.float32, na_value=np.nan)
    return numbers


def columns_of(frame: pd.DataFrame, contract: Contract, source: str) -> Columns:
    """The contract's inputs from a table, checked against their kinds and nullability."""
    absent = [item.column for item in contract.inputs if item.column not in frame.columns]
    if absent:
        names = ", ".join(map(repr, absent))
        raise DataError(f"{source}: no column {names} (named in features.yaml)")
    for item in contract.inputs:
        missing = int(frame[item.column].isna().sum())
        if missing and not item.nullable:
            raise DataError(
                f"{source}: column {item.column!r} has {missing} missing values, but"
                f" features.yaml says nullable: false for {item.name} (make it nullable to impute)"
            )
    numbers = np.empty((len(frame), len(contract.numbers)), dtype=np.float32)
    for index, item in enumerate(contract.numbers):
        numbers[:, index] = numbers_of(frame[item.column], item, source)
    categories = np.empty((len(frame), len(contract.categories)), dtype=object)
    for index, item in enumerate(contract.categories):
        values = frame[item.column]
        categories[:, index] = np.where(values.isna(), MISSING_LEVEL, values.astype(str))
    return Columns(numbers, categories)


def target_of(frame: pd.DataFrame, contract: Contract, source: str) -> npt.NDArray[Any]:
    """The target as class indexes into the contract's levels, or as values."""
    target = contract.target
    if target.column not in frame.columns:
        raise DataError(f"{source}: no target column {target.column!r} (named in features.yaml)")
    values = frame[target.column]
    if target.kind == "number":
        converted = pd.to_numeric(values, errors="coerce")
        if (converted.isna() & values.notna()).any():
            raise DataError(f"{source}: target {target.column!r} holds values that are not numbers")
        numbers: npt.NDArray[np.float64] = converted.to_numpy(dtype=np.float64)
        return numbers
    levels = list(contract.labels)
    if pd.api.types.is_float_dtype(values) and (values.dropna() % 1 == 0).all():
        values = values.astype("Int64")  # whole-number classes read as floats: 1.0 is "1"
    text = values.astype(str)
    unknown = sorted(set(text) - set(levels))
    if unknown:
        raise DataError(
            f"{source}: target {target.column!r} holds {', '.join(map(repr, unknown[:5]))},"
            f" not among its levels {levels} in features.yaml"
        )
    classes: npt.NDArray[np.int64] = text.map(
        {level: index for index, level in enumerate(levels)}
    ).to_numpy(np.int64)
    return classes


def load_dataset(path: Path | None = None, contract: Contract | None = None) -> Dataset:
    """The training rows of `path` (default: the sample data set), per the contract."""
    contract = contract or load_contract()
    frame, source, dropped = training_frame(path, contract)
    return Dataset(columns_of(frame, contract, source), target_of(frame, contract, source), dropped)


def load_keys(path: Path | None = None, contract: Contract | None = None) -> pd.DataFrame:
    """The keys of the rows `load_dataset` keeps, in its order, by key name, as text (no
    column without keys). Never an input of the model: only carried beside its answers."""
    contract = contract or load_contract()
    frame, source, _ = training_frame(path, contract)
    absent = [item.column for item in contract.keys if item.column not in frame.columns]
    if absent:
        raise DataError(f"{source}: no key column {', '.join(map(repr, absent))}")
    keys = {item.name: frame[item.column].astype("string") for item in contract.keys}
    return pd.DataFrame(keys, index=frame.index).reset_index(drop=True)


def training_frame(path: Path | None, contract: Contract) -> tuple[pd.DataFrame, str, int]:
    """The table's rows with a target, where it comes from, and how many rows had none."""
    if path is None:
        frame, source = sample_table(), "the sample data set"
        if any(item.column not in frame.columns for item in contract.inputs):
            raise DataError(
                "features.yaml describes other data than the sample data set: give the training"
                " data (make train DATA=<file>, or --data <file>)"
            )
    else:
        frame, source = read_table(path), str(path)
    has_target = frame[contract.target.column].notna() if contract.target.column in frame else None
    if has_target is not None and not has_target.all():
        frame = frame[has_target]
    dropped = 0 if has_target is None else int((~has_target).sum())
    if frame.empty:
        raise DataError(f"{source}: no rows with a target to train on")
    return frame, source, dropped


def split(dataset: Dataset) -> tuple[Dataset, Dataset]:
    """The training part and the held-out part the metrics are measured on (deterministic)."""
    classification = dataset.target.dtype == np.int64
    training, held_out = train_test_split(
        np.arange(len(dataset)),
        test_size=HELD_OUT_FRACTION,
        random_state=SEED,
        stratify=dataset.target if classification else None,
    )
    return dataset.take(training), dataset.take(held_out)
