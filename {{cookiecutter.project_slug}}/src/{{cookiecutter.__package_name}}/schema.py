"""What a caller sends (`Features`) and gets back (`Prediction`, or `Scores` for many rows;
both defined in scores.py).

`Features` is built from the feature contract (features.yaml) when this module is imported:
one required field per input, typed strictly by its kind, so a caller gets a 422 naming the
field rather than a silent conversion (`true` or `"17.5"` is not a number).

`read_json` reads a request body for validation to judge all of it: a key given twice and an
integer too long to convert become values no field accepts, so the 422 names the field.
"""

import json
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    create_model,
)
from pydantic_core import PydanticCustomError

from .contract import Contract, Input, load_contract
from .scores import Prediction as Prediction
from .scores import Scores as Scores

FLOAT32_MAX = 3.4028234663852886e38
"""The largest float32: the model computes in float32, and a larger input would become inf."""

Float32 = Annotated[float, Strict(), Field(allow_inf_nan=False, ge=-FLOAT32_MAX, le=FLOAT32_MAX)]
"""A finite number that float32 holds (an integer is a number too; a boolean is not)."""
Integer = Annotated[int, Strict(), Field(ge=-int(FLOAT32_MAX), le=int(FLOAT32_MAX))]
Boolean = Annotated[bool, Strict()]


def unicode_text(text: str) -> str:
    """`text`, if it is Unicode text: a lone surrogate (`"\\ud800"` is valid JSON) is no
    character, and the model, which reads text as UTF-8, cannot take it."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        # The message does not quote the text: a lone surrogate cannot be written as UTF-8.
        raise PydanticCustomError(
            "string_unicode",
            "Input should be Unicode text: a lone surrogate (U+D800 to U+DFFF) is not a character",
        ) from error
    return text


Category = Annotated[str, Strict(), AfterValidator(unicode_text)]
"""Text; `""` is the missing level to the model (contract.MISSING_LEVEL), as null is."""
RequiredCategory = Annotated[str, Strict(), Field(min_length=1), AfterValidator(unicode_text)]
"""A category features.yaml does not allow to be missing: neither null nor `""`."""
REQUEST_ID_MAX_LENGTH = 128
RequestId = Annotated[
    str,
    Strict(),
    Field(min_length=1, max_length=REQUEST_ID_MAX_LENGTH),
    AfterValidator(unicode_text),
]
"""The caller's own name for a request (a row of theirs), echoed beside its prediction."""


class Identified(BaseModel):
    """A request the caller may name: its `id` comes back beside the prediction."""

    id: RequestId | None = Field(
        default=None,
        description="Your name for this row (1 to"
        f" {REQUEST_ID_MAX_LENGTH} characters), echoed beside its prediction.",
    )


KIND_TYPES: dict[str, Any] = {
    "number": Float32,
    "integer": Integer,
    "boolean": Boolean,
    "category": Category,
}


def given(value: Any) -> Any:
    """A value of an input features.yaml allows no missing value: null is refused as missing
    (rather than as a value of the wrong type)."""
    if value is None:
        raise PydanticCustomError(
            "missing", "Input is missing (null): features.yaml gives it `nullable: false`"
        )
    return value


def field_of(item: Input) -> tuple[Any, Any]:
    """The request field of one input: its type by kind, null allowed when nullable."""
    description = item.description or f"column {item.column!r} of the training data"
    if item.levels:
        description += f"; one of {', '.join(item.levels)} (another level scores as none of them)"
    category = item.kind == "category"
    if item.nullable:
        description += '; null or "" when missing' if category else "; null when missing"
        return KIND_TYPES[item.kind] | None, Field(description=description)
    value_type = RequiredCategory if category else KIND_TYPES[item.kind]
    return Annotated[value_type, BeforeValidator(given)], Field(description=description)


def features_model(contract: Contract) -> type[BaseModel]:
    """The request model of one row: a field per input, in the contract's order."""
    fields: dict[str, Any] = {item.name: field_of(item) for item in contract.inputs}
    model: type[BaseModel] = create_model(
        "Features",
        __config__=ConfigDict(extra="forbid", frozen=True),
        __doc__="One row to score: every input of features.yaml. Unknown fields are rejected.",
        **fields,
    )
    return model


KeyValue = Annotated[str, Strict(), Field(max_length=256), AfterValidator(unicode_text)] | Integer
"""A key's value in an event: text or a whole number, as the team's table holds it."""


def keys_model(contract: Contract) -> type[BaseModel]:
    """The keys an event may carry (features.yaml's `keys`), each optional: a field per key."""
    fields: dict[str, Any] = {
        item.name: (KeyValue | None, Field(default=None, description=f"column {item.column!r}"))
        for item in contract.keys
    }
    model: type[BaseModel] = create_model(
        "Keys",
        __config__=ConfigDict(extra="forbid", frozen=True),
        __doc__="What identifies the row: the keys of features.yaml. Never inputs.",
        **fields,
    )
    return model


if TYPE_CHECKING:
    # For the type checker a row is a model whose fields are known only at run time.
    Features = BaseModel
    Keys = BaseModel
else:
    Features = features_model(load_contract())
    Keys = keys_model(load_contract())


class DuplicateKey:
    """What a key given twice in one JSON object reads as (JSON parsers let the last value
    win, silently): no field accepts it, so validation names the field, and `described`
    says why."""


DUPLICATE_KEY = DuplicateKey()


def unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object as a dict, each key given more than once mapped to `DUPLICATE_KEY`."""
    result = dict(pairs)
    if len(result) < len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                result[key] = DUPLICATE_KEY
            seen.add(key)
    return result


def read_integer(text: str) -> int | float:
    """A JSON integer. One too long for Python to convert (over 4,300 digits) lies far
    beyond any range a field allows: it reads as the infinite number of its sign, which
    validation refuses naming the field (rather than the whole body failing to parse)."""
    return int(text) if len(text) <= sys.get_int_max_str_digits() else float(text)


def read_json(text: str) -> Any:
    """The JSON value of a request body, for validation to judge: keys given twice and
    integers of any length included."""
    return json.loads(text, object_pairs_hook=unique_keys, parse_int=read_integer)


def described(error: Mapping[str, Any]) -> dict[str, Any]:
    """One validation error as the caller reads it: where, why and its type; never the
    rejected value (a NaN would not even serialise to JSON)."""
    location = list(error["loc"])
    if error.get("input") is DUPLICATE_KEY:
        message = "the key is given more than once in its JSON object"
        return {"loc": location, "msg": message, "type": "duplicate_key"}
    message = error.get("msg", "")
    if error["type"] == "json_invalid" and "error" in error.get("ctx", {}):
        message = f"{message}: {error['ctx']['error']}"
    return {"loc": location, "msg": message, "type": error["type"]}
