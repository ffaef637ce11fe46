"""Infer the feature contract (features.yaml) from a table, for `make schema` (contract.py).

One pass over the rows, memory bounded by the number of columns, not of rows. Per column:

- true/false, yes/no, y/n or 1/0 values (any case): `boolean`, with the spellings the file
  uses (`true_values`/`false_values`, unless they are plain true/false); whole numbers,
  however the file stores them:
  `integer` (a CSV and a Parquet file of one table give one contract); other numbers:
  `number` (with the range seen); text with at most `MAX_LEVELS` distinct values, each
  repeated on average at least `MIN_ROWS_PER_LEVEL` times: `category` (with its levels);
- keys (`keys`: carried beside each prediction, never inputs), with a one-line note each:
  ID-like columns (text with more distinct values than that or whose values never repeat, or
  whole numbers all distinct),
  and the columns named as keys;
- left out, with a one-line note each: columns with no value at all or with one value only,
  numbers of magnitudes past `MAX_MAGNITUDE` (near float32's limit, where the model computes),
  and dates and times (derive numbers from them, such as the day of the week, as columns of
  their own);
- `nullable` when a value is missing; the name is the column as a Python identifier
  (`Min.Price` -> `min_price`, `ShelveLoc` -> `shelve_loc`).

The target must fit the model type: a number for regression, exactly two classes for binary
and two or more for multiclass classification. Every problem is a one-line `InferenceError`,
and the old features.yaml stays as it was.

This module needs only the standard library and PyYAML (pyarrow for Parquet files): the
template runs it at generation time too, when a project is generated from `training_data`.
"""

import csv
import datetime
import keyword
import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

