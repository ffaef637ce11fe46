"""The rows the stores stage and read, as Arrow tables and column lists, and the inputs and
check results built from what their queries return."""

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from .contract import Columns, Contract
from .stores import Completeness, Rejected, Scored

ARROW_TYPES = {
    "number": pa.float64(),
    "integer": pa.int64(),
    "boolean": pa.bool_(),
    "category": pa.string(),
}
"""The Arrow type of each kind of input."""


def read_inputs(
    contract: Contract, values: Sequence[Any], rows: int
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.object_]]:
    """The numbers and the categories of a batch from the query's input columns, in model
    order (the numbers, then the categories)."""
    width = len(contract.numbers)
    numbers = np.empty((rows, width), dtype=np.float64)
    for index, column in enumerate(values[:width]):
        # NULL arrives as None (PostgreSQL) or NaN (DuckDB): both are NaN here.
        numbers[:, index] = np.asarray(column, dtype=object).astype(np.float64)
    categories = np.empty((rows, len(contract.categories)), dtype=object)
    for index, column in enumerate(values[width:]):
        categories[:, index] = list(column)
    return numbers, categories


def completeness(counts: Sequence[Any], missing: list[Any], rejects: list[Any]) -> Completeness:
    entities, predicted, rejected, without_id = (int(count) for count in counts)
    return Completeness(
        entities=entities,
        predicted=predicted,
        rejected=rejected,
        missing=entities - predicted - rejected,
        without_id=without_id,
        first_missing=[str(row[0]) for row in missing],
        first_rejects=[(str(row[0]), str(row[1])) for row in rejects],
    )


def prediction_columns(scored: Scored) -> dict[str, list[Any]]:
    """The predictions' columns (`store_sql.PREDICTION_COLUMNS`) of one batch."""
    return {
        "entity_id": scored.entity_ids,
        **scored.outputs,
        "model_version": [scored.model_version] * len(scored.entity_ids),
        "scored_at": [scored.scored_at] * len(scored.entity_ids),
    }


def entity_table(contract: Contract, entity_ids: Sequence[str], columns: Columns) -> pa.Table:
    """Entities as an Arrow table: the entity id, then one column per input."""
    table = {"entity_id": pa.array(entity_ids, pa.string())}
    kinds = {item.name: item.kind for item in contract.inputs}
    for name, values in columns.by_input(contract).items():
        table[name] = pa.array(values, ARROW_TYPES[kinds[name]])
    return pa.table(table)


def reject_columns(rejected: Rejected) -> dict[str, list[Any]]:
    return {
        "entity_id": rejected.entity_ids,
        "reason": rejected.reasons,
        "model_version": [rejected.model_version] * len(rejected.entity_ids),
        "rejected_at": [rejected.rejected_at] * len(rejected.entity_ids),
    }
