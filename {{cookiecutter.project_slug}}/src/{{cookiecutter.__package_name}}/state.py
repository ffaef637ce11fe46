"""Per-entity state read at inference: the feature values stored for each entity.

A request names its entity and sends the features it knows; the values stored for that
entity fill in the others (the request wins where both have a value). The store is a SQLite
file by default and PostgreSQL when the URL says `postgresql://`; both hold one table,
`entity_features`: the entity id and a JSON object of feature values (as features.yaml
types them). Fill it from a CSV file (an `entity_id` column and feature columns), or with
the training data's rows as entities `sample-0`, `sample-1`, ...:

    python -m {{ cookiecutter.__package_name }}.state load entities.csv
    python -m {{ cookiecutter.__package_name }}.state load-sample
"""

import argparse
import csv
import json
import sqlite3
import threading
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Protocol

import psycopg
from psycopg.rows import TupleRow
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from .contract import Contract, load_contract, parse_text
from .features import FEATURE_NAMES
from .schema import Features, field_of
from .settings import Settings

SCHEMA = """
CREATE TABLE IF NOT EXISTS entity_features (
    entity_id TEXT PRIMARY KEY,
    features TEXT NOT NULL
)
"""
SQLITE_UPSERT = """
INSERT INTO entity_features (entity_id, features) VALUES (?, ?)
ON CONFLICT (entity_id) DO UPDATE SET features = excluded.features
"""
POSTGRES_UPSERT = SQLITE_UPSERT.replace("?", "%s")
SQLITE_SELECT = (
    "SELECT entity_id, features FROM entity_features"
    " WHERE entity_id IN (SELECT value FROM json_each(?))"
)
POSTGRES_SELECT = "SELECT entity_id, features FROM entity_features WHERE entity_id = ANY(%s)"

EntityId = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:@-]+$")]
FeatureValues = dict[str, Any]


def known_features_model(contract: Contract) -> type[BaseModel]:
    """The features a caller knows (see `Features` for their meaning): each is optional, and
    the entity's stored values fill in those left out or null."""
    fields: dict[str, Any] = {}
    for item in contract.inputs:
        value_type, field = field_of(item)
        fields[item.name] = (value_type | None, Field(default=None, description=field.description))
    return create_model(
        "KnownFeatures", __config__=ConfigDict(extra="forbid", frozen=True), **fields
    )


if TYPE_CHECKING:
    KnownFeatures = BaseModel
else:
    KnownFeatures = known_features_model(load_contract())


class EntityRequest(BaseModel):
    """One row to score: an entity and the features the caller knows about it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    entity_id: EntityId = Field(description="The entity whose stored features fill the gaps.")
    features: KnownFeatures = Field(default_factory=KnownFeatures)


class UnknownEntityError(LookupError):
    """No state is stored for the entity."""


class IncompleteFeaturesError(ValueError):
    """Neither the request nor the entity's stored state gives every feature."""

    def __init__(self, position: int, entity_id: str, missing: Sequence[str]) -> None:
        super().__init__(
            f"entity {entity_id!r} has no stored value for this feature and the request"
            " does not give it"
        )
        self.position = position
        self.entity_id = entity_id
        self.missing = tuple(missing)


class EntityStore(Protocol):
    def get_many(self, entity_ids: Sequence[str]) -> dict[str, FeatureValues]:
        """The stored features of those entities that have some."""
        ...

    def put_many(self, entities: Iterable[tuple[str, Mapping[str, Any]]]) -> int:
        """Store (replace) the features of each entity; returns how many were written."""
        ...

    def close(self) -> None: ...


def checked(values: Mapping[str, object]) -> FeatureValues:
    """Feature values fit to store: known names, each of its kind."""
    unknown = sorted(set(values) - set(FEATURE_NAMES))
    if unknown:
        raise ValueError(f"unknown features {unknown}: the model's features are {FEATURE_NAMES}")
    return KnownFeatures.model_validate(dict(values)).model_dump(exclude_none=True)


