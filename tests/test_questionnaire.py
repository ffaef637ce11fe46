"""The interactive questionnaire: its pure helpers, and the real thing in a pseudo-terminal.

The pty tests run the cookiecutter CLI as a user would, answer by question text (never by
ANSI codes) and check the generated project's `.cookiecutter.json`. conftest.py switches
the questionnaire off for every other test; these switch it back on for their child only.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from decision import engine
from hooks import prompts, questionnaire
from hooks.questionnaire import Default

from .answers import SOURCE_ROWS

pexpect = pytest.importorskip("pexpect")

COOKIECUTTER = str(Path(sys.executable).with_name("cookiecutter"))
CLEAR_LINE = "\x15"  # Ctrl-U: empties a text prompt (its default is pre-filled)
CTRL_C = "\x03"
PROMPT_END = r"\)(?:\x1b\[[0-9;]*m)*:"  # the end of cookiecutter's "Question (default): "
ACCEPT = "Accept the recommendation or override it?"
FOLLOW_UP_INPUTS = ("realtime_sla", "caller", "data_churn", "retraining", "training_data")
ANSI = re.compile(r"\x1b(\[[0-9;?]*[ -/]*[@-~]|[@-Z\\-_])")


def question(name: str) -> str:
    return engine.table()["answers"][name]["question"]


def plain(text: str) -> str:
    return ANSI.sub("", text).replace("\r", "")


# --- Pure helpers ------------------------------------------------------------------------


def test_menus_when_questionary_imports_numbered_prompts_when_not_or_asked_for(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert isinstance(prompts.prompter({}), prompts.MenuPrompter)  # the tooling venv has it
    assert isinstance(prompts.prompter({"ML_DEPLOY_QUESTIONNAIRE": "plain"}), prompts.PlainPrompter)
    monkeypatch.setitem(sys.modules, "questionary", None)  # import questionary fails
    assert isinstance(prompts.prompter({}), prompts.PlainPrompter)


def test_training_data_must_name_a_csv_or_parquet_file_as_it_is_typed(tmp_path: Path) -> None:
    (tmp_path / "table.csv").write_text("a,b\n1,2\n")
    (tmp_path / "notes.txt").write_text("")
    assert questionnaire.training_data_error("", tmp_path) is None
    assert questionnaire.training_data_error("table.csv", tmp_path) is None
    assert questionnaire.training_data_error(str(tmp_path / "table.csv"), Path("/")) is None
    missing = questionnaire.training_data_error("other.parquet", tmp_path)
    assert missing == (
        f"training_data='other.parquet': {tmp_path / 'other.parquet'} does not exist: give a"
        " .csv or .parquet file, or nothing for the sample data"
    )
    assert "not a CSV or Parquet file" in str(
        questionnaire.training_data_error("notes.txt", tmp_path)
    )


def test_training_data_must_be_a_regular_file_as_it_is_typed(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "rows.csv")
    for value in ("rows.csv", "/dev/zero", "."):
        error = questionnaire.training_data_error(value, tmp_path)
        assert error == (
            f"training_data={value!r}: not a regular file: give a .csv or .parquet file, or"
            " nothing for the sample data"
        )


def test_a_csv_header_is_counted_from_a_bounded_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(questionnaire, "MAX_COLUMNS", 3)
    monkeypatch.setattr(questionnaire, "HEADER_BYTES", 16)
    table = tmp_path / "rows.csv"
    table.write_text('a,"b,c",d\n1,2,3\n')
    assert questionnaire.training_table_problem(table) is None
    table.write_text("a,b,c,d\n1,2,3,4\n")
    assert "rows.csv: 4 columns, more than the 3 allowed" in str(
        questionnaire.training_table_problem(table)
    )
    table.write_text("a,b,c,d,e,f,g,h,i,j\n")  # the first 16 bytes: 8 commas
    assert "rows.csv: at least 9 columns, more than the 3 allowed" in str(
        questionnaire.training_table_problem(table)
    )
    table.write_text("long_name,other_long_name\n")  # no line end within 16 bytes
    assert questionnaire.training_table_problem(table) == (
        f"{table}: the header line is longer than 16 bytes"
    )


def test_org_defaults_are_the_public_answers_of_default_context(tmp_path: Path) -> None:
    config = tmp_path / "org.yaml"
    config.write_text(
        "default_context:\n  python_version: 3.12\n  owners: '@acme/ml'\n  unrelated: 1\n"
        "  legal_review: yes\nabbreviations: {}\n"
    )
    assert questionnaire.org_defaults(config) == {
        "python_version": "3.12",
        "owners": "@acme/ml",
        "legal_review": "yes",
    }
    config.write_text("just a string\n")
    assert questionnaire.org_defaults(config) == {}
    assert questionnaire.org_defaults(None) == {}


def test_a_user_config_that_cannot_be_read_is_an_error_not_an_empty_one(tmp_path: Path) -> None:
    with pytest.raises(questionnaire.UnreadableConfig) as missing:
        questionnaire.org_defaults(tmp_path / "absent.yaml")
    assert str(missing.value) == (
        f"{tmp_path / 'absent.yaml'} cannot be read (No such file or directory)"
    )
    broken = tmp_path / "org.yaml"
    broken.write_text("default_context: [unclosed\n")
    with pytest.raises(questionnaire.UnreadableConfig, match=r"org\.yaml is not a YAML file"):
        questionnaire.org_defaults(broken)


def test_defaults_merge_table_then_org_then_stored_and_skip_invalid_ones() -> None:
    org = {"python_version": "3.12", "owners": "@acme/ml", "framework": "tensorflow"}
    stored = {"python_version": "3.13", "data_volume": "low", "peak_rps": "-1"}
    defaults, notes = questionnaire.merge_defaults(org, stored)
    assert defaults["python_version"] == Default("3.13", "stored answer")
    assert defaults["owners"] == Default("@acme/ml", "org default")
    assert defaults["data_volume"] == Default("low", "stored answer")
    assert defaults["framework"] == Default(engine.default("framework"), "")
    assert defaults["peak_rps"] == Default(engine.default("peak_rps"), "")
    assert notes == [
        "org default not used: framework='tensorflow' is not allowed: "
        "use one of scikit-learn, xgboost, lightgbm",
        "stored answer not used: peak_rps='-1' is not allowed: use a positive whole number",
    ]
    assert set(defaults) == set(engine.table()["answers"])


@pytest.mark.parametrize(
    ("name", "answers", "asked"),
    [
        ("latency_sla_ms", {"realtime_sla": "yes"}, True),
        ("latency_sla_ms", {"realtime_sla": "maybe"}, True),
        ("latency_sla_ms", {"realtime_sla": "no"}, False),
        ("peak_rps", {"caller": "external"}, True),
        ("peak_rps", {"caller": "internal_high_throughput"}, True),
        ("peak_rps", {"caller": "internal_private"}, True),
        ("peak_rps", {"caller": "file_based"}, False),
        ("peak_rps", {"caller": "database"}, False),
        ("schedule", {"data_churn": "cadence", "retraining": "never"}, True),
        ("schedule", {"data_churn": "low", "retraining": "never"}, True),
        ("schedule", {"data_churn": "constant", "retraining": "weekly"}, True),
        ("schedule", {"data_churn": "constant", "retraining": "never"}, False),
        ("schedule", {"data_churn": "never", "retraining": "never"}, False),
        ("target", {"training_data": "rows.csv"}, True),
        ("target", {"training_data": ""}, False),
        ("owners", {}, True),
    ],
)
def test_follow_ups_are_asked_only_where_they_apply(name: str, answers: dict, asked: bool) -> None:
    assert questionnaire.applies(name, answers) is asked


def test_follow_up_conditions_name_earlier_answers_and_their_values() -> None:
    """table.yaml `ask_when:`: a typo in a condition would silently never ask the question.
    A choice is compared with its values; a text answer only with `{not: ""}` (given)."""
    order = [name for group in questionnaire.groups() for name in group.answers]
    answers = engine.table()["answers"]
    follow_ups = [name for name in answers if questionnaire.ask_when(name) is not None]
    assert sorted(follow_ups) == ["latency_sla_ms", "peak_rps", "schedule", "target"]
    for name in follow_ups:
        for when in questionnaire.ask_when(name):
            for condition, wanted in when.items():
                assert order.index(condition) < order.index(name), (name, condition)
                if answers[condition]["kind"] != "choice":
                    assert wanted == {"not": ""}, (name, condition)
                    continue
                listed = wanted["not"] if isinstance(wanted, dict) else wanted
                values = listed if isinstance(listed, list) else [listed]
                assert set(map(str, values)) <= set(engine.choices(condition)), (name, condition)


def test_a_skipped_follow_up_says_when_it_is_asked() -> None:
    assert questionnaire.follow_up_reason("latency_sla_ms") == (
        "only asked when realtime_sla is yes or maybe"
    )
    assert questionnaire.follow_up_reason("schedule") == (
        "only asked when data_churn is cadence or low, or retraining is monthly, weekly or daily"
    )
    assert questionnaire.follow_up_reason("target") == (
        "only asked when training_data is not empty"
    )


def test_the_conditions_of_one_when_are_all_needed(monkeypatch: pytest.MonkeyPatch) -> None:
    conditions = [{"caller": ["external", "database"], "stateful": "yes"}]
    monkeypatch.setattr(questionnaire, "ask_when", lambda name: conditions)
    assert questionnaire.follow_up_reason("peak_rps") == (
        "only asked when caller is external or database and stateful is yes"
    )
    assert questionnaire.applies("peak_rps", {"caller": "database", "stateful": "yes"})
    assert not questionnaire.applies("peak_rps", {"caller": "database", "stateful": "no"})


def test_every_public_answer_is_asked_once_and_follow_ups_after_their_inputs() -> None:
    order = [name for group in questionnaire.groups() for name in group.answers]
    asked = order + questionnaire.strategy_options() + ["deployment_strategy"]
    assert sorted(asked) == sorted(engine.table()["answers"])
    assert order.index("realtime_sla") < order.index("latency_sla_ms")
    assert order.index("caller") < order.index("peak_rps")
    assert max(order.index("data_churn"), order.index("retraining")) < order.index("schedule")
    titles = [group.title for group in questionnaire.groups()]
    considerations = engine.table()["considerations"]
    assert titles[1 : 1 + len(considerations)] == [
        f"[{i}/{len(considerations)}] {c['title']}" for i, c in enumerate(considerations, start=1)
    ]


def test_answers_reach_cookiecutter_through_answers_and_nothing_is_left_to_prompt(
    template: Path,
) -> None:
    context = json.loads((template / "cookiecutter.json").read_text())
    answers = {
        name: engine.default(name) for name in engine.table()["answers"] if name != "project_slug"
    }
    answers["project_slug"] = "churn"
    updated = questionnaire.answered_context(context, answers)
    public = set(engine.table()["answers"])
    assert updated["_answers"] == answers
    assert not public & set(updated)
    assert not public & set(updated["__prompts__"])
    assert list(updated)[:2] == ["_answers", "__apply_answers"]
    assert all(name.startswith("_") for name in updated)


# --- The real questionnaire in a pseudo-terminal -----------------------------------------


@dataclass(frozen=True)
class Install:
    """A cookiecutter to run: the tooling venv's (with questionary: menus) or one installed
    alone (without it: the numbered prompts of the standard library)."""

    cookiecutter: str
    menus: bool


@pytest.fixture(params=["menus", "alone"], ids=["with-questionary", "cookiecutter-alone"])
def install(request: pytest.FixtureRequest) -> Install:
    if request.param == "menus":
        return Install(COOKIECUTTER, menus=True)
    return Install(str(request.getfixturevalue("cookiecutter_alone")), menus=False)


WITH_QUESTIONARY = Install(COOKIECUTTER, menus=True)


class Terminal:
    """cookiecutter run in a pseudo-terminal, answered by question text. The keys are the
    same for both installs (a choice's number then Enter, Ctrl-U then text then Enter),
    except a yes/no question, which the menus take without Enter."""

    def __init__(
        self,
        args: list[str],
        env: dict[str, str],
        install: Install = WITH_QUESTIONARY,
        timeout: int = 90,
        cwd: Path | None = None,
        pwd: Path | None = None,
    ) -> None:
        self.install = install
        self.output = io.StringIO()
        if cwd is not None:
            # as the user's shell sets it; a program that starts cookiecutter in `cwd` from
            # elsewhere (a wrapper, an IDE) may leave its own PWD: `pwd`
            env = {**env, "PWD": str(pwd or cwd)}
        self.child = pexpect.spawn(
            install.cookiecutter,
            args,
            env=env,
            cwd=cwd,
            dimensions=(60, 240),
            encoding="utf-8",
            timeout=timeout,
        )
        self.child.logfile_read = self.output

    def answer(self, name: str, value: str | None = None, label: str = "") -> None:
        """Wait for the question of `name`; keep its default (None) or give `value`."""
        self.child.expect_exact(question(name) + label)
        if value is None:
            keys = ""
        elif engine.table()["answers"][name]["kind"] == "choice":
            keys = str(engine.choices(name).index(value) + 1)  # the choice's shortcut
        else:
            keys = CLEAR_LINE + value
        self.child.send(keys + "\r")

    def pick(self, prompt: str, keys: str) -> None:
        self.child.expect_exact(prompt)
        self.child.send(keys)

    def confirm(self, prompt: str) -> None:
        self.pick(prompt, "y" if self.install.menus else "y\r")

    def keep_defaults(
        self,
        values: dict[str, str] | None = None,
        given: dict[str, str] | None = None,
        labels: dict[str, str] | None = None,
    ) -> None:
        """Answer every question in order (Enter, unless `values` names it), then accept."""
        values, given, labels = values or {}, given or {}, labels or {}
        current = {name: engine.default(name) for name in FOLLOW_UP_INPUTS} | given | values
        for group in questionnaire.groups():
            for name in group.answers:
                if name not in given and questionnaire.applies(name, current):
                    self.answer(name, values.get(name), labels.get(name, ""))
        self.pick(ACCEPT, "\r")

    def finish(self) -> int:
        self.child.expect(pexpect.EOF)
        self.child.close()
        status = self.child.exitstatus
        return 128 + self.child.signalstatus if status is None else status

    @property
    def text(self) -> str:
        return plain(self.output.getvalue())


@pytest.fixture
def terminal_env(tmp_path: Path) -> dict[str, str]:
    """As a user's terminal: the questionnaire not switched (off, as conftest has it for the
    other tests), a private HOME (no user config) and temp dir."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    unset = ("COOKIECUTTER_CONFIG", "ML_DEPLOY_ANSWERS", "ML_DEPLOY_QUESTIONNAIRE")
    env = {k: v for k, v in os.environ.items() if k not in unset}
    env.update(
        TERM="xterm-256color",
        PROMPT_TOOLKIT_NO_CPR="1",  # pexpect does not answer cursor-position requests
        HOME=str(tmp_path),
        TMPDIR=str(tmp),
    )
    return env


