"""Prepare cookiecutter.json (in cookiecutter's temporary copy of the template) before prompts.

cookiecutter runs this hook with the copy as cwd and tells it nothing else: not whether
--no-input was given, not the extra context. So it works from the environment:

- ML_DEPLOY_ANSWERS=<path to a generated project's .cookiecutter.json>: the stored answers
  become the defaults, so a project regenerates with only the changed answers given.
- Non-interactive runs (no terminal, --no-input, or ML_DEPLOY_QUESTIONNAIRE=off): choice
  lists become plain defaults, so a bad value on the command line reaches pre_gen_project
  and gets a one-line error instead of cookiecutter's ValueError traceback.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

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


def without_choice_lists(context: dict) -> dict:
    """Choice variables as plain defaults; pre_gen_project validates what is given."""
    return {
        name: value[0] if isinstance(value, list) and not name.startswith("_") else value
        for name, value in context.items()
    }


def main() -> None:
    context = json.loads(CONTEXT_FILE.read_text(encoding="utf-8"))
    context = with_defaults(context, stored_answers())
    context = without_choice_lists(context)
    CONTEXT_FILE.write_text(json.dumps(context, indent=2, ensure_ascii=False), encoding="utf-8")


if __name__ == "__main__":
    main()
