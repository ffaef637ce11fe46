"""Where the entities to score are read from and their predictions are written to.

A store holds three tables: the entities (an entity id column and one column per input of
features.yaml, typed by its kind: `ENTITY_TYPES`),
the predictions (one row per entity, upserted, so a rerun replaces instead of duplicating)
and the rejects (entities that could not be scored, with the reason). DuckDB is the embedded
default (store_duckdb.py); PostgreSQL is the production store (store_postgres.py), written
through a staging table and one `INSERT ... ON CONFLICT` per batch; a directory of Parquet
files (store_parquet.py) serves a source system that exchanges files. The SQL the three share
is in store_sql.py, the Arrow tables and columns they stage in store_rows.py, the tables'
names, the batches read and the queries that read them in store_state.py; the job picks a
store by its source (`precompute.open_store`). This module holds what they all name.
"""

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

import pyarrow as pa

from .contract import Input

IDENTIFIER = r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$"
"""A table or column name, optionally schema-qualified: the only names put into SQL text."""
ENTITY_TYPES = {
    "number": "DOUBLE PRECISION",
    "integer": "BIGINT",
    "boolean": "BOOLEAN",
    "category": "TEXT",
}
"""The entities table's column type of each kind of input."""
CREATE = "CREATE TABLE IF NOT EXISTS {table} ({columns})"
UPSERT = (
    "INSERT INTO {table} ({columns}) SELECT {columns} FROM {staging}"
    " ON CONFLICT (entity_id) DO UPDATE SET {updates}"
)


class StoreError(Exception):
    """The store cannot be used as it is (say, it holds no entities)."""


def quoted(name: str) -> str:
    """`name` as a quoted SQL identifier (`schema.table` -> `"schema"."table"`)."""
    if not re.fullmatch(IDENTIFIER, name):
        raise ValueError(f"{name!r} is not a plain SQL identifier")
    return ".".join(f'"{part}"' for part in name.split("."))


def read_as(item: Input, table: str = "e") -> str:
    """An input's column of the entities (`e`), or of another table, as the job reads it: a
    float (the model's float32 block), or text."""
    column = f"{table}.{quoted(item.name)}"
    if item.kind == "category":
        return f"CAST({column} AS TEXT)"
    if item.kind == "boolean":
        # PostgreSQL casts a BOOLEAN to an INTEGER, not to a float.
        return f"CAST(CAST({column} AS INTEGER) AS DOUBLE PRECISION)"
    return f"CAST({column} AS DOUBLE PRECISION)"


class Staged(NamedTuple):
    """Rows a store stages for a write: a temporary table `name` with the columns of the
    table `like` (DuckDB reads the Arrow table itself)."""

    name: str
    like: str
    rows: pa.Table


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