def record_of(out: Path) -> dict:
    (project,) = out.iterdir()
    return json.loads((project / ".cookiecutter.json").read_text())


def test_full_run_with_validation_follow_ups_and_an_override(
    template: Path, tmp_path: Path, terminal_env: dict[str, str], install: Install
) -> None:
    out = tmp_path / "out"
    term = Terminal([str(template), "-o", str(out)], terminal_env, install)
    term.answer("project_name", "Fraud Scorer")
    term.answer("project_slug", "Fraud Scorer")  # invalid: rejected while typing
    term.child.expect_exact("is not allowed")
    term.child.send(CLEAR_LINE + "fraud-scorer\r")
    term.answer("description", "Flags card payments that look fraudulent.")
    term.answer("author_name", "Fraud Team")
    term.answer("author_email", "fraud@acme.example")
    term.answer("owners", "@acme/fraud @alice")
    term.answer("affected_parties", "Card holders")
    term.answer("model_type", "regression")
    term.answer("framework", "xgboost")
    term.answer("data_volume", "high")
    term.answer("data_churn", "cadence")
    term.answer("legal_review", "yes")
    term.answer("feature_engineering", "no")
    term.answer("training_data", "missing.csv")  # no such file: rejected while typing
    term.child.expect_exact("does not exist")
    term.child.send(CLEAR_LINE + "\r")
    term.child.expect_exact("target: empty (default; only asked when training_data is not empty)")
    term.answer("retraining", "weekly")
    term.answer("caller", "file_based")
    term.child.expect_exact("peak_rps: 50 (default; only asked when")
    term.answer("schedule", "30 4 * * 1")
    term.answer("stateful", "yes")
    term.answer("realtime_sla", "no")
    term.child.expect_exact("latency_sla_ms: 100 (default; only asked when")
    term.answer("python_version", "3.12")
    term.answer("ci_provider", "gitlab")
    term.answer("base_image_registry", "registry.acme.example/library")
    term.answer("package_index", "https://pypi.acme.example/simple")
    term.child.expect_exact("Recommendation: batch")
    term.child.expect_exact("Runner-up:")
    # Override with rest (the choices after "Accept": the other strategies in table order).
    others = [s for s in engine.choices("deployment_strategy") if s not in ("auto", "batch")]
    term.pick(ACCEPT, f"{others.index('rest') + 2}\r")
    term.child.expect_exact(
        "warning: deployment_strategy=rest overrides the table's choice (batch)"
    )
    term.child.expect_exact("warning: deployment_strategy=rest contradicts caller=file_based")
    term.confirm("Use rest anyway?")
    assert term.finish() == 0, term.text

    after = term.text.rsplit("Use rest anyway?", 1)[1]
    assert not any(question(name) in after for name in engine.table()["answers"]), after
    assert "Traceback" not in term.text
    for name in ("peak_rps", "latency_sla_ms", "target", *questionnaire.strategy_options()):
        assert question(name) not in term.text  # follow-ups that do not apply

    record = record_of(out)
    assert (out / "fraud-scorer").is_dir()
    expected = {
        "project_name": "Fraud Scorer",
        "project_slug": "fraud-scorer",
        "owners": "@acme/fraud @alice",
        "model_type": "regression",
        "framework": "xgboost",
        "data_volume": "high",
        "data_churn": "cadence",
        "legal_review": "yes",
        "feature_engineering": "no",
        "training_data": "",
        "target": "",
        "retraining": "weekly",
        "caller": "file_based",
        "peak_rps": "50",
        "schedule": "30 4 * * 1",
        "stateful": "yes",
        "realtime_sla": "no",
        "latency_sla_ms": "100",
        "python_version": "3.12",
        "ci_provider": "gitlab",
        "base_image_registry": "registry.acme.example/library",
        "package_index": "https://pypi.acme.example/simple",
        "deployment_strategy": "rest",
    }
    assert {k: record[k] for k in expected} == expected
    assert set(engine.table()["answers"]) <= set(record)
    assert record["_decision"]["strategy"] == "rest"
    assert record["_decision"]["warnings"]
    for name in questionnaire.strategy_options():
        assert record[name] == engine.default(name)


