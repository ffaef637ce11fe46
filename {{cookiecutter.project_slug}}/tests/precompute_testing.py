"""The stored predictions as the model's answers, whatever the model type.

The predictions table's columns are named as the fields of `Prediction`, so a stored row and
the `Prediction` the model makes for the same inputs compare field by field, each JSON object
key by key (`probabilities.<class>`, `explanation.<input>`).
"""

import json
from collections.abc import Mapping
from typing import Any

from {{ cookiecutter.__package_name }}.scores import Prediction
from {{ cookiecutter.__package_name }}.store_sql import PREDICTION_COLUMNS
from {{ cookiecutter.__package_name }}.stores import quoted

from contract_testing import close_to

FIELDS = [name for name, _ in PREDICTION_COLUMNS if name not in ("entity_id", "scored_at")]
"""The columns that are fields of `Prediction`: the answers and the model version."""
JSON_FIELDS = {name for name, kind in PREDICTION_COLUMNS if kind.startswith("{json}")}

Stored = dict[str, Any]


def flat(record: Mapping[str, Any]) -> Stored:
    """`record` with the keys of each object beside its other fields, as `name.key`."""
    flattened: Stored = {}
    for name, value in record.items():
        if isinstance(value, Mapping):
            flattened |= {f"{name}.{key}": item for key, item in value.items()}
        else:
            flattened[name] = value
    return flattened


def as_stored(prediction: Prediction) -> Stored:
    """`prediction` as `stored_predictions` gives a row."""
    return flat(prediction.model_dump())


def approximately(row: Stored) -> Stored:
    """`row` to compare with another: texts exactly, numbers within float32 rounding."""
    return {
        name: value if isinstance(value, str) else close_to(value) for name, value in row.items()
    }


def stored_row(row: Mapping[str, Any]) -> Stored:
    """The `FIELDS` of a row of the predictions table (a JSON object as its text, as DuckDB and
    Parquet give it, or as the object, as PostgreSQL does) as `as_stored` gives a prediction."""
    return flat(
        {
            name: json.loads(row[name])
            if isinstance(row[name], str) and name in JSON_FIELDS
            else row[name]
            for name in FIELDS
        }
    )


def stored_predictions(connection: Any, table: str = "predictions") -> dict[str, Stored]:
    """The rows of the predictions `table` (DuckDB or PostgreSQL), by entity id."""
    query = f"SELECT entity_id, {', '.join(FIELDS)} FROM {quoted(table)}"  # noqa: S608
    return {
        str(entity_id): stored_row(dict(zip(FIELDS, values, strict=True)))
        for entity_id, *values in connection.execute(query).fetchall()
    }
