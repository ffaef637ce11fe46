"""What the per-entity state adds to the precompute job.

    {{ cookiecutter.__package_name }}-precompute load-state state.csv   # store the state of its entities

The per-entity state (`state_table`, see store_state.py; `load-sample` stores the training
data's rows as the state of its entities too) fills the inputs an entity's row leaves NULL;
where both have a value, the row's wins. An entity with no stored state is rejected with that
reason. A prediction made before the entity's state last changed is not current: the next
run scores the entity again, with the new state.
"""

import argparse
import csv
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import Field

from .contract import Contract, load_contract, parse_text
from .settings import Settings
from .store_source import Store
from .store_state import state_table
from .stores import IDENTIFIER

StateCommand = Callable[[argparse.Namespace, Store], int]
"""A command of the per-entity state: its exit status, from its arguments and the store."""


class StateSettings(Settings):
    """Where the per-entity state is stored."""

    state_table: str = Field(default="entity_features", pattern=f"{IDENTIFIER}|^$")
    """The per-entity state that fills the inputs an entity's row leaves NULL (one column
    per input). Empty: the entities table gives every input and no state is read."""

    def state_tables(self) -> dict[str, str]:
        """The state's table (`store_state.Tables`)."""
        return {"state": self.state_table}

    def load_sample(self, store: Store) -> int:
        """The training data as the entities table and, when a state table is set, as the
        entities' stored state (`load_sample`)."""
        return load_sample(store, self.training_data, with_state=bool(self.state_table))


def add_state_commands(
    commands: "argparse._SubParsersAction[argparse.ArgumentParser]",
) -> dict[str, StateCommand]:
    """The per-entity state's commands, by name: `load-state`."""
    load_state = commands.add_parser(
        "load-state", help="store the state of the entities of a CSV file (entity_id + inputs)"
    )
    load_state.add_argument("csv", type=Path)
    return {"load-state": load_state_command}


def load_state_command(arguments: argparse.Namespace, store: Store) -> int:
    """Store the state of the entities of the CSV file `arguments.csv`."""
    contract = load_contract()
    try:
        entity_ids, values = read_state_csv(arguments.csv, contract)
    except (OSError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    store.load_state(contract, state_table(contract, entity_ids, values))
    print(f"stored the state of {len(entity_ids)} entities in {store.location}")
    return 0


def load_sample(
    store: Store, training_data: Path | None = None, *, with_state: bool = False
) -> int:
    """The training data (the sample data set by default) as the entities table, one entity
    per row: `sample-0`, ...; `with_state`: as their stored state too."""
    from .data import load_dataset  # reading the training data needs the train extra

    columns = load_dataset(training_data).columns
    entity_ids = [f"sample-{row}" for row in range(len(columns))]
    contract = load_contract()
    store.load_entities(contract, entity_ids, columns)
    if with_state:
        # The same rows as each entity's stored state.
        values = columns.by_input(contract)
        store.load_state(contract, state_table(contract, entity_ids, values))
    return len(entity_ids)


def read_state_csv(path: Path, contract: Contract) -> tuple[list[str], dict[str, list[Any]]]:
    """The entity ids and input values of a CSV file with an `entity_id` column and a column
    per input it stores (an empty cell, or an absent column, stores nothing)."""
    with path.open(newline="", encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    columns = set(rows[0]) if rows else set()
    names = {item.name for item in contract.inputs}
    if "entity_id" not in columns or not columns - {"entity_id"} <= names:
        unknown = sorted(columns - names - {"entity_id"})
        raise ValueError(
            f"{path}: the columns are entity_id and inputs of features.yaml;"
            f" {'no entity_id' if 'entity_id' not in columns else f'unknown: {unknown}'}"
        )
    values = {
        item.name: [parse_text(item, row.get(item.name)) for row in rows]
        for item in contract.inputs
    }
    return [row["entity_id"] for row in rows], values