def test_cookiecutter_alone_asks_with_numbered_prompts_help_and_one_line_reasons(
    template: Path, tmp_path: Path, terminal_env: dict[str, str], cookiecutter_alone: Path
) -> None:
    """What `pipx install cookiecutter` users get: the questionnaire, never cookiecutter's
    flat prompts, with only the standard library."""
    out = tmp_path / "out"
    alone = Install(str(cookiecutter_alone), menus=False)
    term = Terminal([str(template), "-o", str(out)], terminal_env, alone)
    term.child.expect_exact("questions about the model you want in production")
    for name in ("project_name", "project_slug", "description", "author_name", "author_email"):
        term.answer(name)
    term.answer("owners", "acme")  # no @: refused with the rule, asked again
    term.child.expect_exact("owners='acme' is not allowed")
    term.answer("owners", "@acme/ml")
    term.answer("affected_parties")
    term.child.expect_exact(question("model_type"))
    term.child.expect_exact("3) Regression (values)")
    term.pick("Choose 1-3 (Enter: 1, ?: help): ", "?\r")
    term.child.expect_exact(engine.table()["answers"]["model_type"]["help"])
    term.pick("Choose 1-3", "4\r")
    term.child.expect_exact("'4' is not one of the choices: give a number from 1 to 3")
    term.pick("Choose 1-3", "regression\r")  # a value's name works as well as its number
    term.answer("framework")
    term.answer("data_volume", "massive")
    term.answer("data_churn", "constant")
    for name in ("legal_review", "feature_engineering", "training_data", "retraining"):
        term.answer(name)
    term.answer("caller", "internal_high_throughput")
    for name in ("peak_rps", "schedule", "stateful"):
        term.answer(name)
    term.answer("realtime_sla", "no")
    for name in ("python_version", "ci_provider", "base_image_registry", "package_index"):
        term.answer(name)
    term.child.expect_exact("Recommendation: stream")
    term.child.expect_exact("Report card (1-10):")
    term.child.expect_exact("Runner-up:")
    term.pick(ACCEPT, "\r")
    term.child.expect_exact("Options of stream")
    term.answer("broker", "redis")
    assert term.finish() == 0, term.text
    assert "latency_sla_ms: 100 (default; only asked when" in term.text
    assert "Choose from" not in term.text  # cookiecutter's own choice prompt
    assert "Traceback" not in term.text
    record = record_of(out)
    assert (record["owners"], record["model_type"], record["broker"]) == (
        "@acme/ml",
        "regression",
        "redis",
    )
    assert record["_decision"]["strategy"] == "stream"


