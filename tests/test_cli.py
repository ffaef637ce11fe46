"""Driving cookiecutter from the command line: decisions, records, and bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from decision import engine

from .answers import SOURCE_ROWS
from .conftest import cookiecutter_requirement
from .test_questionnaire import CLEAR_LINE, CTRL_C, Terminal, question, terminal_env

__all__ = ["terminal_env"]  # the pty fixture, shared with the questionnaire's tests

COOKIECUTTER = str(Path(sys.executable).with_name("cookiecutter"))


def run_cookiecutter(
    template: Path, out: Path, *answers: str, tmpdir: Path | None = None, quiet: bool = False
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ML_DEPLOY_QUESTIONNAIRE": "off", "ML_DEPLOY_QUIET": "1" if quiet else ""}
    if tmpdir is not None:
        env["TMPDIR"] = str(tmpdir)  # where cookiecutter copies the template
    return subprocess.run(
        [COOKIECUTTER, "--no-input", str(template), "-o", str(out), *answers],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


GENERATED = engine.table()["generated"]


@pytest.mark.parametrize("strategy", [s for s in SOURCE_ROWS if s not in GENERATED])
def test_a_strategy_not_generated_yet_is_refused_in_one_line(
    template: Path, tmp_path: Path, strategy: str
) -> None:
    answers = [f"{k}={v}" for k, v in SOURCE_ROWS[strategy].items()]
    result = run_cookiecutter(template, tmp_path, *answers)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stdout.strip() == f"error: {engine.generation_error(strategy)}"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("strategy", [s for s in SOURCE_ROWS if s in GENERATED])
def test_each_source_row_is_decided_and_recorded(
    template: Path, tmp_path: Path, strategy: str
) -> None:
    answers = [f"{k}={v}" for k, v in SOURCE_ROWS[strategy].items()]
    result = run_cookiecutter(template, tmp_path, *answers)
    assert result.returncode == 0, result.stderr
    (project,) = tmp_path.iterdir()
    record = json.loads((project / ".cookiecutter.json").read_text())
    assert record["deployment_strategy"] == "auto"
    for name, value in SOURCE_ROWS[strategy].items():
        assert record[name] == value
    assert set(engine.table()["answers"]) <= set(record)
    decision = record["_decision"]
    assert decision["strategy"] == strategy
    assert decision["row"] == [r["strategy"] for r in engine.table()["rows"]].index(strategy) + 1
    assert {"scores", "runner_up", "warnings", "margin", "reasons"} <= set(decision)


def test_an_explicit_strategy_is_recorded_with_its_warnings(template: Path, tmp_path: Path) -> None:
    answers = [f"{k}={v}" for k, v in SOURCE_ROWS["stream"].items()]
    result = run_cookiecutter(template, tmp_path, *answers, "deployment_strategy=rest")
    assert result.returncode == 0, result.stderr
    (project,) = tmp_path.iterdir()
    record = json.loads((project / ".cookiecutter.json").read_text())
    assert record["deployment_strategy"] == "rest"
    assert record["_decision"]["strategy"] == "rest"
    assert any("data_volume=massive" in w for w in record["_decision"]["warnings"])


def test_a_good_run_says_what_it_decided_where_it_wrote_and_what_to_run_next(
    template: Path, tmp_path: Path
) -> None:
    result = run_cookiecutter(template, tmp_path, "project_name=Fraud Scorer")
    assert result.returncode == 0 and result.stdout == ""
    project = tmp_path / "fraud-scorer"
    assert result.stderr.splitlines() == [
        "deployment: rest, the decision table's best fit (row 2: 4 of 5 points)",
        "  matched: data_volume=moderate (1), data_churn=low (any value, 0.5),"
        " realtime_sla=yes (1), caller=external (1), stateful=no (any value, 0.5)",
        "  unmatched: none",
        "  runner-up: serverless, 2.5 points (1.5 behind)",
        f"written: {project}",
        f"next: cd {project} && make run",
    ]
    readme = (project / "README.md").read_text()
    assert "**rest**,\n  chosen from the requirements in [ADR 0001]" in readme
    adr = (project / "docs/adr/0001-deployment-strategy.md").read_text()
    assert "## Warnings\n\nNone: no answer contradicts" in adr


def test_an_override_warns_on_stderr_in_the_adr_and_the_readme(
    template: Path, tmp_path: Path
) -> None:
    answers = [f"{k}={v}" for k, v in SOURCE_ROWS["stream"].items()]
    result = run_cookiecutter(template, tmp_path, *answers, "deployment_strategy=rest")
    assert result.returncode == 0, result.stderr
    (project,) = tmp_path.iterdir()
    lines = result.stderr.splitlines()
    assert lines[0] == (
        "deployment: rest, requested with deployment_strategy=rest (row 2: 2.25 of 5 points)"
    )
    assert "  unmatched: data_volume=massive (near moderate or high, 0.25)," in lines[2]
    assert lines[3] == "  runner-up: stream, 4.5 points (2.25 more: the table prefers it)"
    warnings = [line.removeprefix("warning: ") for line in lines if line.startswith("warning: ")]
    record = json.loads((project / ".cookiecutter.json").read_text())
    assert warnings == record["_decision"]["warnings"] and len(warnings) == 3
    adr = (project / "docs/adr/0001-deployment-strategy.md").read_text()
    section = adr.split("## Warnings\n\n", 1)[1].split("\n\n## ", 1)[0]
    assert section.splitlines() == [f"- {warning}" for warning in warnings]
    readme = (project / "README.md").read_text()
    assert "chosen from the requirements" not in readme
    assert (
        "requested with `deployment_strategy=rest`; read the 3 warnings in\n"
        "  [ADR 0001](docs/adr/0001-deployment-strategy.md#warnings)"
    ) in readme


def test_a_long_project_name_derives_a_slug_within_the_limit(
    template: Path, tmp_path: Path
) -> None:
    result = run_cookiecutter(template, tmp_path, "project_name=Telecom Churn Nightly", quiet=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert [path.name for path in tmp_path.iterdir()] == ["telecom-churn"]
    record = json.loads((tmp_path / "telecom-churn" / ".cookiecutter.json").read_text())
    assert record["project_slug"] == "telecom-churn"


def test_a_waiting_caller_given_a_stream_is_warned_on_stderr_and_in_the_adr(
    template: Path, tmp_path: Path
) -> None:
    swipe = ["data_churn=constant", "caller=internal_high_throughput", "realtime_sla=yes"]
    swipe += ["data_volume=high", "peak_rps=2000", "latency_sla_ms=50"]
    result = run_cookiecutter(template, tmp_path, *swipe)
    assert result.returncode == 0, result.stderr
    (project,) = tmp_path.iterdir()
    warning = (
        "realtime_sla=yes: the caller waits for each answer (latency_sla_ms=50), but stream"
        " answers asynchronously: it publishes each prediction to a topic for a consumer to"
        " read; rest (the runner-up, 3 points) answers while the caller waits"
    )
    assert result.stderr.splitlines()[:5] == [
        "deployment: stream, the decision table's best fit (row 1: 3.75 of 5 points)",
        "  matched: data_churn=constant (1), realtime_sla=yes (1),"
        " caller=internal_high_throughput (1), stateful=no (any value, 0.5)",
        "  unmatched: data_volume=high (near massive, 0.25)",
        "  runner-up: rest, 3 points (0.75 behind)",
        f"warning: {warning}",
    ]
    adr = (project / "docs/adr/0001-deployment-strategy.md").read_text()
    assert f"## Warnings\n\n- {warning}\n" in adr


def test_ml_deploy_quiet_silences_the_summary(template: Path, tmp_path: Path) -> None:
    result = run_cookiecutter(template, tmp_path, "deployment_strategy=batch", quiet=True)
    assert result.returncode == 0 and (result.stdout, result.stderr) == ("", "")


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (
            "data_volume=huge",
            "error: data_volume='huge' is not allowed: use one of low, moderate, high, massive",
        ),
        (
            "data_volume=masive",
            "error: data_volume='masive' is not allowed: use one of low, moderate, high, massive"
            " (did you mean massive?)",
        ),
        (
            "deployment_strategy=kubernetes",
            "error: deployment_strategy='kubernetes' is not allowed: use one of auto, rest",
        ),
        (
            "latency_sla_ms=0",
            "error: latency_sla_ms='0' is not allowed: use a positive whole number",
        ),
        ("latency_sla_ms=fast", "error: latency_sla_ms='fast' is not allowed"),
        (
            "project_slug=Bad Slug",
            "error: project_slug='Bad Slug' is not allowed: use lower-case letters, digits and"
            " single hyphens, starting with a letter (no spaces, quotes, capitals or other",
        ),
        ("stateful=maybe", "error: stateful='maybe' is not allowed: use one of no, yes"),
        (
            "base_image_registry=evil.example.com/x y",
            "error: base_image_registry='evil.example.com/x y' is not allowed: use a registry"
            " host[:port] and an optional lower-case path",
        ),
        (
            "package_index=http://pypi.acme.example/simple",
            "error: package_index='http://pypi.acme.example/simple' is not allowed: use an"
            " https:// URL: plain http only to a loopback host",
        ),
        (
            "schedule=0 25 * * *",
            "error: schedule='0 25 * * *' is not allowed: use hour values from 0 to 23 in the"
            " second field (hour), not 25",
        ),
    ],
)
def test_bad_input_is_one_line_without_traceback_or_leftovers(
    template: Path, tmp_path: Path, answer: str, message: str
) -> None:
    out, tmpdir = tmp_path / "out", tmp_path / "tmp"
    out.mkdir()
    tmpdir.mkdir()
    result = run_cookiecutter(template, out, answer, tmpdir=tmpdir)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr + result.stdout
    lines = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    assert lines == [lines[0]] and lines[0].startswith(message), lines
    assert list(out.iterdir()) == []
    assert list(tmpdir.iterdir()) == [], "the temporary copy of the template was left behind"


@pytest.mark.parametrize(
    ("answers", "lines"),
    [
        (
            ["data_volum=massive", "caller=internal_high_throughput"],
            ["error: data_volum is not an answer of this template: did you mean data_volume?"],
        ),
        (
            ["latency_ms=20", "realtime=yes"],
            [
                "error: latency_ms is not an answer of this template: did you mean latency_sla_ms?",
                "error: realtime is not an answer of this template: did you mean realtime_sla?",
            ],
        ),
    ],
)
def test_a_misspelled_answer_name_is_refused_with_the_closest_name(
    template: Path, tmp_path: Path, answers: list[str], lines: list[str]
) -> None:
    out, tmpdir = tmp_path / "out", tmp_path / "tmp"
    out.mkdir()
    tmpdir.mkdir()
    result = run_cookiecutter(template, out, *answers, tmpdir=tmpdir)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert result.stdout.strip().splitlines() == lines
    assert result.stderr.strip() == ""
    assert list(out.iterdir()) == [] and list(tmpdir.iterdir()) == []


def test_a_name_far_from_every_answer_is_refused_with_the_list(
    template: Path, tmp_path: Path
) -> None:
    result = run_cookiecutter(template, tmp_path, "colour=blue")
    assert result.returncode == 1
    (line,) = result.stdout.strip().splitlines()
    assert line.startswith("error: colour is not an answer of this template: the answers are ")
    assert "data_volume" in line and "training_data" in line
    assert list(tmp_path.iterdir()) == []


def a_table(directory: Path) -> Path:
    """A team's own table: text, whole numbers, a gap, a name that is no identifier."""
    path = directory / "rows.csv"
    lines = ["Min.Price,country,visits,churned"]
    lines += [
        f"{10 + i},{'de' if i % 3 else 'fr'},{i % 7},{'yes' if i % 2 else 'no'}" for i in range(40)
    ]
    lines[5] = "12.5,,3,yes"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_private_names_and_the_data_answers_are_accepted(template: Path, tmp_path: Path) -> None:
    table = a_table(tmp_path)
    out = tmp_path / "out"
    result = run_cookiecutter(
        template, out, "_anything=1", f"training_data={table}", "target=churned"
    )
    assert result.returncode == 0, result.stdout + result.stderr
    project = next(out.iterdir())
    record = json.loads((project / ".cookiecutter.json").read_text())
    assert (record["training_data"], record["target"]) == (str(table), "churned")
    contract = yaml.safe_load((project / "features.yaml").read_text())
    assert contract["target"] == {"column": "churned", "kind": "category", "levels": ["no", "yes"]}
    kinds = {item["name"]: (item["kind"], item["nullable"]) for item in contract["inputs"]}
    assert kinds == {
        "min_price": ("number", False),
        "country": ("category", True),
        "visits": ("integer", False),
    }
    # The project's default training data (settings.py reads it from pyproject.toml).
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    assert pyproject["tool"]["customer_churn_model"]["training_data"] == str(table)


