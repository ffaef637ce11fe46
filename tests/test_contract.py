"""cookiecutter.json is written from the table (tools/cookiecutter_json.py): the answer contract
has one source."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from decision import engine
from tools import cookiecutter_json

ROOT = Path(__file__).resolve().parent.parent
CONTEXT = json.loads((ROOT / "cookiecutter.json").read_text(encoding="utf-8"))


def test_cookiecutter_json_is_what_the_tool_writes_from_the_table() -> None:
    written = (ROOT / "cookiecutter.json").read_text(encoding="utf-8")
    assert written == cookiecutter_json.text(), "run python tools/cookiecutter_json.py"
    check = [sys.executable, str(ROOT / "tools" / "cookiecutter_json.py"), "--check"]
    assert subprocess.run(check, capture_output=True).returncode == 0


def test_the_check_fails_on_a_stale_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stale = tmp_path / "cookiecutter.json"
    stale.write_text(cookiecutter_json.text().replace('"low"', '"tiny"', 1), encoding="utf-8")
    monkeypatch.setattr(cookiecutter_json, "CONTEXT_FILE", stale)
    assert cookiecutter_json.main(["--check"]) == 1
    assert cookiecutter_json.main([]) == 0
    assert cookiecutter_json.main(["--check"]) == 0


def test_every_public_answer_is_a_cookiecutter_variable_with_its_default_first() -> None:
    public = [name for name in CONTEXT if not name.startswith("_")]
    assert public == list(engine.table()["answers"])
    for name, spec in engine.table()["answers"].items():
        if spec["kind"] == "choice":
            assert sorted(CONTEXT[name]) == sorted(engine.choices(name)), name
            assert CONTEXT[name][0] == engine.default(name), name
            assert set(CONTEXT["__prompts__"][name]) - {"__prompt__"} == set(engine.choices(name))
        elif name != "project_slug":
            assert str(CONTEXT[name]) == engine.default(name), name


def test_the_public_contract_names_are_exactly_the_issue_names() -> None:
    expected = {
        "data_volume": ["low", "moderate", "high", "massive"],
        "data_churn": ["never", "low", "cadence", "constant"],
        "realtime_sla": ["yes", "maybe", "no"],
        "caller": [
            "internal_high_throughput",
            "external",
            "internal_private",
            "file_based",
            "database",
        ],
        "stateful": ["yes", "no"],
        "deployment_strategy": [
            "auto",
            "rest",
            "batch",
            "stream",
            "serverless",
            "database",
            "precompute",
        ],
    }
    for name, values in expected.items():
        assert sorted(engine.choices(name)) == sorted(values), name
    assert engine.table()["answers"]["latency_sla_ms"]["kind"] == "positive_int"


def test_every_consideration_owns_existing_answers() -> None:
    considerations = engine.table()["considerations"]
    assert len(considerations) == 10
    owned = [name for c in considerations for name in c["answers"]]
    assert set(owned) <= set(engine.table()["answers"])
    assert len(owned) == len(set(owned))
