"""What the precompute job needs from a store (`Store`), and the store at a source."""

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Protocol

from .contract import Columns, Contract
from .store_state import Pending, StateStore, Tables
from .stores import Completeness, Rejected, Scored


class Store(StateStore, Protocol):
    """What the precompute job needs from a store (store_state.StateStore: what it needs for
    the per-entity state)."""

    location: str

    def prepare(self) -> None:
        """Create the predictions and rejects tables unless they exist."""

    def pending(
        self, contract: Contract, model_version: str, batch_size: int, *, rescore: bool
    ) -> Iterator[Pending]:
        """The entities without a current prediction or reject (all of them with `rescore`)."""

    def save(self, scored: Scored, rejected: Rejected) -> None:
        """Upsert one batch's predictions and rejects in one transaction."""

    def load_entities(
        self, contract: Contract, entity_ids: Sequence[str], columns: Columns
    ) -> None:
        """Replace the entities table with these rows (the sample data, tests, benchmarks)."""

    def check(self, model_version: str, show: int) -> Completeness:
        """Compare the entities with the current predictions and rejects."""

    def close(self) -> None: ...


def open_store(source: str, tables: Tables) -> Store:
    """The store at `source`: a `postgresql://` URL, a directory of Parquet files (an existing
    directory, or a path ending in `/`), or the path of a DuckDB file.

    Each back end is imported when it is chosen: a job on a DuckDB file never loads the
    PostgreSQL driver."""
    if source.startswith(("postgresql://", "postgres://")):
        from .store_postgres import PostgresStore

        return PostgresStore(source, tables)
    if source.endswith("/") or Path(source).is_dir():
        from .store_parquet import ParquetStore

        return ParquetStore(Path(source), tables)
    from .store_duckdb import DuckDBStore

    return DuckDBStore(Path(source), tables)