def test_a_parquet_training_table_gives_the_same_contract_as_its_csv(
    template: Path, tmp_path: Path
) -> None:
    """`make generate`'s tooling reads Parquet (pyarrow is one of its dependencies)."""
    import pyarrow.csv
    import pyarrow.parquet

    table = a_table(tmp_path)
    parquet = tmp_path / "rows.parquet"
    pyarrow.parquet.write_table(pyarrow.csv.read_csv(table), parquet)
    contracts = []
    for source, out in ((table, tmp_path / "from-csv"), (parquet, tmp_path / "from-parquet")):
        result = run_cookiecutter(template, out, f"training_data={source}", "target=churned")
        assert result.returncode == 0, result.stdout + result.stderr
        (project,) = out.iterdir()
        contracts.append(yaml.safe_load((project / "features.yaml").read_text()))
    assert contracts[1] == contracts[0]


@pytest.mark.parametrize(
    ("answers", "message"),
    [
        (["training_data={missing}", "target=churned"], "no such file"),
        (["training_data={table}", "target=absent"], "no column 'absent' to predict"),
        (["training_data={table}"], "give both training_data and target"),
        (["training_data={table}", "target=country", "model_type=regression"], "needs numbers"),
        (["training_data={table}", "target=visits"], "binary classification needs exactly 2"),
    ],
)
def test_training_data_that_cannot_give_a_contract_is_one_line_and_writes_nothing(
    template: Path, tmp_path: Path, answers: list[str], message: str
) -> None:
    table = a_table(tmp_path)
    out = tmp_path / "out"
    filled = [a.format(table=table, missing=tmp_path / "absent.csv") for a in answers]
    result = run_cookiecutter(template, out, *filled)
    assert result.returncode == 1
    assert result.stdout.startswith("error: training_data: ")
    assert message in result.stdout
    assert result.stdout.count("\n") == 1
    assert not out.exists() or not any(out.iterdir())


