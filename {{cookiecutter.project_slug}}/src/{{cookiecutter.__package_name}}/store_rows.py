{%- set stateful = cookiecutter.stateful == "yes" -%}
"""The rows the stores stage and read, as Arrow tables and column lists, and the pending
batches and check results built from what their queries return."""

from collections.abc import {% if stateful %}Mapping, {% endif %}Sequence
{%- if stateful %}
from datetime import UTC, datetime
{%- endif %}
from typing import Any

import numpy as np
import pyarrow as pa

from .contract import Columns, Contract
from .stores import Completeness, Pending, Rejected, Scored

ARROW_TYPES = {
    "number": pa.float64(),
    "integer": pa.int64(),
    "boolean": pa.bool_(),
    "category": pa.string(),
}
"""The Arrow type of each kind of input."""


def pending_batch(contract: Contract, columns: Sequence[Any], rows: int) -> Pending:
    """A `Pending` from the query's columns: id, missing, copies,{% if stateful %} known,{% endif %} then the inputs in model
    order (the numbers, then the categories)."""
{%- if stateful %}
    entity_ids, missing, copies, known, *values = columns
{%- else %}
    entity_ids, missing, copies, *values = columns
{%- endif %}
    width = len(contract.numbers)
    numbers = np.empty((rows, width), dtype=np.float64)
    for index, column in enumerate(values[:width]):
        # NULL arrives as None (PostgreSQL) or NaN (DuckDB): both are NaN here.
        numbers[:, index] = np.asarray(column, dtype=object).astype(np.float64)
    categories = np.empty((rows, len(contract.categories)), dtype=object)
    for index, column in enumerate(values[width:]):
        categories[:, index] = list(column)
    return Pending(
        entity_ids=list(entity_ids),
        numbers=numbers,
        categories=categories,
        missing=list(missing),
        copies=[int(count) for count in copies],
{%- if stateful %}
        known=[bool(flag) for flag in known],
{%- endif %}
    )


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
{%- if stateful %}


def state_table(
    contract: Contract,
    entity_ids: Sequence[str],
    values: Mapping[str, Sequence[Any]],
    updated_at: datetime | None = None,
) -> pa.Table:
    """The stored state of entities as the state table holds it: the entity id, when it was
    stored (now, by default), then each input's values (None where none is stored)."""
    stamp = updated_at or datetime.now(UTC)
    table = {
        "entity_id": pa.array(entity_ids, pa.string()),
        "updated_at": pa.array([stamp] * len(entity_ids), pa.timestamp("us", tz="UTC")),
    }
    for item in contract.inputs:
        table[item.name] = pa.array(values[item.name], ARROW_TYPES[item.kind])
    return pa.table(table)
{%- endif %}


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
