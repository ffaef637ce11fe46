{%- set stateful = cookiecutter.stateful == "yes" -%}
"""The embedded default store: a DuckDB database file."""

from collections.abc import Iterator, Sequence
from pathlib import Path

import duckdb
import pyarrow as pa

from .contract import Columns, Contract
from .store_rows import (
    completeness,
    entity_table,
    pending_batch,
    prediction_columns,
    reject_columns,
)
from .store_sql import SqlStore
from .stores import Completeness, Pending, Rejected, Scored, Tables


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