def test_a_pipe_or_a_device_as_training_data_is_not_a_regular_file(
    template: Path, tmp_path: Path
) -> None:
    pipe = tmp_path / "rows.csv"
    os.mkfifo(pipe)  # reading it would wait for a writer forever
    for table in (pipe, Path("/dev/zero")):
        out = tmp_path / "out"
        result = run_cookiecutter(template, out, f"training_data={table}", "target=churned")
        assert result.returncode == 1, result.stderr
        assert result.stdout == (
            f"error: training_data: {table}: not a regular file (a pipe, a device or a directory"
            " is no table)\n"
        )
        assert not out.exists()


def test_a_csv_header_wider_than_the_limit_is_refused_from_its_first_megabyte(
    template: Path, tmp_path: Path
) -> None:
    from hooks.questionnaire import HEADER_BYTES, MAX_COLUMNS

    wide = tmp_path / "wide.csv"
    header = ",".join(f"c{i}" for i in range(1_000_000))  # 6.9 MB on one line
    wide.write_text(header + "\n" + ",".join("1" * 1_000_000) + "\n")
    out = tmp_path / "out"
    result = run_cookiecutter(template, out, f"training_data={wide}", "target=c0")
    assert result.returncode == 1, result.stderr
    counted = len(header.encode()[:HEADER_BYTES].decode().split(","))
    assert result.stdout == (
        f"error: training_data: {wide}: at least {counted} columns, more than the {MAX_COLUMNS}"
        " allowed (a project's tables hold a column per input, and PostgreSQL at most 1600)\n"
    )
    assert not out.exists()


