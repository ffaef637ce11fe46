"""What the per-entity state adds to the precompute job: nothing, this project has none (it
was generated with `stateful=no`). Every input of an entity comes from its row of the
entities table, and a prediction stays current until the model changes. A project with
per-entity state adds its settings, its `load-state` command and the sample's state here.
"""

import argparse
from collections.abc import Callable
from pathlib import Path

from .contract import load_contract
from .settings import Settings
from .store_source import Store

StateCommand = Callable[[argparse.Namespace, Store], int]
"""A command of the per-entity state: its exit status, from its arguments and the store."""


class StateSettings(Settings):
    """No per-entity state: nothing to set."""

    def state_tables(self) -> dict[str, str]:
        """The state's tables (`store_state.Tables`): none."""
        return {}

    def load_sample(self, store: Store) -> int:
        """The training data as the entities table (`load_sample`)."""
        return load_sample(store, self.training_data)


def add_state_commands(
    commands: "argparse._SubParsersAction[argparse.ArgumentParser]",
) -> dict[str, StateCommand]:
    """No per-entity state: no commands of its own."""
    return {}


def load_sample(store: Store, training_data: Path | None = None) -> int:
    """The training data (the sample data set by default) as the entities table, one entity
    per row: `sample-0`, ..."""
    from .data import load_dataset  # reading the training data needs the train extra

    columns = load_dataset(training_data).columns
    entity_ids = [f"sample-{row}" for row in range(len(columns))]
    store.load_entities(load_contract(), entity_ids, columns)
    return len(entity_ids)
