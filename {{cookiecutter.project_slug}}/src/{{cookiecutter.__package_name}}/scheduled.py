{%- set stateful = cookiecutter.stateful == "yes" -%}
"""The scheduled function: an EventBridge schedule scores the CSV files waiting in storage.

Each run reads every `incoming/<name>.csv` under the data URL that has no
`predictions/<name>.csv` yet, and writes next to it:

- `predictions/<name>.csv`: one line per valid row, in input order: the columns that are not
  inputs of features.yaml (ids, keys) copied through, then the prediction;
- `rejects/<name>.csv`: the rows that failed validation or that the model cannot score, each
  with its line number and the reason.
{%- if stateful %}

Each row names its entity in an `entity_id` column (copied through like the other columns
that are not inputs). The state of a file's entities is read from the DynamoDB table
(`state_dynamodb.py`) in one `get_many`, a BatchGetItem per 100 entities, and completes each
row as it completes an HTTP request (`entities.py`): the entity's stored values fill the
inputs whose cell is empty or that have no column, and the row's own values win. A row that
names no entity (or not a valid entity id), or an entity with no stored state, is rejected
with the reason (`entity_id: ...`); so is a row still missing an input that is not nullable.
The state is read anew by every run and never kept: a change to the table reaches the next
run without a restart.
{%- endif %}

A file is scored in one model call and its outputs are written whole (an S3 PUT, or a rename
on a local disk), rejects first: a run that stops half-way leaves no prediction file and the
next run scores that file again. Nothing is ever lost or scored twice.

The storage is S3 in AWS (`s3://bucket/prefix`) and a local directory otherwise (a path or
`file://` URL): both sit behind the small `Storage` protocol, and boto3 is used only by
`S3Storage`.

The Lambda handler is `{{ cookiecutter.__package_name }}.scheduled.handler`.
"""

import argparse
{%- if stateful %}
import contextlib
{%- endif %}
import csv
import io
{%- if stateful %}
from collections.abc import Iterable, Mapping
{%- else %}
from collections.abc import Callable, Mapping
{%- endif %}
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlparse

import boto3
{%- if not stateful %}
import numpy as np
{%- endif %}
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext
{%- if stateful %}
from pydantic import TypeAdapter, ValidationError

from .contract import load_contract, parse_text
from .entities import (
    SAMPLE_ENTITY_ID,
    EntityId,
    FeatureValues,
    StateReader,
    UnknownEntityError,
    filled,
    state_of,
)
from .predictor import Predictor, score_accepted
from .schema import Features, Prediction
from .state_dynamodb import DynamoEntityStore, StateSettings
{%- else %}
from pydantic import ValidationError

from .contract import MISSING_LEVEL, load_contract, parse_text
from .predictor import Predictor, score_accepted
from .schema import Features, Prediction
from .settings import Settings
{%- endif %}

SERVICE = "{{ cookiecutter.project_slug }}"
INCOMING = "incoming/"
PREDICTIONS = "predictions/"
REJECTS = "rejects/"
CONTRACT = load_contract()
{%- if stateful %}
ENTITY_ID = "entity_id"
"""The column naming each row's entity."""
ENTITY_IDS = TypeAdapter(EntityId)
{%- endif %}

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=SERVICE, service=SERVICE)
{%- if stateful %}


class ScheduledSettings(StateSettings):
    """Settings of the scheduled function, on top of the shared and the state's ones (whose
    `aws_endpoint_url`, an emulator's, serves S3 as it serves DynamoDB)."""
{%- else %}


class ScheduledSettings(Settings):
    """Settings of the scheduled function, on top of the shared ones."""
{%- endif %}

    data_url: str = "data"
    """Where `incoming/`, `predictions/` and `rejects/` are: `s3://bucket/prefix`, or a local
    directory (a path or a `file://` URL)."""
{%- if not stateful %}
    aws_endpoint_url: str | None = None
    """Unset in AWS; the URL of an emulator of the S3 API (moto, MinIO) elsewhere."""
{%- endif %}


class Storage(Protocol):
    """The few operations scoring needs, on keys relative to the data URL."""

    def keys(self, prefix: str) -> list[str]: ...

    def read(self, key: str) -> bytes: ...

    def write(self, key: str, data: bytes) -> None: ...