def test_a_numeric_target_with_many_values_suggests_regression(
    template: Path, tmp_path: Path
) -> None:
    table = tmp_path / "prices.csv"
    rows = [f"{i % 4},{i % 3},{10 + i * 7 % 997}" for i in range(300)]
    table.write_text("rooms,floor,price\n" + "\n".join(rows) + "\n")
    out = tmp_path / "out"
    result = run_cookiecutter(template, out, f"training_data={table}", "target=price")
    assert result.returncode == 1, result.stderr
    assert result.stdout == (
        "error: training_data: target 'price' has more than 50 classes; its values are numbers"
        " with more than 50 distinct values: give model_type=regression to predict the"
        " number\n"
    )
    assert not out.exists()
    regression = run_cookiecutter(
        template, out, f"training_data={table}", "target=price", "model_type=regression"
    )
    assert regression.returncode == 0, regression.stdout + regression.stderr


def test_several_bad_answers_get_one_line_each(template: Path, tmp_path: Path) -> None:
    result = run_cookiecutter(template, tmp_path, "data_volume=huge", "caller=martians")
    lines = result.stdout.strip().splitlines()
    assert result.returncode == 1 and len(lines) == 2
    assert lines[0].startswith("error: data_volume=") and lines[1].startswith("error: caller=")