def test_the_target_column_is_asked_only_after_a_training_table(
    template: Path, tmp_path: Path, terminal_env: dict[str, str]
) -> None:
    table = tmp_path / "rows.csv"
    rows = [f"{i % 5},{i % 3},{'yes' if i % 2 else 'no'}" for i in range(40)]
    table.write_text("visits,plan,churned\n" + "\n".join(rows) + "\n")
    out = tmp_path / "out"
    term = Terminal([str(template), "-o", str(out)], terminal_env)
    term.keep_defaults(values={"training_data": str(table), "target": "churned"})
    assert term.finish() == 0, term.text
    assert question("target") in term.text
    record = record_of(out)
    assert (record["training_data"], record["target"]) == (str(table), "churned")


def test_a_question_mark_shows_the_help_of_a_text_question_and_of_a_menu(
    template: Path, tmp_path: Path, terminal_env: dict[str, str], install: Install
) -> None:
    answers = engine.table()["answers"]
    term = Terminal([str(template), "-o", str(tmp_path / "out")], terminal_env, install)
    term.child.expect_exact("? shows a question's help")
    term.child.expect_exact(question("project_name"))
    term.child.send(CLEAR_LINE + "?\r")
    term.child.expect_exact(answers["project_name"]["help"])  # again, after the question
    term.child.expect_exact(question("project_name"))  # asked again, its default kept
    term.child.send("\r")
    for name in ("project_slug", "description", "author_name", "author_email", "owners"):
        term.answer(name)
    term.answer("affected_parties")
    term.child.expect_exact(question("model_type"))
    term.child.send("?" if install.menus else "?\r")  # a key in a menu, a line otherwise
    term.child.expect_exact(answers["model_type"]["help"])
    term.child.expect_exact(answers["model_type"]["choices"]["regression"])  # listed again
    term.child.send(CTRL_C)
    assert term.finish() == 1
    assert "Customer Churn Model" in term.text
    if install.menus:
        assert "? for help" in term.text  # the menu's instruction says so


