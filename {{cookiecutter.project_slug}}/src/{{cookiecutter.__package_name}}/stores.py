{%- set classification = cookiecutter.model_type != "regression" -%}
{%- set legal = cookiecutter.legal_review == "yes" -%}
{%- set stateful = cookiecutter.stateful == "yes" -%}
"""Where the entities to score are read from and their predictions are written to.

A store holds three tables: the entities (an entity id column and one column per input of
features.yaml, typed by its kind: `ENTITY_TYPES`),
the predictions (one row per entity, upserted, so a rerun replaces instead of duplicating)
and the rejects (entities that could not be scored, with the reason). DuckDB is the embedded
default; PostgreSQL is the production store, written with COPY into a staging table and one
`INSERT ... ON CONFLICT` per batch; a directory of Parquet files serves a source system that
exchanges files.
{%- if stateful %}

A fourth table, the per-entity state (`entity_features` by default), fills the inputs an
entity's row leaves NULL: the entity id, when its values were last stored (`updated_at`), and
one column per input, the layout `state.py` gives it in the other strategies, so a PostgreSQL
state table can be shared with them. It is joined with the entities in the query that reads
them, so a batch costs no lookup per entity.
{%- endif %}
"""

import re
from collections.abc import Iterator, {% if stateful %}Mapping, {% endif %}Sequence
from dataclasses import dataclass
from datetime import {% if stateful %}UTC, {% endif %}datetime
from pathlib import Path
from typing import Any, Protocol

import duckdb
import numpy as np
import numpy.typing as npt
import psycopg
import pyarrow as pa
{%- if stateful %}
import pyarrow.compute as pc
{%- endif %}
import pyarrow.parquet as pq

from .contract import Columns, Contract, Input

IDENTIFIER = r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$"
"""A table or column name, optionally schema-qualified: the only names put into SQL text."""
ENTITY_TYPES = {
    "number": "DOUBLE PRECISION",
    "integer": "BIGINT",
    "boolean": "BOOLEAN",
    "category": "TEXT",
}
"""The entities table's column type of each kind of input."""
ARROW_TYPES = {
    "number": pa.float64(),
    "integer": pa.int64(),
    "boolean": pa.bool_(),
    "category": pa.string(),
}


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
{%- if classification %}
    labels: list[str]
    probabilities: list[str]
    """JSON objects: class name -> probability."""
{%- else %}
    values: list[float]
{%- endif %}
{%- if legal %}
    explanations: list[str]
    """JSON objects: feature -> contribution to the prediction."""
{%- endif %}
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


PREDICTION_COLUMNS: tuple[tuple[str, str], ...] = (
    ("entity_id", "TEXT PRIMARY KEY"),
{%- if classification %}
    ("label", "TEXT NOT NULL"),
    ("probabilities", "{json} NOT NULL"),
{%- else %}
    ("value", "DOUBLE PRECISION NOT NULL"),
{%- endif %}
{%- if legal %}
    ("explanation", "{json} NOT NULL"),
{%- endif %}
    ("model_version", "TEXT NOT NULL"),
    ("scored_at", "TIMESTAMPTZ NOT NULL"),
)
{%- if stateful %}
STATE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("entity_id", "TEXT PRIMARY KEY"),
    ("updated_at", "TIMESTAMPTZ NOT NULL"),
)
"""The state table's first columns; one per input of features.yaml follows (ENTITY_TYPES)."""
{%- endif %}
REJECT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("entity_id", "TEXT PRIMARY KEY"),
    ("reason", "TEXT NOT NULL"),
    ("model_version", "TEXT NOT NULL"),
    ("rejected_at", "TIMESTAMPTZ NOT NULL"),
)

