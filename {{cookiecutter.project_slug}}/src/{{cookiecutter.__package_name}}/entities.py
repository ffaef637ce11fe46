"""A request for an entity's prediction, and how the entity's stored state completes it,
whatever store holds the state.

A request (or an input row) names its entity and gives the features it knows; the values
stored for that entity fill in the others, and the request wins where both have a value.
"""

import argparse
import csv
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Protocol

from pydantic import BaseModel, ConfigDict, Field, create_model

from .contract import Contract, load_contract, parse_text
from .features import FEATURE_NAMES
from .schema import Features, field_of
from .settings import Settings

SAMPLE_ENTITY_ID = "sample-{}"
"""The id `load-sample` gives the training data's row of each position."""

EntityId = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:@-]+$")]
FeatureValues = dict[str, Any]


def known_features_model(contract: Contract) -> type[BaseModel]:
    """The features a caller knows (see `Features` for their meaning): each is optional, and
    the entity's stored values fill in those left out or null."""
    fields: dict[str, Any] = {}
    for item in contract.inputs:
        value_type, field = field_of(item)
        fields[item.name] = (value_type | None, Field(default=None, description=field.description))
    return create_model(
        "KnownFeatures", __config__=ConfigDict(extra="forbid", frozen=True), **fields
    )


if TYPE_CHECKING:
    KnownFeatures = BaseModel
else:
    KnownFeatures = known_features_model(load_contract())


class EntityRequest(BaseModel):
    """One row to score: an entity and the features the caller knows about it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    entity_id: EntityId = Field(description="The entity whose stored features fill the gaps.")
    features: KnownFeatures = Field(default_factory=KnownFeatures)


class UnknownEntityError(LookupError):
    """No state is stored for the entity."""


class IncompleteFeaturesError(ValueError):
    """Neither the request nor the entity's stored state gives every feature."""

    def __init__(self, position: int, entity_id: str, missing: Sequence[str]) -> None:
        super().__init__(
            f"entity {entity_id!r} has no stored value for this feature and the request"
            " does not give it"
        )
        self.position = position
        self.entity_id = entity_id
        self.missing = tuple(missing)


class StateReader(Protocol):
    def get_many(self, entity_ids: Sequence[str]) -> dict[str, FeatureValues]:
        """The stored features of those entities that have some."""
        ...


def checked(values: Mapping[str, object]) -> FeatureValues:
    """Feature values fit to store: known names, each of its kind."""
    unknown = sorted(set(values) - set(FEATURE_NAMES))
    if unknown:
        raise ValueError(f"unknown features {unknown}: the model's features are {FEATURE_NAMES}")
    return KnownFeatures.model_validate(dict(values)).model_dump(exclude_none=True)


def complete(requests: Sequence[EntityRequest], store: StateReader) -> list[Features]:
    """The full feature rows of the requests: stored values, overridden by the request's.

    Raises UnknownEntityError for an entity without stored state, IncompleteFeaturesError
    when a feature is in neither place.
    """
    stored = store.get_many(sorted({request.entity_id for request in requests}))
    return [
        completed(request, state_of(stored, request.entity_id), position)
        for position, request in enumerate(requests)
    ]


def state_of(stored: Mapping[str, FeatureValues], entity_id: str) -> FeatureValues:
    """The entity's values in `stored` (what `get_many` read). Raises UnknownEntityError
    when it has none."""
    if entity_id not in stored:
        raise UnknownEntityError(f"no state is stored for entity {entity_id!r}")
    return stored[entity_id]


def filled(given: Mapping[str, Any], stored: FeatureValues) -> FeatureValues:
    """The given features with the stored values in the gaps (a feature absent or None):
    where both have a value, the given one wins."""
    gaps = {name: value for name, value in stored.items() if given.get(name) is None}
    return {**given, **gaps}


def completed(request: EntityRequest, stored: FeatureValues, position: int = 0) -> Features:
    """One request's full feature row: its entity's stored values, overridden by the
    request's. Raises IncompleteFeaturesError when a feature is in neither place."""
    values = filled(request.features.model_dump(exclude_none=True), stored)
    missing = [name for name in FEATURE_NAMES if name not in values]
    if missing:
        raise IncompleteFeaturesError(position, request.entity_id, missing)
    return Features.model_validate(values)


def read_csv(path: Path) -> list[tuple[str, dict[str, Any]]]:
    """The entities of a CSV file: an `entity_id` column and feature columns (empty: not
    stored)."""
    inputs = {item.name: item for item in load_contract().inputs}
    with path.open(newline="", encoding="utf-8") as file:
        return [
            (
                row.pop("entity_id"),
                {
                    name: parse_text(inputs[name], value) if name in inputs else value
                    for name, value in row.items()
                    if value
                },
            )
            for row in csv.DictReader(file)
        ]


def sample_entities() -> list[tuple[str, dict[str, Any]]]:
    """The training data's rows as entities `sample-0`, `sample-1`, ... (needs the train
    extra); a missing value is left out, as if never stored."""
    from .data import load_dataset

    contract = load_contract()
    columns = load_dataset(Settings().training_data, contract).columns
    return [
        (
            SAMPLE_ENTITY_ID.format(index),
            {name: value for name, value in row.items() if value is not None},
        )
        for index, row in enumerate(columns.records(contract))
    ]


def loader_command(
    description: str, argv: Sequence[str] | None = None
) -> tuple[argparse.ArgumentParser, list[tuple[str, dict[str, Any]]]]:
    """The command line every state store's loader takes (`load entities.csv`,
    `load-sample`): the entities it names, and its parser, to report what the store refuses."""
    parser = argparse.ArgumentParser(description=description)
    commands = parser.add_subparsers(dest="command", required=True)
    load = commands.add_parser("load", help="store the rows of a CSV file (entity_id + features)")
    load.add_argument("csv", type=Path)
    commands.add_parser("load-sample", help="store the sample data set's rows as sample-<n>")
    arguments = parser.parse_args(argv)
    entities = read_csv(arguments.csv) if arguments.command == "load" else sample_entities()
    return parser, entities
