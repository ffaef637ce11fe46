"""What a caller sends (`Features`) and gets back (`Prediction`, or `Scores` for many rows;
both defined in scores.py).

`Features` is built from the feature contract (features.yaml) when this module is imported:
one required field per input, typed strictly by its kind, so a caller gets a 422 naming the
field rather than a silent conversion (`true` or `"17.5"` is not a number).
"""

from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, Strict, create_model

from .contract import Contract, Input, load_contract
from .scores import Prediction as Prediction
from .scores import Scores as Scores

FLOAT32_MAX = 3.4028234663852886e38
"""The largest float32: the model computes in float32, and a larger input would become inf."""

Float32 = Annotated[float, Strict(), Field(allow_inf_nan=False, ge=-FLOAT32_MAX, le=FLOAT32_MAX)]
"""A finite number that float32 holds (an integer is a number too; a boolean is not)."""
Integer = Annotated[int, Strict(), Field(ge=-int(FLOAT32_MAX), le=int(FLOAT32_MAX))]
Boolean = Annotated[bool, Strict()]
Category = Annotated[str, Strict()]
KIND_TYPES: dict[str, Any] = {
    "number": Float32,
    "integer": Integer,
    "boolean": Boolean,
    "category": Category,
}


def field_of(item: Input) -> tuple[Any, Any]:
    """The request field of one input: its type by kind, null allowed when nullable."""
    description = item.description or f"column {item.column!r} of the training data"
    if item.levels:
        description += f"; one of {', '.join(item.levels)} (another level scores as none of them)"
    if item.nullable:
        description += "; null when missing"
    value_type = KIND_TYPES[item.kind] | None if item.nullable else KIND_TYPES[item.kind]
    return value_type, Field(description=description)


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


if TYPE_CHECKING:
    # For the type checker a row is a model whose fields are known only at run time.
    Features = BaseModel
else:
    Features = features_model(load_contract())