class LocalStorage:
    """A local directory; writes are atomic (a temporary file renamed into place)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def keys(self, prefix: str) -> list[str]:
        directory = self.root / prefix
        if not directory.is_dir():
            return []
        return sorted(prefix + path.name for path in directory.iterdir() if path.is_file())

    def read(self, key: str) -> bytes:
        return (self.root / key).read_bytes()

    def write(self, key: str, data: bytes) -> None:
        path = self.root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.partial")
        partial.write_bytes(data)
        partial.replace(path)


class S3Storage:
    """A prefix in an S3 bucket, through boto3 (a PUT is atomic: readers see all or nothing)."""

    def __init__(self, bucket: str, prefix: str, endpoint_url: str | None = None) -> None:
        self.client = boto3.client("s3", endpoint_url=endpoint_url)
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""

    def keys(self, prefix: str) -> list[str]:
        paginator = self.client.get_paginator("list_objects_v2")
        pages = paginator.paginate(Bucket=self.bucket, Prefix=self.prefix + prefix)
        return sorted(
            item["Key"].removeprefix(self.prefix)
            for page in pages
            for item in page.get("Contents", [])
        )

    def read(self, key: str) -> bytes:
        body: bytes = self.client.get_object(Bucket=self.bucket, Key=self.prefix + key)[
            "Body"
        ].read()
        return body

    def write(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=self.prefix + key, Body=data)


def open_storage(data_url: str, endpoint_url: str | None = None) -> Storage:
    """The storage a data URL names: `s3://bucket/prefix` (at `endpoint_url`, an emulator,
    when it is set), `file:///path` or a path."""
    url = urlparse(data_url)
    if url.scheme == "s3":
        return S3Storage(url.netloc, url.path, endpoint_url)
    if url.scheme == "file":
        return LocalStorage(Path(url.path))
    if url.scheme:
        raise ValueError(f"unsupported data URL {data_url!r}: use s3://, file:// or a path")
    return LocalStorage(Path(data_url))


@dataclass(frozen=True)
class FileResult:
    """What scoring one input file produced."""

    name: str
    scored: int
    rejected: int


def to_csv(header: list[str], rows: list[dict[str, Any]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=header, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode()


def flatten(prediction: Prediction) -> dict[str, Any]:
    """A prediction as flat CSV columns: `probabilities.<class>` for a mapping field."""
    columns: dict[str, Any] = {}
    for name, value in prediction.model_dump().items():
        if isinstance(value, dict):
            columns.update({f"{name}.{key}": item for key, item in value.items()})
        else:
            columns[name] = value
    return columns
{%- if stateful %}


def entity_of(row: Mapping[str, str | None]) -> str:
    """The entity the row names. Raises ValueError naming `entity_id` when the row names
    none, or not a valid entity id."""
    text = row.get(ENTITY_ID)
    if not text:
        raise ValueError(f"{ENTITY_ID}: missing: each row names its entity")
    try:
        return ENTITY_IDS.validate_python(text)
    except ValidationError as error:
        raise ValueError(f"{ENTITY_ID}: {error.errors()[0]['msg']}") from None


def named_entities(rows: Iterable[Mapping[str, str | None]]) -> list[str]:
    """The entities the rows name, each once (rows naming none are left to `validate`)."""
    entity_ids: set[str] = set()
    for row in rows:
        with contextlib.suppress(ValueError):
            entity_ids.add(entity_of(row))
    return sorted(entity_ids)


def entity_state(
    row: Mapping[str, str | None], stored: Mapping[str, FeatureValues]
) -> FeatureValues:
    """The stored values of the row's entity, from `stored` (the state `get_many` read).
    Raises ValueError naming `entity_id` when the row names no entity, or one without state."""
    try:
        return state_of(stored, entity_of(row))
    except UnknownEntityError as error:
        raise ValueError(f"{ENTITY_ID}: {error}") from None


def validate(row: Mapping[str, str | None], stored: Mapping[str, FeatureValues]) -> Features:
    """A CSV row as model input: each input's cell read as its kind in features.yaml (an
    empty cell is missing), and the row's entity's values in `stored` filling the inputs it
    leaves missing. Raises ValueError naming every problem, on one line (only the entity's
    when the row names none, or one without stored state)."""
    state = entity_state(row, stored)
{%- else %}


def validate(row: Mapping[str, str | None]) -> Features:
    """A CSV row as model input: each input's cell read as its kind in features.yaml (an
    empty cell is missing). Raises ValueError naming every problem, on one line."""
{%- endif %}
    values: dict[str, Any] = {}
    problems: list[str] = []
    for item in CONTRACT.inputs:
        if item.name in row:  # an absent column gets no value here
            try:
                values[item.name] = parse_text(item, row[item.name])
            except ValueError as error:
                problems.append(str(error))
{%- if stateful %}
    # The entity's stored values fill the inputs the row leaves missing, an absent column too
    # (null where nothing is stored: a file may leave out the inputs the state gives).
    absent = {item.name: None for item in CONTRACT.inputs if item.name not in row}
    values = filled(absent | values, state)
{%- endif %}
    try:
        features = Features.model_validate(values)
    except ValidationError as error:
        unparsed = {name for name in row if name not in values}
        problems.extend(
            f"{'.'.join(map(str, item['loc'])) or 'row'}: {item['msg']}"
            for item in error.errors()
            if not (item["type"] == "missing" and item["loc"][0] in unparsed)
        )
    if problems:
        raise ValueError("; ".join(problems))
    return features


def score_rows(
    predictor: Predictor, rows: list[tuple[int, dict[str, str], Features]]
) -> tuple[list[tuple[dict[str, str], Prediction]], list[tuple[int, dict[str, str], str]]]:
    """Scored rows and the rows the model cannot score (with the reason), in one model call
    (one more per batch of refused rows)."""
    columns = predictor.columns_of([features for _, _, features in rows])
    accepted, scores, refused = score_accepted(predictor, columns)
    scored = [
        (rows[index][1], prediction)
        for index, prediction in zip(accepted.tolist(), scores.predictions(), strict=True)
    ]
    unscorable = [(rows[index][0], rows[index][1], reason) for index, reason in refused.items()]
    return scored, unscorable
{%- if stateful %}


def score_file(storage: Storage, predictor: Predictor, store: StateReader, key: str) -> FileResult:
    """Score one input file, its entities' state read from `store` in one `get_many`; write
    its rejects (when there are any), then its predictions."""
{%- else %}


def score_file(storage: Storage, predictor: Predictor, key: str) -> FileResult:
    """Score one input file; write its rejects (when there are any), then its predictions."""
{%- endif %}
    name = key.removeprefix(INCOMING)
    reader = csv.DictReader(io.StringIO(storage.read(key).decode("utf-8-sig")))
    columns = list(reader.fieldnames or [])
    inputs = {item.name for item in CONTRACT.inputs}
    passthrough = [column for column in columns if column not in inputs]
    valid: list[tuple[int, dict[str, str], Features]] = []
    invalid: list[tuple[int, dict[str, str], str]] = []
{%- if stateful %}
    lines = list(enumerate(reader, start=2))
    stored = store.get_many(named_entities(row for _, row in lines))
    for line, row in lines:
        try:
            valid.append((line, row, validate(row, stored)))
        except ValueError as error:
            invalid.append((line, row, str(error)))
{%- else %}
    for line, row in enumerate(reader, start=2):
        try:
            valid.append((line, row, validate(row)))
        except ValueError as error:
            invalid.append((line, row, str(error)))
{%- endif %}
    scored, unscorable = score_rows(predictor, valid)
    rejects = sorted(invalid + unscorable, key=lambda reject: reject[0])
    if rejects:
        rows = [{"line": line, **row, "error": error} for line, row, error in rejects]
        storage.write(REJECTS + name, to_csv(["line", *columns, "error"], rows))
    output = [
        {**{column: row[column] for column in passthrough}, **flatten(prediction)}
        for row, prediction in scored
    ]
    header = list(output[0]) if output else passthrough
    storage.write(PREDICTIONS + name, to_csv(header, output))
    return FileResult(name, scored=len(output), rejected=len(rejects))
{%- if stateful %}


def score_pending(storage: Storage, predictor: Predictor, store: StateReader) -> list[FileResult]:
    """Score every incoming CSV file that has no predictions yet, with the entities' state
    in `store` as it is now."""
{%- else %}


def score_pending(storage: Storage, predictor: Predictor) -> list[FileResult]:
    """Score every incoming CSV file that has no predictions yet."""
{%- endif %}
    done = {key.removeprefix(PREDICTIONS) for key in storage.keys(PREDICTIONS)}
    pending = [
        key
        for key in storage.keys(INCOMING)
        if key.endswith(".csv") and key.removeprefix(INCOMING) not in done
    ]
    results = []
    for key in pending:
{%- if stateful %}
        result = score_file(storage, predictor, store, key)
{%- else %}
        result = score_file(storage, predictor, key)
{%- endif %}
        logger.info(
            "scored", extra={"file": key, "scored": result.scored, "rejected": result.rejected}
        )
        metrics.add_metric(name="RowsScored", unit=MetricUnit.Count, value=result.scored)
        metrics.add_metric(name="RowsRejected", unit=MetricUnit.Count, value=result.rejected)
        results.append(result)
    metrics.add_metric(name="FilesScored", unit=MetricUnit.Count, value=len(results))
    return results
{%- if stateful %}


@cache
def configured() -> tuple[Storage, Predictor, DynamoEntityStore]:
    """Storage, model and state store from the environment, made once per execution
    environment (the store keeps nothing: each run reads the state anew)."""
    settings = ScheduledSettings()
    storage = open_storage(settings.data_url, settings.aws_endpoint_url)
    return storage, Predictor.from_settings(settings), DynamoEntityStore.from_settings(settings)
{%- else %}


@cache
def configured() -> tuple[Storage, Predictor]:
    """Storage and model from the environment, made once per execution environment."""
    settings = ScheduledSettings()
    storage = open_storage(settings.data_url, settings.aws_endpoint_url)
    return storage, Predictor.from_settings(settings)
{%- endif %}


@logger.inject_lambda_context
@metrics.log_metrics(capture_cold_start_metric=True)
@event_source(data_class=EventBridgeEvent)
def handler(event: EventBridgeEvent, context: LambdaContext) -> dict[str, Any]:
    """The Lambda entry point for the EventBridge schedule's `Scheduled Event`."""
    logger.info("scheduled run", extra={"time": event.time, "rule": event.resources})
{%- if stateful %}
    storage, predictor, store = configured()
    results = score_pending(storage, predictor, store)
{%- else %}
    storage, predictor = configured()
    results = score_pending(storage, predictor)
{%- endif %}
    return {
        "files": [result.name for result in results],
        "scored": sum(result.scored for result in results),
        "rejected": sum(result.rejected for result in results),
        "model_version": predictor.model_version,
    }
{%- if stateful %}


