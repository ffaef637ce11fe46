"""Per-entity state read at inference: the feature values stored for each entity.

A request (or an input row) names its entity and gives the features it knows; the values
stored for that entity fill in the others (the request wins where both have a value). The
store is a SQLite file by default and PostgreSQL when the URL says `postgresql://`; both hold
one table, `entity_features`: the entity id, when its values were last stored
(`updated_at`), and one column per input of features.yaml, typed by its kind (`COLUMN_TYPES`),
NULL where no value is stored. One column per feature lets a batch job read the table as
Arrow columns (state_join.py), or the state of a whole chunk of entities in one query, column
by column (`read_columns`). Fill it from a CSV file (an `entity_id` column and feature
columns), or with the training data's rows as entities `sample-0`, `sample-1`, ...:

    python -m {{ cookiecutter.__package_name }}.state load entities.csv
    python -m {{ cookiecutter.__package_name }}.state load-sample
"""

import json
import sqlite3
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import psycopg
from psycopg.rows import TupleRow
from pydantic import ValidationError

from .contract import Contract, load_contract
from .entities import FeatureValues, checked, loader_command
from .features import FEATURE_NAMES
from .settings import Settings

TABLE = "entity_features"
COLUMN_TYPES = {
    "number": "DOUBLE PRECISION",
    "integer": "BIGINT",
    "boolean": "BOOLEAN",
    "category": "TEXT",
}
"""The state table's column type of each kind of input (SQLite and PostgreSQL read the same)."""
LEGACY_COLUMN = "features"
"""The JSON column of the state table's first layout, which this one replaces."""


def quoted(name: str) -> str:
    """A feature name (a Python identifier, features.yaml checks) as an SQL identifier."""
    return f'"{name}"'


def schema(contract: Contract, options: str = "") -> str:
    columns = "".join(
        f",\n    {quoted(item.name)} {COLUMN_TYPES[item.kind]}" for item in contract.inputs
    )
    return (
        f"CREATE TABLE IF NOT EXISTS {TABLE} (\n    entity_id TEXT PRIMARY KEY,\n"
        f"    updated_at TIMESTAMPTZ NOT NULL{columns}\n){options}"
    )


def upsert(contract: Contract, placeholder: str) -> str:
    names = ["entity_id", "updated_at", *(quoted(item.name) for item in contract.inputs)]
    values = ", ".join([placeholder] * len(names))
    updates = ", ".join(f"{name} = excluded.{name}" for name in names[1:])
    return (
        f"INSERT INTO {TABLE} ({', '.join(names)}) VALUES ({values})"  # noqa: S608 (names checked)
        f" ON CONFLICT (entity_id) DO UPDATE SET {updates}"
    )


def select(names: Sequence[str], condition: str) -> str:
    unknown = sorted(set(names) - set(FEATURE_NAMES))
    if unknown:
        raise ValueError(f"unknown features {unknown}: the model's features are {FEATURE_NAMES}")
    columns = "".join(f", {quoted(name)}" for name in names)
    return f"SELECT entity_id{columns} FROM {TABLE} WHERE {condition}"  # noqa: S608 (names checked)


def added_columns(contract: Contract, existing: Iterable[str]) -> list[str]:
    """`ALTER TABLE` statements adding the inputs a table made for an older features.yaml
    lacks (their values are not stored: NULL); refuses the first, JSON, layout."""
    existing = set(existing)
    if LEGACY_COLUMN in existing and LEGACY_COLUMN not in FEATURE_NAMES:
        raise ValueError(
            f"the state table {TABLE} has the old layout (one JSON column): drop it and load"
            " the state again (python -m {{ cookiecutter.__package_name }}.state load ...)"
        )
    return [
        f"ALTER TABLE {TABLE} ADD COLUMN {quoted(item.name)} {COLUMN_TYPES[item.kind]}"
        for item in contract.inputs
        if item.name not in existing
    ]


SQLITE_SELECT = "entity_id IN (SELECT value FROM json_each(?))"
SQLITE_MMAP_BYTES = 1 << 30
POSTGRES_SELECT = "entity_id = ANY(%s)"
POSTGRES_INDEX = f"CREATE INDEX IF NOT EXISTS {TABLE}_updated_at ON {TABLE} (updated_at)"
"""The newest `updated_at` tells a batch job's snapshot of the state that it changed
(state_join.py): an index answers it without reading the table."""
POSTGRES_COLUMNS = (
    "SELECT column_name FROM information_schema.columns"
    " WHERE table_name = %s AND table_schema = current_schema()"
)


class EntityStore(Protocol):
    def get_many(self, entity_ids: Sequence[str]) -> dict[str, FeatureValues]:
        """The stored features of those entities that have some."""
        ...

    def read_columns(self, entity_ids: Sequence[str], names: Sequence[str]) -> list[Sequence[Any]]:
        """The stored rows of those entities that have some, in one query, column by column:
        the entity ids, then the values of each feature of `names` (None where not stored;
        booleans as SQLite or PostgreSQL return them)."""
        ...

    def put_many(self, entities: Iterable[tuple[str, Mapping[str, Any]]]) -> int:
        """Store (replace) the features of each entity; returns how many were written."""
        ...

    def close(self) -> None: ...


PYTHON_TYPES: dict[str, type] = {"number": float, "integer": int, "boolean": bool, "category": str}
"""A stored value as its kind's Python value (SQLite returns a boolean as 0 or 1)."""


