"""How a run was started (hooks/invocation.py): the cookiecutter command line, the user config
cookiecutter reads, what the pre-prompt hook does, the terminal setting and the clean-up."""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from hooks import invocation
from hooks.cookiecutter_internals import CHECKED_VERSIONS
from hooks.invocation import Invocation


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (
            ["/venv/bin/python3", "/venv/bin/cookiecutter", "tpl", "-o", "out", "a=1", "b=x=y"],
            Invocation(
                options={"output_dir": "out"}, template="tpl", extra_context={"a": "1", "b": "x=y"}
            ),
        ),
        (
            ["/venv/bin/python3", "/venv/bin/cookiecutter", "--no-input", "tpl", "data_volume=low"],
            Invocation(no_input=True, template="tpl", extra_context={"data_volume": "low"}),
        ),
        (
            ["python", "-m", "cookiecutter", "-fv", "--output-dir=o=k", "tpl", "--replay"],
            Invocation(replay=True, overwrite=True, options={"output_dir": "o=k"}, template="tpl"),
        ),
        (
            ["cookiecutter", "-fo", "out", "--config-file", "org.yaml", "tpl", "--", "--x=1"],
            Invocation(
                overwrite=True,
                options={"output_dir": "out", "config_file": "org.yaml"},
                template="tpl",
                extra_context={"--x": "1"},
            ),
        ),
        (
            ["cookiecutter", "--default-config", "--checkout", "a=b", "tpl", "k=v"],
            Invocation(
                default_config=True,
                options={"checkout": "a=b"},
                template="tpl",
                extra_context={"k": "v"},
            ),
        ),
        (["/usr/bin/python3", "-m", "pytest", "-k", "x=y"], None),
        ([], None),
    ],
)
def test_the_cookiecutter_command_line_is_parsed(
    argv: list[str], expected: Invocation | None
) -> None:
    assert invocation.parse_cookiecutter_argv(argv) == expected


def test_a_process_command_line_is_read_from_proc_and_from_ps() -> None:
    code = "import time; print(1, flush=True); time.sleep(60)"
    argv = [sys.executable, "-c", code, "data_volume=low"]
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None and process.stdout.readline() == "1\n"
        assert invocation.proc_command_line(process.pid) == argv
        assert invocation.parent_command_line(process.pid) == argv
        assert invocation.ps_command_line(process.pid) == [
            sys.executable,
            "-c",
            *code.split(),
            "data_volume=low",
        ]
    finally:
        process.kill()
        process.wait()
    assert invocation.parent_command_line(process.pid) is None  # gone


@pytest.mark.parametrize(
    ("started", "env", "terminal", "mode"),
    [
        (Invocation(), {}, True, "questionnaire"),
        (Invocation(), {"ML_DEPLOY_QUESTIONNAIRE": "on"}, True, "questionnaire"),
        (Invocation(), {"ML_DEPLOY_QUESTIONNAIRE": "plain"}, True, "questionnaire"),
        (Invocation(no_input=True), {}, True, "plain"),
        (Invocation(replay=True), {}, True, "plain"),
        (Invocation(), {}, False, "plain"),
        (Invocation(), {"ML_DEPLOY_QUESTIONNAIRE": "off"}, True, "prompts"),
        (Invocation(), {"ML_DEPLOY_QUESTIONNAIRE": "OFF"}, True, "prompts"),
        (None, {}, True, "plain"),
        (None, {}, False, "plain"),
    ],
)
def test_the_mode_follows_terminal_switch_and_command_line(
    started: Invocation | None, env: dict, terminal: bool, mode: str
) -> None:
    assert invocation.choose_mode(started, env, terminal) == mode


def test_user_config_is_found_like_cookiecutter_finds_it(tmp_path: Path) -> None:
    rc = tmp_path / ".cookiecutterrc"
    env = {"HOME": str(tmp_path)}
    assert invocation.user_config_path(Invocation(), env) is None
    rc.write_text("default_context: {}\n")
    assert invocation.user_config_path(Invocation(), env) == rc
    assert invocation.user_config_path(None, {**env, "COOKIECUTTER_CONFIG": "/c.yaml"}) == Path(
        "/c.yaml"
    )
    given = Invocation(options={"config_file": "/given.yaml"})
    assert invocation.user_config_path(given, {**env, "COOKIECUTTER_CONFIG": "/c.yaml"}) == Path(
        "/given.yaml"
    )
    assert invocation.user_config_path(Invocation(default_config=True), env) is None


