"""The per-entity state joined onto the batch job's chunks: one vectorised join per chunk,
never a lookup per row.

Each input row names its entity in the `entity_id_column` (`entity_id` by default, as a REST
request does). The values stored for the entity (`state.py`, at `state_url`) fill the inputs
the row leaves null or the input has no column for; where both have a value, the row's wins.
A row that names no entity, or an entity with no stored state, is rejected with the reason.

The pandas engine joins its chunks with a `Snapshot` of the state table (`StateJoin.filled`,
which reads and fills the next chunk in a thread while the job scores the current one); a Dask
task fills a single partition through a query for its entities (`StateJoin.fill`). Both read
the state as state_snapshot.py says.
"""

import argparse
from collections.abc import Container, Generator, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .batch_validation import MISSING, InputError, decoded
from .contract import Contract, Input, load_contract
from .entities import SAMPLE_ENTITY_ID
from .settings import Settings
from .state import open_store
from .state_snapshot import Snapshot, StoredState, StoreQuery

UNKNOWN_ENTITY = "no state is stored for this entity"
UNKNOWN_ENTITY_ID = "no-such-entity"
"""The entity of the sample's row before the bad ones (sample_input.py): nothing is stored
for it."""


class Filled(NamedTuple):
    chunk: pa.Table
    """The chunk with the stored values filled in."""
    reasons: dict[int, str]
    """The rows rejected for their entity ({row position: reason}); their inputs stay as the
    input gave them."""


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
    query per chunk (`fill`: a Dask task's single partition, through a connection of the
    task's own, reading only the state of the partition's entities), or through a `Snapshot`
    of the state (`filled`: a job that fills many chunks)."""

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


def with_sample_entities(frame: pd.DataFrame) -> pd.DataFrame:
    """The sample rows (sample_input.py: the training data's, in order), each naming its
    entity in an `entity_id` column: `sample-<n>` for row n, as `state load-sample` stores
    them, so that the stored state fills an empty cell."""
    named = frame.copy()
    entity_ids = [SAMPLE_ENTITY_ID.format(row) for row in range(len(frame))]
    named.insert(0, "entity_id", pd.Series(entity_ids, dtype="string", index=frame.index))
    return named


def sample_rows(good: pd.DataFrame, bad: pd.DataFrame) -> pd.DataFrame:
    """The sample's rows: the good ones, one naming an entity with no stored state (the job
    rejects it), then the bad ones."""
    unknown = good.iloc[:1].assign(entity_id=UNKNOWN_ENTITY_ID)
    return pd.concat([good, unknown, bad], ignore_index=True)


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
