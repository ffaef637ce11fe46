"""The training report and the promotion gate: a worse model is not served, moves of
`current` are recorded, and the model card keeps what people wrote."""

import json
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd
import pytest

from {{ cookiecutter.__package_name }}.artifact import REPORT_DIR, current_version, load_metadata
from {{ cookiecutter.__package_name }}.contract import load_contract
from {{ cookiecutter.__package_name }}.data import load_dataset
from {{ cookiecutter.__package_name }}.predictor import Predictor
from {{ cookiecutter.__package_name }}.promotion import HISTORY_FILE, history
from {{ cookiecutter.__package_name }}.promotion import main as promotion_main
from {{ cookiecutter.__package_name }}.report import CARD_FILE
from {{ cookiecutter.__package_name }}.settings import Settings
from {{ cookiecutter.__package_name }}.train import main, train

REPEATS_SETTING = "{{ cookiecutter.__package_name | upper }}_IMPORTANCE_REPEATS"


def table(target_order: npt.NDArray[np.intp] | None = None) -> pd.DataFrame:
    """The training data as a table under its own column names; its target reordered by
    `target_order` (a permutation of the rows) when given."""
    contract = load_contract()
    dataset = load_dataset(Settings().training_data)
    frame = pd.DataFrame(dataset.columns.by_input(contract)).rename(
        columns={item.name: item.column for item in contract.inputs}
    )
    target = dataset.target.astype(object)
    if contract.labels:
        target = np.asarray(contract.labels, dtype=object)[dataset.target]
    frame[contract.target.column] = target if target_order is None else target[target_order]
    return frame


@pytest.fixture
def tables(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """The training data, and the same rows with their target shuffled; the report's
    permutation importance kept quick."""
    monkeypatch.setenv(REPEATS_SETTING, "1")
    real, shuffled = tmp_path / "real.parquet", tmp_path / "shuffled.parquet"
    frame = table()
    frame.to_parquet(real)
    table(np.random.default_rng(0).permutation(len(frame))).to_parquet(shuffled)
    return real, shuffled


def test_a_model_of_a_shuffled_target_is_refused_and_the_current_one_keeps_serving(
    tmp_path: Path, tables: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    real, shuffled = tables
    models = tmp_path / "models"
    first = train(models, real, Settings()).metadata.version
    capsys.readouterr()

    assert main(["--data", str(shuffled), "--models-dir", str(models)]) == 1

    error = capsys.readouterr().err
    assert "not promoted" in error
    assert error.count("\n") == 1
    assert current_version(models) == first
    assert Predictor.load(models / "current", Settings()).model_version == first
    candidates = {path.name for path in models.iterdir() if path.is_dir()} - {first}
    assert len(candidates) == 1
    assert [entry["to"] for entry in history(models)] == [first]


def test_promote_and_rollback_move_current_and_record_why(
    tmp_path: Path, tables: tuple[Path, Path]
) -> None:
    real, shuffled = tables
    models = tmp_path / "models"
    first = train(models, real, Settings()).metadata.version
    candidate = train(models, shuffled, Settings())
    assert not candidate.promoted
    arguments = ["--models-dir", str(models)]

    version = candidate.metadata.version
    assert promotion_main([*arguments, "promote", version, "--why", "a test"]) == 0
    assert current_version(models) == candidate.metadata.version
    assert promotion_main([*arguments, "rollback", "--why", "worse"]) == 0
    assert current_version(models) == first

    lines = (models / HISTORY_FILE).read_text(encoding="utf-8").splitlines()
    moves = [json.loads(line) for line in lines]
    assert [(m["from"], m["to"], m["why"]) for m in moves[1:]] == [
        (first, candidate.metadata.version, "a test"),
        (candidate.metadata.version, first, "worse"),
    ]
    assert all(m["at"] for m in moves)
    assert promotion_main([*arguments, "promote", "absent"]) == 1


def test_the_report_and_the_model_card_show_the_baseline_and_figures_and_keep_edits(
    tmp_path: Path, tables: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    real, _ = tables
    models = tmp_path / "models"
    first = train(models, real, Settings()).metadata.version
    card = tmp_path / CARD_FILE
    edited = card.read_text(encoding="utf-8").replace(
        "Fill in: the decision the model supports", "Triage of incoming cases"
    )
    card.write_text(edited, encoding="utf-8")
    capsys.readouterr()

    assert main(["--data", str(real), "--models-dir", str(models)]) == 0

    output = capsys.readouterr().out
    assert "baseline" in output
    assert f"previous ({first})" in output
    _, metadata = load_metadata(models / "current")
    assert set(metadata.baseline) == set(metadata.metrics) - {"onnx_max_difference"}
    assert metadata.previous is not None
    assert metadata.previous.version == first
    assert set(metadata.previous.metrics) == set(metadata.baseline)
    report = models / metadata.version / REPORT_DIR
    assert {"permutation_importance.png", "target_balance.png"} <= {
        path.name for path in report.iterdir()
    }
    text = card.read_text(encoding="utf-8")
    assert "Triage of incoming cases" in text
    assert "## Limitations" in text
    assert metadata.version in text
    assert "| metric | model | baseline |" in text
    assert f"]({models.name}/{metadata.version}/{REPORT_DIR}/" in text
