"""How this run of cookiecutter was started, decided in one place.

cookiecutter runs hooks/pre_prompt.py in a temporary copy of the template and tells it
nothing about the run: not whether --no-input was given, not the extra context, not the
user config, not where it was started. This module works those out (the parent process's
command line, the shell's PWD, cookiecutter's own config lookup, whether there is a
terminal), decides what the hook does with them (`choose_mode`), and owns the terminal
setting and the clean-up that a run ending early needs.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from hooks.cookiecutter_internals import parse_command_line

ENV_SWITCH = "ML_DEPLOY_QUESTIONNAIRE"
INTERRUPT = b"\x03"  # Ctrl-C, read as a key while the questionnaire runs

# --- The cookiecutter command line that ran this hook -------------------------------------


@dataclass(frozen=True)
class Invocation:
    """What the user typed after `cookiecutter`."""

    no_input: bool = False
    replay: bool = False
    overwrite: bool = False
    default_config: bool = False
    options: dict[str, str] = field(default_factory=dict)
    template: str | None = None
    extra_context: dict[str, str] = field(default_factory=dict)

    @property
    def interactive(self) -> bool:
        return not (self.no_input or self.replay or "replay_file" in self.options)


def _cookiecutter_args(argv: list[str]) -> list[str] | None:
    """The arguments after the cookiecutter program itself, or None if it is not there."""
    for index, arg in enumerate(argv[:3]):
        if Path(arg).name == "cookiecutter":
            return argv[index + 1 :]
        if arg == "-m" and index + 1 < len(argv) and argv[index + 1] == "cookiecutter":
            return argv[index + 2 :]
    return None


def parse_cookiecutter_argv(argv: list[str]) -> Invocation | None:
    """Parse a cookiecutter command line (as in /proc/<pid>/cmdline) as cookiecutter itself
    does; None if it is not one."""
    args = _cookiecutter_args(argv)
    if args is None:
        return None
    params = parse_command_line(args)
    if params is None:
        return None
    named = ("checkout", "directory", "replay_file", "output_dir", "config_file", "debug_file")
    return Invocation(
        no_input=params.get("no_input", False),
        replay=params.get("replay", False),
        overwrite=params.get("overwrite_if_exists", False),
        default_config=params.get("default_config", False),
        options={name: params[name] for name in named if name in params},
        template=params.get("template"),
        extra_context=dict(params.get("extra_context") or {}),
    )


def parent_command_line(pid: int | None = None) -> list[str] | None:
    """The command line of process `pid` (default: the parent), or None if unreadable."""
    pid = os.getppid() if pid is None else pid
    return proc_command_line(pid) or ps_command_line(pid)


def proc_command_line(pid: int) -> list[str] | None:
    """From /proc (Linux): exact arguments."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part] or None


