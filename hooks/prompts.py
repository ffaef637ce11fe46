"""The questionnaire's terminal: questionary's menus when it is importable, numbered prompts
with only the standard library when it is not. In both, `?` shows the question's help.

The questionnaire (hooks/questionnaire.py) talks to one of these two through the same five
calls, so the flow (the groups, help, validation as typed, follow-ups, the recommendation)
is the same whatever the install: `pipx install cookiecutter` alone has no questionary.

Both read Ctrl-C as a key (the terminal's ISIG is off while the questionnaire runs, see
`invocation.ctrl_c_as_key`) and turn it into KeyboardInterrupt; end of input is EOFError.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from hooks.invocation import INTERRUPT

HELP = "help"
TITLE = "title"
WARNING = "warning"
ERROR = "error"

# A check returns the one-line reason a typed value is refused, or None.
Check = Callable[[str], str | None]


class Prompter(Protocol):
    def say(self, text: str = "", style: str = "") -> None:
        """One line of output; `style` is one of HELP, TITLE, WARNING, ERROR or ""."""

    def choose(
        self, question: str, options: Sequence[tuple[str, str]], default: str, help_text: str
    ) -> str:
        """One of `options` (value, label); `default` is a value."""

    def text(self, question: str, default: str, check: Check, help_text: str) -> str:
        """A stripped text that `check` accepts."""

    def confirm(self, question: str, default: bool) -> bool: ...


# --- questionary ------------------------------------------------------------------------

_MENU_STYLES = {
    HELP: "fg:ansibrightblack",
    TITLE: "bold",
    WARNING: "fg:ansiyellow",
    ERROR: "fg:ansired",
}


HELP_KEY = "?"
"""Shows the question's help, in both prompters: a key in a menu, an answer of its own in a
text prompt (the numbered prompts read it as a line in both)."""
MENU_INSTRUCTION = "(Use shortcuts or arrow keys, ? for help)"
_HELP_ASKED = object()


def _exit_on_help_key(prompt: Any) -> Any:
    """`prompt` (a questionary Question) ending with `_HELP_ASKED` when `?` is pressed: the
    menu has no key for it otherwise, and a shortcut never uses `?`."""
    from prompt_toolkit.key_binding import KeyBindings, merge_key_bindings

    bindings = KeyBindings()

    @bindings.add(HELP_KEY, eager=True)
    def _show_help(event: Any) -> None:
        event.app.erase_when_done = True  # the menu is drawn again below the help
        event.app.exit(result=_HELP_ASKED)

    application = prompt.application
    application.key_bindings = merge_key_bindings([application.key_bindings, bindings])
    return prompt


class MenuPrompter:
    """questionary's menus: arrow keys or the number shortcuts, validation while typing, `?`
    for the question's help."""

    def say(self, text: str = "", style: str = "") -> None:
        import questionary

        questionary.print(text, style=_MENU_STYLES.get(style))

    def choose(
        self, question: str, options: Sequence[tuple[str, str]], default: str, help_text: str
    ) -> str:
        import questionary

        choices = [questionary.Choice(label, value=value) for value, label in options]
        while True:
            prompt = questionary.select(
                question,
                choices=choices,
                default=default,
                use_shortcuts=True,
                instruction=MENU_INSTRUCTION,
            )
            answer = _exit_on_help_key(prompt).unsafe_ask()
            if answer is not _HELP_ASKED:
                return str(answer)
            self.say(f"  {help_text}", HELP)

    def text(self, question: str, default: str, check: Check, help_text: str) -> str:
        import questionary

        def validate(typed: str) -> str | bool:
            return typed.strip() == HELP_KEY or check(typed.strip()) or True

        while True:  # the validator makes one round the rule; `?` another (a fresh prompt)
            prompt = questionary.text(question, default=default, validate=validate)
            value = str(prompt.unsafe_ask()).strip()
            if value == HELP_KEY:
                self.say(f"  {help_text}", HELP)
                continue
            error = check(value)
            if error is None:
                return value
            self.say(f"  {error}", ERROR)

    def confirm(self, question: str, default: bool) -> bool:
        import questionary

        return bool(questionary.confirm(question, default=default).unsafe_ask())


