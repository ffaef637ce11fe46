"""The batch job ({{ cookiecutter.__batch_engine }} engine): scoring, rejects, idempotent and resumable
runs (validation: test_batch_validation.py)."""

import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from {{ cookiecutter.__package_name }}.batch import (
    RunMismatchError,
    file_fingerprint,
    fingerprint_digest,
    predict,
    prediction_columns,
)
from {{ cookiecutter.__package_name }}.contract import Columns
from {{ cookiecutter.__package_name }}.data import Dataset
from {{ cookiecutter.__package_name }}.engine_{{ cookiecutter.__batch_engine }} import EngineSettings, run
from {{ cookiecutter.__package_name }}.predictor import Predictor, UnscorableInputError
from {{ cookiecutter.__package_name }}.sample_input import bad_cells, sample_frame
from {{ cookiecutter.__package_name }}.schema import Scores
from {{ cookiecutter.__package_name }}.score import main

from contract_testing import ATOL, CONTRACT, RTOL, records
from engine_testing import KILL_TEST_ENVIRONMENT, kill, running_engine
from state_join_testing import WITHOUT_STATE, WITHOUT_STATE_OPTIONS

CHUNK_ROWS = 200


@pytest.fixture(scope="session")
def engine() -> Iterator[dict[str, Any]]:
    """The engine, running for every test that needs it; its own settings (engine_testing.py)."""
    with running_engine() as engine_settings:
        yield engine_settings


@pytest.fixture
def settings(tmp_path: Path, model_dir: Path, engine: dict[str, Any]) -> EngineSettings:
    # These tests give every input; test_batch_state.py joins rows with stored state.
    return EngineSettings(
        input=str(tmp_path / "input.parquet"),
        output_dir=tmp_path / "predictions",
        run_id="test",
        chunk_rows=CHUNK_ROWS,
        model_dir=model_dir,
        **engine,
        **WITHOUT_STATE,
    )


def write_parquet(frame: pd.DataFrame, path: Path) -> None:
    """One row group per chunk, as a producer writing in batches would."""
    table = pa.Table.from_pandas(frame, preserve_index=False)
    pq.write_table(table, path, row_group_size=CHUNK_ROWS)


def input_frame(count: int, held_out: Dataset) -> pd.DataFrame:
    """`count` held-out rows (repeated), one typed column per input, as a producer writes them."""
    return pd.DataFrame(records(held_out.columns.take(np.arange(count) % len(held_out))))


def records_of(frame: pd.DataFrame) -> list[dict[str, object]]:
    """A frame's rows as request rows (None where a value is missing)."""
    return [
        {name: None if pd.isna(value) else value for name, value in row.items()}
        for row in frame.to_dict("records")
    ]


def assert_close(scored: pd.DataFrame, expected: pd.DataFrame) -> None:
    """Labels equal, numbers equal within float32 rounding (`RTOL`, `ATOL`)."""
    pd.testing.assert_frame_equal(
        scored, expected, check_dtype=False, check_categorical=False, rtol=RTOL, atol=ATOL
    )


def read_output(settings: EngineSettings, kind: str) -> pd.DataFrame:
    return pd.read_parquet(settings.output_dir / settings.run_id / kind)


def assert_each_row_once(settings: EngineSettings, rows: int) -> None:
    """Every input row is in exactly one output row, scored or rejected."""
    scored, rejected = read_output(settings, "predictions"), read_output(settings, "rejects")
    keys = pd.concat([scored[["part", "row"]], rejected[["part", "row"]]])
    assert len(keys) == rows
    assert not keys.duplicated().any()


class RefusesOverflow:
    """The model, refusing rows whose first number is infinite as an overflowing model would
    (no table a model is trained on holds one)."""

    def __init__(self, predictor: Predictor) -> None:
        self._predictor = predictor

    def score(self, columns: Columns) -> Scores:
        refused = np.isinf(columns.numbers[:, 0])
        if refused.any():
            raise UnscorableInputError(np.flatnonzero(refused), "overflow")
        return self._predictor.score(columns)


