"""The production store: a PostgreSQL database."""

from collections.abc import Iterator, Sequence

import psycopg

from .contract import Contract
from .store_rows import completeness
from .store_sql import SqlStore
from .store_state import Pending, Tables, pending_batch
from .stores import Completeness, Staged, quoted


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

    def pending(
        self, contract: Contract, model_version: str, batch_size: int, *, rescore: bool
    ) -> Iterator[Pending]:
        """The entities without a current prediction or reject (all of them with `rescore`)."""
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

    def write(self, before: Sequence[str], staged: Sequence[Staged], after: Sequence[str]) -> None:
        """In one transaction: run `before`, COPY each staged table into a temporary table of
        its name (created once per connection, emptied at every commit), then run `after`."""
        with self.connection.transaction(), self.connection.cursor() as cursor:
            for statement in before:
                cursor.execute(statement)
            for table in staged:
                cursor.execute(
                    f"CREATE TEMPORARY TABLE IF NOT EXISTS {table.name}"
                    f" (LIKE {quoted(table.like)}) ON COMMIT DELETE ROWS"
                )
                names = ", ".join(quoted(name) for name in table.rows.column_names)
                columns = [column.to_pylist() for column in table.rows.columns]
                with cursor.copy(f"COPY {table.name} ({names}) FROM STDIN") as copy:
                    for row in zip(*columns, strict=True):
                        copy.write_row(row)
            for statement in after:
                cursor.execute(statement)

    def check(self, model_version: str, show: int) -> Completeness:
        """Compare the entities with the current predictions and rejects."""
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
