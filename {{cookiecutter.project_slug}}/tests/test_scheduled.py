"""The scheduled function, triggered by a real EventBridge scheduled event, on a local
directory (`LocalStorage`) and on S3 (`S3Storage`, against moto's S3 server over HTTP)."""

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, given, settings

from {{ cookiecutter.__package_name }}.data import Dataset
from {{ cookiecutter.__package_name }}.invoke import LocalContext
from {{ cookiecutter.__package_name }}.predictor import Predictor
from {{ cookiecutter.__package_name }}.scheduled import (
    LocalStorage,
    S3Storage,
    configured,
    flatten,
    handler,
    open_storage,
    score_pending,
    to_csv,
    validate,
    write_sample,
)
from {{ cookiecutter.__package_name }}.schema import Features

from aws_testing import moto_server, own_bucket
from contract_testing import CONTRACT, complete_rows, rows

EVENT = Path(__file__).resolve().parents[1] / "events" / "scheduled.json"
ENV_PREFIX = "{{ cookiecutter.__package_name | upper }}_"
ROWS = 8
NAMES = [item.name for item in CONTRACT.inputs]
NUMBER = next(item for item in CONTRACT.inputs if item.kind != "category")
"""An input a word is not a valid value of (a word is a level of a category)."""


def input_file(held_out: Dataset) -> bytes:
    """ROWS valid rows with an id column, a row with a word in it and one with an empty cell."""
    lines: list[dict[str, Any]] = [
        {"id": f"row-{i}", **row} for i, row in enumerate(complete_rows(held_out, ROWS))
    ]
    lines.insert(3, {**lines[0], "id": "word", NUMBER.name: "twelve"})
    lines.append({**lines[0], "id": "short", NAMES[-1]: None})
    return to_csv(["id", *NAMES], lines)


def read_csv(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))


def test_a_file_is_scored_with_bad_rows_rejected(
    tmp_path: Path, predictor: Predictor, held_out: Dataset
) -> None:
    storage = LocalStorage(tmp_path)
    storage.write("incoming/day-1.csv", input_file(held_out))

    (result,) = score_pending(storage, predictor)

    predictions = read_csv(tmp_path / "predictions" / "day-1.csv")
    # The short row misses its last input: scored when features.yaml lets it be null (the
    # model imputes it), rejected otherwise. The word is always rejected.
    short_is_scored = CONTRACT.inputs[-1].nullable
    scored = [f"row-{i}" for i in range(ROWS)] + (["short"] if short_is_scored else [])
    assert [p["id"] for p in predictions] == scored
    expected = predictor.predict(
        [Features.model_validate(row) for row in complete_rows(held_out, ROWS)]
    )
    for written, prediction in zip(predictions[:ROWS], expected, strict=True):
        flat = flatten(prediction)
        assert written.keys() == {"id", *flat}
        assert written["model_version"] == prediction.model_version
        for name, value in flat.items():
            if isinstance(value, float):
                assert float(written[name]) == pytest.approx(value, abs=1e-6)
    rejects = read_csv(tmp_path / "rejects" / "day-1.csv")
    rejected = [("5", "word")] + ([] if short_is_scored else [("11", "short")])
    assert [(r["line"], r["id"]) for r in rejects] == rejected
    assert result.scored == len(scored)
    assert NUMBER.name in rejects[0]["error"]
    assert result.rejected == len(rejects)


def test_a_scored_file_is_not_scored_again(
    tmp_path: Path, predictor: Predictor, held_out: Dataset
) -> None:
    storage = LocalStorage(tmp_path)
    storage.write("incoming/day-1.csv", input_file(held_out))
    assert [r.name for r in score_pending(storage, predictor)] == ["day-1.csv"]
    written = (tmp_path / "predictions" / "day-1.csv").stat().st_mtime_ns

    storage.write("incoming/day-2.csv", input_file(held_out))
    storage.write("incoming/notes.txt", b"not a CSV file")
    assert [r.name for r in score_pending(storage, predictor)] == ["day-2.csv"]
    assert score_pending(storage, predictor) == []
    assert (tmp_path / "predictions" / "day-1.csv").stat().st_mtime_ns == written


def test_a_file_without_valid_rows_gets_an_empty_prediction_file(
    tmp_path: Path, predictor: Predictor
) -> None:
    storage = LocalStorage(tmp_path)
    storage.write("incoming/empty.csv", ("id," + ",".join(NAMES) + "\n").encode())
    (result,) = score_pending(storage, predictor)
    assert (result.scored, result.rejected) == (0, 0)
    assert (tmp_path / "predictions" / "empty.csv").read_text() == "id\n"
    assert not (tmp_path / "rejects" / "empty.csv").exists()