def test_a_relative_user_config_is_relative_to_where_cookiecutter_was_started() -> None:
    env = {"HOME": "/home/me", "PWD": "/work/team"}
    given = Invocation(options={"config_file": "org.yaml"})
    assert invocation.user_config_path(given, env) == Path("/work/team/org.yaml")
    relative = {**env, "COOKIECUTTER_CONFIG": "../platform/org.yaml"}
    assert invocation.user_config_path(Invocation(), relative) == Path(
        "/work/team/../platform/org.yaml"
    )
    absolute = Invocation(options={"config_file": "/etc/org.yaml"})
    assert invocation.user_config_path(absolute, env) == Path("/etc/org.yaml")


def test_the_user_config_says_how_it_was_named_and_whether_it_was_relative() -> None:
    env = {"HOME": "/home/me", "PWD": "/work/team"}
    given = Invocation(options={"config_file": "platform/org.yaml"})
    assert invocation.user_config(given, env) == invocation.UserConfig(
        Path("/work/team/platform/org.yaml"), "--config-file='platform/org.yaml'", relative=True
    )
    assert invocation.user_config(Invocation(), {**env, "COOKIECUTTER_CONFIG": "/c.yaml"}) == (
        invocation.UserConfig(Path("/c.yaml"), "COOKIECUTTER_CONFIG='/c.yaml'", relative=False)
    )


def test_ctrl_c_is_a_key_not_a_signal_while_the_questionnaire_runs() -> None:
    import termios

    main, terminal = os.openpty()
    try:
        assert termios.tcgetattr(terminal)[3] & termios.ISIG
        with invocation.ctrl_c_as_key(terminal):
            assert not termios.tcgetattr(terminal)[3] & termios.ISIG
        assert termios.tcgetattr(terminal)[3] & termios.ISIG
    finally:
        os.close(main)
        os.close(terminal)


def test_only_a_temporary_template_copy_is_discarded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    copy = tmp_path / "cookiecutterabc" / "template"
    elsewhere = tmp_path / "projects" / "template"
    nested = tmp_path / "cookiecutterdef" / "a" / "template"
    for path in (copy, elsewhere, nested):
        path.mkdir(parents=True)
        invocation.discard_template_copy(path)
    assert not (tmp_path / "cookiecutterabc").exists()
    assert elsewhere.is_dir() and nested.is_dir()


def test_a_terminal_is_standard_input_and_output_both_on_one() -> None:
    pexpect = pytest.importorskip("pexpect")
    root = str(Path(__file__).resolve().parent.parent)
    code = f"import sys; sys.path.insert(0, {root!r}); from hooks import invocation; "
    code += "print(invocation.on_terminal())"
    piped = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert piped.stdout.strip() == "False", piped.stderr
    child = pexpect.spawn(sys.executable, ["-c", code], encoding="utf-8", timeout=30)
    child.expect(pexpect.EOF)
    assert child.before.strip() == "True"


def test_the_installed_cookiecutter_is_one_the_internals_were_checked_against() -> None:
    """hooks/cookiecutter_internals.py relies on cookiecutter beyond its documented interface;
    another release must be checked (and CHECKED_VERSIONS widened) before it is used."""
    installed = Version(importlib.metadata.version("cookiecutter"))

    assert installed in SpecifierSet(CHECKED_VERSIONS), (
        f"cookiecutter {installed} is outside {CHECKED_VERSIONS}: check each reliance listed in"
        " hooks/cookiecutter_internals.py and docs/architecture.md, then widen the range"
    )


def test_the_command_line_is_read_with_cookiecutters_own_options() -> None:
    command = invocation.parse_cookiecutter_argv

    assert command(["cookiecutter", "--keep-project-on-failure", "-o", "out", "tpl"]) == Invocation(
        options={"output_dir": "out"}, template="tpl"
    )
    assert command(["cookiecutter", "--accept-hooks", "no", "--no-input", "tpl"]) == Invocation(
        no_input=True, template="tpl"
    )