VALUES = st.one_of(
    st.sampled_from(
        ["", "0", "-1", "yes", "no", "low", "massive", "auto", "rest", "{{", "{% x %}"]
    ),
    st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=12),
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    answers=st.dictionaries(
        st.sampled_from(
            [
                *sorted(engine.table()["criteria"]),
                *("latency_sla_ms", "deployment_strategy", "project_slug", "owners", "schedule"),
            ]
        ),
        VALUES,
        max_size=4,
    )
)
def test_fuzzed_answers_never_traceback_and_never_leave_output(
    template: Path, answers: dict
) -> None:
    with tempfile.TemporaryDirectory() as out:
        result = run_cookiecutter(template, Path(out), *(f"{k}={v}" for k, v in answers.items()))
        output = result.stdout + result.stderr
        assert "Traceback" not in output
        if result.returncode == 0:
            (project,) = Path(out).iterdir()
            record = json.loads((project / ".cookiecutter.json").read_text())
            assert engine.validation_errors(record) == []
        else:
            lines = output.strip().splitlines()
            assert lines and all(line.startswith("error: ") for line in lines), output
            assert list(Path(out).iterdir()) == []


@pytest.mark.parametrize("framework", ["xgboost", "lightgbm"])
def test_database_with_a_tree_framework_is_refused(
    template: Path, tmp_path: Path, framework: str
) -> None:
    answers = [f"{k}={v}" for k, v in SOURCE_ROWS["database"].items()]
    result = run_cookiecutter(template, tmp_path, *answers, f"framework={framework}")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stdout.strip() == (
        f"error: strategy=database, framework={framework} is not supported: the database "
        "strategy compiles scikit-learn pipelines to SQL only (orbital gives wrong XGBoost "
        "probabilities and cannot translate LightGBM); use framework=scikit-learn, or another "
        "deployment_strategy"
    )
    assert list(tmp_path.iterdir()) == []


def test_spark_with_state_is_refused(template: Path, tmp_path: Path) -> None:
    answers = ["deployment_strategy=batch", "batch_engine=spark", "stateful=yes"]
    result = run_cookiecutter(template, tmp_path, *answers)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stdout.strip() == (
        "error: strategy=batch, batch_engine=spark, stateful=yes is not supported: the Spark"
        " engine does not read per-entity state yet; use batch_engine=pandas or dask (both"
        " join each chunk with the stored state), or stateful=no"
    )
    assert list(tmp_path.iterdir()) == []