class SqliteEntityStore:
    """The store in a SQLite file: no server, fine for one host."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        # One connection shared by the worker threads of a process, one statement at a time.
        self._connection = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        with self._lock:
            # Readers in other processes (workers) do not block on the writer.
            self._connection.execute("PRAGMA journal_mode=WAL")
            self._connection.execute(SCHEMA)

    def get_many(self, entity_ids: Sequence[str]) -> dict[str, FeatureValues]:
        with self._lock:
            cursor = self._connection.execute(SQLITE_SELECT, [json.dumps(list(entity_ids))])
            rows = cursor.fetchall()
        return {entity_id: json.loads(features) for entity_id, features in rows}

    def put_many(self, entities: Iterable[tuple[str, Mapping[str, Any]]]) -> int:
        rows = [(entity_id, json.dumps(checked(values))) for entity_id, values in entities]
        with self._lock, self._connection:
            self._connection.execute("BEGIN")
            self._connection.executemany(SQLITE_UPSERT, rows)
        return len(rows)

    def close(self) -> None:
        self._connection.close()


class PostgresEntityStore:
    """The store in PostgreSQL: shared by every replica of the service."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._lock = threading.Lock()
        self._connection = self._connect()
        with self._lock:
            self._connection.execute(SCHEMA)

    def _connect(self) -> psycopg.Connection[TupleRow]:
        return psycopg.connect(self._url, autocommit=True, connect_timeout=5)

    def _open_connection(self) -> psycopg.Connection[TupleRow]:
        """The connection, re-established if the server dropped it."""
        if self._connection.closed or self._connection.broken:
            self._connection = self._connect()
        return self._connection

    def get_many(self, entity_ids: Sequence[str]) -> dict[str, FeatureValues]:
        with self._lock:
            try:
                cursor = self._open_connection().execute(POSTGRES_SELECT, [list(entity_ids)])
            except psycopg.OperationalError:
                if not self._connection.broken:
                    raise
                # The server closed the connection (a restart, a failover): once more on a
                # new one.
                cursor = self._open_connection().execute(POSTGRES_SELECT, [list(entity_ids)])
            rows = cursor.fetchall()
        return {entity_id: json.loads(features) for entity_id, features in rows}

    def put_many(self, entities: Iterable[tuple[str, Mapping[str, Any]]]) -> int:
        rows = [(entity_id, json.dumps(checked(values))) for entity_id, values in entities]
        with self._lock:
            connection = self._open_connection()
            with connection.transaction(), connection.cursor() as cursor:
                cursor.executemany(POSTGRES_UPSERT, rows)
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


def complete(requests: Sequence[EntityRequest], store: EntityStore) -> list[Features]:
    """The full feature rows of the requests: stored values, overridden by the request's.

    Raises UnknownEntityError for an entity without stored state, IncompleteFeaturesError
    when a feature is in neither place.
    """
    stored = store.get_many(sorted({request.entity_id for request in requests}))
    rows = []
    for position, request in enumerate(requests):
        if request.entity_id not in stored:
            raise UnknownEntityError(f"no state is stored for entity {request.entity_id!r}")
        rows.append(completed(request, stored[request.entity_id], position))
    return rows


def completed(request: EntityRequest, stored: FeatureValues, position: int = 0) -> Features:
    """One request's full feature row: its entity's stored values, overridden by the
    request's. Raises IncompleteFeaturesError when a feature is in neither place."""
    values = {**stored, **request.features.model_dump(exclude_none=True)}
    missing = [name for name in FEATURE_NAMES if name not in values]
    if missing:
        raise IncompleteFeaturesError(position, request.entity_id, missing)
    return Features.model_validate(values)


def _load_csv(path: Path) -> list[tuple[str, dict[str, Any]]]:
    inputs = {item.name: item for item in load_contract().inputs}
    with path.open(newline="", encoding="utf-8") as file:
        return [
            (
                row.pop("entity_id"),
                {
                    name: parse_text(inputs[name], value) if name in inputs else value
                    for name, value in row.items()
                    if value
                },
            )
            for row in csv.DictReader(file)
        ]


def _load_sample() -> list[tuple[str, dict[str, Any]]]:
    from .data import load_dataset  # the sample data needs the train extra

    contract = load_contract()
    columns = load_dataset(Settings().training_data, contract).columns
    return [
        (f"sample-{index}", dict(zip(contract.names, [*numbers, *categories], strict=True)))
        for index, (numbers, categories) in enumerate(
            zip(columns.numbers.tolist(), columns.categories.tolist(), strict=True)
        )
    ]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Store per-entity feature values.")
    commands = parser.add_subparsers(dest="command", required=True)
    load = commands.add_parser("load", help="store the rows of a CSV file (entity_id + features)")
    load.add_argument("csv", type=Path)
    commands.add_parser("load-sample", help="store the sample data set's rows as sample-<n>")
    arguments = parser.parse_args(argv)

    entities = _load_csv(arguments.csv) if arguments.command == "load" else _load_sample()
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
