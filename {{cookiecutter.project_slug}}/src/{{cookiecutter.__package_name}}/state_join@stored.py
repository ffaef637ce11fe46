"""The per-entity state joined onto the batch job's chunks: one vectorised join per chunk,
never a lookup per row.

Each input row names its entity in the `entity_id_column` (`entity_id` by default, as a REST
request does). The values stored for the entity (`state.py`, at `state_url`) fill the inputs
the row leaves null or the input has no column for; where both have a value, the row's wins.
A row that names no entity, or an entity with no stored state, is rejected with the reason.

The pandas engine joins its chunks with a `Snapshot` of the state table: the table read whole
(one scan costs far less than an index lookup per entity) as Arrow columns through ADBC, into
an Arrow file in a temporary directory that is memory-mapped, so the job's own memory does not
grow with the state. Per chunk, the state's ids are looked up among the chunk's distinct ids
(the chunk's ids are the ones hashed: far fewer) and `take` lines the stored values up with
the rows. The snapshot holds the inputs the chunks so far left out; a chunk that leaves out
another input reads it again with that one. A chunk that names few of the stored entities
(`SNAPSHOT_SHARE`) while no current snapshot exists is joined through a query for its
entities instead: a small input never reads a large state whole. `StateJoin.filled` reads and
fills the next chunk in a thread while the job scores the current one.

Freshness: before each chunk the snapshot asks the store whether it changed since it was
read, and reads it again if so. On SQLite, `PRAGMA data_version` changes with every commit of
another connection (the snapshot's own writes nothing); on PostgreSQL, the newest `updated_at`
(read through its index) changes with every `state load`. What is stored while a run goes on
reaches the chunks filled after it, and the next run, without a restart. (On PostgreSQL, a
load that stamped its values before another load committed newer ones, but commits after the
snapshot was read, is seen at the next change.)

A Dask task fills a single partition (`StateJoin.fill`): it queries the state of the
partition's distinct entities through the store instead (`StoreQuery`), one query per
partition.
"""

import argparse
import sqlite3
import tempfile
from collections.abc import Container, Generator, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from pathlib import Path
from typing import Any, NamedTuple, Protocol

import adbc_driver_postgresql.dbapi
import adbc_driver_sqlite
import adbc_driver_sqlite.dbapi
import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from .batch import MISSING, InputError, decoded
from .contract import Contract, Input, load_contract
from .settings import Settings
from .state import COLUMN_TYPES, SQLITE_MMAP_BYTES, TABLE, EntityStore, open_store, quoted

UNKNOWN_ENTITY = "no state is stored for this entity"
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


class Filled(NamedTuple):
    chunk: pa.Table
    """The chunk with the stored values filled in."""
    reasons: dict[int, str]
    """The rows rejected for their entity ({row position: reason}); their inputs stay as the
    input gave them."""


class StoredState(Protocol):
    def aligned(
        self, entity_ids: pa.ChunkedArray, inputs: Sequence[Input]
    ) -> tuple[pa.Table, Found]:
        """One row per entity id: its stored values of `inputs` (all null where it has none,
        or the id is null), and whether it has any."""
        ...

    def close(self) -> None: ...


class StateSettings(Settings):
    """Where each input row names its entity (the state is read from `state_url`)."""

    entity_id_column: str = "entity_id"
    """The input column naming each row's entity, whose stored state (`state_url`) fills the
    inputs the row leaves null. Empty: the input gives every input and no state is read."""

    def text_columns(self) -> list[str]:
        """The columns a CSV input keeps as text besides the inputs: the entity ids, so that
        an id such as 007 keeps its zeros."""
        return [self.entity_id_column]

    def state_join(self) -> "StateJoin":
        """The join against the store at `state_url`, of the inputs features.yaml names (the
        store's own columns); none (rows scored as the input gives them) when
        `entity_id_column` is empty."""
        contract = load_contract()
        if not self.entity_id_column:
            return StateJoin(None, contract, self.entity_id_column, self.state_url)
        # The store creates the table, or adds the inputs it lacks.
        query = StoreQuery(open_store(self.state_url))
        return StateJoin(query, contract, self.entity_id_column, self.state_url)