@pytest.mark.parametrize(
    "keys",
    [CTRL_C, "\r" + CTRL_C],  # at a prompt; typed ahead of the next prompt
    ids=["at-a-prompt", "typed-ahead"],
)
def test_ctrl_c_aborts_with_one_line_and_leaves_nothing(
    template: Path, tmp_path: Path, terminal_env: dict[str, str], keys: str, install: Install
) -> None:
    out = tmp_path / "out"
    term = Terminal([str(template), "-o", str(out)], terminal_env, install)
    for name in ("project_name", "project_slug", "description", "author_name", "author_email"):
        term.answer(name)
    term.child.expect_exact(question("owners"))
    term.child.send(keys)
    assert term.finish() == 1
    ending = term.text.rsplit(question("owners"), 1)[1]
    assert [line for line in ending.splitlines() if line.strip()][-1] == "Aborted."
    assert "Traceback" not in term.text and "Hook script failed" not in term.text
    assert "Aborted!" not in term.text  # cookiecutter itself never saw the Ctrl-C
    assert not out.exists() or not any(out.iterdir())
    assert not list(Path(terminal_env["TMPDIR"]).iterdir())  # the template copy is gone


def test_a_misspelled_name_is_refused_before_the_first_question(
    template: Path, tmp_path: Path, terminal_env: dict[str, str], install: Install
) -> None:
    out = tmp_path / "out"
    term = Terminal([str(template), "-o", str(out), "data_volum=massive"], terminal_env, install)
    assert term.finish() == 1
    lines = [line for line in term.text.splitlines() if line.strip()]
    assert lines == [
        "error: data_volum is not an answer of this template: did you mean data_volume?"
    ]
    assert not out.exists()
    assert not list(Path(terminal_env["TMPDIR"]).iterdir())