def test_make_generate_says_what_python_to_install(template: Path, tmp_path: Path) -> None:
    # A python3 whose version/venv check fails (too old, or Debian's without python3-venv).
    shim = tmp_path / "bin" / "python3"
    shim.parent.mkdir()
    shim.write_text("#!/bin/sh\nexit 1\n")
    shim.chmod(0o755)
    result = subprocess.run(
        ["make", "-s", "generate", f"CACHE={tmp_path / 'cache'}", f"OUT={tmp_path / 'out'}"],
        cwd=template,
        env={**os.environ, "PATH": f"{shim.parent}:{os.environ['PATH']}"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert result.stderr.startswith(
        "error: the template's tooling needs python3 3.11 or newer with the venv module"
    ), result.stderr
    assert "apt install python3 python3-venv" in result.stderr
    assert not (tmp_path / "cache").exists() and not (tmp_path / "out").exists()


def test_make_regenerate_without_cookiecutter_uvx_or_pipx_says_what_to_install(
    template: Path, tmp_path: Path
) -> None:
    result = run_cookiecutter(template, tmp_path, quiet=True)
    assert result.returncode == 0, result.stdout + result.stderr
    (project,) = tmp_path.iterdir()
    before = (project / ".cookiecutter.json").read_text()
    empty = tmp_path / "bin"  # a PATH with none of them (make runs /bin/sh by its path)
    empty.mkdir()
    regenerate = subprocess.run(
        ["/usr/bin/make", "-s", "regenerate", "ANSWERS=data_volume=massive"],
        cwd=project,
        env={**os.environ, "PATH": str(empty)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert regenerate.returncode == 2, regenerate.stderr  # make's status for a failed recipe
    pin = cookiecutter_requirement()
    assert regenerate.stderr.splitlines()[0] == (
        "error: make regenerate needs cookiecutter, uvx or pipx on PATH: install uv"
        f' (https://docs.astral.sh/uv/), pipx, or "{pin}" with pip'
    ), regenerate.stderr
    assert "not found" not in regenerate.stderr
    assert (project / ".cookiecutter.json").read_text() == before


@pytest.mark.parametrize(
    "answer", ["description=a {{ b }} c", "owners=@a {% if x %}", "project_name=A {# b #}"]
)
def test_an_answer_with_template_syntax_is_refused_in_one_line(
    template: Path, tmp_path: Path, answer: str
) -> None:
    out, tmpdir = tmp_path / "out", tmp_path / "tmp"
    out.mkdir()
    tmpdir.mkdir()
    result = run_cookiecutter(template, out, answer, tmpdir=tmpdir)
    name, value = answer.split("=", 1)
    assert result.returncode == 1 and result.stderr.strip() == "", result.stderr
    assert result.stdout.strip().splitlines() == [
        f"error: {name}={value!r} is not allowed: use text without {{{{, {{% or {{#"
    ]
    assert list(out.iterdir()) == [] and list(tmpdir.iterdir()) == []


def test_an_existing_project_given_by_slug_is_refused_before_the_first_question(
    template: Path, tmp_path: Path, terminal_env: dict[str, str]
) -> None:
    (tmp_path / "out" / "taken").mkdir(parents=True)
    term = Terminal(
        [str(template), "-o", str(tmp_path / "out"), "project_slug=taken"], terminal_env
    )
    assert term.finish() == 1
    lines = [line for line in term.text.splitlines() if line.strip()]
    assert lines == [
        f"error: project_slug='taken': {tmp_path / 'out' / 'taken'} already exists: give "
        "another project_slug or --output-dir, or -f to write over it"
    ]
    assert list((tmp_path / "out").iterdir()) == [tmp_path / "out" / "taken"]


def test_the_questionnaire_refuses_a_taken_slug_and_template_syntax_as_typed(
    template: Path, tmp_path: Path, terminal_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A relative output directory: resolved against where cookiecutter was started.
    (tmp_path / "out" / "customer-churn-model").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    term = Terminal([str(template), "-o", "out"], {**terminal_env, "PWD": str(tmp_path)})
    term.answer("project_name")
    term.answer("project_slug")  # the default, taken: refused, the answers so far kept
    term.child.expect_exact("already exists: give another project_slug")
    term.child.send(CLEAR_LINE + "churn-two\r")
    term.answer("description", "a {{ b }} c")
    term.child.expect_exact("is not allowed: use text without {{, {% or {#")
    term.child.send(CTRL_C)
    assert term.finish() == 1
    assert question("author_name") not in term.text
    assert list((tmp_path / "out").iterdir()) == [tmp_path / "out" / "customer-churn-model"]


def test_with_f_an_existing_project_is_asked_about_as_usual(
    template: Path, tmp_path: Path, terminal_env: dict[str, str]
) -> None:
    (tmp_path / "out" / "taken").mkdir(parents=True)
    args = [str(template), "-f", "-o", str(tmp_path / "out"), "project_slug=taken"]
    term = Terminal(args, terminal_env)
    term.child.expect_exact(question("project_name"))
    term.child.send(CTRL_C)
    assert term.finish() == 1