def test_only_the_rows_the_model_refuses_are_rejected(
    predictor: Predictor, held_out: Dataset
) -> None:
    if not CONTRACT.numbers:
        pytest.skip("the contract has no numeric input to overflow")
    count = min(10, len(held_out.columns.numbers))
    columns = held_out.columns.take(np.arange(count))
    overflowing = [1, count - 1]
    columns.numbers[overflowing, 0] = np.inf
    model: Predictor = RefusesOverflow(predictor)  # type: ignore[assignment]

    scored, scores, refused = predict(model, columns, np.arange(count))

    assert scored.tolist() == [row for row in range(count) if row not in overflowing]
    assert len(scores) == count - 2
    assert refused == dict.fromkeys(overflowing, "overflow")


def test_the_sample_csv_is_scored_and_its_bad_rows_rejected(
    settings: EngineSettings, predictor: Predictor, tmp_path: Path
) -> None:
    frame = sample_frame()
    path = tmp_path / "sample.csv"
    frame.to_csv(path, index=False)
    settings.input = str(path)
    summary = run(settings, predictor)
    rejected = sum(cell.reason is not None for cell in bad_cells(CONTRACT))
    assert (summary.rows, summary.rejected) == (len(frame), rejected)
    assert summary.scored == len(frame) - rejected
    assert_each_row_once(settings, len(frame))
    rejects = read_output(settings, "rejects")
    assert rejects["reason"].str.len().gt(0).all()
    assert set(rejects["run_id"]) == {"test"}


def test_predictions_and_rejects_carry_the_keys_of_their_input_rows(
    settings: EngineSettings, predictor: Predictor, tmp_path: Path
) -> None:
    if not CONTRACT.keys:
        pytest.skip("the contract has no keys (features.yaml `keys: []`): nothing to carry")
    frame = sample_frame()
    path = tmp_path / "sample.csv"
    frame.to_csv(path, index=False)
    settings.input = str(path)
    run(settings, predictor)
    # The sample's keys as text, each input row's at its position (one part here).
    given = frame[list(CONTRACT.key_names)].astype("string")
    for kind in ("predictions", "rejects"):
        output = read_output(settings, kind).sort_values(["part", "row"], ignore_index=True)
        carried = output[list(CONTRACT.key_names)].astype("string")
        expected = given.iloc[output["row"] + output["part"] * CHUNK_ROWS]
        pd.testing.assert_frame_equal(carried, expected.reset_index(drop=True))


def test_predictions_match_the_model_and_carry_version_and_run_id(
    settings: EngineSettings, predictor: Predictor, held_out: Dataset
) -> None:
    frame = input_frame(3 * CHUNK_ROWS + 17, held_out)
    write_parquet(frame, Path(settings.input))
    summary = run(settings, predictor)
    assert (summary.parts, summary.scored, summary.rejected) == (4, len(frame), 0)
    scored = read_output(settings, "predictions").sort_values(["part", "row"], ignore_index=True)
    # The model's scores of the same rows in one call, as the job's output columns.
    columns = Columns.from_records(CONTRACT, records_of(frame))
    expected = pa.table(prediction_columns(predictor.score(columns))).to_pandas()
    assert_close(scored[expected.columns], expected)
    assert set(scored["model_version"]) == {predictor.model_version}
    assert set(scored["run_id"]) == {"test"}


def test_rerunning_a_complete_run_changes_nothing(
    settings: EngineSettings, predictor: Predictor, held_out: Dataset
) -> None:
    write_parquet(input_frame(2 * CHUNK_ROWS, held_out), Path(settings.input))
    first = run(settings, predictor)
    output = settings.output_dir / settings.run_id
    files = {path: path.stat().st_mtime_ns for path in output.rglob("*")}
    assert run(settings, predictor) == first
    assert {path: path.stat().st_mtime_ns for path in output.rglob("*")} == files
    assert_each_row_once(settings, 2 * CHUNK_ROWS)