MAX_LEVELS = 50
"""Most distinct values a text column may have to be a category."""
MIN_ROWS_PER_LEVEL = 2
MIN_ID_ROWS = 10
"""Text whose values never repeat over at least this many rows is ID-like (on a small table,
where the other rules do not apply yet)."""
MAX_EXACT_INTEGER = 2**53
MAX_MAGNITUDE = 1e32
"""Largest magnitude a number input may reach: the model computes in float32 (largest
3.4e38), and a sum over a million rows of such values must stay finite."""
"""Largest whole number a float holds exactly: beyond it a column is `number`, not `integer`."""
"""A text column whose values repeat less on average than this is ID-like."""
MISSING_TEXT = frozenset(
    {
        *("", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND"),
        *("1.#QNAN", "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null"),
    }
)
"""Text that means a missing value in a CSV file (pandas' list: training reads the same)."""
TRUE_TEXT = frozenset({"true", "yes", "y", "1"})
FALSE_TEXT = frozenset({"false", "no", "n", "0"})
"""A boolean's spellings (lowercase): the same word in any case."""
PLAIN_BOOLEAN_TEXT = frozenset({"true", "false"})
"""Spellings the contract does not record (any file's true/false, Parquet's booleans)."""
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$")
MODEL_TYPES = ("binary_classification", "multiclass_classification", "regression")


class InferenceError(ValueError):
    """The table cannot give a contract (a one-line message)."""


def identifier(column: str) -> str:
    """A column name as a Python identifier: `Min.Price` -> `min_price`,
    `ShelveLoc` -> `shelve_loc`, `mean radius (cm)` -> `mean_radius_cm`."""
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", column.strip())
    name = re.sub(r"[^0-9a-z]+", "_", words.lower()).strip("_") or "column"
    if name[0].isdigit() or keyword.iskeyword(name):
        name = f"x_{name}"
    return name


@dataclass
class ColumnProfile:
    """What one pass saw of a column."""

    column: str
    rows: int = 0
    missing: int = 0
    booleans: bool = True
    integers: bool = True
    numbers: bool = True
    dates: bool = True
    low: float = math.inf
    high: float = -math.inf
    distinct: set[Any] = field(default_factory=set)
    overflowed: bool = False
    """More distinct values than a category may have."""
    repeated: bool = False
    """A value was seen twice (among those tracked before overflowing)."""
    spellings: set[str] = field(default_factory=set)
    """How the boolean values are written (while the column may be a boolean)."""

    def add(self, value: Any) -> None:
        self.rows += 1
        if (
            value is None
            or value in MISSING_TEXT
            or (isinstance(value, float) and math.isnan(value))
        ):
            self.missing += 1
            return
        number = self._number(value)
        if self.booleans:
            self._spelling(value)
        self.dates &= isinstance(value, datetime.date) or (
            isinstance(value, str) and bool(DATE.match(value.strip()))
        )
        if number is None:
            self.numbers = self.integers = False
        else:
            # By value, not by storage: a Parquet float column of whole numbers (an integer
            # column with gaps, as pandas writes it) is whole numbers, as the CSV's `2006` is.
            # Past 2**53 every float is whole: such magnitudes are measurements, not counts.
            self.integers &= float(number).is_integer() and abs(number) <= MAX_EXACT_INTEGER
            self.low, self.high = min(self.low, number), max(self.high, number)
        if not self.overflowed:
            value = value.strip() if isinstance(value, str) else value
            self.repeated |= value in self.distinct
            self.distinct.add(value)
            self.overflowed = len(self.distinct) > max(MAX_LEVELS, self.rows // MIN_ROWS_PER_LEVEL)

    def _spelling(self, value: Any) -> None:
        """Record how a boolean value is written, or note that the column holds another."""
        if isinstance(value, bool):
            text = str(value).lower()
        elif isinstance(value, int | float) and value in (0, 1):
            text = str(int(value))
        else:
            text = value.strip() if isinstance(value, str) else ""
        self.booleans = text.lower() in TRUE_TEXT | FALSE_TEXT
        if self.booleans:
            self.spellings.add(text)

    def boolean_spellings(self) -> dict[str, list[str]]:
        """`true_values`/`false_values` as the file writes them, unless plain true/false."""
        if {text.lower() for text in self.spellings} <= PLAIN_BOOLEAN_TEXT:
            return {}
        return {
            "true_values": sorted(text for text in self.spellings if text.lower() in TRUE_TEXT),
            "false_values": sorted(text for text in self.spellings if text.lower() in FALSE_TEXT),
        }

    def id_like(self) -> str | None:
        """Why this column looks like an ID (then it is a key), or None."""
        if not self.present or self.booleans:
            return None
        if self.numbers:
            if self.integers and not self.repeated and self.present > MAX_LEVELS:
                return "whole numbers, all distinct"
            return None
        if self.dates:
            return None
        if self.overflowed or len(self.distinct) > MAX_LEVELS:
            return "text with too many distinct values for a category"
        if not self.repeated and self.present >= MIN_ID_ROWS:
            return "text whose values never repeat"
        return None

    @staticmethod
    def _number(value: Any) -> float | None:
        if isinstance(value, bool):
            return None
        if isinstance(value, int | float):
            return float(value) if math.isfinite(value) else None
        try:
            number = float(value)
        except (TypeError, ValueError):
            return None
        return number if math.isfinite(number) else None

    @property
    def present(self) -> int:
        return self.rows - self.missing

    def text_levels(self) -> list[str]:
        return sorted(str(value) for value in self.distinct)

    def input(self, name: str) -> tuple[dict[str, Any] | None, str | None]:
        """The contract entry of this column, or why it is left out."""
        entry: dict[str, Any] = {"name": name, "column": self.column}
        if not self.present:
            return None, f"{self.column}: every value is missing: left out"
        if len(self.distinct) == 1 and not self.overflowed:
            (value,) = self.distinct
            shown = level_text(value)
            return None, f"{self.column}: one value ({shown!r}) wherever given: left out"
        if self.booleans:
            entry |= {"kind": "boolean", **self.boolean_spellings()}
        elif self.numbers:
            if max(abs(self.low), abs(self.high)) > MAX_MAGNITUDE:
                return None, (
                    f"{self.column}: numbers up to {max(abs(self.low), abs(self.high)):.3g}, past"
                    f" the {MAX_MAGNITUDE:.0e} the model's float32 inputs can sum: left out"
                    " (add it rescaled, such as divided by 1e30, as a column of its own)"
                )
            entry["kind"] = "integer" if self.integers else "number"
        elif self.dates:
            return None, (
                f"{self.column}: dates/times: left out (add numbers derived from them, such as"
                " the day of the week, as columns of their own)"
            )
        else:
            entry["kind"] = "category"
        entry["nullable"] = bool(self.missing)
        if entry["kind"] in ("number", "integer"):
            low, high = (int(self.low), int(self.high)) if self.integers else (self.low, self.high)
            entry |= {"min": low, "max": high}
        if entry["kind"] == "category":
            entry["levels"] = self.text_levels()
        return entry, None


def csv_table(path: Path) -> tuple[list[str], Iterator[dict[str, str]]]:
    """The column names and rows of a CSV file with a header."""
    with path.open(newline="", encoding="utf-8") as file:
        header = next(csv.reader(file), None)
    if not header:
        raise InferenceError(f"{path}: the file is empty")
    return header, csv_rows(path, header)


def csv_rows(path: Path, header: list[str]) -> Iterator[dict[str, str]]:
    """The rows after the header; a row of another width is an error."""
    with path.open(newline="", encoding="utf-8") as file:
        reader = csv.reader(file)
        next(reader)
        for row in reader:
            if len(row) != len(header):
                raise InferenceError(
                    f"{path}: line {reader.line_num} has {len(row)} fields, the header"
                    f" {len(header)}"
                )
            yield dict(zip(header, row, strict=True))


def parquet_table(path: Path) -> tuple[list[str], Iterator[dict[str, Any]]]:
    """The column names and rows of a Parquet file, read a row group at a time."""
    try:
        import pyarrow.parquet as pq
    except ImportError as error:
        raise InferenceError(
            f"{path}: reading Parquet needs pyarrow; install it or give a CSV file"
        ) from error
    try:
        source = pq.ParquetFile(path)
    except Exception as error:
        problem = str(error).split(". ")[0]
        raise InferenceError(f"{path}: not a readable Parquet file ({problem})") from error
    rows = (row for batch in source.iter_batches(batch_size=65_536) for row in batch.to_pylist())
    return list(source.schema_arrow.names), rows


def profile(path: Path) -> dict[str, ColumnProfile]:
    """One pass over the table: a profile per column."""
    if not path.is_file():
        raise InferenceError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".parquet", ".pq"):
        raise InferenceError(f"{path}: not a CSV or Parquet file (give a .csv or .parquet file)")
    try:
        names, rows = csv_table(path) if suffix == ".csv" else parquet_table(path)
        profiles = {name: ColumnProfile(name) for name in names}
        for row in rows:
            for name, value in row.items():
                profiles[name].add(value)
    except UnicodeDecodeError as error:
        raise InferenceError(f"{path}: not UTF-8 text: {error.reason}") from error
    except csv.Error as error:
        raise InferenceError(f"{path}: not a readable CSV file: {error}") from error
    if not profiles:
        raise InferenceError(f"{path}: the file is empty")
    if not any(item.rows for item in profiles.values()):
        raise InferenceError(f"{path}: the table has a header but no rows")
    return profiles


def level_text(value: Any) -> str:
    """A class as text: whole numbers without a decimal point (`1.0` and `1` are `1`)."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return value
        return str(int(number)) if number.is_integer() else value
    return str(value)


def target_entry(target: ColumnProfile, model_type: str) -> dict[str, Any]:
    """The contract's target, refused when it does not fit the model type."""
    name = repr(target.column)
    if not target.present:
        raise InferenceError(f"target {name} has no values")
    if model_type == "regression":
        if not target.numbers:
            raise InferenceError(f"target {name} holds text: a regression needs numbers")
        return {"column": target.column, "kind": "number"}
    if target.overflowed:
        raise InferenceError(f"target {name} has more than {MAX_LEVELS} classes")
    levels = sorted({level_text(value) for value in target.distinct})
    if len(levels) < 2:
        raise InferenceError(f"target {name} has one class ({levels[0]}): nothing to learn")
    if model_type == "binary_classification" and len(levels) != 2:
        raise InferenceError(
            f"target {name} has {len(levels)} classes: binary classification needs exactly 2"
        )
    return {"column": target.column, "kind": "category", "levels": levels}


def infer(
    path: Path, target: str, model_type: str, keys: Sequence[str] = ()
) -> tuple[dict[str, Any], list[str]]:
    """The contract (as data) of the table at `path`, and a note per column left out or made
    a key. `keys` are columns the team names as keys, beside the ID-like ones."""
    if model_type not in MODEL_TYPES:
        raise InferenceError(f"unknown model type {model_type!r}: one of {', '.join(MODEL_TYPES)}")
    profiles = profile(path)
    if target not in profiles:
        raise InferenceError(
            f"{path}: no column {target!r} to predict (columns: {', '.join(profiles)})"
        )
    for key in keys:
        if key not in profiles or key == target:
            raise InferenceError(
                f"key {key!r}: not a column of {path} other than the target"
                f" (columns: {', '.join(column for column in profiles if column != target)})"
            )
    key_entries: list[dict[str, Any]] = []
    inputs, notes = [], []
    names: dict[str, str] = {}
    for column, seen in profiles.items():
        if column == target:
            continue
        name = identifier(column)
        if name in names:
            raise InferenceError(
                f"columns {names[name]!r} and {column!r} are both {name!r} as identifiers:"
                " rename one"
            )
        names[name] = column
        why = "named as a key" if column in keys else seen.id_like()
        if why:
            key_entries.append({"name": name, "column": column})
            notes.append(f"{column}: {why} (an ID): a key, carried beside each prediction")
            continue
        entry, note = seen.input(name)
        if note:
            notes.append(note)
        if entry:
            inputs.append(entry)
    if not inputs:
        raise InferenceError(f"{path}: no column the model can take as an input")
    contract = {"target": target_entry(profiles[target], model_type), "keys": key_entries}
    return contract | {"inputs": inputs}, notes


def dump(contract: dict[str, Any]) -> str:
    text: str = yaml.safe_dump(contract, sort_keys=False, allow_unicode=True, width=100)
    return text


def write(contract: dict[str, Any], path: Path) -> None:
    """Replace `path` atomically: a reader sees the old contract or the new one."""
    staging = path.with_name(f".{path.name}.partial")
    staging.write_text(dump(contract), encoding="utf-8")
    staging.replace(path)