def ps_command_line(pid: int) -> list[str] | None:
    """From ps (elsewhere): arguments re-split on spaces, so quoting is lost."""
    try:
        result = subprocess.run(
            ["ps", "-ww", "-o", "args=", "-p", str(pid)], capture_output=True, text=True, check=True
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    try:
        return shlex.split(result.stdout.strip()) or None
    except ValueError:
        return result.stdout.split() or None


def caller_directory(environ: Mapping[str, str] = os.environ) -> Path:
    """The directory cookiecutter was started in: its shell's PWD (cookiecutter has changed
    its own working directory to the template copy by the time it runs this hook)."""
    return Path(environ.get("PWD") or ".")


def on_terminal() -> bool:
    """Standard input and output are a terminal: someone can answer questions."""
    return sys.stdin.isatty() and sys.stdout.isatty()


# --- What the hook does -------------------------------------------------------------------


def choose_mode(invocation: Invocation | None, environ: Mapping[str, str], terminal: bool) -> str:
    """`questionnaire`, `prompts` (cookiecutter's own) or `plain` (defaults, no questions).

    The questionnaire needs a terminal and a cookiecutter command line without --no-input
    or --replay; it runs with questionary's menus or, without questionary, with numbered
    prompts (hooks/prompts.py), so cookiecutter's flat prompts only come when
    ML_DEPLOY_QUESTIONNAIRE=off asks for them. An unknown parent process (cookiecutter
    called as a library, as pytest-cookies does, always without input) gets no questions:
    its --no-input cannot be seen.
    """
    if not terminal or invocation is None or not invocation.interactive:
        return "plain"
    if environ.get(ENV_SWITCH, "").strip().lower() == "off":
        return "prompts"
    return "questionnaire"


# --- The user config cookiecutter reads ---------------------------------------------------


@dataclass(frozen=True)
class UserConfig:
    """The user config cookiecutter reads, and how it was named (for messages)."""

    path: Path
    given_as: str  # `--config-file='org.yaml'`, `COOKIECUTTER_CONFIG='org.yaml'`, the rc file
    relative: bool  # given as a relative path: found from the caller's directory


def user_config(invocation: Invocation | None, environ: Mapping[str, str]) -> UserConfig | None:
    """The user config cookiecutter reads, by its own rules (None: it reads none).

    A relative --config-file or COOKIECUTTER_CONFIG is relative to the directory cookiecutter
    was started in, where cookiecutter itself read it. This hook cannot see that directory
    (cookiecutter has moved into the template copy, its own cwd included, before it runs the
    hook), only the PWD it was started with (`caller_directory`)."""
    named = None
    if invocation is not None:
        if invocation.default_config:
            return None
        if "config_file" in invocation.options:
            named = ("--config-file", invocation.options["config_file"])
    if named is None and environ.get("COOKIECUTTER_CONFIG"):
        named = ("COOKIECUTTER_CONFIG", environ["COOKIECUTTER_CONFIG"])
    if named is not None:
        option, text = named
        given = Path(text).expanduser()
        path = caller_directory(environ) / given
        return UserConfig(path, f"{option}={text!r}", relative=not given.is_absolute())
    home = environ.get("HOME")
    path = Path(home, ".cookiecutterrc") if home else Path("~/.cookiecutterrc").expanduser()
    return UserConfig(path, str(path), relative=False) if path.is_file() else None


def user_config_path(invocation: Invocation | None, environ: Mapping[str, str]) -> Path | None:
    """The path of `user_config` (None: cookiecutter reads no user config)."""
    config = user_config(invocation, environ)
    return config.path if config else None


# --- Ending a run early -------------------------------------------------------------------


def discard_template_copy(copy: Path) -> None:
    """Delete cookiecutter's temporary template copy (<tmp>/cookiecutterXXXX/<repo>) only."""
    base = copy.parent
    in_tempdir = base.parent == Path(tempfile.gettempdir()).resolve()
    if in_tempdir and base.name.startswith("cookiecutter"):
        shutil.rmtree(base, ignore_errors=True)


@contextmanager
def ctrl_c_as_key(fd: int | None = None) -> Iterator[None]:
    """Ctrl-C reaches only this process while the questionnaire runs.

    The terminal would send SIGINT to cookiecutter too (same process group), between two
    prompts; with ISIG off Ctrl-C is a key that the next prompt turns into KeyboardInterrupt.
    """
    try:
        import termios
    except ImportError:
        yield
        return
    fd = sys.stdin.fileno() if fd is None else fd
    try:
        saved = termios.tcgetattr(fd)
    except termios.error:
        yield
        return
    changed = list(saved)
    changed[3] &= ~termios.ISIG
    # Ctrl-C also ends a line being typed, so the numbered prompts (which read whole lines)
    # see it at once; menus read key by key and are not affected.
    changed[6] = list(saved[6])
    changed[6][termios.VEOL] = INTERRUPT
    termios.tcsetattr(fd, termios.TCSANOW, changed)
    try:
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSANOW, saved)
