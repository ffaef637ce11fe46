"""Prepare cookiecutter.json (in cookiecutter's temporary copy of the template) before prompts.

cookiecutter runs this hook with the copy as cwd and tells it nothing else: not whether
--no-input was given, not the extra context. hooks/invocation.py works that out (from the
environment and the command line of its parent process, the cookiecutter CLI); then:

- ML_DEPLOY_ANSWERS=<path to a generated project's .cookiecutter.json>: the stored answers
  become the defaults, so a project regenerates with only the changed answers given.
- A terminal, no --no-input and ML_DEPLOY_QUESTIONNAIRE not `off`: the questionnaire
  (hooks/questionnaire.py; questionary's menus, or numbered prompts from the standard
  library when questionary is not installed) asks everything, with the user config's
  `default_context` (org defaults) and the stored answers as defaults and the command
  line's key=value answers as given. Its answers go to cookiecutter through `_answers`,
  and the public keys leave cookiecutter.json, so cookiecutter prompts for nothing.
- A terminal with ML_DEPLOY_QUESTIONNAIRE=off: cookiecutter's own prompts, with the
  `__prompts__` labels.
- Answer names on the command line that are no answer of the template (a typo such as
  `data_volum=massive`, which cookiecutter itself would silently drop): refused, one line
  each with the closest answer name, before any question and before anything is written.
- Answers on the command line that cookiecutter would render as templates (`{{`, `{%`,
  `{#`): refused in one line each (the questionnaire refuses them as typed).
- Before the first question: a project directory that already exists (the slug given on
  the command line, no -f) is refused; a typed slug is checked as it is typed.
- Non-interactive runs (no terminal, --no-input): choice lists become plain defaults, so a
  bad value on the command line gets a one-line error while the context renders instead of
  cookiecutter's ValueError traceback.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Container
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the template copy's root

from decision import engine
from hooks import invocation, prompts, questionnaire

CONTEXT_FILE = Path("cookiecutter.json")


def stored_answers() -> dict[str, str]:
    """Answers of the project named by ML_DEPLOY_ANSWERS, or none."""
    location = os.environ.get("ML_DEPLOY_ANSWERS")
    if not location:
        return {}
    path = Path(os.environ.get("PWD", "."), location).expanduser()
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        sys.exit(f"error: ML_DEPLOY_ANSWERS={location!r} is not a readable answers file: {error}")
    return {name: value for name, value in record.items() if not name.startswith("_")}


def with_defaults(context: dict, answers: dict[str, str]) -> dict:
    """`context` with `answers` as the defaults of the variables they name."""
    updated = dict(context)
    for name, value in answers.items():
        current = context.get(name)
        if isinstance(current, list) and value in current:
            updated[name] = [value] + [choice for choice in current if choice != value]
        elif name in context and not isinstance(current, list):
            updated[name] = value
    return updated


def without_choice_lists(context: dict, names: Container[str] | None = None) -> dict:
    """Choice variables (all, or those in `names`) as plain defaults; the context's
    rendering validates what is given."""
    return {
        name: value[0]
        if isinstance(value, list) and not name.startswith("_") and (names is None or name in names)
        else value
        for name, value in context.items()
    }


def stored_over_org(
    context: dict, stored: dict[str, str], org: dict[str, str], given: dict[str, str]
) -> dict:
    """Stored answers that beat the org defaults, as cookiecutter would not have it.

    cookiecutter lets the user config's `default_context` override cookiecutter.json, so
    a stored answer written there as a default would lose to the org default. Where the two
    differ (and the command line does not give the answer), the stored answer moves to
    `_answers` and its key leaves cookiecutter.json, out of `default_context`'s reach.
    """
    moved = {
        name: value
        for name, value in stored.items()
        if name in org and org[name] != value and name not in given and name in context
    }
    if not moved:
        return context
    updated = {name: value for name, value in context.items() if name not in moved}
    updated["_answers"] = {**context.get("_answers", {}), **moved}
    if "__prompts__" in context:
        updated["__prompts__"] = {k: v for k, v in context["__prompts__"].items() if k not in moved}
    return updated


def typed_answer_check(started: invocation.Invocation) -> questionnaire.Check:
    """Checks that need the disk, as the answer is typed: a project_slug whose directory
    exists (unless -f), a training_data file that is missing or not a table."""
    caller = invocation.caller_directory()

    def check(name: str, value: str) -> str | None:
        if name == "project_slug":
            return questionnaire.existing_project_error(started, value, caller)
        if name == "training_data":
            return questionnaire.training_data_error(value, caller)
        return None

    return check


def org_defaults(started: invocation.Invocation) -> dict[str, str]:
    """The answers in the `default_context` of the user config cookiecutter read.
    UnreadableConfig with the one line to show when this hook cannot read it."""
    config = invocation.user_config(started, os.environ)
    if config is None:
        return {}
    try:
        return questionnaire.org_defaults(config.path)
    except questionnaire.UnreadableConfig as error:
        where = ""
        if config.relative:
            where = (
                f"; a relative path is read from $PWD ({invocation.caller_directory()}), which"
                " a program that starts cookiecutter in another directory may leave unchanged:"
                " give an absolute path"
            )
        raise questionnaire.UnreadableConfig(f"{config.given_as}: {error}{where}") from None


def questionnaire_context(context: dict, started: invocation.Invocation) -> dict:
    """Run the questionnaire; the context that hands its answers to cookiecutter."""
    org = org_defaults(started)
    defaults, notes = questionnaire.merge_defaults(org, stored_answers())
    try:
        with invocation.ctrl_c_as_key():
            answers = questionnaire.ask_all(
                prompts.prompter(),
                defaults,
                started.extra_context,
                notes,
                typed_answer_check(started),
            )
    except (KeyboardInterrupt, EOFError):
        # cookiecutter reports the abort and removes this copy of the template.
        return questionnaire.ABORTED_CONTEXT
    return questionnaire.answered_context(context, answers)


def early_errors(started: invocation.Invocation | None, mode: str) -> list[str]:
    """What stops the run before any question, one line each: unknown answer names, answers
    cookiecutter would read as templates, and (before the questionnaire) a project
    directory that exists when the command line gives its slug and no -f."""
    if started is None:
        return []
    given = started.extra_context
    errors = [e for name in given if (e := engine.unknown_name_error(name)) is not None]
    errors += [
        e
        for name, value in given.items()
        if (e := questionnaire.template_syntax_error(name, value))
    ]
    if not errors and mode == "questionnaire" and "project_slug" in given:
        caller = invocation.caller_directory()
        exists = questionnaire.existing_project_error(started, given["project_slug"], caller)
        errors += [exists] if exists else []
    return errors


def prepared_context(context: dict, started: invocation.Invocation | None, mode: str) -> dict:
    """cookiecutter.json for the mode: the questionnaire's answers, cookiecutter's own
    prompts, or plain defaults (with stored answers where ML_DEPLOY_ANSWERS names them)."""
    if mode == "questionnaire" and started is not None:
        context = questionnaire_context(context, started)
    elif mode == "prompts" and started is not None:
        # cookiecutter's own prompts keep their choice lists, except where the command line
        # gives a value outside the list: that one reaches validation (a one-line error)
        # instead of cookiecutter's ValueError traceback.
        context = with_defaults(context, stored_answers())
        invalid = {
            name
            for name, value in started.extra_context.items()
            if isinstance(context.get(name), list) and value not in context[name]
        }
        context = without_choice_lists(context, invalid)
    else:
        stored = stored_answers()
        context = without_choice_lists(with_defaults(context, stored))
        if stored and started is not None:  # (without it, the given answers are unknown)
            org = org_defaults(started)
            context = stored_over_org(context, stored, org, started.extra_context)
    return context


def main() -> None:
    context = json.loads(CONTEXT_FILE.read_text(encoding="utf-8"))
    command_line = invocation.parent_command_line()
    started = invocation.parse_cookiecutter_argv(command_line or [])
    mode = invocation.choose_mode(started, os.environ, invocation.on_terminal())
    refused = early_errors(started, mode)
    if refused:
        context = questionnaire.refused_context("\n".join(f"error: {e}" for e in refused))
    else:
        try:
            context = prepared_context(context, started, mode)
        except questionnaire.UnreadableConfig as error:
            context = questionnaire.refused_context(f"error: {error}")
    if (
        "__refused" not in context
    ):  # for the template's location in .cookiecutter.json (local_extensions)
        context["__caller_directory"] = "{{ '' | working_directory }}"
    CONTEXT_FILE.write_text(json.dumps(context, indent=2, ensure_ascii=False), encoding="utf-8")


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        # Ctrl-C before the questionnaire took the key over: cookiecutter got the SIGINT too
        # and reports the abort itself, but would leave its copy of the template behind.
        invocation.discard_template_copy(Path.cwd())
        sys.exit(130)
