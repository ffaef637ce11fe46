"""Write cookiecutter.json from decision/table.yaml: the answers cookiecutter knows are the
table's, never edited by hand.

    python tools/cookiecutter_json.py          # (re)write cookiecutter.json
    python tools/cookiecutter_json.py --check  # exit 1 if it is not what this would write

The public answers come from the table, in its order: a choice answer as cookiecutter's
list (its default first, then the others in the table's order), any other answer as its
default; the `__prompts__` labels are the table's questions and choice labels. The private
keys around them (how the answers reach the decision and the files) are cookiecutter
plumbing and live here. `_copy_without_render` lists every file of the project template
with no Jinja in it: rendering those changes nothing, and a bake renders every variant of
every port before the post-generation hook keeps one.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from decision import engine  # noqa: E402

CONTEXT_FILE = ROOT / "cookiecutter.json"

# Before the answers: the questionnaire's and stored answers' way in (hooks/pre_prompt.py
# fills `_answers`; rendering `__apply_answers` copies them over the public keys).
BEFORE_ANSWERS: dict[str, Any] = {
    "_answers": {},
    "__apply_answers": "{{ cookiecutter.update(cookiecutter._answers) or '' }}",
}
# After the answers, rendered in this order once every answer is known.
AFTER_ANSWERS: dict[str, Any] = {
    "__package_name": "{{ cookiecutter.project_slug | replace('-', '_') }}",
    "__decision": "{{ cookiecutter | decide }}",
    "__training_data": "{{ cookiecutter | training_data_path }}",
    "__contract": "{{ cookiecutter | feature_contract }}",
    "__strategy": "{{ (cookiecutter.__decision | from_json).strategy }}",
    "__batch_engine": "{{ cookiecutter | batch_engine }}",
    "_extensions": ["local_extensions.DeployExtension"],
    "_new_lines": "\n",
}
PROJECT = ROOT / "{{cookiecutter.project_slug}}"
JINJA = (b"{{", b"{%", b"{#")
# The slug has no fixed default: it follows the project name, as the questionnaire's does
# (engine.default_slug, through local_extensions' `default_slug` filter).
DERIVED_DEFAULTS = {"slug": "{{ cookiecutter.project_name | default_slug }}"}


def answer_value(name: str, spec: dict[str, Any]) -> Any:
    if spec["kind"] == "choice":
        default = engine.default(name)
        return [default, *(value for value in engine.choices(name) if value != default)]
    if spec["kind"] in DERIVED_DEFAULTS:
        return DERIVED_DEFAULTS[spec["kind"]]
    return spec["default"]  # as YAML typed it: a number stays a number


def prompt(spec: dict[str, Any]) -> Any:
    if spec["kind"] != "choice":
        return spec["question"]
    return {"__prompt__": spec["question"], **{str(k): str(v) for k, v in spec["choices"].items()}}


def context() -> dict[str, Any]:
    answers = engine.table()["answers"]
    return {
        **BEFORE_ANSWERS,
        **{name: answer_value(name, spec) for name, spec in answers.items()},
        **AFTER_ANSWERS,
        "_copy_without_render": plain_files(),
        "__prompts__": {name: prompt(spec) for name, spec in answers.items()},
    }


def plain_files() -> list[str]:
    """The project template's files without Jinja, as cookiecutter matches them (relative to
    the project template): copied as they are."""
    return sorted(
        str(path.relative_to(PROJECT))
        for path in PROJECT.rglob("*")
        if path.is_file() and not any(tag in path.read_bytes() for tag in JINJA)
    )


def text() -> str:
    return json.dumps(context(), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    wanted = text()
    if argv == ["--check"]:
        if CONTEXT_FILE.read_text(encoding="utf-8") != wanted:
            print(
                "error: cookiecutter.json is not what decision/table.yaml gives: "
                "run python tools/cookiecutter_json.py",
                file=sys.stderr,
            )
            return 1
        return 0
    if argv:
        print("usage: python tools/cookiecutter_json.py [--check]", file=sys.stderr)
        return 2
    CONTEXT_FILE.write_text(wanted, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