@pytest.mark.parametrize("strategy", ["stream", "batch", "serverless"])
def test_strategy_options_are_asked_after_the_decision_and_ctrl_c_still_aborts(
    template: Path, tmp_path: Path, terminal_env: dict[str, str], strategy: str, install: Install
) -> None:
    out = tmp_path / "out"
    given = {k: v for k, v in SOURCE_ROWS[strategy].items()}
    args = [f"{k}={v}" for k, v in given.items()]
    term = Terminal([str(template), "-o", str(out), *args], terminal_env, install)
    term.keep_defaults(given=given)
    (option,) = questionnaire.strategy_options(strategy)
    term.child.expect_exact(f"Options of {strategy}")
    term.child.expect_exact(question(option))
    term.child.send(CTRL_C)
    assert term.finish() != 0
    assert term.text.rstrip().endswith("Aborted.")
    assert not out.exists() or not any(out.iterdir())
    assert not list(Path(terminal_env["TMPDIR"]).iterdir())


def test_no_input_in_a_terminal_does_not_start_the_questionnaire(
    template: Path, tmp_path: Path, terminal_env: dict[str, str]
) -> None:
    out = tmp_path / "out"
    term = Terminal(["--no-input", str(template), "-o", str(out), "data_volume=low"], terminal_env)
    assert term.finish() == 0, term.text
    assert question("project_name") not in term.text
    assert record_of(out)["data_volume"] == "low"


def test_answers_on_the_command_line_are_not_asked(
    template: Path, tmp_path: Path, terminal_env: dict[str, str], install: Install
) -> None:
    out = tmp_path / "out"
    given = {"project_name": "Given Name", "realtime_sla": "no"}
    args = [f"{k}={v}" for k, v in given.items()] + ["data_volume=huge"]
    term = Terminal([str(template), "-o", str(out), *args], terminal_env, install)
    term.child.expect_exact("project_name: Given Name (given on the command line)")
    term.keep_defaults({"data_volume": "high"}, given)
    assert term.finish() == 0, term.text
    assert "data_volume='huge' is not allowed" in term.text  # and asked instead
    assert "realtime_sla: no (given on the command line)" in term.text
    assert "latency_sla_ms: 100 (default; only asked when" in term.text  # follows the given
    assert "Recommendation: rest" in term.text
    for name in ("project_name", "realtime_sla", "latency_sla_ms"):
        assert question(name) not in term.text
    record = record_of(out)
    assert (record["project_name"], record["data_volume"]) == ("Given Name", "high")
    assert record["realtime_sla"] == "no"
    assert record["_decision"]["strategy"] == "rest"


