"""What the per-entity state changes in a store: the tables, the batches read, the queries
that read them, and the state table itself.

A fourth table, the per-entity state (`entity_features` by default), fills the inputs an
entity's row leaves NULL: the entity id, when its values were last stored (`updated_at`), and
one column per input, the layout `state.py` gives it in the other strategies, so a PostgreSQL
state table can be shared with them. It is joined with the entities in the query that reads
them, so a batch costs no lookup per entity. A directory of Parquet files keeps it in
`<state>.parquet`, rewritten whole when states are stored.
"""

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from .contract import Contract
from .store_rows import ARROW_TYPES, read_inputs
from .stores import CREATE, ENTITY_TYPES, UPSERT, Staged, StoreError, quoted, read_as

UNKNOWN_ENTITY = "no state is stored for this entity"
STATE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("entity_id", "TEXT PRIMARY KEY"),
    ("updated_at", "TIMESTAMPTZ NOT NULL"),
)
"""The state table's first columns; one per input of features.yaml follows (ENTITY_TYPES)."""


@dataclass(frozen=True)
class Tables:
    """The names of a store's tables, and of the entity id column."""

    entities: str = "entities"
    predictions: str = "predictions"
    rejects: str = "prediction_rejects"
    entity_id: str = "entity_id"
    state: str = ""
    """The per-entity state table; empty: the entities table gives every input."""

    @property
    def names(self) -> tuple[str, ...]:
        """Every table's name (the state table's when one is read)."""
        names = (self.entities, self.predictions, self.rejects)
        return (*names, self.state) if self.state else names


@dataclass(frozen=True)
class Pending:
    """A batch of entities that have no current prediction yet, as read from the source."""

    entity_ids: list[str]
    numbers: npt.NDArray[np.float64]
    """One row per entity, one column per number, integer and boolean input (model order);
    NaN where the source holds NULL or NaN."""
    categories: npt.NDArray[np.object_]
    """One row per entity, one column per category input; None where the source holds NULL."""
    missing: list[str]
    """Per entity, the inputs whose value is NULL (comma separated, empty when none)."""
    copies: list[int]
    """Per entity, how many source rows carry its id (more than one is an error)."""
    known: list[bool]
    """Per entity, whether the state table holds it (always, when no state is read)."""

    def entity_rejects(self) -> dict[int, str]:
        """The rows rejected for their entity rather than their inputs: those with no stored
        state (nothing filled their inputs, so what they lack says nothing more)."""
        return {row: UNKNOWN_ENTITY for row, known in enumerate(self.known) if not known}


class StateStore(Protocol):
    """What the precompute job needs from a store for the per-entity state."""

    def load_state(self, contract: Contract, state: pa.Table) -> None:
        """Store (replace) the state of these entities (`state_table`), the others' stays."""


# Each entity's stored state (`{state}`, one column per input) fills the inputs its row leaves
# NULL; `known` says whether any is stored. A prediction or reject made before the entity's
# state last changed is not current: the next run scores the entity again.
PENDING = """
SELECT entity_id, missing, copies, known, {features} FROM (
    SELECT
        CAST(e.{entity_id} AS TEXT) AS entity_id,
        concat_ws(', ', {missing}) AS missing,
        count(*) OVER (PARTITION BY e.{entity_id}) AS copies,
        row_number() OVER (PARTITION BY e.{entity_id}) AS nth,
        {known} AS known,
        {updated} AS state_updated_at,
        {casts}
    FROM {entities} AS e{join}
    WHERE e.{entity_id} IS NOT NULL
) AS source
WHERE nth = 1
"""
NOT_CURRENT = """
  AND NOT EXISTS (
    SELECT 1 FROM {predictions} AS p
    WHERE p.entity_id = source.entity_id AND p.model_version = {version}
      AND (source.state_updated_at IS NULL OR p.scored_at >= source.state_updated_at))
  AND NOT EXISTS (
    SELECT 1 FROM {rejects} AS r
    WHERE r.entity_id = source.entity_id AND r.model_version = {version}
      AND (source.state_updated_at IS NULL OR r.rejected_at >= source.state_updated_at))
"""
SOURCE_IDS = """
SELECT DISTINCT CAST(e.{entity_id} AS TEXT) AS entity_id, {updated} AS state_updated_at
FROM {entities} AS e{join}
WHERE e.{entity_id} IS NOT NULL
"""
COUNTS = """
SELECT
    (SELECT count(*) FROM ids),
    (SELECT count(*) FROM ids WHERE EXISTS (
        SELECT 1 FROM {predictions} AS p
        WHERE p.entity_id = ids.entity_id AND p.model_version = {version}
          AND (ids.state_updated_at IS NULL OR p.scored_at >= ids.state_updated_at))),
    (SELECT count(*) FROM ids WHERE EXISTS (
        SELECT 1 FROM {rejects} AS r
        WHERE r.entity_id = ids.entity_id AND r.model_version = {version}
          AND (ids.state_updated_at IS NULL OR r.rejected_at >= ids.state_updated_at))),
    (SELECT count(*) FROM {entities} WHERE {entity_id} IS NULL)
"""
MISSING = """
SELECT entity_id FROM ids
WHERE NOT EXISTS (
    SELECT 1 FROM {predictions} AS p
    WHERE p.entity_id = ids.entity_id AND p.model_version = {version}
      AND (ids.state_updated_at IS NULL OR p.scored_at >= ids.state_updated_at))
  AND NOT EXISTS (
    SELECT 1 FROM {rejects} AS r
    WHERE r.entity_id = ids.entity_id AND r.model_version = {version}
      AND (ids.state_updated_at IS NULL OR r.rejected_at >= ids.state_updated_at))
"""
FIRST_REJECTS = """
SELECT r.entity_id, r.reason FROM {rejects} AS r JOIN ids ON ids.entity_id = r.entity_id
WHERE r.model_version = {version}
  AND (ids.state_updated_at IS NULL OR r.rejected_at >= ids.state_updated_at)
ORDER BY r.entity_id LIMIT {limit}
"""


