"""The feature contract: `features.yaml` names the model's inputs and its target.

It is the only place that lists the inputs. Everything that knows them reads it: the request
schemas, the validation of every entry point, training, the stored reference, the model
card. `make schema DATA=... TARGET=...` writes it from a table (`main`, with
`contract_inference`).

Kinds, and what the model sees of them:

- `number` and `integer`: a float32 column; `min`/`max` record the training range.
- `boolean`: a float32 column of 0 and 1. `true_values`/`false_values` record how the
  training file spells them (`Yes`/`No`, `Y`/`N`, `1`/`0`); files (CSV cells, text columns)
  may use those spellings, or true/false, yes/no, 1/0, in any case. JSON requests take JSON
  booleans only.
- `category`: a text column, one-hot encoded inside the model over `levels`, the levels seen
  in training. A level never seen in training encodes as all zeros: the row is scored as if
  none of the known levels applied (it is not refused). A missing category is the empty
  text, which is a level of its own when training had missing values.

`nullable` inputs may be missing (null): the model imputes the training median (numbers) or
treats them as described above (categories). A missing non-nullable input is refused.

`keys` are columns that identify a row (a customer id, an order number): never inputs of the
model, they travel beside each prediction and reject so that outputs join back to the rows.
"""

import argparse
import keyword
import math
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache, cached_property
from pathlib import Path
from typing import Any, Literal, Self

import numpy as np
import numpy.typing as npt
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from .contract_inference import MISSING_TEXT, InferenceError, dump, infer, write

MODEL_TYPE = "{{ cookiecutter.model_type }}"
"""What the model predicts; the target must fit it."""
CONTRACT_FILE = "features.yaml"
NUMBERS_INPUT = "numbers"
"""The exported model's float32 input: (rows, number, integer and boolean inputs)."""
CATEGORIES_INPUT = "categories"
"""The exported model's text input: (rows, category inputs); absent without categories."""
MISSING_LEVEL = ""
"""What a missing category is, to the model."""

Kind = Literal["number", "integer", "boolean", "category"]
BOOLEAN_TEXT = {"true": True, "false": False, "yes": True, "no": False, "1": True, "0": False}
"""Text any boolean may be written as (case-insensitive), in CSV files and the like; an input's
`true_values`/`false_values` add the training file's own spellings."""


class ContractError(ValueError):
    """The contract, or data checked against it, is unusable (a one-line message)."""


class Input(BaseModel):
    """One input: what callers send (`name`) and where it comes from in the data (`column`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    column: str
    kind: Kind
    nullable: bool = False
    min: float | None = None
    max: float | None = None
    levels: tuple[str, ...] | None = None
    true_values: tuple[str, ...] | None = None
    false_values: tuple[str, ...] | None = None
    description: str | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if not self.name.isidentifier() or keyword.iskeyword(self.name):
            raise ValueError(f"name {self.name!r} is not a Python identifier")
        spellings = (*(self.true_values or ()), *(self.false_values or ()))
        if self.kind != "boolean" and spellings:
            raise ValueError(f"{self.name}: only a boolean has `true_values`/`false_values`")
        both = {text.lower() for text in self.true_values or ()} & {
            text.lower() for text in self.false_values or ()
        }
        if both:
            raise ValueError(f"{self.name}: {', '.join(sorted(both))} is both true and false")
        if self.kind == "category" and not self.levels:
            raise ValueError(f"{self.name}: a category needs its training levels (`levels`)")
        if self.kind != "category" and self.levels is not None:
            raise ValueError(f"{self.name}: only a category has `levels`")
        if self.kind not in ("number", "integer") and (self.min, self.max) != (None, None):
            raise ValueError(f"{self.name}: only a number or an integer has `min`/`max`")
        return self

    @cached_property
    def boolean_text(self) -> dict[str, bool]:
        """The texts this boolean may be written as in a file (lowercase): true/false, yes/no,
        1/0 and the training file's own spellings."""
        own = {text.strip().lower(): True for text in self.true_values or ()}
        own |= {text.strip().lower(): False for text in self.false_values or ()}
        return BOOLEAN_TEXT | own

    def spelled(self) -> str:
        """The texts this boolean takes, for a message: `Yes/No (or true/false)`."""
        if not (self.true_values and self.false_values):
            return "true/false"
        return f"{self.true_values[0]}/{self.false_values[0]} (or true/false)"


class Key(BaseModel):
    """A column that identifies a row (`name` in files and events, `column` in the training
    data): never an input, carried beside each prediction and reject."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    column: str

    @model_validator(mode="after")
    def _identifier(self) -> Self:
        if not self.name.isidentifier() or keyword.iskeyword(self.name):
            raise ValueError(f"key name {self.name!r} is not a Python identifier")
        return self


class Target(BaseModel):
    """The column the model learns to predict."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    column: str
    kind: Literal["category", "number"]
    levels: tuple[str, ...] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.kind == "category" and (self.levels is None or len(self.levels) < 2):
            raise ValueError("a category target needs two levels or more")
        if self.kind == "number" and self.levels is not None:
            raise ValueError("a number target has no levels")
        return self