def test_switched_off_in_a_terminal_cookiecutter_prompts_with_labels(
    template: Path, tmp_path: Path, terminal_env: dict[str, str]
) -> None:
    out = tmp_path / "out"
    env = {**terminal_env, "ML_DEPLOY_QUESTIONNAIRE": "off"}
    term = Terminal([str(template), "-o", str(out)], env)
    while term.child.expect([PROMPT_END, pexpect.EOF]) == 0:
        term.child.send("\r")  # every default
    assert term.finish() == 0, term.text
    prompts = json.loads((template / "cookiecutter.json").read_text())["__prompts__"]
    for label in (prompts["project_name"], *prompts["model_type"].values()):
        assert label in term.text
    assert "questions about the model" not in term.text  # not the questionnaire
    record = record_of(out)
    assert record["model_type"] == "binary_classification"
    assert record["_decision"]["strategy"] == "rest"


def test_switched_off_a_bad_choice_on_the_command_line_is_one_line_not_a_traceback(
    template: Path, tmp_path: Path, terminal_env: dict[str, str]
) -> None:
    out = tmp_path / "out"
    env = {**terminal_env, "ML_DEPLOY_QUESTIONNAIRE": "off"}
    term = Terminal([str(template), "-o", str(out), "data_volume=huge"], env)
    while term.child.expect([PROMPT_END, pexpect.EOF]) == 0:
        term.child.send("\r")
    assert term.finish() == 1
    assert "Traceback" not in term.text
    assert term.text.strip().splitlines()[-1].startswith("error: data_volume='huge' is not allowed")
    assert not out.exists() or not any(out.iterdir())


ORG_CONFIG = """\
default_context:
  owners: "@acme/ml-platform"
  python_version: "3.12"
  ci_provider: gitlab
  base_image_registry: registry.acme.example/library
  package_index: https://pypi.acme.example/simple
"""
ORG = {
    "owners": "@acme/ml-platform",
    "python_version": "3.12",
    "ci_provider": "gitlab",
    "base_image_registry": "registry.acme.example/library",
    "package_index": "https://pypi.acme.example/simple",
}


def test_org_defaults_and_stored_answers_are_the_questionnaire_defaults(
    template: Path, tmp_path: Path, terminal_env: dict[str, str], install: Install
) -> None:
    config = tmp_path / "org.yaml"
    config.write_text(ORG_CONFIG + "  framework: tensorflow\n")
    stored = tmp_path / "stored.json"
    stored.write_text(json.dumps({"python_version": "3.13", "data_volume": "low", "_decision": {}}))
    out = tmp_path / "out"
    env = {**terminal_env, "ML_DEPLOY_ANSWERS": str(stored)}
    term = Terminal([str(template), "-o", str(out), "--config-file", str(config)], env, install)
    term.child.expect_exact("note: org default not used: framework='tensorflow' is not allowed")
    org, kept = " (org default)", " (stored answer)"
    term.keep_defaults(
        labels={"owners": org, "data_volume": kept, "python_version": kept}
        | {"ci_provider": org, "base_image_registry": org, "package_index": org}
    )
    assert term.finish() == 0, term.text
    record = record_of(out)
    assert {k: record[k] for k in ORG} == {**ORG, "python_version": "3.13"}
    assert record["data_volume"] == "low"
    assert record["framework"] == engine.default("framework")


@pytest.mark.parametrize("given_as", ["--config-file", "COOKIECUTTER_CONFIG"])
def test_a_relative_org_config_reaches_the_questionnaire_as_it_reaches_no_input(
    template: Path, tmp_path: Path, terminal_env: dict[str, str], install: Install, given_as: str
) -> None:
    """`cookiecutter --config-file org.yaml <template>` from the directory holding org.yaml,
    as docs/platform-teams.md shows it: the org's values are the labelled defaults."""
    team = tmp_path / "team"
    (team / "platform").mkdir(parents=True)
    (team / "platform" / "org.yaml").write_text(ORG_CONFIG)
    relative = "platform/org.yaml"
    args, env = [str(template), "-o", "out"], dict(terminal_env)
    if given_as == "--config-file":
        args += ["--config-file", relative]
    else:
        env["COOKIECUTTER_CONFIG"] = relative
    term = Terminal(args, env, install, cwd=team)
    org = " (org default)"
    term.keep_defaults(labels=dict.fromkeys(ORG, org))
    assert term.finish() == 0, term.text
    assert {k: v for k, v in record_of(team / "out").items() if k in ORG} == ORG
    assert "note:" not in term.text


