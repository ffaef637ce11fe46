"""The scheduled function, triggered by a real EventBridge scheduled event, on a local
directory and on S3 (moto's S3 server, over HTTP); the storage itself is test_storage.py's."""

import csv
import io
import json
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from {{ cookiecutter.__package_name }}.data import Dataset
from {{ cookiecutter.__package_name }}.local_lambda import LocalContext
from {{ cookiecutter.__package_name }}.predictor import Predictor
from {{ cookiecutter.__package_name }}.scheduled import configured, handler, to_csv, write_sample
from {{ cookiecutter.__package_name }}.storage import LocalStorage, open_storage

from contract_testing import CONTRACT, complete_rows
from scheduled_testing import (
    ENV_PREFIX,
    EVENT,
    ID,
    NAMES,
    NUMBER,
    ROWS,
    Score,
    assert_predicted,
    input_file,
    read_csv,
)


def test_a_file_is_scored_with_bad_rows_rejected(
    tmp_path: Path, score: Score, predictor: Predictor, held_out: Dataset
) -> None:
    storage = LocalStorage(tmp_path)
    storage.write("incoming/day-1.csv", input_file(held_out))

    (result,) = score(storage)

    predictions = read_csv(tmp_path / "predictions" / "day-1.csv")
    # The short row misses its last input: scored when features.yaml lets it be null (the
    # model imputes it), rejected otherwise. The word is always rejected.
    short_is_scored = CONTRACT.inputs[-1].nullable
    scored = [f"row-{i}" for i in range(ROWS)] + (["short"] if short_is_scored else [])
    assert [p[ID] for p in predictions] == scored
    assert_predicted(predictions[:ROWS], predictor, complete_rows(held_out, ROWS))
    rejects = read_csv(tmp_path / "rejects" / "day-1.csv")
    rejected = [("5", "word")] + ([] if short_is_scored else [("11", "short")])
    assert [(r["line"], r[ID]) for r in rejects] == rejected
    assert result.scored == len(scored)
    assert NUMBER.name in rejects[0]["error"]
    assert result.rejected == len(rejects)


def test_the_keys_are_carried_beside_each_prediction_and_reject(
    tmp_path: Path, score: Score, held_out: Dataset
) -> None:
    if not CONTRACT.keys:
        pytest.skip("the contract has no keys (features.yaml `keys: []`): nothing to carry")
    rows = list(csv.DictReader(io.StringIO(input_file(held_out).decode())))
    keyed = [dict.fromkeys(CONTRACT.key_names, f"key-{row[ID]}") | row for row in rows]
    storage = LocalStorage(tmp_path)
    storage.write("incoming/day-1.csv", to_csv(list(keyed[0]), keyed))

    score(storage)

    for kind in ("predictions", "rejects"):
        written = read_csv(tmp_path / kind / "day-1.csv")
        assert written
        assert all(row[key] == f"key-{row[ID]}" for row in written for key in CONTRACT.key_names)


def test_a_scored_file_is_not_scored_again(tmp_path: Path, score: Score, held_out: Dataset) -> None:
    storage = LocalStorage(tmp_path)
    storage.write("incoming/day-1.csv", input_file(held_out))
    assert [r.name for r in score(storage)] == ["day-1.csv"]
    written = (tmp_path / "predictions" / "day-1.csv").stat().st_mtime_ns

    storage.write("incoming/day-2.csv", input_file(held_out))
    storage.write("incoming/notes.txt", b"not a CSV file")
    assert [r.name for r in score(storage)] == ["day-2.csv"]
    assert score(storage) == []
    assert (tmp_path / "predictions" / "day-1.csv").stat().st_mtime_ns == written


def test_a_file_without_valid_rows_gets_an_empty_prediction_file(
    tmp_path: Path, score: Score
) -> None:
    storage = LocalStorage(tmp_path)
    storage.write("incoming/empty.csv", to_csv([ID, *NAMES], []))
    (result,) = score(storage)
    assert (result.scored, result.rejected) == (0, 0)
    assert (tmp_path / "predictions" / "empty.csv").read_text() == f"{ID}\n"
    assert not (tmp_path / "rejects" / "empty.csv").exists()


@pytest.mark.usefixtures("scheduled_environment")
def test_the_scheduled_event_runs_the_lambda_handler(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
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


@pytest.mark.usefixtures("scheduled_environment")
def test_files_in_s3_are_scored_by_the_lambda_handler_once(
    aws_endpoint: str, bucket: str, held_out: Dataset, monkeypatch: pytest.MonkeyPatch
) -> None:
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
    assert [p[ID] for p in predictions][:ROWS] == [f"row-{i}" for i in range(ROWS)]
    assert len(predictions) == first["scored"]
    rejects = list(csv.DictReader(io.StringIO(storage.read("rejects/day-1.csv").decode())))
    assert rejects[0][ID] == "word"
    assert len(rejects) == first["rejected"]


def test_an_unreadable_s3_file_fails_the_run_and_is_scored_once_replaced(
    aws_endpoint: str, bucket: str, score: Score, held_out: Dataset
) -> None:
    storage = open_storage(f"s3://{bucket}", aws_endpoint)
    storage.write("incoming/day-1.csv", b"id,\xff\xfe\n")
    with pytest.raises(UnicodeDecodeError):
        score(storage)
    assert storage.keys("predictions/") == []
    assert storage.keys("rejects/") == []
    storage.write("incoming/day-1.csv", input_file(held_out))
    assert [result.name for result in score(storage)] == ["day-1.csv"]


def test_a_missing_bucket_or_object_is_an_error_naming_it(
    aws_endpoint: str, bucket: str, score: Score
) -> None:
    with pytest.raises(ClientError, match="NoSuchBucket"):
        score(open_storage("s3://no-such-bucket-here", aws_endpoint))
    with pytest.raises(ClientError, match="NoSuchKey"):
        open_storage(f"s3://{bucket}", aws_endpoint).read("incoming/gone.csv")