CREATE = "CREATE TABLE IF NOT EXISTS {table} ({columns})"
UPSERT = (
    "INSERT INTO {table} ({columns}) SELECT {columns} FROM {staging}"
    " ON CONFLICT (entity_id) DO UPDATE SET {updates}"
)
# A scored entity's old reject goes, and so does a rejected entity's stale prediction.
DELETE_STAGED = "DELETE FROM {table} WHERE entity_id IN (SELECT entity_id FROM {staging})"
{%- if stateful %}
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
{%- else %}
PENDING = """
SELECT entity_id, missing, copies, {features} FROM (
    SELECT
        CAST(e.{entity_id} AS TEXT) AS entity_id,
        concat_ws(', ', {missing}) AS missing,
        count(*) OVER (PARTITION BY e.{entity_id}) AS copies,
        row_number() OVER (PARTITION BY e.{entity_id}) AS nth,
        {casts}
    FROM {entities} AS e
    WHERE e.{entity_id} IS NOT NULL
) AS source
WHERE nth = 1
"""
NOT_CURRENT = """
  AND NOT EXISTS (
    SELECT 1 FROM {predictions} AS p
    WHERE p.entity_id = source.entity_id AND p.model_version = {version})
  AND NOT EXISTS (
    SELECT 1 FROM {rejects} AS r
    WHERE r.entity_id = source.entity_id AND r.model_version = {version})
"""
SOURCE_IDS = (
    "SELECT DISTINCT CAST({entity_id} AS TEXT) AS entity_id FROM {entities}"
    " WHERE {entity_id} IS NOT NULL"
)
COUNTS = """
SELECT
    (SELECT count(*) FROM ids),
    (SELECT count(*) FROM ids WHERE EXISTS (
        SELECT 1 FROM {predictions} AS p
        WHERE p.entity_id = ids.entity_id AND p.model_version = {version})),
    (SELECT count(*) FROM ids WHERE EXISTS (
        SELECT 1 FROM {rejects} AS r
        WHERE r.entity_id = ids.entity_id AND r.model_version = {version})),
    (SELECT count(*) FROM {entities} WHERE {entity_id} IS NULL)
"""
MISSING = """
SELECT entity_id FROM ids
WHERE NOT EXISTS (
    SELECT 1 FROM {predictions} AS p
    WHERE p.entity_id = ids.entity_id AND p.model_version = {version})
  AND NOT EXISTS (
    SELECT 1 FROM {rejects} AS r
    WHERE r.entity_id = ids.entity_id AND r.model_version = {version})
"""
FIRST_REJECTS = """
SELECT r.entity_id, r.reason FROM {rejects} AS r
WHERE r.model_version = {version} AND r.entity_id IN (SELECT entity_id FROM ids)
ORDER BY r.entity_id LIMIT {limit}
"""
{%- endif %}


ENTITIES_EXIST = "SELECT 1 FROM {entities} LIMIT 0"