def test_a_relative_org_config_the_questionnaire_cannot_find_is_one_line_not_silence(
    template: Path, tmp_path: Path, terminal_env: dict[str, str]
) -> None:
    """A program that starts cookiecutter in the team's directory but leaves its own PWD
    (pexpect with cwd=, a wrapper, an IDE): cookiecutter reads the config from its working
    directory, which its pre-prompt hook cannot see; the org's defaults must not vanish
    without a word."""
    team, elsewhere = tmp_path / "team", tmp_path / "elsewhere"
    (team / "platform").mkdir(parents=True)
    elsewhere.mkdir()
    (team / "platform" / "org.yaml").write_text(ORG_CONFIG)
    args = [str(template), "-o", "out", "--config-file", "platform/org.yaml"]
    term = Terminal(args, terminal_env, cwd=team, pwd=elsewhere)
    assert term.finish() == 1
    lines = [line for line in term.text.splitlines() if line.strip()]
    assert lines == [
        f"error: --config-file='platform/org.yaml': {elsewhere / 'platform/org.yaml'} cannot be"
        f" read (No such file or directory); a relative path is read from $PWD ({elsewhere}),"
        " which a program that starts cookiecutter in another directory may leave unchanged:"
        " give an absolute path"
    ]
    assert not (team / "out").exists() and not (elsewhere / "out").exists()
    assert not list(Path(terminal_env["TMPDIR"]).iterdir())


EXAMPLE_CONFIG = Path(__file__).resolve().parent.parent / "docs" / "example-org-config.yaml"


def test_the_example_org_config_documents_valid_defaults() -> None:
    example = questionnaire.org_defaults(EXAMPLE_CONFIG)
    assert set(example) == set(ORG)
    assert all(engine.check_answer(name, value) is None for name, value in example.items())


def no_input_run(template: Path, out: Path, *args: str, **env: str) -> dict:
    result = subprocess.run(
        [COOKIECUTTER, "--no-input", str(template), "-o", str(out), *args],
        capture_output=True,
        text=True,
        env={**os.environ, "HOME": str(out.parent), **env},
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return record_of(out)


def test_org_defaults_apply_without_input(template: Path, tmp_path: Path) -> None:
    record = no_input_run(template, tmp_path / "out", COOKIECUTTER_CONFIG=str(EXAMPLE_CONFIG))
    example = questionnaire.org_defaults(EXAMPLE_CONFIG)
    assert {k: record[k] for k in example} == example


def test_stored_answers_beat_org_defaults_without_input_and_the_command_line_beats_both(
    template: Path, tmp_path: Path
) -> None:
    config = tmp_path / "org.yaml"
    config.write_text(ORG_CONFIG)
    stored = tmp_path / "stored.json"
    stored.write_text(json.dumps({"python_version": "3.13", "ci_provider": "github"}))
    env = {"COOKIECUTTER_CONFIG": str(config), "ML_DEPLOY_ANSWERS": str(stored)}
    record = no_input_run(template, tmp_path / "a", **env)
    assert (record["python_version"], record["ci_provider"]) == ("3.13", "github")
    assert record["owners"] == ORG["owners"]
    record = no_input_run(template, tmp_path / "b", "python_version=3.11", **env)
    assert (record["python_version"], record["ci_provider"]) == ("3.11", "github")


def test_stored_over_org_moves_only_the_answers_they_disagree_on(template: Path) -> None:
    from hooks import pre_prompt

    context = json.loads((template / "cookiecutter.json").read_text())
    stored = {
        "python_version": "3.13",
        "ci_provider": "gitlab",
        "owners": "@a/b",
        "data_volume": "low",
    }
    org = {"python_version": "3.12", "ci_provider": "gitlab", "owners": "@c/d"}
    updated = pre_prompt.stored_over_org(context, stored, org, {"owners": "@e/f"})
    assert updated["_answers"] == {"python_version": "3.13"}
    assert "python_version" not in updated and "python_version" not in updated["__prompts__"]
    assert updated["ci_provider"] == context["ci_provider"]
    assert updated["owners"] == context["owners"]
    assert list(updated)[:2] == ["_answers", "__apply_answers"]
    assert pre_prompt.stored_over_org(context, stored, {}, {}) == context
