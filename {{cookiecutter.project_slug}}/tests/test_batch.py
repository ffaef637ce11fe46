{%- set package = cookiecutter.__package_name -%}
{%- set engine = cookiecutter.__batch_engine -%}
{%- set classification = cookiecutter.model_type != "regression" -%}
{%- set imputes = cookiecutter.feature_engineering == "yes" -%}
"""The batch job ({{ engine }} engine): validation, scoring, rejects, idempotent and resumable runs."""

import json
import logging
{%- if engine == "dask" %}
import os
{%- endif %}
import signal
{%- if engine == "pandas" %}
import sqlite3
{%- endif %}
import subprocess
import sys
import time
{%- if engine == "pandas" %}
from contextlib import closing
{%- endif %}
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from {{ package }}.batch import InputError, RunMismatchError, predict, validate
from {{ package }}.data import Dataset
from {{ package }}.engine_{{ engine }} import EngineSettings, run
from {{ package }}.features import FEATURE_NAMES
from {{ package }}.predictor import Predictor, UnscorableInputError
from {{ package }}.sample_input import BAD_VALUES, sample_frame
from {{ package }}.schema import Scores
from {{ package }}.score import main

CHUNK_ROWS = 200


@pytest.fixture
def settings(tmp_path: Path, model_dir: Path) -> EngineSettings:
    return EngineSettings(
        input=str(tmp_path / "input.parquet"),
        output_dir=tmp_path / "predictions",
        run_id="test",
        chunk_rows=CHUNK_ROWS,
        model_dir=model_dir,
{%- if engine == "dask" %}
        workers=2,
        processes=False,
{%- endif %}
    )


def write_parquet(frame: pd.DataFrame, path: Path) -> None:
    """One row group per chunk, as a producer writing in batches would."""
    table = pa.Table.from_pandas(frame, preserve_index=False)
    pq.write_table(table, path, row_group_size=CHUNK_ROWS)