# --- The standard library ---------------------------------------------------------------

_ANSI_STYLES = {HELP: "\x1b[90m", TITLE: "\x1b[1m", WARNING: "\x1b[33m", ERROR: "\x1b[31m"}
_RESET = "\x1b[0m"
YES = ("y", "yes")
NO = ("n", "no")


class PlainPrompter:
    """Numbered choices and typed answers on a plain terminal: Enter keeps the default, `?`
    shows the help, an invalid answer is asked again after its one-line reason."""

    def __init__(self, fd: int | None = None, colour: bool | None = None) -> None:
        self.fd = fd  # None: standard input's, when it is read
        if colour is None:
            colour = "NO_COLOR" not in os.environ and os.environ.get("TERM", "dumb") != "dumb"
        self.colour = colour

    def say(self, text: str = "", style: str = "") -> None:
        if self.colour and style and text:
            text = f"{_ANSI_STYLES[style]}{text}{_RESET}"
        sys.stdout.write(text + "\n")
        sys.stdout.flush()

    def read_line(self, prompt: str) -> str:
        """One typed line, read from the terminal itself (not through sys.stdin's buffer,
        which would wait for a newline after a Ctrl-C)."""
        sys.stdout.write(prompt)
        sys.stdout.flush()
        fd = sys.stdin.fileno() if self.fd is None else self.fd
        typed = b""
        while not typed.endswith(b"\n"):
            chunk = os.read(fd, 4096)
            if INTERRUPT in chunk:
                sys.stdout.write("\n")
                raise KeyboardInterrupt
            if not chunk:
                sys.stdout.write("\n")
                raise EOFError
            typed += chunk
        return typed.decode(errors="replace").strip()

    def choose(
        self, question: str, options: Sequence[tuple[str, str]], default: str, help_text: str
    ) -> str:
        values = [value for value, _ in options]
        self.say(question, TITLE)
        self._list(options, default)
        number = values.index(default) + 1
        prompt = f"  Choose 1-{len(values)} (Enter: {number}, ?: help): "
        while True:
            typed = self.read_line(prompt)
            if typed == "":
                return default
            if typed == "?":
                self.say(f"  {help_text}", HELP)
                self._list(options, default)
                continue
            if typed.isdigit() and 1 <= int(typed) <= len(values):
                return values[int(typed) - 1]
            if typed in values:
                return typed
            self.say(
                f"  {typed!r} is not one of the choices: give a number from 1 to {len(values)}"
                " (or the value's name)",
                ERROR,
            )

    def _list(self, options: Sequence[tuple[str, str]], default: str) -> None:
        for number, (value, label) in enumerate(options, start=1):
            marker = "  (default)" if value == default else ""
            self.say(f"    {number}) {label}{marker}")

    def text(self, question: str, default: str, check: Check, help_text: str) -> str:
        shown = f" [{default}]" if default else ""
        prompt = f"{question}{shown} (?: help): "
        while True:
            typed = self.read_line(prompt)
            if typed == "?":
                self.say(f"  {help_text}", HELP)
                if default:
                    self.say("  Enter keeps the value in brackets; - leaves it empty.", HELP)
                continue
            value = default if typed == "" else "" if typed == "-" else typed
            error = check(value)
            if error is None:
                return value
            self.say(f"  {error}", ERROR)

    def confirm(self, question: str, default: bool) -> bool:
        prompt = f"{question} [{'Y/n' if default else 'y/N'}]: "
        while True:
            typed = self.read_line(prompt).lower()
            if typed == "":
                return default
            if typed in YES or typed in NO:
                return typed in YES
            self.say(f"  {typed!r} is not an answer: type y or n", ERROR)


def questionary_available() -> bool:
    try:
        import questionary  # noqa: F401
    except ImportError:
        return False
    return True


def prompter(environ: Mapping[str, str] = os.environ) -> Prompter:
    """questionary's menus when importable, unless ML_DEPLOY_QUESTIONNAIRE=plain asks for
    the numbered prompts."""
    if environ.get("ML_DEPLOY_QUESTIONNAIRE", "").strip().lower() == "plain":
        return PlainPrompter()
    return MenuPrompter() if questionary_available() else PlainPrompter()
