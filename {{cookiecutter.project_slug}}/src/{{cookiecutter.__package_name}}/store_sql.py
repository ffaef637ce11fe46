{%- set stateful = cookiecutter.stateful == "yes" -%}
"""The SQL the stores share: the tables' columns, the query that reads the pending entities,
the upserts and the completeness check, with the store's table names quoted into them."""

from typing import Any

from . import output_columns
from .contract import Contract, Input
from .stores import ENTITY_TYPES, StoreError, Tables, quoted

PREDICTION_COLUMNS: tuple[tuple[str, str], ...] = (
    ("entity_id", "TEXT PRIMARY KEY"),
    *output_columns.COLUMNS,
    ("model_version", "TEXT NOT NULL"),
    ("scored_at", "TIMESTAMPTZ NOT NULL"),
)
"""Name and SQL type (`{json}`: the store's JSON type) of each column of the predictions."""
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