class Contract(BaseModel):
    """The inputs, in the order callers see them, and the target."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    target: Target
    keys: tuple[Key, ...] = ()
    """Columns that identify a row: carried through, never inputs."""
    inputs: tuple[Input, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> Self:
        for attribute in ("name", "column"):
            for kind, items in (("input", self.inputs), ("key", self.keys)):
                values = [getattr(item, attribute) for item in items]
                if duplicates := sorted({value for value in values if values.count(value) > 1}):
                    raise ValueError(f"duplicate {kind} {attribute}s: {', '.join(duplicates)}")
            inputs = {getattr(item, attribute) for item in self.inputs}
            if both := sorted(inputs & {getattr(item, attribute) for item in self.keys}):
                raise ValueError(f"{', '.join(both)}: a key and an input (a key is never an input)")
        columns = [item.column for item in self.inputs] + [item.column for item in self.keys]
        if self.target.column in columns:
            raise ValueError(f"the target {self.target.column!r} is also an input or a key")
        return self

    @cached_property
    def key_names(self) -> tuple[str, ...]:
        return tuple(item.name for item in self.keys)

    # Cached: the scoring path reads them on every call.
    @cached_property
    def numbers(self) -> tuple[Input, ...]:
        """The inputs the model takes as float32 (numbers, integers, booleans)."""
        return tuple(item for item in self.inputs if item.kind != "category")

    @cached_property
    def categories(self) -> tuple[Input, ...]:
        return tuple(item for item in self.inputs if item.kind == "category")

    @cached_property
    def number_names(self) -> tuple[str, ...]:
        return tuple(item.name for item in self.numbers)

    @cached_property
    def category_names(self) -> tuple[str, ...]:
        return tuple(item.name for item in self.categories)

    @cached_property
    def names(self) -> tuple[str, ...]:
        """Input names in model order: the float32 block, then the categories."""
        return (*self.number_names, *self.category_names)

    @property
    def labels(self) -> tuple[str, ...]:
        """Class names, indexed by the integer class the model predicts (none for regression)."""
        return self.target.levels or ()

    def check_model_type(self, model_type: str = MODEL_TYPE) -> None:
        """Refuse a target that does not fit what the model predicts."""
        levels = len(self.labels)
        if model_type == "regression" and self.target.kind != "number":
            raise ContractError(
                f"target {self.target.column!r} is a category: a regression needs a number"
            )
        if model_type == "binary_classification" and levels != 2:
            raise ContractError(
                f"target {self.target.column!r} has {levels} classes: binary classification"
                " needs exactly 2"
            )
        if model_type == "multiclass_classification" and levels < 2:
            raise ContractError(
                f"target {self.target.column!r} is not a category of 2 classes or more"
            )

    def dump(self) -> str:
        """The contract as features.yaml text."""
        return dump(self.model_dump(mode="json", exclude_none=True))


def contract_path() -> Path:
    """features.yaml: bundled next to this module in a built wheel (an image), else the
    project root's (an editable install)."""
    bundled = Path(__file__).with_name(CONTRACT_FILE)
    return bundled if bundled.is_file() else Path(__file__).resolve().parents[2] / CONTRACT_FILE


def parse_contract(text: str, source: str = CONTRACT_FILE) -> Contract:
    """A contract from YAML text; ContractError with the first problem otherwise."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ContractError(f"{source} is not valid YAML: {str(error).splitlines()[0]}") from error
    try:
        return Contract.model_validate(data)
    except ValidationError as error:
        problem = error.errors(include_url=False)[0]
        where = ".".join(str(part) for part in problem["loc"]) or "the file"
        raise ContractError(f"{source}: {where}: {problem['msg']}") from error


@cache
def load_contract(path: Path | None = None) -> Contract:
    """The project's contract (read once per path)."""
    path = path or contract_path()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ContractError(f"cannot read the feature contract {path}: {error.strerror}") from error
    return parse_contract(text, str(path))


def write_contract(contract: Contract, path: Path) -> None:
    """Replace `path` atomically: a reader sees the old contract or the new one."""
    write(contract.model_dump(mode="json", exclude_none=True), path)


