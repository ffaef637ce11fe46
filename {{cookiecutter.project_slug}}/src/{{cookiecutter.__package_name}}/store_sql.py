"""The SQL the stores share: the tables' columns, the query that reads the pending entities,
the upserts and the completeness check, with the store's table names quoted into them, and
what the stores do through them (each store writes in its own way: `SqlStore.write`)."""

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

import pyarrow as pa

from . import output_columns
from .contract import Columns, Contract
from .store_rows import entity_table, prediction_columns, reject_columns
from .store_state import (
    COUNTS,
    FIRST_REJECTS,
    MISSING,
    NOT_CURRENT,
    PENDING,
    SOURCE_IDS,
    StateSql,
    Tables,
)
from .stores import CREATE, ENTITY_TYPES, UPSERT, Rejected, Scored, Staged, StoreError, quoted

PREDICTION_COLUMNS: tuple[tuple[str, str], ...] = (
    ("entity_id", "TEXT PRIMARY KEY"),
    *output_columns.COLUMNS,
    ("model_version", "TEXT NOT NULL"),
    ("scored_at", "TIMESTAMPTZ NOT NULL"),
)
"""Name and SQL type (`{json}`: the store's JSON type) of each column of the predictions."""
REJECT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("entity_id", "TEXT PRIMARY KEY"),
    ("reason", "TEXT NOT NULL"),
    ("model_version", "TEXT NOT NULL"),
    ("rejected_at", "TIMESTAMPTZ NOT NULL"),
)

# A scored entity's old reject goes, and so does a rejected entity's stale prediction.
DELETE_STAGED = "DELETE FROM {table} WHERE entity_id IN (SELECT entity_id FROM {staging})"
ENTITIES_EXIST = "SELECT 1 FROM {entities} LIMIT 0"


class SqlStore(StateSql, ABC):
    """The SQL both databases share; subclasses connect, read batches and write."""

    json_type = "JSON"
    placeholder = "$version"
    location: str
    connection: Any
    missing_table_errors: tuple[type[Exception], ...] = ()

    def __init__(self, tables: Tables) -> None:
        self.tables = tables

    @abstractmethod
    def write(self, before: Sequence[str], staged: Sequence[Staged], after: Sequence[str]) -> None:
        """In one transaction: run `before`, stage `staged`, then run `after`."""

    def prepare(self) -> None:
        """Create the predictions and rejects tables unless they exist."""
        self.require_entities()
        self.write(self.create_statements(), [], [])

    def save(self, scored: Scored, rejected: Rejected) -> None:
        """Upsert one batch's predictions and rejects in one transaction."""
        staged = [
            Staged(
                "staged_predictions", self.tables.predictions, pa.table(prediction_columns(scored))
            ),
            Staged("staged_rejects", self.tables.rejects, pa.table(reject_columns(rejected))),
        ]
        self.write([], staged, self.upserts("staged_predictions", "staged_rejects"))

    def load_entities(
        self, contract: Contract, entity_ids: Sequence[str], columns: Columns
    ) -> None:
        """Replace the entities table with these rows (the sample data, tests, benchmarks)."""
        staged = Staged(
            "staged_entities", self.tables.entities, entity_table(contract, entity_ids, columns)
        )
        insert = self.sql("INSERT INTO {entities} SELECT * FROM staged_entities")
        self.write(self.entities_statements(contract), [staged], [insert])

    def sql(self, template: str, **names: str) -> str:
        """`template` with the store's table names quoted and `{version}` as a parameter."""
        return template.format(
            entities=quoted(self.tables.entities),
            predictions=quoted(self.tables.predictions),
            rejects=quoted(self.tables.rejects),
            entity_id=quoted(self.tables.entity_id),
            version=self.placeholder,
            **self.state_names(),
            **names,
        )

    def require_entities(self) -> None:
        """Refuse, in one line, a store whose entities table does not exist."""
        try:
            self.connection.execute(self.sql(ENTITIES_EXIST))
        except self.missing_table_errors as error:
            raise StoreError(
                f"no entities to score: there is no table {self.tables.entities} in {self.location}"
            ) from error
        self.require_state()

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
        model_order = [*contract.numbers, *contract.categories]
        return self.sql(
            PENDING + ("" if rescore else NOT_CURRENT),
            features=", ".join(quoted(item.name) for item in model_order),
            **self.input_names(contract),
        )

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