def test_a_run_id_is_not_reused_for_another_input(
    settings: EngineSettings, predictor: Predictor, held_out: Dataset
) -> None:
    write_parquet(input_frame(CHUNK_ROWS, held_out), Path(settings.input))
    settings.chunk_rows = CHUNK_ROWS // 2
    (settings.output_dir / settings.run_id).mkdir(parents=True)
    (settings.output_dir / settings.run_id / "_run.json").write_text(json.dumps({"input": "other"}))
    with pytest.raises(RunMismatchError, match="another run id"):
        run(settings, predictor)


def start_and_kill(settings: EngineSettings, model_dir: Path, parts: int) -> dict[str, int]:
    """Run the job in a process of its own and kill it (SIGKILL) once `parts` parts are
    committed; the commit markers it left, with their modification times."""
    commits = settings.output_dir / settings.run_id / "_commits"
    options = {
        "--input": settings.input,
        "--output-dir": str(settings.output_dir),
        "--run-id": settings.run_id,
        "--chunk-rows": str(CHUNK_ROWS),
        "--model-dir": str(model_dir),
    }
    command = [
        sys.executable,
        "-m",
        "{{ cookiecutter.__package_name }}.score",
        *(f"{k}={v}" for k, v in options.items()),
        *WITHOUT_STATE_OPTIONS,
    ]
    env = {**os.environ, **KILL_TEST_ENVIRONMENT}
    job = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while len(list(commits.glob("*.json"))) < parts:
            assert job.poll() is None, "the job ended before it could be killed"
            assert time.monotonic() < deadline, "the job committed nothing in time"
            time.sleep(0.005)
        kill(job)
    finally:
        job.wait()
    assert job.returncode == -signal.SIGKILL
    assert not (settings.output_dir / settings.run_id / "_SUCCESS.json").exists()
    return {path.name: path.stat().st_mtime_ns for path in commits.glob("*.json")}


def test_a_killed_run_resumes_and_writes_every_row_exactly_once(
    settings: EngineSettings, predictor: Predictor, held_out: Dataset, model_dir: Path
) -> None:
    rows = 60 * CHUNK_ROWS
    write_parquet(input_frame(rows, held_out), Path(settings.input))
    commits = settings.output_dir / settings.run_id / "_commits"
    committed = start_and_kill(settings, model_dir, parts=3)
    assert 3 <= len(committed) < 60

    summary = run(settings, predictor)

    assert (summary.parts, summary.rows, summary.scored) == (60, rows, rows)
    assert_each_row_once(settings, rows)
    # The parts committed before the kill were skipped, not redone.
    assert {name: (commits / name).stat().st_mtime_ns for name in committed} == committed


def test_a_killed_run_resumed_with_another_input_is_refused(
    settings: EngineSettings,
    model_dir: Path,
    held_out: Dataset,
    caplog: pytest.LogCaptureFixture,
) -> None:
    rows = 60 * CHUNK_ROWS
    write_parquet(input_frame(rows, held_out), Path(settings.input))
    committed = start_and_kill(settings, model_dir, parts=4)
    assert 4 <= len(committed) < 60
    # Other rows, as many and in as many row groups: only the content differs.
    other = input_frame(rows, held_out).sample(frac=1.0, random_state=7).reset_index(drop=True)
    write_parquet(other, Path(settings.input))
    arguments = ["--input", settings.input, "--output-dir", str(settings.output_dir)]
    arguments += ["--run-id", settings.run_id, "--chunk-rows", str(CHUNK_ROWS)]

    assert main([*arguments, "--model-dir", str(model_dir)]) == 1

    (message,) = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert "\n" not in message
    assert f"run {settings.run_id} cannot resume: its input_fingerprint changed" in message
    output = settings.output_dir / settings.run_id
    assert not (output / "_SUCCESS.json").exists()
    assert {path.name for path in (output / "_commits").glob("*.json")} == set(committed)