def parse_text(item: Input, text: str | None) -> float | int | bool | str | None:
    """A value read as text (a CSV cell) as its kind wants it; `MISSING_TEXT` is missing.

    Raises ValueError naming the input and the value when the text does not fit the kind.
    """
    if text is None or text in MISSING_TEXT:
        return None
    if item.kind == "category":
        return text
    if item.kind == "boolean":
        if (flag := item.boolean_text.get(text.strip().lower())) is None:
            raise ValueError(f"{item.name}: {text!r} is not a boolean ({item.spelled()})")
        return flag
    try:
        number = float(text)
        if item.kind == "number":
            return number
        if not number.is_integer():
            raise ValueError(text)
        # A whole number may be written with a decimal point, as a float column prints it.
        return int(text) if text.strip().lstrip("+-").isdigit() else int(number)
    except ValueError:
        wanted = "an integer" if item.kind == "integer" else "a number"
        raise ValueError(f"{item.name}: {text!r} is not {wanted}") from None


@dataclass(frozen=True)
class Columns:
    """A batch of rows as the model takes them: one float32 block (numbers, integers and
    booleans; NaN where missing) and one text block (categories; "" where missing), each in
    the contract's model order."""

    numbers: npt.NDArray[np.float32]
    categories: npt.NDArray[np.object_]

    def __len__(self) -> int:
        return len(self.numbers)

    def take(self, rows: "npt.NDArray[np.intp] | npt.NDArray[np.bool_] | slice") -> "Columns":
        return Columns(self.numbers[rows], self.categories[rows])

    def feeds(self) -> dict[str, npt.NDArray[Any]]:
        """The exported model's inputs (a model takes no block its contract has no input for)."""
        feeds: dict[str, npt.NDArray[Any]] = {}
        if self.numbers.shape[1]:
            feeds[NUMBERS_INPUT] = self.numbers
        if self.categories.shape[1]:
            feeds[CATEGORIES_INPUT] = self.categories
        return feeds

    @classmethod
    def empty(cls, contract: Contract) -> "Columns":
        return cls(
            np.empty((0, len(contract.numbers)), dtype=np.float32),
            np.empty((0, len(contract.categories)), dtype=object),
        )

    def by_input(self, contract: Contract) -> dict[str, list[Any]]:
        """The values column by column, in the contract's order: each input of its kind,
        None where missing."""
        kinds = {"integer": int, "boolean": bool, "number": float}
        values: dict[str, list[Any]] = {}
        for index, item in enumerate(contract.numbers):
            values[item.name] = [
                None if math.isnan(value) else kinds[item.kind](value)
                for value in self.numbers[:, index].tolist()
            ]
        for index, item in enumerate(contract.categories):
            values[item.name] = [
                None if level == MISSING_LEVEL else level
                for level in self.categories[:, index].tolist()
            ]
        return {item.name: values[item.name] for item in contract.inputs}

    def records(self, contract: Contract) -> list[dict[str, Any]]:
        """The rows as a caller sends them: each input of its kind, None where missing, in
        the contract's order (the inverse of `from_records`)."""
        columns = self.by_input(contract)
        return [dict(zip(columns, row, strict=True)) for row in zip(*columns.values(), strict=True)]

    @classmethod
    def from_records(cls, contract: Contract, records: Sequence[Mapping[str, Any]]) -> "Columns":
        """Validated rows (each maps every input name to its value or None) as columns."""
        number_names, category_names = contract.number_names, contract.category_names
        # A value beyond float32's range becomes infinite here; the predictor refuses it.
        with np.errstate(over="ignore"):
            numbers = np.array(
                [[record[name] for name in number_names] for record in records],
                dtype=np.float32,
            ).reshape(len(records), len(number_names))
        categories = np.array(
            [
                [MISSING_LEVEL if record[name] is None else record[name] for name in category_names]
                for record in records
            ],
            dtype=object,
        ).reshape(len(records), len(category_names))
        return cls(numbers, categories)


def main(argv: Sequence[str] | None = None, model_type: str | None = None) -> int:
    """`make schema DATA=... TARGET=...`: write features.yaml from a table, checked as a contract.

    python -m package.contract table.csv|table.parquet TARGET [--keys A,B] [--output features.yaml]
    """
    parser = argparse.ArgumentParser(description="Write features.yaml from a table.")
    parser.add_argument("data", type=Path, help="a CSV or Parquet file")
    parser.add_argument("target", help="the column the model predicts")
    parser.add_argument(
        "--keys",
        default="",
        help="comma-separated columns that identify a row, beside the ID-like ones (never inputs)",
    )
    parser.add_argument("--output", type=Path, default=contract_path())
    arguments = parser.parse_args(argv)
    keys = [key.strip() for key in arguments.keys.split(",") if key.strip()]
    try:
        contract, notes = infer(arguments.data, arguments.target, model_type or MODEL_TYPE, keys)
        parse_contract(dump(contract), str(arguments.output))  # the contract's own checks
        write(contract, arguments.output)
    except (InferenceError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    print(dump(contract), end="")
    print(f"wrote {arguments.output}: train with make train DATA={arguments.data}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
