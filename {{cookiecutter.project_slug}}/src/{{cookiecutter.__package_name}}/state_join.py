"""The per-entity state joined onto the batch job's chunks: one query and one vectorised join
per chunk, never a lookup per row.

Each input row names its entity in the `entity_id_column` (`entity_id` by default, as a REST
request does). The values stored for the entity (`state.py`, at `state_url`) fill the inputs
the row leaves null or the input has no column for; where both have a value, the row's wins.
A row that names no entity, or an entity with no stored state, is rejected with the reason.
The state is read again for every chunk: what `state load` stores while a run goes on reaches
the chunks after it, and the next run, without a restart.
"""

from collections.abc import Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from .batch import MISSING, InputError, decoded
from .contract import Contract, Input
from .state import EntityStore, open_store

UNKNOWN_ENTITY = "no state is stored for this entity"
ARROW_TYPES = {
    "number": pa.float64(),
    "integer": pa.int64(),
    "boolean": pa.bool_(),
    "category": pa.string(),
}
"""Stored values as Arrow columns, by kind (as features.yaml types the state table)."""


class StateJoin:
    """Fills a chunk's missing inputs from the state of the entities its rows name."""

    def __init__(self, store: EntityStore | None, contract: Contract, entity_column: str) -> None:
        self.store = store
        self.contract = contract
        self.entity_column = entity_column

    @classmethod
    def open(cls, state_url: str, contract: Contract, entity_column: str) -> "StateJoin":
        """The join against the store at `state_url`; none (rows scored as the input gives
        them) when `entity_column` is empty."""
        return cls(open_store(state_url) if entity_column else None, contract, entity_column)

    def close(self) -> None:
        if self.store is not None:
            self.store.close()

    def fill(self, chunk: pa.Table) -> tuple[pa.Table, dict[int, str]]:
        """The chunk with the stored values filled in, and the rows rejected for their entity
        ({row position: reason}); their inputs stay as the input gave them."""
        if self.store is None:
            return chunk, {}
        if self.entity_column not in chunk.column_names:
            raise InputError(
                f"the input has no column {self.entity_column}: each row names its entity there"
                " (the ENTITY_ID_COLUMN setting)"
            )
        entity_ids = decoded(chunk.column(self.entity_column)).cast(pa.string())
        # Only inputs some row leaves out are read from the store.
        wanted = [
            item
            for item in self.contract.inputs
            if item.name not in chunk.column_names or chunk.column(item.name).null_count
        ]
        distinct = pc.unique(entity_ids.drop_null()).sort()
        stored = self.stored(self.store, distinct.to_pylist(), wanted)
        positions = pc.index_in(entity_ids, value_set=stored.column("entity_id"))
        # One row per chunk row: the entity's stored values, all null where it has none.
        aligned = stored.take(positions)
        for item in wanted:
            values = aligned.column(item.name)
            if item.name in chunk.column_names:
                index = chunk.column_names.index(item.name)
                chunk = chunk.set_column(
                    index, item.name, coalesced(chunk.column(item.name), values, item)
                )
            else:
                chunk = chunk.append_column(item.name, values)
        unknown = pc.is_null(positions).to_numpy(zero_copy_only=False).nonzero()[0]
        unnamed = pc.is_null(entity_ids).to_numpy(zero_copy_only=False).nonzero()[0]
        reasons = dict.fromkeys(unknown.tolist(), f"{self.entity_column}: {UNKNOWN_ENTITY}")
        reasons |= dict.fromkeys(unnamed.tolist(), f"{self.entity_column}: {MISSING}")
        return chunk, reasons

    def stored(
        self, store: EntityStore, entity_ids: Sequence[str], inputs: Sequence[Input]
    ) -> pa.Table:
        """The stored state of those entities that have some: one query, as Arrow columns."""
        entity_column, *values = store.read_columns(entity_ids, [item.name for item in inputs])
        columns: dict[str, Any] = {"entity_id": pa.array(entity_column, pa.string())}
        for item, column in zip(inputs, values, strict=True):
            # SQLite returns a boolean as 0 or 1, a whole number as an int: cast, not convert.
            columns[item.name] = pa.array(column).cast(ARROW_TYPES[item.kind])
        return pa.table(columns)


def coalesced(given: pa.ChunkedArray, stored: pa.ChunkedArray, item: Input) -> pa.ChunkedArray:
    """The row's value where it has one, else the stored one, as one column: text when the
    input is text (a CSV; validation parses it per kind), else the values' common type."""
    given = decoded(given)
    if pa.types.is_null(given.type):
        # A column with no value at all (an all-null Parquet column has no type).
        return stored
    if given.type != stored.type:
        text = pa.types.is_string(given.type) or pa.types.is_large_string(given.type)
        common = pa.string() if text or item.kind == "category" else pa.float64()
        given, stored = given.cast(common), stored.cast(common)
    return pc.coalesce(given, stored)
