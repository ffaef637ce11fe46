"""A directory of Parquet files, for a source system that exchanges files."""

from collections.abc import Sequence
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from .contract import Columns, Contract
from .store_duckdb import DuckDBStore
from .store_rows import entity_table
from .store_sql import SqlStore
from .store_state import StateFile, Tables
from .stores import Completeness, Rejected, Scored, StoreError, quoted

READ_FILE = "INSERT INTO {table} SELECT * FROM read_parquet({file})"
CLEAR = "DELETE FROM {table}"
WRITE_FILE = "COPY (SELECT * FROM {table} ORDER BY entity_id) TO {file} (FORMAT parquet)"
VIEW = "CREATE OR REPLACE VIEW {table} AS SELECT * FROM read_parquet({file})"


class ParquetStore(StateFile, DuckDBStore):
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
        for name in tables.names:
            if "." in name:
                schema = quoted(name.split(".")[0])
                self.connection.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")

    def file(self, table: str) -> Path:
        return self.directory / f"{table}.parquet"

    def view(self, table: str, file: Path) -> None:
        self.execute(VIEW, table, file)

    def prepare(self) -> None:
        entities = self.file(self.tables.entities)
        if not entities.exists():
            raise StoreError(f"no entities to score: {entities} does not exist")
        self.view(self.tables.entities, entities)
        self.view_state()
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

    def check(self, model_version: str, show: int) -> Completeness:
        self.prepare()
        return super().check(model_version, show)

    def execute(self, template: str, table: str, file: Path | None = None) -> None:
        """`template` with `table` quoted and `file` as an SQL string literal."""
        literal = "'" + str(file).replace("'", "''") + "'"
        self.connection.execute(template.format(table=quoted(table), file=literal))
