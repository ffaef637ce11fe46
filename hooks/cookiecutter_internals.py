"""What this template relies on in cookiecutter beyond its documented interface, in one place.

Checked against the cookiecutter versions in `CHECKED_VERSIONS`; tests/test_invocation.py
fails when another version is installed, so an upgrade is a deliberate, tested step.
docs/architecture.md lists each reliance and why:

1. `cookiecutter.cli.main`, the click command behind `cookiecutter`: a hook is told nothing
   of how cookiecutter was started (--no-input, --replay, --config-file, extra context), so
   the pre-prompt hook parses its parent's command line with cookiecutter's own options
   (`parse_command_line`) rather than a copy of them.
2. `cookiecutter.exceptions.FailedHookException`: raised while cookiecutter renders a value,
   it ends the run with the message alone and no traceback (`Refusal`).
3. The `cookiecutter` variable in cookiecutter.json is the live context, rendered key by
   key in file order: cookiecutter.json's second key applies the questionnaire's answers
   (`{{ cookiecutter.update(cookiecutter._answers) }}`) before any later key is rendered.
"""

from __future__ import annotations

from typing import Any

import click
from cookiecutter.cli import main as cookiecutter_command
from cookiecutter.exceptions import FailedHookException

CHECKED_VERSIONS = ">=2.7.0,<2.8"
"""The cookiecutter releases these reliances were checked against."""


class Refusal(FailedHookException):
    """Ends generation with its message, as cookiecutter reports a failed hook."""


def parse_command_line(args: list[str]) -> dict[str, Any] | None:
    """The arguments after `cookiecutter`, parsed by cookiecutter's own command: the
    parameters given (`no_input`, `config_file`, `extra_context`, ...) by name, defaults left
    out; None if they are not a command line cookiecutter accepts."""
    try:
        context = cookiecutter_command.make_context(
            "cookiecutter", list(args), resilient_parsing=True
        )
    except click.ClickException:
        return None
    given = click.core.ParameterSource.COMMANDLINE
    return {
        name: value
        for name, value in context.params.items()
        if context.get_parameter_source(name) is given
    }