def pending_batch(contract: Contract, columns: Sequence[Any], rows: int) -> Pending:
    """A `Pending` from `PENDING`'s columns: id, missing, copies, known, then the inputs in
    model order (the numbers, then the categories)."""
    entity_ids, missing, copies, known, *values = columns
    numbers, categories = read_inputs(contract, values, rows)
    return Pending(
        entity_ids=list(entity_ids),
        numbers=numbers,
        categories=categories,
        missing=list(missing),
        copies=[int(count) for count in copies],
        known=[bool(flag) for flag in known],
    )


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


class StateSql(ABC):
    """What a SQL store does with the per-entity state (SqlStore's base): join it in the
    queries that read the entities (`e`, the state `s`), require its table, store it."""

    tables: Tables
    location: str
    connection: Any
    missing_table_errors: tuple[type[Exception], ...]

    @abstractmethod
    def write(self, before: Sequence[str], staged: Sequence[Staged], after: Sequence[str]) -> None:
        """In one transaction: run `before`, stage `staged`, then run `after`."""

    def state_names(self) -> dict[str, str]:
        """The join of the entities (`e`) with their state (`s`), or what stands for it when
        no state is read."""
        if not self.tables.state:
            return {"join": "", "known": "TRUE", "updated": "CAST(NULL AS TIMESTAMPTZ)"}
        return {
            "join": f" LEFT JOIN {quoted(self.tables.state)} AS s"
            f" ON s.entity_id = CAST(e.{quoted(self.tables.entity_id)} AS TEXT)",
            "known": "s.entity_id IS NOT NULL",
            "updated": "s.updated_at",
        }

    def require_state(self) -> None:
        """Refuse, in one line, a store whose state table (when one is read) does not exist."""
        if not self.tables.state:
            return
        try:
            self.connection.execute(f"SELECT 1 FROM {quoted(self.tables.state)} LIMIT 0")  # noqa: S608
        except self.missing_table_errors as error:
            raise StoreError(
                f"no per-entity state: there is no table {self.tables.state} in {self.location}"
                " (load-state stores it)"
            ) from error

    def input_names(self, contract: Contract) -> dict[str, str]:
        """`PENDING`'s NULL inputs (`missing`) and inputs read in model order (`casts`): the
        row's value where it has one, else the stored one."""
        model_order = [*contract.numbers, *contract.categories]
        names = [quoted(item.name) for item in contract.inputs]
        if self.tables.state:
            null = "e.{0} IS NULL AND s.{0} IS NULL"
            casts = [f"COALESCE({read_as(i)}, {read_as(i, 's')})" for i in model_order]
        else:
            null = "e.{0} IS NULL"
            casts = [read_as(item) for item in model_order]
        return {
            "missing": ", ".join(f"CASE WHEN {null.format(n)} THEN '{n[1:-1]}' END" for n in names),
            "casts": ", ".join(
                f"{cast} AS {quoted(item.name)}"
                for cast, item in zip(casts, model_order, strict=True)
            ),
        }

    def load_state(self, contract: Contract, state: pa.Table) -> None:
        """Store (replace) the state of these entities (`state_table`), the others' stays."""
        table = quoted(self.tables.state)
        inputs = [(quoted(item.name), ENTITY_TYPES[item.kind]) for item in contract.inputs]
        columns = [name for name, _ in STATE_COLUMNS] + [name for name, _ in inputs]
        create = CREATE.format(
            table=table,
            columns=", ".join(f"{name} {kind}" for name, kind in [*STATE_COLUMNS, *inputs]),
        )
        upsert = UPSERT.format(
            table=table,
            staging="staged_state",
            columns=", ".join(columns),
            updates=", ".join(f"{c} = excluded.{c}" for c in columns[1:]),
        )
        self.write([create], [Staged("staged_state", self.tables.state, state)], [upsert])


class StateFile(ABC):
    """The per-entity state of a directory of Parquet files (ParquetStore's base):
    `<state>.parquet`, read through a view."""

    tables: Tables
    directory: Path

    @abstractmethod
    def file(self, table: str) -> Path:
        """The file of `table`."""

    @abstractmethod
    def view(self, table: str, file: Path) -> None:
        """Read `table` from `file`."""

    def view_state(self) -> None:
        """Read the state from its file (when a state table is set); refuse, in one line, a
        directory without it."""
        if not self.tables.state:
            return
        state = self.file(self.tables.state)
        if not state.exists():
            raise StoreError(f"no per-entity state: {state} does not exist (load-state stores it)")
        self.view(self.tables.state, state)

    def load_state(self, contract: Contract, state: pa.Table) -> None:
        """Rewrite `<state>.parquet`: its other entities' rows, then these."""
        file = self.file(self.tables.state)
        if file.exists():
            stored = pq.read_table(file).select(state.column_names).cast(state.schema)
            kept = stored.filter(pc.invert(pc.is_in(stored["entity_id"], state["entity_id"])))
            state = pa.concat_tables([kept, state])
        temporary = self.directory / f".{self.tables.state}.parquet.tmp"
        pq.write_table(state, temporary)
        temporary.replace(file)
