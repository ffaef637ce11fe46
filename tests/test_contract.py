"""cookiecutter.json, the table and the docs agree: the answer contract has one source."""

from __future__ import annotations

import json
from pathlib import Path

from decision import engine

CONTEXT = json.loads((Path(__file__).resolve().parent.parent / "cookiecutter.json").read_text())


def test_every_public_answer_is_a_cookiecutter_variable_and_nothing_else_is() -> None:
    public = [name for name in CONTEXT if not name.startswith("_")]
    assert public == list(engine.table()["answers"])


def test_choices_and_defaults_match_the_table() -> None:
    for name, spec in engine.table()["answers"].items():
        value = CONTEXT[name]
        if spec["kind"] == "choice":
            assert sorted(value) == sorted(engine.choices(name)), name
            assert value[0] == engine.default(name), name
        elif name != "project_slug":
            assert str(value) == engine.default(name), name


def test_every_choice_has_a_prompt_label() -> None:
    prompts = CONTEXT["__prompts__"]
    for name, spec in engine.table()["answers"].items():
        if spec["kind"] == "choice":
            assert prompts[name]["__prompt__"] == spec["question"]
            assert set(prompts[name]) - {"__prompt__"} == set(engine.choices(name))
        else:
            assert prompts[name] == spec["question"]


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
