{%- set stateful = cookiecutter.stateful == "yes" -%}
"""Where the entities to score are read from and their predictions are written to.

A store holds three tables: the entities (an entity id column and one column per input of
features.yaml, typed by its kind: `ENTITY_TYPES`),
the predictions (one row per entity, upserted, so a rerun replaces instead of duplicating)
and the rejects (entities that could not be scored, with the reason). DuckDB is the embedded
default (store_duckdb.py); PostgreSQL is the production store (store_postgres.py), written
with COPY into a staging table and one `INSERT ... ON CONFLICT` per batch; a directory of
Parquet files (store_parquet.py) serves a source system that exchanges files. The SQL the
three share is in store_sql.py, the Arrow tables and columns they stage in store_rows.py.
{%- if stateful %}

A fourth table, the per-entity state (`entity_features` by default), fills the inputs an
entity's row leaves NULL: the entity id, when its values were last stored (`updated_at`), and
one column per input, the layout `state.py` gives it in the other strategies, so a PostgreSQL
state table can be shared with them. It is joined with the entities in the query that reads
them, so a batch costs no lookup per entity.
{%- endif %}
"""

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
{%- if stateful %}
import pyarrow as pa
{%- endif %}

from .contract import Columns, Contract

IDENTIFIER = r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$"
"""A table or column name, optionally schema-qualified: the only names put into SQL text."""
ENTITY_TYPES = {
    "number": "DOUBLE PRECISION",
    "integer": "BIGINT",
    "boolean": "BOOLEAN",
    "category": "TEXT",
}
"""The entities table's column type of each kind of input."""


class StoreError(Exception):
    """The store cannot be used as it is (say, it holds no entities)."""


def quoted(name: str) -> str:
    """`name` as a quoted SQL identifier (`schema.table` -> `"schema"."table"`)."""
    if not re.fullmatch(IDENTIFIER, name):
        raise ValueError(f"{name!r} is not a plain SQL identifier")
    return ".".join(f'"{part}"' for part in name.split("."))


@dataclass(frozen=True)
class Tables:
    """The names of a store's tables, and of the entity id column."""

    entities: str = "entities"
    predictions: str = "predictions"
    rejects: str = "prediction_rejects"
    entity_id: str = "entity_id"
{%- if stateful %}
    state: str = ""
    """The per-entity state table; empty: the entities table gives every input."""
{%- endif %}


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
{%- if stateful %}
    known: list[bool]
    """Per entity, whether the state table holds it (always, when no state is read)."""
{%- endif %}


@dataclass(frozen=True)
class Scored:
    """Predictions of one batch, column by column, ready to be upserted."""

    entity_ids: list[str]
    outputs: dict[str, list[Any]]
    """The model's answers by column of the predictions table (`store_sql.PREDICTION_COLUMNS`
    between the entity id and the model version)."""
    model_version: str
    scored_at: datetime


@dataclass(frozen=True)
class Rejected:
    """Entities of one batch that could not be scored, and why."""

    entity_ids: list[str]
    reasons: list[str]
    model_version: str
    rejected_at: datetime


@dataclass(frozen=True)
class Completeness:
    """How many entities have a current prediction, a current reject, or neither."""

    entities: int
    predicted: int
    rejected: int
    missing: int
    without_id: int
    """Source rows whose entity id is NULL: they can be neither scored nor reported."""
    first_missing: list[str]
    first_rejects: list[tuple[str, str]]

    @property
    def complete(self) -> bool:
        return self.missing == 0 and self.without_id == 0


class Store(Protocol):
    """What the precompute job needs from a store."""

    location: str

    def prepare(self) -> None:
        """Create the predictions and rejects tables unless they exist."""

    def pending(
        self, contract: Contract, model_version: str, batch_size: int, *, rescore: bool
    ) -> Iterator[Pending]:
        """The entities without a current prediction or reject (all of them with `rescore`)."""

    def save(self, scored: Scored, rejected: Rejected) -> None:
        """Upsert one batch's predictions and rejects in one transaction."""

    def load_entities(
        self, contract: Contract, entity_ids: Sequence[str], columns: Columns
    ) -> None:
        """Replace the entities table with these rows (the sample data, tests, benchmarks)."""
{%- if stateful %}

    def load_state(self, contract: Contract, state: pa.Table) -> None:
        """Store (replace) the state of these entities (`state_table`), the others' stays."""
{%- endif %}

    def check(self, model_version: str, show: int) -> Completeness:
        """Compare the entities with the current predictions and rejects."""

    def close(self) -> None: ...


def open_store(source: str, tables: Tables) -> Store:
    """The store at `source`: a `postgresql://` URL, a directory of Parquet files (an existing
    directory, or a path ending in `/`), or the path of a DuckDB file.

    Each back end is imported when it is chosen: a job on a DuckDB file never loads the
    PostgreSQL driver."""
    if source.startswith(("postgresql://", "postgres://")):
        from .store_postgres import PostgresStore

        return PostgresStore(source, tables)
    if source.endswith("/") or Path(source).is_dir():
        from .store_parquet import ParquetStore

        return ParquetStore(Path(source), tables)
    from .store_duckdb import DuckDBStore

    return DuckDBStore(Path(source), tables)