def test_writes_leave_no_partial_files(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    storage.write("predictions/a.csv", b"x\n")
    storage.write("predictions/a.csv", b"y\n")
    assert storage.keys("predictions/") == ["predictions/a.csv"]
    assert storage.read("predictions/a.csv") == b"y\n"


def test_data_urls_name_a_local_directory_or_are_refused(tmp_path: Path) -> None:
    for url in (str(tmp_path), f"file://{tmp_path}"):
        storage = open_storage(url)
        assert isinstance(storage, LocalStorage)
        assert storage.root == tmp_path
    with pytest.raises(ValueError, match="unsupported data URL"):
        open_storage("ftp://example.com/data")


def test_the_scheduled_event_runs_the_lambda_handler(
    tmp_path: Path, model_dir: Path, held_out: Dataset, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # anything the function writes stays in the test's directory
    monkeypatch.setenv(ENV_PREFIX + "MODEL_DIR", str(model_dir))
    monkeypatch.setenv(ENV_PREFIX + "DATA_URL", f"file://{tmp_path / 'data'}")
    write_sample(tmp_path / "data" / "incoming" / "sample.csv", rows=5)
    event = json.loads(EVENT.read_text(encoding="utf-8"))
    assert event["detail-type"] == "Scheduled Event"
    configured.cache_clear()
    try:
        answer = handler(event, LocalContext())
    finally:
        configured.cache_clear()
    assert answer["files"] == ["sample.csv"]
    assert (answer["scored"], answer["rejected"]) == (5, 1)
    assert len(read_csv(tmp_path / "data" / "predictions" / "sample.csv")) == 5


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(row=rows())
def test_a_row_written_as_csv_reads_back_as_the_same_input(row: dict[str, Any]) -> None:
    (line,) = csv.DictReader(io.StringIO(to_csv(NAMES, [row]).decode()))
    assert validate(line) == Features.model_validate(row)


def test_a_cell_that_does_not_fit_its_kind_is_refused_naming_the_input() -> None:
    row = dict.fromkeys(NAMES, "")
    row[NUMBER.name] = "twelve"
    with pytest.raises(ValueError, match=NUMBER.name) as error:
        validate(row)
    assert "\n" not in str(error.value)


@pytest.fixture(scope="module")
def aws_endpoint() -> Iterator[str]:
    with moto_server() as endpoint:
        yield endpoint


@pytest.fixture
def bucket(aws_endpoint: str) -> Iterator[str]:
    with own_bucket(aws_endpoint) as name:
        yield name


def test_s3_storage_lists_reads_and_writes_under_its_prefix_only(
    aws_endpoint: str, bucket: str
) -> None:
    storage = open_storage(f"s3://{bucket}/team/scores", aws_endpoint)
    assert isinstance(storage, S3Storage)
    storage.write("incoming/a.csv", b"a\n")
    storage.write("incoming/b.csv", b"b\n")
    open_storage(f"s3://{bucket}/other", aws_endpoint).write("incoming/c.csv", b"c\n")
    assert storage.keys("incoming/") == ["incoming/a.csv", "incoming/b.csv"]
    assert storage.keys("predictions/") == []
    assert storage.read("incoming/b.csv") == b"b\n"
    s3: Any = boto3.client("s3", endpoint_url=aws_endpoint)
    assert s3.get_object(Bucket=bucket, Key="team/scores/incoming/a.csv")["Body"].read() == b"a\n"


def test_s3_storage_at_the_bucket_root_pages_through_many_keys(
    aws_endpoint: str, bucket: str
) -> None:
    storage = open_storage(f"s3://{bucket}", aws_endpoint)
    names = sorted(f"incoming/{i:04}.csv" for i in range(1005))  # more than one page of 1000
    for name in names:
        storage.write(name, b"x\n")
    assert storage.keys("incoming/") == names


def test_files_in_s3_are_scored_by_the_lambda_handler_once(
    aws_endpoint: str,
    bucket: str,
    model_dir: Path,
    held_out: Dataset,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(ENV_PREFIX + "MODEL_DIR", str(model_dir))
    monkeypatch.setenv(ENV_PREFIX + "DATA_URL", f"s3://{bucket}/scoring")
    monkeypatch.setenv(ENV_PREFIX + "AWS_ENDPOINT_URL", aws_endpoint)
    storage = open_storage(f"s3://{bucket}/scoring", aws_endpoint)
    storage.write("incoming/day-1.csv", input_file(held_out))
    event = json.loads(EVENT.read_text(encoding="utf-8"))
    configured.cache_clear()
    try:
        first = handler(event, LocalContext())
        second = handler(event, LocalContext())
    finally:
        configured.cache_clear()

    assert first["files"] == ["day-1.csv"]
    assert second["files"] == []
    predictions = list(csv.DictReader(io.StringIO(storage.read("predictions/day-1.csv").decode())))
    assert [p["id"] for p in predictions][:ROWS] == [f"row-{i}" for i in range(ROWS)]
    assert len(predictions) == first["scored"]
    rejects = list(csv.DictReader(io.StringIO(storage.read("rejects/day-1.csv").decode())))
    assert rejects[0]["id"] == "word"
    assert len(rejects) == first["rejected"]


def test_an_unreadable_s3_file_fails_the_run_and_is_scored_once_replaced(
    aws_endpoint: str, bucket: str, predictor: Predictor, held_out: Dataset
) -> None:
    storage = open_storage(f"s3://{bucket}", aws_endpoint)
    storage.write("incoming/day-1.csv", b"id,\xff\xfe\n")
    with pytest.raises(UnicodeDecodeError):
        score_pending(storage, predictor)
    assert storage.keys("predictions/") == []
    assert storage.keys("rejects/") == []
    storage.write("incoming/day-1.csv", input_file(held_out))
    assert [result.name for result in score_pending(storage, predictor)] == ["day-1.csv"]


def test_a_missing_bucket_or_object_is_an_error_naming_it(
    aws_endpoint: str, bucket: str, predictor: Predictor
) -> None:
    with pytest.raises(ClientError, match="NoSuchBucket"):
        score_pending(open_storage("s3://no-such-bucket-here", aws_endpoint), predictor)
    with pytest.raises(ClientError, match="NoSuchKey"):
        open_storage(f"s3://{bucket}", aws_endpoint).read("incoming/gone.csv")