def test_a_complete_run_id_given_another_input_is_refused_naming_both_fingerprints(
    settings: EngineSettings, predictor: Predictor, held_out: Dataset, tmp_path: Path
) -> None:
    """A finished run never answers for another input: it is refused, not reported done."""
    write_parquet(input_frame(CHUNK_ROWS, held_out), Path(settings.input))
    run(settings, predictor)
    output = settings.output_dir / settings.run_id
    files = {path: path.stat().st_mtime_ns for path in output.rglob("*")}
    other = tmp_path / "other.parquet"
    write_parquet(input_frame(2 * CHUNK_ROWS, held_out), other)
    settings.input = str(other)

    with pytest.raises(RunMismatchError) as refused:
        run(settings, predictor)

    message = str(refused.value)
    assert "\n" not in message
    assert f"run {settings.run_id} cannot run again: its input, input_fingerprint" in message
    started = json.loads((output / "_run.json").read_text())
    assert fingerprint_digest(started["input_fingerprint"]) in message
    assert fingerprint_digest(file_fingerprint(other)) in message
    assert {path: path.stat().st_mtime_ns for path in output.rglob("*")} == files


def test_a_file_rewritten_with_its_size_and_time_restored_is_another_input(
    settings: EngineSettings, predictor: Predictor, held_out: Dataset
) -> None:
    """The fingerprint hashes every byte: two rows swapped in an uncompressed file keep its
    size, its footer's statistics and (restored, as `cp -p` would) its modification time."""
    frame = input_frame(2 * CHUNK_ROWS, held_out)
    path = Path(settings.input)
    plain = {"compression": "none", "use_dictionary": False, "row_group_size": CHUNK_ROWS}
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path, **plain)
    size, modified = path.stat().st_size, path.stat().st_mtime_ns
    run(settings, predictor)
    (settings.output_dir / settings.run_id / "_SUCCESS.json").unlink()  # as if killed
    swapped = frame.iloc[[1, 0, *range(2, len(frame))]].reset_index(drop=True)
    assert not swapped.equals(frame)
    pq.write_table(pa.Table.from_pandas(swapped, preserve_index=False), path, **plain)
    os.utime(path, ns=(modified, modified))
    assert path.stat().st_size == size

    with pytest.raises(RunMismatchError, match="its input_fingerprint changed"):
        run(settings, predictor)


def test_a_rewritten_input_file_with_the_same_rows_is_another_input(
    settings: EngineSettings, predictor: Predictor, held_out: Dataset
) -> None:
    """A run is resumed with the file it started with, not a copy written since with its
    rows in another order."""
    frame = input_frame(2 * CHUNK_ROWS, held_out)
    write_parquet(frame, Path(settings.input))
    output = settings.output_dir / settings.run_id
    run(settings, predictor)
    (output / "_SUCCESS.json").unlink()  # as if killed before the end
    assert run(settings, predictor).rows == len(frame)  # the same file resumes
    (output / "_SUCCESS.json").unlink()
    write_parquet(frame.iloc[::-1], Path(settings.input))

    with pytest.raises(RunMismatchError, match=f"run {settings.run_id} cannot resume"):
        run(settings, predictor)


def test_the_entry_point_reports_a_missing_input(settings: EngineSettings) -> None:
    assert main(["--input", "no/such/file.parquet", "--model-dir", str(settings.model_dir)]) == 1


def test_an_input_without_the_input_columns_stops_the_job_in_one_line(
    settings: EngineSettings, caplog: pytest.LogCaptureFixture
) -> None:
    pq.write_table(pa.table({"other": [1.0, 2.0]}), settings.input)
    arguments = ["--input", settings.input, "--output-dir", str(settings.output_dir)]
    arguments += WITHOUT_STATE_OPTIONS  # without state, every input column is required

    assert main([*arguments, "--model-dir", str(settings.model_dir)]) == 1

    (message,) = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert "\n" not in message
    assert CONTRACT.inputs[0].name in message
