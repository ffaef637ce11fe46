import json
from pathlib import Path

import pytest

from {{ cookiecutter.__package_name }}.audit import AuditLog, input_digest
from {{ cookiecutter.__package_name }}.data import Dataset
from {{ cookiecutter.__package_name }}.features import FEATURE_NAMES
from {{ cookiecutter.__package_name }}.predictor import Predictor
from {{ cookiecutter.__package_name }}.settings import Settings


@pytest.fixture
def audit_log(tmp_path: Path) -> AuditLog:
    return AuditLog(tmp_path / "audit" / "predictions.jsonl")


@pytest.fixture
def predictor(model_dir: Path, audit_log: AuditLog) -> Predictor:
    """A predictor of its own, auditing to a log of its own: each test reads the whole log."""
    return Predictor.load(model_dir, Settings(audit_log_path=audit_log.path))


def read(log: AuditLog) -> list[dict[str, object]]:
    return [json.loads(line) for line in log.path.read_text(encoding="utf-8").splitlines()]


def test_every_prediction_is_recorded_with_input_hash_output_and_version(
    predictor: Predictor, audit_log: AuditLog, held_out: Dataset
) -> None:
    rows = held_out.columns.take(slice(0, 3))

    predictions = predictor.predict_columns(rows)

    records = read(audit_log)
    assert [record["input_sha256"] for record in records] == [
        input_digest(FEATURE_NAMES, [*numbers, *categories])
        for numbers, categories in zip(rows.numbers.tolist(), rows.categories.tolist(), strict=True)
    ]
    assert [record["output"] for record in records] == [
        prediction.model_dump(exclude={"model_version"}) for prediction in predictions
    ]
    assert {record["model_version"] for record in records} == {predictor.model_version}
    assert all(str(record["time"]).endswith("+00:00") for record in records)


def test_the_log_is_only_appended_to(
    predictor: Predictor, audit_log: AuditLog, held_out: Dataset
) -> None:
    predictor.predict_columns(held_out.columns.take(slice(0, 2)))
    first = audit_log.path.read_text(encoding="utf-8")

    predictor.predict_columns(held_out.columns.take(slice(2, 3)))

    after = audit_log.path.read_text(encoding="utf-8")
    assert after.startswith(first)
    assert len(after.splitlines()) == 3


def test_input_digest_identifies_the_values_and_maps_missing_to_null() -> None:
    row = [float(index) for index in range(len(FEATURE_NAMES))]
    gap = [float("nan"), *row[1:]]

    assert input_digest(FEATURE_NAMES, row) == input_digest(FEATURE_NAMES, list(row))
    assert input_digest(FEATURE_NAMES, row) != input_digest(FEATURE_NAMES, gap)
    assert len(input_digest(FEATURE_NAMES, gap)) == 64