class SqlStore:
    """The SQL both databases share; subclasses connect, read batches and stage rows."""

    json_type = "JSON"
    placeholder = "$version"
    location: str
    connection: Any
    missing_table_errors: tuple[type[Exception], ...] = ()

    def __init__(self, tables: Tables) -> None:
        self.tables = tables

    def sql(self, template: str, **names: str) -> str:
        """`template` with the store's table names quoted and `{version}` as a parameter."""
        return template.format(
            entities=quoted(self.tables.entities),
            predictions=quoted(self.tables.predictions),
            rejects=quoted(self.tables.rejects),
            entity_id=quoted(self.tables.entity_id),
            version=self.placeholder,
{%- if stateful %}
            **self.state_sql(),
{%- endif %}
            **names,
        )
{%- if stateful %}

    def state_sql(self) -> dict[str, str]:
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

    def state_statement(self, contract: Contract) -> str:
        inputs = [(quoted(item.name), ENTITY_TYPES[item.kind]) for item in contract.inputs]
        columns = ", ".join(f"{name} {kind}" for name, kind in [*STATE_COLUMNS, *inputs])
        return self.sql(CREATE, table=quoted(self.tables.state), columns=columns)

    def state_upsert(self, contract: Contract, staging: str) -> str:
        columns = [name for name, _ in STATE_COLUMNS] + [quoted(i.name) for i in contract.inputs]
        return self.sql(
            UPSERT,
            table=quoted(self.tables.state),
            staging=staging,
            columns=", ".join(columns),
            updates=", ".join(f"{c} = excluded.{c}" for c in columns[1:]),
        )
{%- endif %}

    def require_entities(self) -> None:
        """Refuse, in one line, a store whose entities table does not exist."""
        try:
            self.connection.execute(self.sql(ENTITIES_EXIST))
        except self.missing_table_errors as error:
            raise StoreError(
                f"no entities to score: there is no table {self.tables.entities} in {self.location}"
            ) from error
{%- if stateful %}
        if not self.tables.state:
            return
        try:
            self.connection.execute(f"SELECT 1 FROM {quoted(self.tables.state)} LIMIT 0")  # noqa: S608
        except self.missing_table_errors as error:
            raise StoreError(
                f"no per-entity state: there is no table {self.tables.state} in {self.location}"
                " (load-state stores it)"
            ) from error
{%- endif %}

    def create_statements(self) -> list[str]:
        return [
            self.sql(CREATE, table=quoted(table), columns=columns)
            for table, schema in (
                (self.tables.predictions, PREDICTION_COLUMNS),
                (self.tables.rejects, REJECT_COLUMNS),
            )
            for columns in [
                ", ".join(f"{name} {kind.format(json=self.json_type)}" for name, kind in schema)
            ]
        ]

    def pending_query(self, contract: Contract, *, rescore: bool) -> str:
        """The pending entities' id, NULL inputs, copies, then their inputs in model order."""
        names = [quoted(item.name) for item in contract.inputs]
        model_order = [*contract.numbers, *contract.categories]
{%- if stateful %}
        if self.tables.state:
            # The row's value where it has one, else the stored one.
            null = "e.{0} IS NULL AND s.{0} IS NULL"
            casts = [f"COALESCE({read_as(i)}, {read_as(i, 's')})" for i in model_order]
        else:
            null = "e.{0} IS NULL"
            casts = [read_as(item) for item in model_order]
        return self.sql(
            PENDING + ("" if rescore else NOT_CURRENT),
            features=", ".join(quoted(item.name) for item in model_order),
            missing=", ".join(f"CASE WHEN {null.format(n)} THEN '{n[1:-1]}' END" for n in names),
            casts=", ".join(
                f"{cast} AS {quoted(item.name)}"
                for cast, item in zip(casts, model_order, strict=True)
            ),
        )
{%- else %}
        return self.sql(
            PENDING + ("" if rescore else NOT_CURRENT),
            features=", ".join(quoted(item.name) for item in model_order),
            missing=", ".join(f"CASE WHEN e.{n} IS NULL THEN '{n[1:-1]}' END" for n in names),
            casts=", ".join(f"{read_as(item)} AS {quoted(item.name)}" for item in model_order),
        )
{%- endif %}

    def entities_statements(self, contract: Contract) -> list[str]:
        columns = ", ".join(
            f"{quoted(item.name)} {ENTITY_TYPES[item.kind]}" for item in contract.inputs
        )
        create = "CREATE TABLE {entities} ({entity_id} TEXT PRIMARY KEY, {features})"
        return [self.sql("DROP TABLE IF EXISTS {entities}"), self.sql(create, features=columns)]

    def upserts(self, staging: str, rejects_staging: str) -> list[str]:
        statements = []
        for table, schema, staged, other in (
            (self.tables.predictions, PREDICTION_COLUMNS, staging, self.tables.rejects),
            (self.tables.rejects, REJECT_COLUMNS, rejects_staging, self.tables.predictions),
        ):
            columns = [name for name, _ in schema]
            statements += [
                self.sql(
                    UPSERT,
                    table=quoted(table),
                    staging=staged,
                    columns=", ".join(columns),
                    updates=", ".join(f"{c} = excluded.{c}" for c in columns[1:]),
                ),
                self.sql(DELETE_STAGED, table=quoted(other), staging=staged),
            ]
        return statements

    def check_queries(self, show: int) -> tuple[str, str, str]:
        """The counts, the first missing ids and the first rejects, each after `WITH ids`."""
        ids = f"WITH ids AS ({self.sql(SOURCE_IDS)}) "
        return (
            ids + self.sql(COUNTS),
            ids + self.sql(MISSING) + f"ORDER BY entity_id LIMIT {int(show)}",
            ids + self.sql(FIRST_REJECTS, limit=str(int(show))),
        )
{%- if stateful %}