class SqlEntityStore(ABC):
    """What both databases share: the table's statements and the conversion of rows."""

    def __init__(self) -> None:
        self._contract = load_contract()
        self._lock = threading.Lock()

    @abstractmethod
    def _rows(self, names: Sequence[str], entity_ids: Sequence[str]) -> list[tuple[Any, ...]]:
        """The stored rows of those entities: the entity id, then the values of `names`."""

    def get_many(self, entity_ids: Sequence[str]) -> dict[str, FeatureValues]:
        inputs = self._contract.inputs
        rows = self._rows([item.name for item in inputs], entity_ids)
        return {
            entity_id: {
                item.name: PYTHON_TYPES[item.kind](value)
                for item, value in zip(inputs, values, strict=True)
                if value is not None
            }
            for entity_id, *values in rows
        }

    def read_columns(self, entity_ids: Sequence[str], names: Sequence[str]) -> list[Sequence[Any]]:
        rows = self._rows(names, entity_ids)
        if not rows:
            return [() for _ in range(len(names) + 1)]
        return list(zip(*rows, strict=True))

    def _stored_rows(self, entities: Iterable[tuple[str, Mapping[str, Any]]]) -> list[list[Any]]:
        """Rows to upsert: entity id, the time, then each input's value or None."""
        now = datetime.now(UTC)
        names = [item.name for item in self._contract.inputs]
        rows = []
        for entity_id, values in entities:
            features = checked(values)
            rows.append([entity_id, now, *(features.get(name) for name in names)])
        return rows


class SqliteEntityStore(SqlEntityStore):
    """The store in a SQLite file: no server, fine for one host."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        path.parent.mkdir(parents=True, exist_ok=True)
        # One connection shared by the worker threads of a process, one statement at a time.
        self._connection = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        with self._lock:
            # Readers in other processes (workers) do not block on the writer.
            self._connection.execute("PRAGMA journal_mode=WAL")
            # A batch reads the rows of many entities at once: pages mapped, not copied in.
            self._connection.execute(f"PRAGMA mmap_size={SQLITE_MMAP_BYTES}")
            # Rows stored in the primary key's order: one lookup per entity, not two.
            self._connection.execute(schema(self._contract, " WITHOUT ROWID"))
            existing = [row[1] for row in self._connection.execute(f"PRAGMA table_info({TABLE})")]
            for statement in added_columns(self._contract, existing):
                self._connection.execute(statement)

    def _rows(self, names: Sequence[str], entity_ids: Sequence[str]) -> list[tuple[Any, ...]]:
        query = select(names, SQLITE_SELECT)
        with self._lock:
            return self._connection.execute(query, [json.dumps(list(entity_ids))]).fetchall()

    def put_many(self, entities: Iterable[tuple[str, Mapping[str, Any]]]) -> int:
        rows = self._stored_rows(entities)
        for row in rows:
            row[1] = row[1].isoformat()  # SQLite has no timestamp type: ISO 8601 text
        with self._lock, self._connection:
            self._connection.execute("BEGIN")
            self._connection.executemany(upsert(self._contract, "?"), rows)
        return len(rows)

    def close(self) -> None:
        self._connection.close()


class PostgresEntityStore(SqlEntityStore):
    """The store in PostgreSQL: shared by every replica of the service."""

    def __init__(self, url: str) -> None:
        super().__init__()
        self._url = url
        self._connection = self._connect()
        with self._lock, self._connection.transaction():
            self._connection.execute(schema(self._contract))
            self._connection.execute(POSTGRES_INDEX)
            existing = self._connection.execute(POSTGRES_COLUMNS, [TABLE]).fetchall()
            for statement in added_columns(self._contract, [row[0] for row in existing]):
                self._connection.execute(statement)

    def _connect(self) -> psycopg.Connection[TupleRow]:
        return psycopg.connect(self._url, autocommit=True, connect_timeout=5)

    def _open_connection(self) -> psycopg.Connection[TupleRow]:
        """The connection, re-established if the server dropped it."""
        if self._connection.closed or self._connection.broken:
            self._connection = self._connect()
        return self._connection

    def _rows(self, names: Sequence[str], entity_ids: Sequence[str]) -> list[tuple[Any, ...]]:
        query = select(names, POSTGRES_SELECT)
        with self._lock:
            try:
                cursor = self._open_connection().execute(query, [list(entity_ids)])
            except psycopg.OperationalError:
                if not self._connection.broken:
                    raise
                # The server closed the connection (a restart, a failover): once more on a
                # new one.
                cursor = self._open_connection().execute(query, [list(entity_ids)])
            return cursor.fetchall()

    def put_many(self, entities: Iterable[tuple[str, Mapping[str, Any]]]) -> int:
        rows = self._stored_rows(entities)
        with self._lock:
            connection = self._open_connection()
            with connection.transaction(), connection.cursor() as cursor:
                cursor.executemany(upsert(self._contract, "%s"), rows)
        return len(rows)

    def close(self) -> None:
        self._connection.close()


def open_store(url: str) -> EntityStore:
    """The store a URL names: `sqlite:///relative.db`, `sqlite:////absolute.db` or
    `postgresql://user@host:5432/database`."""
    if url.startswith(("postgresql://", "postgres://")):
        return PostgresEntityStore(url)
    if url.startswith("sqlite:///"):
        return SqliteEntityStore(Path(url.removeprefix("sqlite:///")))
    raise ValueError(f"unsupported state store URL {url!r}: use sqlite:/// or postgresql://")


def main(argv: Sequence[str] | None = None) -> None:
    parser, entities = loader_command("Store per-entity feature values.", argv)
    settings = Settings()
    store = open_store(settings.state_url)
    try:
        written = store.put_many(entities)
    except (ValueError, ValidationError) as error:
        parser.error(str(error))
    finally:
        store.close()
    print(f"stored the features of {written} entities in {settings.state_url}")


if __name__ == "__main__":
    main()
