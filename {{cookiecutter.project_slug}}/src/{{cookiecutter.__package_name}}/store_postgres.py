{%- set stateful = cookiecutter.stateful == "yes" -%}
"""The production store: a PostgreSQL database."""

from collections.abc import Iterator, Sequence

import psycopg
{%- if stateful %}
import pyarrow as pa
{%- endif %}

from .contract import Columns, Contract
from .store_rows import completeness, pending_batch, prediction_columns, reject_columns
from .store_sql import SqlStore
from .stores import Completeness, Pending, Rejected, Scored, Tables, quoted

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
