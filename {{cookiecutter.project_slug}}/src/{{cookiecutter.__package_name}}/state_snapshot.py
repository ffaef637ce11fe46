"""The stored per-entity state as Arrow columns lined up with a chunk's entity ids, for
state_join.py: through a snapshot of the whole table, or a query per chunk.

The pandas engine joins its chunks with a `Snapshot` of the state table: the table read whole
(one scan costs far less than an index lookup per entity) as Arrow columns through ADBC, into
an Arrow file in a temporary directory that is memory-mapped, so the job's own memory does not
grow with the state. Per chunk, the state's ids are looked up among the chunk's distinct ids
(the chunk's ids are the ones hashed: far fewer) and `take` lines the stored values up with
the rows. The snapshot holds the inputs the chunks so far left out; a chunk that leaves out
another input reads it again with that one. A chunk that names few of the stored entities
(`SNAPSHOT_SHARE`) while no current snapshot exists is joined through a query for its
entities instead: a small input never reads a large state whole.

Freshness: before each chunk the snapshot asks the store whether it changed since it was
read, and reads it again if so. On SQLite, `PRAGMA data_version` changes with every commit of
another connection (the snapshot's own writes nothing); on PostgreSQL, the newest `updated_at`
(read through its index) changes with every `state load`. What is stored while a run goes on
reaches the chunks filled after it, and the next run, without a restart. (On PostgreSQL, a
load that stamped its values before another load committed newer ones, but commits after the
snapshot was read, is seen at the next change.)

A Dask task fills a single partition: it queries the state of the partition's distinct
entities through the store instead (`StoreQuery`), one query per partition.
"""

import sqlite3
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import closing
from pathlib import Path
from typing import Any, Protocol

import adbc_driver_postgresql.dbapi
import adbc_driver_sqlite
import adbc_driver_sqlite.dbapi
import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from .contract import Contract, Input
from .state import COLUMN_TYPES, SQLITE_MMAP_BYTES, TABLE, EntityStore, quoted

ARROW_TYPES = {
    "number": pa.float64(),
    "integer": pa.int64(),
    "boolean": pa.bool_(),
    "category": pa.string(),
}
"""Stored values as Arrow columns, by kind (as features.yaml types the state table)."""
POSTGRESQL = ("postgresql://", "postgres://")
SQLITE = "sqlite:///"
SNAPSHOT_SHARE = 20
"""A snapshot is read for a chunk that names at least 1/20 of the stored entities; a chunk
naming fewer, with no current snapshot, is joined through a query for its entities: probing
every stored id (about 25 ns each) per chunk, and reading the table (about 0.8 µs per entity),
would cost more than the query (about 2 µs per entity it names)."""
POSTGRES_COUNT = f"""
SELECT CASE WHEN reltuples >= 0 THEN reltuples::bigint ELSE (SELECT count(*) FROM {TABLE}) END
FROM pg_class WHERE oid = to_regclass('{TABLE}')
"""  # noqa: S608 (a constant)
SQLITE_BATCH_ROWS = 262_144
"""Rows per Arrow batch read from SQLite: few batches, each still a few MiB."""

Found = npt.NDArray[np.bool_]


class StoredState(Protocol):
    def aligned(
        self, entity_ids: pa.ChunkedArray, inputs: Sequence[Input]
    ) -> tuple[pa.Table, Found]:
        """One row per entity id: its stored values of `inputs` (all null where it has none,
        or the id is null), and whether it has any."""
        ...

    def close(self) -> None: ...