def read_as(item: Input, table: str = "e") -> str:
    """A column of the entities (`e`) or of the state (`s`) as the job reads it: a float (the
    model's float32 block), or text."""
    column = f"{table}.{quoted(item.name)}"
{%- else %}


def read_as(item: Input) -> str:
    """An entity column as the job reads it: a float (the model's float32 block), or text."""
    column = f"e.{quoted(item.name)}"
{%- endif %}
    if item.kind == "category":
        return f"CAST({column} AS TEXT)"
    if item.kind == "boolean":
        # PostgreSQL casts a BOOLEAN to an INTEGER, not to a float.
        return f"CAST(CAST({column} AS INTEGER) AS DOUBLE PRECISION)"
    return f"CAST({column} AS DOUBLE PRECISION)"


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
    return {
        "entity_id": scored.entity_ids,
{%- if classification %}
        "label": scored.labels,
        "probabilities": scored.probabilities,
{%- else %}
        "value": scored.values,
{%- endif %}
{%- if legal %}
        "explanation": scored.explanations,
{%- endif %}
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


class DuckDBStore(SqlStore):
    """A DuckDB database file: the embedded default."""

    missing_table_errors = (duckdb.CatalogException,)

    def __init__(self, path: Path, tables: Tables) -> None:
        super().__init__(tables)
        self.location = str(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.connection = duckdb.connect(str(path))

    def prepare(self) -> None:
        self.require_entities()
        for statement in self.create_statements():
            self.connection.execute(statement)

    def pending(
        self, contract: Contract, model_version: str, batch_size: int, *, rescore: bool
    ) -> Iterator[Pending]:
        query = self.pending_query(contract, rescore=rescore)
        params = None if rescore else {"version": model_version}
        # A second connection reads while the first one writes each batch.
        reader = self.connection.cursor()
        try:
            for batch in reader.sql(query, params=params).to_arrow_reader(batch_size):
                columns = [column.to_numpy(zero_copy_only=False) for column in batch.columns]
                yield pending_batch(contract, columns, batch.num_rows)
        finally:
            reader.close()

    def save(self, scored: Scored, rejected: Rejected) -> None:
        connection = self.connection
        connection.begin()
        try:
            connection.register("staged_predictions", pa.table(prediction_columns(scored)))
            connection.register("staged_rejects", pa.table(reject_columns(rejected)))
            for statement in self.upserts("staged_predictions", "staged_rejects"):
                connection.execute(statement)
            connection.commit()
        except BaseException:
            connection.rollback()
            raise
        finally:
            connection.unregister("staged_predictions")
            connection.unregister("staged_rejects")

    def load_entities(
        self, contract: Contract, entity_ids: Sequence[str], columns: Columns
    ) -> None:
        entities = entity_table(contract, entity_ids, columns)
        connection = self.connection
        connection.begin()
        try:
            for statement in self.entities_statements(contract):
                connection.execute(statement)
            connection.register("staged_entities", entities)
            connection.execute(self.sql("INSERT INTO {entities} SELECT * FROM staged_entities"))
            connection.commit()
        except BaseException:
            connection.rollback()
            raise
        finally:
            connection.unregister("staged_entities")
{%- if stateful %}

    def load_state(self, contract: Contract, state: pa.Table) -> None:
        connection = self.connection
        connection.begin()
        try:
            connection.execute(self.state_statement(contract))
            connection.register("staged_state", state)
            connection.execute(self.state_upsert(contract, "staged_state"))
            connection.commit()
        except BaseException:
            connection.rollback()
            raise
        finally:
            connection.unregister("staged_state")
{%- endif %}

    def check(self, model_version: str, show: int) -> Completeness:
        self.require_entities()
        counts, missing, rejects = (
            self.connection.execute(query, {"version": model_version}).fetchall()
            for query in self.check_queries(show)
        )
        return completeness(counts[0], missing, rejects)

    def close(self) -> None:
        self.connection.close()


COPY_TYPES = {"number": "float8", "integer": "int8", "boolean": "bool", "category": "text"}
"""The binary COPY type of each kind of input."""


class PostgresStore(SqlStore):
    """A PostgreSQL database: rows are COPied into temporary staging tables, then upserted."""

    json_type = "JSONB"
    placeholder = "%(version)s"
    missing_table_errors = (psycopg.errors.UndefinedTable,)

    def __init__(self, url: str, tables: Tables) -> None:
        super().__init__(tables)
        self.url = url
        self.connection = psycopg.connect(url, autocommit=True)
        info = self.connection.info
        self.location = f"postgresql://{info.host}:{info.port}/{info.dbname}"

    def prepare(self) -> None:
        self.require_entities()
        with self.connection.transaction():
            for statement in self.create_statements():
                self.connection.execute(statement)
            for staging, table in (
                ("staged_predictions", self.tables.predictions),
                ("staged_rejects", self.tables.rejects),
            ):
                self.connection.execute(
                    f"CREATE TEMPORARY TABLE IF NOT EXISTS {staging}"
                    f" (LIKE {quoted(table)}) ON COMMIT DELETE ROWS"
                )

    def pending(
        self, contract: Contract, model_version: str, batch_size: int, *, rescore: bool
    ) -> Iterator[Pending]:
        query = self.pending_query(contract, rescore=rescore)
        params = None if rescore else {"version": model_version}
        # A second connection streams the rows (a server-side cursor, binary: no parsing of
        # numbers as text) while the first one writes.
        with (
            psycopg.connect(self.url) as reader,
            reader.cursor(name="pending", binary=True) as cursor,
        ):
            cursor.itersize = batch_size
            cursor.execute(query, params)
            while rows := cursor.fetchmany(batch_size):
                yield pending_batch(contract, list(zip(*rows, strict=True)), len(rows))

    def save(self, scored: Scored, rejected: Rejected) -> None:
        with self.connection.transaction(), self.connection.cursor() as cursor:
            for staging, columns in (
                ("staged_predictions", prediction_columns(scored)),
                ("staged_rejects", reject_columns(rejected)),
            ):
                copy_sql = f"COPY {staging} ({', '.join(columns)}) FROM STDIN"
                with cursor.copy(copy_sql) as copy:
                    for row in zip(*columns.values(), strict=True):
                        copy.write_row(row)
            for statement in self.upserts("staged_predictions", "staged_rejects"):
                cursor.execute(statement)

    def load_entities(
        self, contract: Contract, entity_ids: Sequence[str], columns: Columns
    ) -> None:
        inputs = [quoted(item.name) for item in contract.inputs]
        names = ", ".join([quoted(self.tables.entity_id), *inputs])
        values = columns.by_input(contract).values()
        with self.connection.transaction(), self.connection.cursor() as cursor:
            for statement in self.entities_statements(contract):
                cursor.execute(statement)
            copy_sql = self.sql("COPY {entities} ({names}) FROM STDIN (FORMAT BINARY)", names=names)
            with cursor.copy(copy_sql) as copy:
                copy.set_types(["text", *(COPY_TYPES[item.kind] for item in contract.inputs)])
                for row in zip(entity_ids, *values, strict=True):
                    copy.write_row(row)
{%- if stateful %}

    def load_state(self, contract: Contract, state: pa.Table) -> None:
        names = ", ".join(quoted(name) for name in state.column_names)
        with self.connection.transaction(), self.connection.cursor() as cursor:
            cursor.execute(self.state_statement(contract))
            cursor.execute(
                f"CREATE TEMPORARY TABLE staged_state (LIKE {quoted(self.tables.state)})"
                " ON COMMIT DROP"
            )
            with cursor.copy(f"COPY staged_state ({names}) FROM STDIN") as copy:
                for row in zip(*(column.to_pylist() for column in state.columns), strict=True):
                    copy.write_row(row)
            cursor.execute(self.state_upsert(contract, "staged_state"))
{%- endif %}

    def check(self, model_version: str, show: int) -> Completeness:
        self.require_entities()
        with self.connection.cursor() as cursor:
            results = []
            for query in self.check_queries(show):
                cursor.execute(query, {"version": model_version})
                results.append(cursor.fetchall())
        counts, missing, rejects = results
        return completeness(counts[0], missing, rejects)

    def close(self) -> None:
        self.connection.close()


READ_FILE = "INSERT INTO {table} SELECT * FROM read_parquet({file})"
CLEAR = "DELETE FROM {table}"
WRITE_FILE = "COPY (SELECT * FROM {table} ORDER BY entity_id) TO {file} (FORMAT parquet)"
ENTITIES_VIEW = "CREATE OR REPLACE VIEW {table} AS SELECT * FROM read_parquet({file})"


class ParquetStore(DuckDBStore):
    """A directory of Parquet files, for a source system that exchanges files.

    The entities are read from `<entities>.parquet`. The predictions and rejects live in an
    in-memory DuckDB, loaded from `<predictions>.parquet` and `<rejects>.parquet` when the job
    starts and written back after every batch: to a temporary file, then renamed, so each
    file is always whole and a rerun resumes from what the last one wrote.
    """

    def __init__(self, directory: Path, tables: Tables) -> None:
        SqlStore.__init__(self, tables)
        self.location = str(directory)
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.connection = duckdb.connect()
        for name in (tables.entities, tables.predictions, tables.rejects{% if stateful %}, tables.state{% endif %}):
            if "." in name:
                schema = quoted(name.split(".")[0])
                self.connection.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")

    def file(self, table: str) -> Path:
        return self.directory / f"{table}.parquet"

    def prepare(self) -> None:
        entities = self.file(self.tables.entities)
        if not entities.exists():
            raise StoreError(f"no entities to score: {entities} does not exist")
        self.execute(ENTITIES_VIEW, self.tables.entities, entities)
{%- if stateful %}
        if self.tables.state:
            state = self.file(self.tables.state)
            if not state.exists():
                raise StoreError(
                    f"no per-entity state: {state} does not exist (load-state stores it)"
                )
            self.execute(ENTITIES_VIEW, self.tables.state, state)
{%- endif %}
        super().prepare()
        # The files are the store: what is in memory is replaced by what they hold.
        for table in (self.tables.predictions, self.tables.rejects):
            self.execute(CLEAR, table)
            if self.file(table).exists():
                self.execute(READ_FILE, table, self.file(table))

    def save(self, scored: Scored, rejected: Rejected) -> None:
        super().save(scored, rejected)
        for table in (self.tables.predictions, self.tables.rejects):
            temporary = self.directory / f".{table}.parquet.tmp"
            self.execute(WRITE_FILE, table, temporary)
            temporary.replace(self.file(table))

    def load_entities(
        self, contract: Contract, entity_ids: Sequence[str], columns: Columns
    ) -> None:
        temporary = self.directory / f".{self.tables.entities}.parquet.tmp"
        pq.write_table(entity_table(contract, entity_ids, columns), temporary)
        temporary.replace(self.file(self.tables.entities))
{%- if stateful %}

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
{%- endif %}

    def check(self, model_version: str, show: int) -> Completeness:
        self.prepare()
        return super().check(model_version, show)

    def execute(self, template: str, table: str, file: Path | None = None) -> None:
        """`template` with `table` quoted and `file` as an SQL string literal."""
        literal = "'" + str(file).replace("'", "''") + "'"
        self.connection.execute(template.format(table=quoted(table), file=literal))


def open_store(source: str, tables: Tables) -> Store:
    """The store at `source`: a `postgresql://` URL, a directory of Parquet files (an existing
    directory, or a path ending in `/`), or the path of a DuckDB file."""
    if source.startswith(("postgresql://", "postgres://")):
        return PostgresStore(source, tables)
    if source.endswith("/") or Path(source).is_dir():
        return ParquetStore(Path(source), tables)
    return DuckDBStore(Path(source), tables)
