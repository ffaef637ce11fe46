"""The scheduled function: an EventBridge schedule scores the CSV files waiting in storage.

Each run reads every `incoming/<name>.csv` under the data URL that has no
`predictions/<name>.csv` yet, and writes next to it:

- `predictions/<name>.csv`: one line per valid row, in input order: the columns that are not
  inputs of features.yaml (ids, keys) copied through, then the prediction;
- `rejects/<name>.csv`: the rows that failed validation or that the model cannot score, each
  with its line number and the reason.

A row is completed before it is scored as `lambda_state.py` says (with per-entity state, by
the values stored for the entity it names, read for the whole file at once).

A file is scored in one model call and its outputs are written whole (an S3 PUT, or a rename
on a local disk), rejects first: a run that stops half-way leaves no prediction file and the
next run scores that file again. Nothing is ever lost or scored twice.

The storage is S3 in AWS (`s3://bucket/prefix`) and a local directory otherwise (a path or
`file://` URL), both behind `storage.py`'s `Storage` protocol.

The Lambda handler is `{{ cookiecutter.__package_name }}.scheduled.handler`.
"""

import argparse
import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from .contract import load_contract, parse_text
from .lambda_state import Fill, LambdaSettings, State, sample_file
from .predictor import Predictor, score_accepted
from .schema import Features, Prediction
from .storage import Storage, open_storage

SERVICE = "{{ cookiecutter.project_slug }}"
INCOMING = "incoming/"
PREDICTIONS = "predictions/"
REJECTS = "rejects/"
CONTRACT = load_contract()

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=SERVICE, service=SERVICE)


class ScheduledSettings(LambdaSettings):
    """Settings of the scheduled function, on top of the shared and the state's ones."""

    data_url: str = "data"
    """Where `incoming/`, `predictions/` and `rejects/` are: `s3://bucket/prefix`, or a local
    directory (a path or a `file://` URL)."""
    aws_endpoint_url: str | None = None
    """Unset in AWS; the URL of an emulator of AWS's APIs (moto, MinIO) elsewhere."""


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


def validate(row: Mapping[str, str | None], fill: Fill) -> Features:
    """A CSV row as model input: each input's cell read as its kind in features.yaml (an
    empty cell is missing), then completed by `fill` (`lambda_state.py`). Raises ValueError
    naming every problem, on one line (only the one `fill` raises, when it raises)."""
    values: dict[str, Any] = {}
    problems: list[str] = []
    for item in CONTRACT.inputs:
        if item.name in row:  # an absent column gets no value here
            try:
                values[item.name] = parse_text(item, row[item.name])
            except ValueError as error:
                problems.append(str(error))
    values = fill(values)
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


def score_file(storage: Storage, predictor: Predictor, state: State, key: str) -> FileResult:
    """Score one input file, its rows completed by `state` (read once for the whole file);
    write its rejects (when there are any), then its predictions."""
    name = key.removeprefix(INCOMING)
    reader = csv.DictReader(io.StringIO(storage.read(key).decode("utf-8-sig")))
    columns = list(reader.fieldnames or [])
    inputs = {item.name for item in CONTRACT.inputs}
    passthrough = [column for column in columns if column not in inputs]
    valid: list[tuple[int, dict[str, str], Features]] = []
    invalid: list[tuple[int, dict[str, str], str]] = []
    lines = list(enumerate(reader, start=2))
    fills = state.fills([row for _, row in lines])
    for (line, row), fill in zip(lines, fills, strict=True):
        try:
            valid.append((line, row, validate(row, fill)))
        except ValueError as error:
            invalid.append((line, row, str(error)))
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


def score_pending(storage: Storage, predictor: Predictor, state: State) -> list[FileResult]:
    """Score every incoming CSV file that has no predictions yet, with `state` as it is now."""
    done = {key.removeprefix(PREDICTIONS) for key in storage.keys(PREDICTIONS)}
    pending = [
        key
        for key in storage.keys(INCOMING)
        if key.endswith(".csv") and key.removeprefix(INCOMING) not in done
    ]
    results = []
    for key in pending:
        result = score_file(storage, predictor, state, key)
        logger.info(
            "scored", extra={"file": key, "scored": result.scored, "rejected": result.rejected}
        )
        metrics.add_metric(name="RowsScored", unit=MetricUnit.Count, value=result.scored)
        metrics.add_metric(name="RowsRejected", unit=MetricUnit.Count, value=result.rejected)
        results.append(result)
    metrics.add_metric(name="FilesScored", unit=MetricUnit.Count, value=len(results))
    return results


@cache
def configured() -> tuple[Storage, Predictor, State]:
    """Storage, model and state from the environment, made once per execution environment
    (the state keeps nothing: each run reads it anew)."""
    settings = ScheduledSettings()
    storage = open_storage(settings.data_url, settings.aws_endpoint_url)
    return storage, Predictor.from_settings(settings), settings.state()


@logger.inject_lambda_context
@metrics.log_metrics(capture_cold_start_metric=True)
@event_source(data_class=EventBridgeEvent)
def handler(event: EventBridgeEvent, context: LambdaContext) -> dict[str, Any]:
    """The Lambda entry point for the EventBridge schedule's `Scheduled Event`."""
    logger.info("scheduled run", extra={"time": event.time, "rule": event.resources})
    storage, predictor, state = configured()
    results = score_pending(storage, predictor, state)
    return {
        "files": [result.name for result in results],
        "scored": sum(result.scored for result in results),
        "rejected": sum(result.rejected for result in results),
        "model_version": predictor.model_version,
    }


def write_sample(path: Path, rows: int = 20) -> None:
    """Write a sample input file: `rows` rows, and one that lands in the rejects
    (`lambda_state.sample_file`)."""
    header, lines = sample_file(rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(to_csv(header, lines))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Tools around the scheduled function.")
    commands = parser.add_subparsers(dest="command", required=True)
    sample = commands.add_parser("write-sample", help="write a sample input CSV file")
    sample.add_argument("path", type=Path, help="for example data/incoming/sample.csv")
    args = parser.parse_args(argv)
    write_sample(args.path)


if __name__ == "__main__":
    main()
