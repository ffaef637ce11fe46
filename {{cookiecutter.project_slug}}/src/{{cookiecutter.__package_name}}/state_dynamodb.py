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

`emulated_state` runs the same table in moto's DynamoDB emulator, in this process, for
`invoke --emulate-state` and the benchmark: no AWS account needed.
"""

import contextlib
import json
import logging
import os
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import boto3
from botocore.exceptions import ClientError
from pydantic import ValidationError

from .entities import FeatureValues, checked, loader_command, sample_entities
from .settings import Settings

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


@contextlib.contextmanager
def emulated_state() -> Iterator[None]:
    """A DynamoDB emulator (moto) in this process, holding the sample entities in the state
    table, with the settings pointing at it (needs the dev and train extras)."""
    from moto.server import ThreadedMotoServer

    # The emulator's HTTP server would log a line per request on stderr.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    emulator = {
        "{{ cookiecutter.__package_name | upper }}_AWS_ENDPOINT_URL": f"http://{host}:{port}",
        "AWS_ACCESS_KEY_ID": "emulated",
        "AWS_SECRET_ACCESS_KEY": "emulated",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    previous = {name: os.environ.get(name) for name in emulator}
    os.environ.update(emulator)
    try:
        store = DynamoEntityStore.from_settings(StateSettings())
        store.create_table()
        store.put_many(sample_entities())
        yield
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        server.stop()


def main(argv: Sequence[str] | None = None) -> None:
    parser, entities = loader_command("Store per-entity feature values in DynamoDB.", argv)
    settings = StateSettings()
    store = DynamoEntityStore.from_settings(settings)
    try:
        written = store.put_many(entities)
    except (ValueError, ValidationError, ClientError) as error:
        parser.error(str(error))
    print(f"stored the features of {written} entities in the DynamoDB table {settings.state_table}")


if __name__ == "__main__":
    main()