def add_state_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--entity-id-column",
        help="the column naming each row's entity (default: entity_id); empty: read no state",
    )


class StateJoin:
    """Fills a chunk's missing inputs from the state of the entities its rows name: through a
    query per chunk (`fill`: a Dask task's single partition), or through a `Snapshot` of the
    state (`filled`: a job that fills many chunks)."""

    def __init__(
        self, state: StoredState | None, contract: Contract, entity_column: str, state_url: str
    ) -> None:
        self.state = state
        self.contract = contract
        self.entity_column = entity_column
        self.state_url = state_url

    def close(self) -> None:
        if self.state is not None:
            self.state.close()

    def filled(
        self, chunks: Generator[pa.Table], skip: Container[int]
    ) -> Iterator[tuple[int, pa.Table, Filled | None]]:
        """Each chunk with its part number and, unless the part is in `skip`, `fill`'s
        answer, joined against a `Snapshot` of the state. The next chunk is read and filled in
        a thread while the caller scores this one: the job scores on one core (ONNX Runtime
        runs one thread), and Arrow's kernels release the GIL, so the join takes the other. A
        change to the state reaches the chunks filled after it: from the one after the chunk
        being scored."""
        if isinstance(self.state, StoreQuery):
            self.state = Snapshot(self.state_url, self.contract, self.state)
        numbered = enumerate(chunks)

        def next_filled() -> tuple[int, pa.Table, Filled | None] | None:
            item = next(numbered, None)
            if item is None:
                return None
            part, chunk = item
            return part, chunk, None if part in skip else self.fill(chunk)

        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="state-join") as worker:
            try:
                upcoming = worker.submit(next_filled)
                while (current := upcoming.result()) is not None:
                    upcoming = worker.submit(next_filled)
                    yield current
            finally:
                # The input's reader belongs to the thread that reads it (a SQLite input).
                worker.submit(chunks.close)

    def fill(self, chunk: pa.Table) -> Filled:
        """The chunk with the stored values filled in, and the rows rejected for their entity."""
        if self.state is None:
            return Filled(chunk, {})
        if self.entity_column not in chunk.column_names:
            raise InputError(
                f"the input has no column {self.entity_column}: each row names its entity there"
                " (the ENTITY_ID_COLUMN setting)"
            )
        entity_ids = decoded(chunk.column(self.entity_column)).cast(pa.string())
        # Only inputs some row leaves out are read from the store.
        wanted = [
            item
            for item in self.contract.inputs
            if item.name not in chunk.column_names or chunk.column(item.name).null_count
        ]
        aligned, found = self.state.aligned(entity_ids, wanted)
        for item in wanted:
            values = aligned.column(item.name)
            if item.name in chunk.column_names:
                index = chunk.column_names.index(item.name)
                chunk = chunk.set_column(
                    index, item.name, coalesced(chunk.column(item.name), values, item)
                )
            else:
                chunk = chunk.append_column(item.name, values)
        named = pc.is_valid(entity_ids).to_numpy(zero_copy_only=False)
        unknown = np.flatnonzero(named & ~found).tolist()
        reasons = dict.fromkeys(unknown, f"{self.entity_column}: {UNKNOWN_ENTITY}")
        reasons |= dict.fromkeys(
            np.flatnonzero(~named).tolist(), f"{self.entity_column}: {MISSING}"
        )
        return Filled(chunk, reasons)


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


def coalesced(given: pa.ChunkedArray, stored: pa.ChunkedArray, item: Input) -> pa.ChunkedArray:
    """The row's value where it has one, else the stored one, as one column: text when the
    input is text (a CSV; validation parses it per kind), else the values' common type."""
    given = decoded(given)
    if pa.types.is_null(given.type):
        # A column with no value at all (an all-null Parquet column has no type).
        return stored
    if given.type != stored.type:
        text = pa.types.is_string(given.type) or pa.types.is_large_string(given.type)
        common = pa.string() if text or item.kind == "category" else pa.float64()
        given, stored = given.cast(common), stored.cast(common)
    return pc.coalesce(given, stored)
