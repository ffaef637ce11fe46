"""The embedded default store: a DuckDB database file."""

from collections.abc import Iterator, Sequence
from pathlib import Path

import duckdb

from .contract import Contract
from .store_rows import completeness
from .store_sql import SqlStore
from .store_state import Pending, Tables, pending_batch
from .stores import Completeness, Staged


class DuckDBStore(SqlStore):
    """A DuckDB database file: the embedded default."""

    missing_table_errors = (duckdb.CatalogException,)

    def __init__(self, path: Path, tables: Tables) -> None:
        super().__init__(tables)
        self.location = str(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.connection = duckdb.connect(str(path))

    def pending(
        self, contract: Contract, model_version: str, batch_size: int, *, rescore: bool
    ) -> Iterator[Pending]:
        """The entities without a current prediction or reject (all of them with `rescore`)."""
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

    def write(self, before: Sequence[str], staged: Sequence[Staged], after: Sequence[str]) -> None:
        """In one transaction: run `before`, register each staged Arrow table under its name,
        then run `after`."""
        connection = self.connection
        connection.begin()
        try:
            for statement in before:
                connection.execute(statement)
            for table in staged:
                connection.register(table.name, table.rows)
            for statement in after:
                connection.execute(statement)
            connection.commit()
        except BaseException:
            connection.rollback()
            raise
        finally:
            for table in staged:
                connection.unregister(table.name)

    def check(self, model_version: str, show: int) -> Completeness:
        """Compare the entities with the current predictions and rejects."""
        self.require_entities()
        counts, missing, rejects = (
            self.connection.execute(query, {"version": model_version}).fetchall()
            for query in self.check_queries(show)
        )
        return completeness(counts[0], missing, rejects)

    def close(self) -> None:
        self.connection.close()