class Snapshot:
    """The state table read whole into a memory-mapped Arrow file, read again when the store
    changes (see the module's docstring)."""

    def __init__(self, state_url: str, contract: Contract, query: "StoreQuery") -> None:
        self._query = query
        self._directory = tempfile.TemporaryDirectory(prefix="state-")
        scratch = Path(self._directory.name)
        if state_url.startswith(POSTGRESQL):
            self._source: SnapshotSource = PostgresSource(state_url)
        else:
            self._source = SqliteSource(Path(state_url.removeprefix(SQLITE)), scratch)
        self._scratch = scratch
        self._reads = 0
        self._contract = contract
        self._names: set[str] = set()
        self._version: object = None
        self._table: pa.Table | None = None
        self._counted: tuple[object, int] = (None, 0)

    def aligned(
        self, entity_ids: pa.ChunkedArray, inputs: Sequence[Input]
    ) -> tuple[pa.Table, Found]:
        # One hash of the chunk's distinct ids: `indices` places each row among them.
        encoded = entity_ids.combine_chunks().dictionary_encode()
        distinct = encoded.dictionary
        table = self._current(inputs, len(distinct))
        if table is None:
            return self._query.aligned(entity_ids, inputs)
        hits = pc.index_in(table.column("entity_id"), value_set=distinct)
        hits = pc.fill_null(hits, -1).to_numpy()
        rows = np.flatnonzero(hits >= 0)
        # The state row of each distinct id (-1: none), and a last -1 for rows without an id.
        state_rows = np.full(len(distinct) + 1, -1)
        state_rows[hits[rows]] = rows
        positions = state_rows[pc.fill_null(encoded.indices, len(distinct)).to_numpy()]
        found = positions >= 0
        names = [item.name for item in inputs]
        return table.select(names).take(pa.array(positions, mask=~found)), found

    def _current(self, inputs: Sequence[Input], named: int) -> pa.Table | None:
        """The snapshot, read again if the store changed or it lacks one of `inputs`; none
        when a chunk that names `named` entities is better served by a query."""
        version = self._source.version()
        names = {item.name for item in inputs}
        if self._table is None or version != self._version or not names <= self._names:
            self._table = None
            if named * SNAPSHOT_SHARE < self._stored(version):
                return None
            self._names |= names
            held = [item for item in self._contract.inputs if item.name in self._names]
            # A new file each time: the previous one stays mapped until no column uses it.
            self._reads += 1
            path = self._scratch / f"state-{self._reads}.arrow"
            self._write(path, held)
            with pa.memory_map(str(path)) as mapped:
                self._table = pa.ipc.open_file(mapped).read_all()
            self._version = version
            (self._scratch / f"state-{self._reads - 1}.arrow").unlink(missing_ok=True)
        return self._table

    def _stored(self, version: object) -> int:
        """How many entities have state: counted once per version of the store."""
        if self._counted[0] != version:
            self._counted = (version, self._source.count())
        return self._counted[1]

    def _write(self, path: Path, inputs: Sequence[Input]) -> None:
        """The state rows as an Arrow file: entity_id and `inputs`, typed per kind."""
        schema = pa.schema(
            [("entity_id", pa.string()), *((item.name, ARROW_TYPES[item.kind]) for item in inputs)]
        )
        # ADBC's SQLite driver types a column by its first values (one starting with NULLs
        # reads as int64, then fails on a number): a first row of typed values and no entity id
        # fixes the types, and is dropped.
        typed = "".join(
            f", CAST(0 AS {COLUMN_TYPES[item.kind]}) AS {quoted(item.name)}" for item in inputs
        )
        columns = "".join(f", {quoted(item.name)}" for item in inputs)
        query = f"SELECT NULL AS entity_id{typed} UNION ALL SELECT entity_id{columns} FROM {TABLE}"  # noqa: S608 (names checked)
        with pa.ipc.new_file(path, schema) as file:
            for batch in self._source.batches(query):
                # SQLite returns a boolean as 0 or 1: cast, not convert.
                typed_batch = batch.cast(schema)
                if typed_batch.column(0).null_count:
                    # The typed row (every stored row has an id).
                    typed_batch = typed_batch.filter(pc.is_valid(typed_batch.column(0)))
                file.write_batch(typed_batch)

    def close(self) -> None:
        self._table = None
        self._source.close()
        self._directory.cleanup()
        self._query.close()


class SnapshotSource(Protocol):
    def version(self) -> object:
        """Changes when the state does."""
        ...

    def count(self) -> int:
        """How many entities have state (an estimate will do)."""
        ...

    def batches(self, query: str) -> Iterator[pa.RecordBatch]: ...

    def close(self) -> None: ...


