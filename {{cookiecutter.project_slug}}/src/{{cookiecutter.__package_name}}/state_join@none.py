"""The per-entity state joined onto the batch job's chunks: this project has none (it was
generated with `stateful=no`), so every row gives its inputs and is scored as the input gives
it. The engines join each chunk through here all the same: a project with per-entity state
fills the rows' missing inputs from their entities' stored values in this module instead.
"""

import argparse
from collections.abc import Container, Iterable, Iterator
from typing import NamedTuple

import pandas as pd
import pyarrow as pa

from .settings import Settings


class Filled(NamedTuple):
    chunk: pa.Table
    """The chunk, as the input gave it."""
    reasons: dict[int, str]
    """The rows rejected for their entity: none, without state."""


class StateSettings(Settings):
    """No per-entity state: nothing to set."""

    def text_columns(self) -> list[str]:
        """The columns a CSV input keeps as text besides the inputs: none."""
        return []

    def state_join(self) -> "StateJoin":
        return StateJoin()


def add_state_arguments(parser: argparse.ArgumentParser) -> None:
    """No per-entity state: no options."""


class StateJoin:
    """Hands each chunk on as the input gave it."""

    def close(self) -> None:
        """Nothing to release."""

    def filled(
        self, chunks: Iterable[pa.Table], skip: Container[int]
    ) -> Iterator[tuple[int, pa.Table, Filled | None]]:
        """Each chunk with its part number and, unless the part is in `skip`, `fill`'s answer."""
        for part, chunk in enumerate(chunks):
            yield part, chunk, None if part in skip else self.fill(chunk)

    def fill(self, chunk: pa.Table) -> Filled:
        return Filled(chunk, {})


def with_sample_entities(frame: pd.DataFrame) -> pd.DataFrame:
    """The sample rows (sample_input.py) as they are: without state, they name no entity."""
    return frame


def sample_rows(good: pd.DataFrame, bad: pd.DataFrame) -> pd.DataFrame:
    """The sample's rows: the good ones, then the bad ones."""
    return pd.concat([good, bad], ignore_index=True)