def input_frame(rows: int, held_out: Dataset) -> pd.DataFrame:
    repeats = -(-rows // len(held_out.features))
    features = np.tile(held_out.features.astype(np.float64), (repeats, 1))[:rows]
    return pd.DataFrame(features, columns=list(FEATURE_NAMES))


def read_output(settings: EngineSettings, kind: str) -> pd.DataFrame:
    return pd.read_parquet(settings.output_dir / settings.run_id / kind)


def assert_each_row_once(settings: EngineSettings, rows: int) -> None:
    """Every input row is in exactly one output row, scored or rejected."""
    scored, rejected = read_output(settings, "predictions"), read_output(settings, "rejects")
    keys = pd.concat([scored[["part", "row"]], rejected[["part", "row"]]])
    assert len(keys) == rows
    assert not keys.duplicated().any()


def test_validation_rejects_each_bad_value_with_its_reason() -> None:
    frame = sample_frame()
    _, reasons = validate(pa.Table.from_pandas(frame.astype("string")))
    first = len(frame) - len(BAD_VALUES)
    out_of_range = "not finite or outside the float32 range"
    assert reasons == {
        first: f"{FEATURE_NAMES[0]}: not a number",
        first + 1: f"{FEATURE_NAMES[1 % len(FEATURE_NAMES)]}: {out_of_range}",
        first + 2: f"{FEATURE_NAMES[2 % len(FEATURE_NAMES)]}: {out_of_range}",
{%- if not imputes %}
        first + 3: f"{FEATURE_NAMES[3 % len(FEATURE_NAMES)]}: missing",
{%- endif %}
    }{% if imputes %}  # the missing value is imputed by the feature pipeline{% endif %}


def test_validation_refuses_an_input_without_the_feature_columns() -> None:
    with pytest.raises(InputError, match=FEATURE_NAMES[0]):
        validate(pa.table({"other": [1.0]}))


class RefusesLargeValues:
    """A model that cannot score rows holding a value over 100, like an overflowing one."""

    def score_array(self, features: npt.NDArray[np.float32]) -> Scores:
        refused = (features > 100).any(axis=1)
        if refused.any():
            raise UnscorableInputError(np.flatnonzero(refused), "overflow")
        rows = len(features)
        return Scores(
            model_version="v",
{%- if classification %}
            labels=("a",),
            predicted=np.zeros(rows, dtype=np.intp),
            probabilities=np.ones((rows, 1), dtype=np.float32),
{%- else %}
            values=np.ones(rows, dtype=np.float32),
{%- endif %}
{%- if cookiecutter.legal_review == "yes" %}
            feature_names=(),
            explanations=np.zeros((rows, 0), dtype=np.float32),
{%- endif %}
        )


def test_only_the_rows_the_model_refuses_are_rejected() -> None:
    features = np.zeros((10, 2), dtype=np.float32)
    features[[3, 7], 0] = 1000
    model: Predictor = RefusesLargeValues()  # type: ignore[assignment]
    scored, scores, refused = predict(model, features, np.arange(10))
    assert scored.tolist() == [0, 1, 2, 4, 5, 6, 8, 9]
    assert len(scores) == 8
    assert refused == {3: "overflow", 7: "overflow"}


def test_the_sample_csv_is_scored_and_its_bad_rows_rejected(
    settings: EngineSettings, predictor: Predictor, tmp_path: Path
) -> None:
    frame = sample_frame()
    path = tmp_path / "sample.csv"
    frame.to_csv(path, index=False)
    settings.input = str(path)
    summary = run(settings, predictor)
    rejected = len(BAD_VALUES){% if imputes %} - 1{% endif %}
    assert (summary.rows, summary.rejected) == (len(frame), rejected)
    assert summary.scored == len(frame) - rejected
    assert_each_row_once(settings, len(frame))
    rejects = read_output(settings, "rejects")
    assert rejects["reason"].str.len().gt(0).all()
    assert set(rejects["run_id"]) == {"test"}


def test_predictions_match_the_model_and_carry_version_and_run_id(
    settings: EngineSettings, predictor: Predictor, held_out: Dataset
) -> None:
    frame = input_frame(3 * CHUNK_ROWS + 17, held_out)
    write_parquet(frame, Path(settings.input))
    summary = run(settings, predictor)
    assert (summary.parts, summary.scored, summary.rejected) == (4, len(frame), 0)
    scored = read_output(settings, "predictions").sort_values(["part", "row"], ignore_index=True)
    expected = predictor.predict_array(frame.to_numpy())
{%- if classification %}
    assert scored["label"].tolist() == [p.label for p in expected]
    label = predictor.metadata.labels[0]
    np.testing.assert_allclose(
        scored[f"probability_{label}"], [p.probabilities[label] for p in expected], rtol=1e-6
    )
{%- else %}
    np.testing.assert_allclose(scored["value"], [p.value for p in expected], rtol=1e-6)
{%- endif %}
    assert set(scored["model_version"]) == {predictor.model_version}
    assert set(scored["run_id"]) == {"test"}
{%- if engine == "pandas" %}


def test_a_sqlite_table_is_scored_by_query(
    settings: EngineSettings, predictor: Predictor, held_out: Dataset, tmp_path: Path
) -> None:
    database = tmp_path / "rows.db"
    frame = input_frame(2 * CHUNK_ROWS + 1, held_out)
    with closing(sqlite3.connect(database)) as connection:
        frame.to_sql("rows", connection, index_label="id")
    settings.input = f"sqlite:///{database}"
    settings.query = "SELECT * FROM rows ORDER BY id"
    summary = run(settings, predictor)
    assert (summary.parts, summary.rows, summary.scored) == (3, len(frame), len(frame))
{%- endif %}


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
    settings: EngineSettings, predictor: Predictor, held_out: Dataset, tmp_path: Path
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
        "{{ package }}.score",
        *(f"{k}={v}" for k, v in options.items()),
    ]
{%- if engine == "dask" %}
    # Threads in the job's own process: SIGKILL then stops every worker at once.
    env = {
        **os.environ,
        "{{ package | upper }}_PROCESSES": "false",
        "{{ package | upper }}_WORKERS": "1",
    }
    job = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
{%- else %}
    job = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
{%- endif %}
    try:
        deadline = time.monotonic() + 120
        while len(list(commits.glob("*.json"))) < parts:
            assert job.poll() is None, "the job ended before it could be killed"
            assert time.monotonic() < deadline, "the job committed nothing in time"
            time.sleep(0.005)
        job.send_signal(signal.SIGKILL)
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


def test_a_rewritten_input_file_with_the_same_rows_is_another_input(
    settings: EngineSettings, predictor: Predictor, held_out: Dataset
) -> None:
    """Size, modification time and footer are compared: a run is resumed with the file it
    started with, not a copy written since (its footer and time differ)."""
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
{%- if engine == "pandas" %}


@pytest.mark.parametrize(
    ("change", "changed"),
    [
        ("INSERT INTO rows (id) VALUES (-1)", "input_fingerprint"),
        ("DELETE FROM rows WHERE id = 0", "input_fingerprint"),
        ("", "query"),
    ],
)
def test_a_query_run_resumed_with_other_rows_or_another_query_is_refused(
    settings: EngineSettings,
    predictor: Predictor,
    held_out: Dataset,
    tmp_path: Path,
    change: str,
    changed: str,
) -> None:
    database = tmp_path / "rows.db"
    with closing(sqlite3.connect(database)) as connection:
        input_frame(2 * CHUNK_ROWS, held_out).to_sql("rows", connection, index_label="id")
    settings.input = f"sqlite:///{database}"
    settings.query = "SELECT * FROM rows ORDER BY id"
    run(settings, predictor)
    (settings.output_dir / settings.run_id / "_SUCCESS.json").unlink()  # as if killed
    if change:
        with closing(sqlite3.connect(database)) as connection, connection:
            connection.execute(change)
    else:
        settings.query = "SELECT * FROM rows ORDER BY id DESC"

    with pytest.raises(RunMismatchError) as refused:
        run(settings, predictor)

    assert f"run {settings.run_id} cannot resume: its {changed} changed" in str(refused.value)
{%- endif %}


def test_the_entry_point_reports_a_missing_input(settings: EngineSettings) -> None:
    assert main(["--input", "no/such/file.parquet", "--model-dir", str(settings.model_dir)]) == 1
