"""Validation of a batch chunk against the feature contract: the rows the model can take,
as it takes them, and for each row it cannot, why (batch.py scores the rest)."""

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa

from .contract import MISSING_LEVEL, Columns, Contract, Input


class InputError(Exception):
    """The input as a whole cannot be scored (a missing column, an unreadable source)."""


NOT_A_NUMBER = "not a number"
NOT_AN_INTEGER = "not an integer"
NOT_A_BOOLEAN = "not a boolean (true/false, or a spelling features.yaml gives it)"
MISSING = "missing"
OUT_OF_RANGE = "not finite or outside the float32 range"
PROBLEMS = ("", NOT_A_NUMBER, NOT_AN_INTEGER, NOT_A_BOOLEAN, MISSING, OUT_OF_RANGE)
"""What can be wrong with a value; validation marks each value with its index here (0: fine)."""


def validate(chunk: pa.Table, contract: Contract) -> tuple[Columns, dict[int, str]]:
    """The chunk's inputs as the model takes them (a row per input row) and, for each row
    that cannot be scored, why: {row position: reason}.

    Input columns are read by name (features.yaml). Number, integer and boolean inputs are
    parsed per kind, whether the column holds numbers or text; category inputs are kept as
    text, and a level never seen in training is scored (as none of the known levels). A row
    is rejected for its first bad input, in model order: a value that does not parse as its
    kind, an integer with a fraction, a number that is not finite or outside the float32
    range the model computes in, or a missing value where features.yaml says
    `nullable: false`.
    """
    absent_columns = [item.name for item in contract.inputs if item.name not in chunk.column_names]
    if absent_columns:
        raise InputError(
            f"the input has no column {', '.join(absent_columns)} (the inputs features.yaml names)"
        )
    width = len(contract.numbers) + len(contract.categories)
    # Filled column by column, then made row-major once: cheaper than row-major writes.
    numbers = np.empty((chunk.num_rows, len(contract.numbers)), dtype=np.float32, order="F")
    categories = np.empty((chunk.num_rows, len(contract.categories)), dtype=object)
    problems = np.zeros((chunk.num_rows, width), dtype=np.int8, order="F")
    for index, item in enumerate(contract.numbers):
        numbers[:, index], problems[:, index] = parse_numbers(chunk.column(item.name), item)
    for index, item in enumerate(contract.categories):
        text = decoded(chunk.column(item.name)).cast(pa.string())
        categories[:, index] = text.fill_null(MISSING_LEVEL).to_numpy(zero_copy_only=False)
        if not item.nullable:
            missing = text.is_null().to_numpy(zero_copy_only=False)
            problems[missing, len(contract.numbers) + index] = PROBLEMS.index(MISSING)
    columns = Columns(np.ascontiguousarray(numbers), categories)
    reasons: dict[int, str] = {}
    if not problems.any():
        return columns, reasons
    names = contract.names
    for row in np.flatnonzero(problems.any(axis=1)).tolist():
        first = int(np.argmax(problems[row] != 0))
        reasons[row] = f"{names[first]}: {PROBLEMS[problems[row, first]]}"
    return columns, reasons


def parse_numbers(
    column: pa.ChunkedArray, item: Input
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int8]]:
    """A number, integer or boolean input as float32 (NaN where missing), and per row the
    problem with its value (an index into PROBLEMS, 0 when fine)."""
    problems = np.zeros(len(column), dtype=np.int8)
    column = decoded(column)
    if is_numeric(column.type) or pa.types.is_null(column.type):
        values = column.cast(pa.float64()).to_numpy(zero_copy_only=False)
        if pa.types.is_boolean(column.type) or item.kind != "boolean":
            unparsed = np.zeros(len(column), dtype=bool)
        else:
            unparsed = ~np.isin(values, (0.0, 1.0)) & ~np.isnan(values)
    else:
        # Text (CSV, or a database's text column): what does not parse is not of the kind.
        text = column.cast(pa.string()).to_pandas()
        if item.kind == "boolean":
            parsed = text.str.strip().str.lower().map(item.boolean_text)
        else:
            parsed = pd.to_numeric(text, errors="coerce")
        values = parsed.to_numpy(dtype=np.float64, na_value=np.nan)
        unparsed = np.isnan(values) & text.notna().to_numpy()
    # A value beyond float32's range becomes infinite here: rejected below.
    with np.errstate(over="ignore"):
        numbers = values.astype(np.float32)
    problems[np.isinf(numbers)] = PROBLEMS.index(OUT_OF_RANGE)
    if item.kind == "integer":
        with np.errstate(invalid="ignore"):
            fraction = np.isfinite(values) & (values != np.trunc(values))
        problems[fraction] = PROBLEMS.index(NOT_AN_INTEGER)
    if unparsed.any():
        unparsable = NOT_A_BOOLEAN if item.kind == "boolean" else NOT_A_NUMBER
        problems[unparsed] = PROBLEMS.index(unparsable)
    if not item.nullable:
        problems[np.isnan(values) & ~unparsed] = PROBLEMS.index(MISSING)
    return numbers, problems


def decoded(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """A dictionary-encoded column (pandas categoricals in Parquet) as its values."""
    if pa.types.is_dictionary(column.type):
        return column.cast(column.type.value_type)
    return column


def is_numeric(column_type: pa.DataType) -> bool:
    checks = (pa.types.is_integer, pa.types.is_floating, pa.types.is_decimal, pa.types.is_boolean)
    return any(bool(check(column_type)) for check in checks)