class SqliteSource:
    """The SQLite store, read through a copy: ADBC's driver carries a SQLite library of its
    own, and two libraries must never have one database open in one process (each takes the
    other's file locks for its own: stale reads, a corrupt file)."""

    def __init__(self, path: Path, scratch: Path) -> None:
        # Used by the thread that fills the chunks (`StateJoin.filled`).
        self._connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        # The copy reads every page: mapped, not copied in.
        self._connection.execute(f"PRAGMA mmap_size={SQLITE_MMAP_BYTES}")
        self._copy = scratch / "state.db"

    def version(self) -> object:
        return self._connection.execute("PRAGMA data_version").fetchone()

    def count(self) -> int:
        (count,) = self._connection.execute(f"SELECT count(*) FROM {TABLE}").fetchone()  # noqa: S608 (a constant)
        return int(count)

    def batches(self, query: str) -> Iterator[pa.RecordBatch]:
        # A consistent copy, page by page, taken by the library the writers use.
        with closing(sqlite3.connect(self._copy, isolation_level=None)) as copy:
            # A scratch file, deleted once read: no journal, no sync.
            copy.execute("PRAGMA journal_mode=OFF")
            copy.execute("PRAGMA synchronous=OFF")
            self._connection.backup(copy)
        try:
            with (
                adbc_driver_sqlite.dbapi.connect(str(self._copy)) as connection,
                connection.cursor() as cursor,
            ):
                option = adbc_driver_sqlite.StatementOptions.BATCH_ROWS.value
                cursor.adbc_statement.set_options(**{option: str(SQLITE_BATCH_ROWS)})
                cursor.execute(query)
                yield from cursor.fetch_record_batch()
        finally:
            self._copy.unlink()

    def close(self) -> None:
        self._connection.close()


class PostgresSource:
    """The PostgreSQL store, read through ADBC (binary COPY into Arrow)."""

    def __init__(self, url: str) -> None:
        self._connection = adbc_driver_postgresql.dbapi.connect(url, autocommit=True)

    def version(self) -> object:
        with self._connection.cursor() as cursor:
            cursor.execute(f"SELECT max(updated_at) FROM {TABLE}")  # noqa: S608 (a constant)
            return cursor.fetchone()

    def count(self) -> int:
        with self._connection.cursor() as cursor:
            # The planner's estimate (-1 before the table was first analysed), else a count.
            cursor.execute(POSTGRES_COUNT)
            (count,) = cursor.fetchone() or (0,)
            return int(count)

    def batches(self, query: str) -> Iterator[pa.RecordBatch]:
        with self._connection.cursor() as cursor:
            cursor.execute(query)
            yield from cursor.fetch_record_batch()

    def close(self) -> None:
        self._connection.close()


class StoreQuery:
    """The state of each chunk's distinct entities, in one query to the store: a Dask task
    fills a single partition, where a snapshot would be read for one chunk."""

    def __init__(self, store: EntityStore) -> None:
        self.store = store

    def aligned(
        self, entity_ids: pa.ChunkedArray, inputs: Sequence[Input]
    ) -> tuple[pa.Table, Found]:
        distinct = pc.unique(entity_ids.drop_null()).sort()
        names = [item.name for item in inputs]
        entity_column, *values = self.store.read_columns(distinct.to_pylist(), names)
        columns: dict[str, Any] = {"entity_id": pa.array(entity_column, pa.string())}
        for item, column in zip(inputs, values, strict=True):
            # SQLite returns a boolean as 0 or 1, a whole number as an int: cast, not convert.
            columns[item.name] = pa.array(column).cast(ARROW_TYPES[item.kind])
        positions = pc.index_in(entity_ids, value_set=columns["entity_id"])
        found = pc.is_valid(positions).to_numpy(zero_copy_only=False)
        return pa.table(columns).take(positions), found

    def close(self) -> None:
        self.store.close()
