"""What a store reads without per-entity state (this project was generated with
`stateful=no`): every input of an entity comes from its row of the entities table, so the
tables are the three of stores.py, the queries read the entities table alone and a prediction
stays current until the model changes. A project with per-entity state joins its state table
in this module instead."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from .contract import Contract
from .store_rows import read_inputs
from .stores import quoted, read_as


@dataclass(frozen=True)
class Tables:
    """The names of a store's tables, and of the entity id column."""

    entities: str = "entities"
    predictions: str = "predictions"
    rejects: str = "prediction_rejects"
    entity_id: str = "entity_id"

    @property
    def names(self) -> tuple[str, ...]:
        """Every table's name."""
        return (self.entities, self.predictions, self.rejects)


@dataclass(frozen=True)
class Pending:
    """A batch of entities that have no current prediction yet, as read from the source."""

    entity_ids: list[str]
    numbers: npt.NDArray[np.float64]
    """One row per entity, one column per number, integer and boolean input (model order);
    NaN where the source holds NULL or NaN."""
    categories: npt.NDArray[np.object_]
    """One row per entity, one column per category input; None where the source holds NULL."""
    missing: list[str]
    """Per entity, the inputs whose value is NULL (comma separated, empty when none)."""
    copies: list[int]
    """Per entity, how many source rows carry its id (more than one is an error)."""

    def entity_rejects(self) -> dict[int, str]:
        """The rows rejected for their entity rather than their inputs: none, without state."""
        return {}


class StateStore(Protocol):
    """What the precompute job needs from a store for the per-entity state: nothing, there
    is none."""


PENDING = """
SELECT entity_id, missing, copies, {features} FROM (
    SELECT
        CAST(e.{entity_id} AS TEXT) AS entity_id,
        concat_ws(', ', {missing}) AS missing,
        count(*) OVER (PARTITION BY e.{entity_id}) AS copies,
        row_number() OVER (PARTITION BY e.{entity_id}) AS nth,
        {casts}
    FROM {entities} AS e
    WHERE e.{entity_id} IS NOT NULL
) AS source
WHERE nth = 1
"""
NOT_CURRENT = """
  AND NOT EXISTS (
    SELECT 1 FROM {predictions} AS p
    WHERE p.entity_id = source.entity_id AND p.model_version = {version})
  AND NOT EXISTS (
    SELECT 1 FROM {rejects} AS r
    WHERE r.entity_id = source.entity_id AND r.model_version = {version})
"""
SOURCE_IDS = (
    "SELECT DISTINCT CAST({entity_id} AS TEXT) AS entity_id FROM {entities}"
    " WHERE {entity_id} IS NOT NULL"
)
COUNTS = """
SELECT
    (SELECT count(*) FROM ids),
    (SELECT count(*) FROM ids WHERE EXISTS (
        SELECT 1 FROM {predictions} AS p
        WHERE p.entity_id = ids.entity_id AND p.model_version = {version})),
    (SELECT count(*) FROM ids WHERE EXISTS (
        SELECT 1 FROM {rejects} AS r
        WHERE r.entity_id = ids.entity_id AND r.model_version = {version})),
    (SELECT count(*) FROM {entities} WHERE {entity_id} IS NULL)
"""
MISSING = """
SELECT entity_id FROM ids
WHERE NOT EXISTS (
    SELECT 1 FROM {predictions} AS p
    WHERE p.entity_id = ids.entity_id AND p.model_version = {version})
  AND NOT EXISTS (
    SELECT 1 FROM {rejects} AS r
    WHERE r.entity_id = ids.entity_id AND r.model_version = {version})
"""
FIRST_REJECTS = """
SELECT r.entity_id, r.reason FROM {rejects} AS r
WHERE r.model_version = {version} AND r.entity_id IN (SELECT entity_id FROM ids)
ORDER BY r.entity_id LIMIT {limit}
"""


def pending_batch(contract: Contract, columns: Sequence[Any], rows: int) -> Pending:
    """A `Pending` from `PENDING`'s columns: id, missing, copies, then the inputs in model
    order (the numbers, then the categories)."""
    entity_ids, missing, copies, *values = columns
    numbers, categories = read_inputs(contract, values, rows)
    return Pending(
        entity_ids=list(entity_ids),
        numbers=numbers,
        categories=categories,
        missing=list(missing),
        copies=[int(count) for count in copies],
    )


class StateSql:
    """What a SQL store's queries read without per-entity state (SqlStore's base): the
    entities table (`e`) alone."""

    def state_names(self) -> dict[str, str]:
        """The names the queries take besides the tables': none, no state is joined."""
        return {}

    def require_state(self) -> None:
        """Nothing to require: no state table is read."""

    def input_names(self, contract: Contract) -> dict[str, str]:
        """`PENDING`'s NULL inputs (`missing`) and inputs read in model order (`casts`)."""
        model_order = [*contract.numbers, *contract.categories]
        names = [quoted(item.name) for item in contract.inputs]
        return {
            "missing": ", ".join(f"CASE WHEN e.{n} IS NULL THEN '{n[1:-1]}' END" for n in names),
            "casts": ", ".join(f"{read_as(item)} AS {quoted(item.name)}" for item in model_order),
        }


class StateFile:
    """What a directory of Parquet files reads without per-entity state (ParquetStore's
    base): the entities file alone."""

    def view_state(self) -> None:
        """Nothing to read: no state file is kept."""