def write_sample(path: Path, rows: int = 20) -> None:
    """A sample input file: `rows` rows naming the entities `sample-0`, `sample-1`, ... (the
    training data's rows, as `state_dynamodb load-sample` stores them) and no inputs, every
    one coming from the state, and one row naming an entity without state, which lands in
    the rejects."""
    lines = [{ENTITY_ID: SAMPLE_ENTITY_ID.format(index)} for index in range(rows)]
    lines.append({ENTITY_ID: "no-such-entity"})
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(to_csv([ENTITY_ID], lines))
{%- else %}


def sample_rows(count: int) -> list[dict[str, Any]]:
    """The first `count` rows of the training data (the `training_data` setting, the sample
    data set by default) that have every input, as a caller sends them (needs the train extra)."""
    from .data import load_dataset

    columns = load_dataset(Settings().training_data).columns
    missing = np.isnan(columns.numbers).any(axis=1)
    missing |= (columns.categories == MISSING_LEVEL).any(axis=1)
    chosen = columns.take(np.flatnonzero(~missing)[:count])
    kinds: dict[str, Callable[[np.float32], Any]] = {
        "integer": int,
        "boolean": bool,
        "number": lambda value: float(str(value)),
    }
    rows = []
    for numbers, categories in zip(chosen.numbers, chosen.categories.tolist(), strict=True):
        # float(str(float32)): the shortest decimal that is the same float32, as typed.
        values = {
            item.name: kinds[item.kind](value)
            for item, value in zip(CONTRACT.numbers, numbers, strict=True)
        }
        values.update(zip((item.name for item in CONTRACT.categories), categories, strict=True))
        rows.append({item.name: values[item.name] for item in CONTRACT.inputs})
    return rows


def write_sample(path: Path, rows: int = 20) -> None:
    """A sample input file: `rows` rows of the training data with an `id` column, and one
    row whose numbers are not numbers, which lands in the rejects (needs the train extra)."""
    lines = [{"id": f"sample-{i}", **row} for i, row in enumerate(sample_rows(rows))]
    if CONTRACT.numbers:
        broken = dict.fromkeys((item.name for item in CONTRACT.numbers), "unknown")
        lines.append({**lines[0], "id": "broken", **broken})
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(to_csv(["id", *(item.name for item in CONTRACT.inputs)], lines))
{%- endif %}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Tools around the scheduled function.")
    commands = parser.add_subparsers(dest="command", required=True)
    sample = commands.add_parser("write-sample", help="write a sample input CSV file")
    sample.add_argument("path", type=Path, help="for example data/incoming/sample.csv")
    args = parser.parse_args(argv)
    write_sample(args.path)


if __name__ == "__main__":
    main()
