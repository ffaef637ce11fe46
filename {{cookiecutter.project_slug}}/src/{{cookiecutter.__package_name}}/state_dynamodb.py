"""Per-entity state read at inference, in a DynamoDB table: the feature values stored for each
entity.

A request names its entity and sends the features it knows; the values stored for that
entity fill in the others (the request wins where both have a value). The table
(`EntityStateTable` in template.yaml) holds one item per entity: `entity_id`, its partition
key, and `features`, a JSON object of feature values (as features.yaml types them; JSON
text, so that floats keep their exact value). The function reads it with BatchGetItem, one
call per 100 entities, and nothing else. Fill it from a CSV file (an `entity_id` column and
feature columns), or with the training data's rows as entities `sample-0`, `sample-1`, ...
(with credentials allowed to write the table):

    python -m {{ cookiecutter.__package_name }}.state_dynamodb load entities.csv
    python -m {{ cookiecutter.__package_name }}.state_dynamodb load-sample
"""

import argparse
import csv
import json
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import boto3
from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from .contract import Contract, load_contract, parse_text
from .features import FEATURE_NAMES
from .schema import Features, field_of
from .settings import Settings

EntityId = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:@-]+$")]
FeatureValues = dict[str, Any]
BATCH_GET_LIMIT = 100
"""Most keys one BatchGetItem call may ask for."""
BATCH_WRITE_LIMIT = 25
"""Most items one BatchWriteItem call may write."""
ATTEMPTS = 6
"""Calls per batch while DynamoDB leaves part of it unprocessed (throttled), 0.05 s x 2^n apart."""


class StateSettings(Settings):
    """Where the state is: the table, and the endpoint of the DynamoDB API."""

    state_table: str = "{{ cookiecutter.project_slug }}-entity-state"
    """The DynamoDB table (template.yaml sets it to the stack's table)."""
    aws_endpoint_url: str | None = None
    """Unset in AWS; the URL of an emulator (moto, DynamoDB Local) elsewhere."""


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


def checked(values: Mapping[str, object]) -> FeatureValues:
    """Feature values fit to store: known names, each of its kind."""
    unknown = sorted(set(values) - set(FEATURE_NAMES))
    if unknown:
        raise ValueError(f"unknown features {unknown}: the model's features are {FEATURE_NAMES}")
    return KnownFeatures.model_validate(dict(values)).model_dump(exclude_none=True)


class DynamoEntityStore:
    """The state in a DynamoDB table, through boto3's low-level client."""

    def __init__(self, table: str, client: Any) -> None:
        self.table = table
        self.client = client

    @classmethod
    def from_settings(cls, settings: StateSettings) -> "DynamoEntityStore":
        client = boto3.client("dynamodb", endpoint_url=settings.aws_endpoint_url)
        return cls(settings.state_table, client)

    def get_many(self, entity_ids: Sequence[str]) -> dict[str, FeatureValues]:
        """The stored features of those entities that have some."""
        unique = list(dict.fromkeys(entity_ids))
        found: dict[str, FeatureValues] = {}
        for start in range(0, len(unique), BATCH_GET_LIMIT):
            keys = [{"entity_id": {"S": key}} for key in unique[start : start + BATCH_GET_LIMIT]]
            request: dict[str, Any] = {
                self.table: {"Keys": keys, "ProjectionExpression": "entity_id, features"}
            }
            for attempt in range(ATTEMPTS):
                answer = self.client.batch_get_item(RequestItems=request)
                for item in answer["Responses"].get(self.table, []):
                    found[item["entity_id"]["S"]] = json.loads(item["features"]["S"])
                request = answer.get("UnprocessedKeys") or {}
                if not request:
                    break
                time.sleep(0.05 * 2**attempt)
            if request:
                raise RuntimeError(f"DynamoDB left {self.table} keys unprocessed {ATTEMPTS} times")
        return found

    def put_many(self, entities: Iterable[tuple[str, Mapping[str, Any]]]) -> int:
        """Store (replace) the features of each entity; every entity is checked before any
        is written. Returns how many were written."""
        items = [
            {"entity_id": {"S": entity_id}, "features": {"S": json.dumps(checked(values))}}
            for entity_id, values in entities
        ]
        for start in range(0, len(items), BATCH_WRITE_LIMIT):
            writes = [
                {"PutRequest": {"Item": item}} for item in items[start : start + BATCH_WRITE_LIMIT]
            ]
            request: dict[str, Any] = {self.table: writes}
            for attempt in range(ATTEMPTS):
                request = (
                    self.client.batch_write_item(RequestItems=request).get("UnprocessedItems") or {}
                )
                if not request:
                    break
                time.sleep(0.05 * 2**attempt)
            if request:
                raise RuntimeError(f"DynamoDB left {self.table} items unwritten {ATTEMPTS} times")
        return len(items)

    def create_table(self) -> None:
        """Create the table as template.yaml declares it (for emulators: in AWS, the stack
        creates it), and wait until it is active."""
        self.client.create_table(
            TableName=self.table,
            AttributeDefinitions=[{"AttributeName": "entity_id", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "entity_id", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        )
        self.client.get_waiter("table_exists").wait(TableName=self.table)


def complete(requests: Sequence[EntityRequest], store: DynamoEntityStore) -> list[Features]:
    """The full feature rows of the requests: stored values, overridden by the request's.

    Raises UnknownEntityError for an entity without stored state, IncompleteFeaturesError
    when a feature is in neither place.
    """
    stored = store.get_many([request.entity_id for request in requests])
    rows = []
    for position, request in enumerate(requests):
        if request.entity_id not in stored:
            raise UnknownEntityError(f"no state is stored for entity {request.entity_id!r}")
        values = {**stored[request.entity_id], **request.features.model_dump(exclude_none=True)}
        missing = [name for name in FEATURE_NAMES if name not in values]
        if missing:
            raise IncompleteFeaturesError(position, request.entity_id, missing)
        rows.append(Features.model_validate(values))
    return rows


def _load_csv(path: Path) -> list[tuple[str, dict[str, Any]]]:
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
    """The training data's rows as entities `sample-0`, `sample-1`, ... (needs the train extra)."""
    from .data import load_dataset

    contract = load_contract()
    columns = load_dataset(Settings().training_data, contract).columns
    return [
        (f"sample-{index}", {name: value for name, value in row.items() if value is not None})
        for index, row in enumerate(columns.records(contract))
    ]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Store per-entity feature values in DynamoDB.")
    commands = parser.add_subparsers(dest="command", required=True)
    load = commands.add_parser("load", help="store the rows of a CSV file (entity_id + features)")
    load.add_argument("csv", type=Path)
    commands.add_parser("load-sample", help="store the sample data set's rows as sample-<n>")
    arguments = parser.parse_args(argv)

    entities = _load_csv(arguments.csv) if arguments.command == "load" else sample_entities()
    settings = StateSettings()
    store = DynamoEntityStore.from_settings(settings)
    try:
        written = store.put_many(entities)
    except (ValueError, ValidationError, ClientError) as error:
        parser.error(str(error))
    print(f"stored the features of {written} entities in the DynamoDB table {settings.state_table}")


if __name__ == "__main__":
    main()
