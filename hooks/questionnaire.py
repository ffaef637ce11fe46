"""The interactive questionnaire that hooks/pre_prompt.py runs in a terminal.

It asks every public answer of decision/table.yaml (question and help text from there,
validated by `engine.check_answer`), the ten considerations under their titles, follow-up
questions only where they apply, then shows the engine's recommendation and lets the user
accept or override it. The answers go back to cookiecutter through the `_answers` key of
cookiecutter.json, so cookiecutter asks nothing again.

The helpers at the top are pure (when a follow-up applies, defaults merging, the groups)
and unit-tested; how the run was started is hooks/invocation.py's. `ask_all` is the only
part that talks to the terminal, through a `prompts.Prompter`: questionary's menus when it
is importable, numbered prompts with only the standard library when it is not
(cookiecutter installed alone).
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from jinja2.ext import Extension

from decision import engine
from hooks import invocation, prompts
from hooks.cookiecutter_internals import Refusal
from hooks.invocation import Invocation
from hooks.prompts import Prompter

STRATEGY = "deployment_strategy"


def ask_when(name: str) -> list[dict[str, Any]] | None:
    """The conditions under which follow-up question `name` is asked (table.yaml
    `ask_when:`, any one of them), or None for a question always asked."""
    return engine.table()["answers"][name].get("ask_when")


def applies(name: str, answers: Mapping[str, str]) -> bool:
    """Whether question `name` is asked, given the answers so far. A skipped follow-up
    takes the template's default (the generated project still records a value for it): a
    stored or org default would outlive the answer that made it mean something (a stored
    `target` without `training_data` is refused)."""
    conditions = ask_when(name)
    return conditions is None or any(engine.matches(when, dict(answers)) for when in conditions)


def follow_up_reason(name: str) -> str:
    """When follow-up `name` is asked, in words: `only asked when caller is external or
    internal_private, or ...` (the conditions of one `when` joined by `and`)."""
    conditions = ask_when(name) or []
    described = [
        " and ".join(f"{answer} {_condition(wanted)}" for answer, wanted in when.items())
        for when in conditions
    ]
    return "only asked when " + ", or ".join(described)


def _condition(wanted: Any) -> str:
    """`is yes or maybe`, `is not empty`: one condition of a `when`, in words."""
    excluded = isinstance(wanted, dict)
    listed = wanted["not"] if excluded else wanted
    words = [str(v) or "empty" for v in (listed if isinstance(listed, list) else [listed])]
    either = words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]
    return f"is not {either}" if excluded else f"is {either}"


def existing_project_error(started: Invocation, slug: str, caller: Path) -> str | None:
    """One line when the project directory `slug` already exists and -f was not given."""
    if started.overwrite:
        return None
    project = caller / Path(started.options.get("output_dir", ".")).expanduser() / slug
    if not project.exists():
        return None
    return (
        f"project_slug={slug!r}: {project} already exists: give another project_slug or "
        "--output-dir, or -f to write over it"
    )


TRAINING_DATA_SUFFIXES = (".csv", ".parquet", ".pq")
"""The tables `make schema` reads (src/<package>/contract_inference.py infers the contract)."""
MAX_COLUMNS = 1500
"""Most columns a training table may have. The generated projects keep one column per input
in their own tables next to a few of theirs (the database strategy's input table, the
precompute and stateful entity tables), and PostgreSQL holds at most 1600 per table."""
HEADER_BYTES = 1 << 20
"""Most bytes read to count a CSV header's columns: a header is never read unbounded."""


def training_table_problem(path: Path) -> str | None:
    """Why the training table at `path` cannot be read, found before reading it; None when
    nothing stops it (a missing file and what is in the rows are contract inference's).

    A FIFO would block and /dev/zero never end; a CSV header wider than MAX_COLUMNS would be
    profiled column by column until memory runs out."""
    if not path.exists():
        return None
    if not path.is_file():
        return f"{path}: not a regular file (a pipe, a device or a directory is no table)"
    if path.suffix.lower() != ".csv":
        return None
    try:
        with path.open("rb") as file:
            start = file.read(HEADER_BYTES)
    except OSError as error:
        return f"{path}: cannot be read ({error.strerror})"
    line, ended, _ = start.decode("utf-8", errors="replace").partition("\n")
    columns = len(next(csv.reader([line]), []))
    if columns > MAX_COLUMNS:
        counted = f"{columns}" if ended else f"at least {columns}"
        return (
            f"{path}: {counted} columns, more than the {MAX_COLUMNS} allowed (a project's tables"
            " hold a column per input, and PostgreSQL at most 1600)"
        )
    if not ended and len(start) == HEADER_BYTES:
        return f"{path}: the header line is longer than {HEADER_BYTES:,} bytes"
    return None


def training_data_error(value: str, caller: Path) -> str | None:
    """One line when `training_data` names no CSV or Parquet file that can be read (relative
    paths are the caller's, as at generation); None for an empty answer (the sample data)."""
    text = value.strip()
    if not text:
        return None
    path = caller / Path(text).expanduser()
    if path.exists() and not path.is_file():
        problem = "not a regular file"
    elif path.suffix.lower() not in TRAINING_DATA_SUFFIXES:
        problem = "not a CSV or Parquet file"
    elif not path.exists():
        problem = f"{path} does not exist"
    elif (table_problem := training_table_problem(path)) is not None:
        problem = table_problem
    else:
        return None
    return (
        f"training_data={value!r}: {problem}: give a .csv or .parquet file, or nothing for"
        " the sample data"
    )


TEMPLATE_MARKERS = ("{{", "{%", "{#")


def template_syntax_error(name: str, value: str) -> str | None:
    """One line for an answer that cookiecutter would read as a Jinja template, or None."""
    if not any(marker in value for marker in TEMPLATE_MARKERS):
        return None
    return f"{name}={value!r} is not allowed: use text without {{{{, {{% or {{#"


# --- Defaults: the table's, then the org's (user config), then stored answers -------------


@dataclass(frozen=True)
class Default:
    value: str
    origin: str  # "" for the template's own default, else where it came from


class UnreadableConfig(Exception):
    """The user config cannot be read here (a one-line reason)."""


def org_defaults(path: Path | None) -> dict[str, str]:
    """The public answers in the user config's `default_context`, as strings.

    UnreadableConfig when the file cannot be read or parsed: cookiecutter has read it
    already (it stops before this hook otherwise), so this hook is looking in the wrong
    place, and the org's defaults would silently vanish from the questionnaire."""
    if path is None:
        return {}
    try:
        config = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as error:
        raise UnreadableConfig(f"{path} cannot be read ({error.strerror})") from None
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        problem = str(error).splitlines()[0]
        raise UnreadableConfig(f"{path} is not a YAML file ({problem})") from None
    context = config.get("default_context") if isinstance(config, dict) else None
    if not isinstance(context, dict):
        return {}
    return {
        str(k): _as_answer(v) for k, v in context.items() if str(k) in engine.table()["answers"]
    }


def _as_answer(value: object) -> str:
    """A YAML value as the answer string (unquoted yes/no are booleans in YAML)."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def merge_defaults(
    org: Mapping[str, str], stored: Mapping[str, str]
) -> tuple[dict[str, Default], list[str]]:
    """The questionnaire's defaults and one note per org or stored default not used."""
    defaults = {name: Default(_table_default(name), "") for name in engine.table()["answers"]}
    notes = []
    for origin, values in (("org default", org), ("stored answer", stored)):
        for name, value in values.items():
            if name not in defaults:
                continue
            error = engine.check_answer(name, value)
            if error:
                notes.append(f"{origin} not used: {error}")
            else:
                defaults[name] = Default(str(value), origin)
    return defaults, notes


def _table_default(name: str) -> str:
    spec = engine.table()["answers"][name]
    if "default" in spec or "choices" in spec:
        return engine.default(name)
    return ""  # computed while asking (project_slug from project_name)


def slug_of(name: str) -> str:
    """The default slug cookiecutter.json derives from the project name (one rule for both)."""
    return engine.default_slug(name)


# --- The questions, grouped --------------------------------------------------------------


@dataclass(frozen=True)
class Group:
    title: str
    changes: str
    answers: list[str]


def groups() -> list[Group]:
    """Project, the ten considerations (numbered), then platform settings.

    Answers that apply to some strategies only (`applies_to`) come after the decision.
    """
    table = engine.table()
    considerations = [
        Group(c["title"], c["changes"], list(c["answers"])) for c in table["considerations"]
    ]
    placed = {name for group in considerations for name in group.answers}
    placed |= set(strategy_options()) | {STRATEGY}
    names = list(table["answers"])
    first = min(names.index(n) for n in placed)
    project = [n for n in names[:first] if n not in placed]
    platform = [n for n in names[first:] if n not in placed]
    total = len(considerations)
    numbered = [
        Group(f"[{i}/{total}] {g.title}", g.changes, g.answers)
        for i, g in enumerate(considerations, start=1)
    ]
    return [
        Group("Project", "names, README, pyproject", project),
        *numbered,
        Group("Platform", "Docker base image, CI, package installs", platform),
    ]


def strategy_options(strategy: str | None = None) -> list[str]:
    """Answers that only some strategies use (all of them, or those `strategy` uses)."""
    return [
        name
        for name, spec in engine.table()["answers"].items()
        if "applies_to" in spec and (strategy is None or strategy in spec["applies_to"])
    ]


# --- The answers back to cookiecutter ------------------------------------------------------


def answered_context(context: dict[str, Any], answers: Mapping[str, str]) -> dict[str, Any]:
    """cookiecutter.json with every answer in `_answers` and no public key left to prompt."""
    public = set(engine.table()["answers"])
    updated = {name: value for name, value in context.items() if name not in public}
    updated["_answers"] = {name: str(answers[name]) for name in engine.table()["answers"]}
    prompts = {k: v for k, v in context.get("__prompts__", {}).items() if k not in public}
    if "__prompts__" in context:
        updated["__prompts__"] = prompts
    return updated


def _abort(message: str) -> str:
    invocation.discard_template_copy(Path(__file__).resolve().parent.parent)
    raise Refusal(message)


class AbortExtension(Extension):
    """Ends a run that must stop before anything is written: `{{ message | abort }}` removes
    the template copy and stops cookiecutter with `message` and exit status 1 (a failing
    hook would add its own message and a traceback)."""

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)
        environment.filters["abort"] = _abort


def refused_context(message: str) -> dict[str, Any]:
    """A cookiecutter.json that stops generation with `message` before any prompt."""
    return {
        "_extensions": ["hooks.questionnaire.AbortExtension"],
        "_refusal": message,
        "__refused": "{{ cookiecutter._refusal | abort }}",
    }


ABORTED_CONTEXT = refused_context("Aborted.")


# --- The terminal part --------------------------------------------------------------------


def _label(default: Default) -> str:
    return f" ({default.origin})" if default.origin else ""


Check = Callable[[str, str], str | None]


def _no_check(name: str, value: str) -> str | None:
    return None


def _check(name: str, value: str, extra: Check) -> str | None:
    """The table's check, then template syntax, then `extra` (the project directory)."""
    return (
        engine.check_answer(name, value) or template_syntax_error(name, value) or extra(name, value)
    )


def _ask_one(ui: Prompter, name: str, default: Default, extra: Check = _no_check) -> str:
    """Ask one answer; the result always passes `engine.check_answer` and `extra`."""
    spec = engine.table()["answers"][name]
    ui.say(f"  {spec['help']}", prompts.HELP)
    question = spec["question"] + _label(default)
    if spec["kind"] == "choice":
        labels = spec["choices"]
        options = [(value, str(labels[value])) for value in engine.choices(name)]
        return ui.choose(question, options, default.value, spec["help"])
    return ui.text(question, default.value, lambda value: _check(name, value, extra), spec["help"])


def _given(ui: Prompter, name: str, given: Mapping[str, str]) -> str | None:
    """A valid answer from the command line, or None (with a note when it is invalid)."""
    if name not in given:
        return None
    error = engine.check_answer(name, given[name])
    if error:
        ui.say(f"  {error}; asking instead.", prompts.ERROR)
        return None
    ui.say(f"  {name}: {given[name]} (given on the command line)", prompts.HELP)
    return given[name]


def _show_decision(ui: Prompter, decision: engine.Decision) -> None:
    """The strategy, why, its report card and the runner-up (or, for an override, the
    table's own choice and the engine's warnings)."""
    strategies = engine.table()["strategies"]
    explicit = decision.source == "explicit"
    heading = "Your choice" if explicit else "Recommendation"
    ui.say()
    ui.say(f"{heading}: {decision.strategy}, {strategies[decision.strategy]}", prompts.TITLE)
    *why, runner_up = decision.reasons  # the engine always ends with the runner-up line
    for reason in why:
        ui.say(f"  - {reason}")
    if decision.report_card:
        card = ", ".join(f"{CARD_LABELS.get(k, k)} {v}" for k, v in decision.report_card.items())
        ui.say(f"  Report card (1-10): {card}")
    else:
        ui.say("  Report card: the source gives none for this strategy")
    ui.say(f"  {runner_up[0].upper()}{runner_up[1:]}")
    for warning in decision.warnings:
        ui.say(f"  warning: {warning}", prompts.WARNING)


CARD_LABELS = {
    "scalability": "scalability",
    "speed": "speed",
    "ease_of_deployment": "ease of deployment",
    "mlops_pipeline": "MLOps pipeline",
}
ACCEPT_QUESTION = "Accept the recommendation or override it?"
ACCEPT_HELP = (
    "Accept keeps deployment_strategy=auto (the table decides again on regeneration); "
    "an override is recorded with the table's warnings in the ADR."
)


def _choose_strategy(ui: Prompter, answers: dict[str, str], given: Mapping[str, str]) -> str:
    recommended = engine.decide({**answers, STRATEGY: engine.AUTO})
    _show_decision(ui, recommended)
    explicit = _given(ui, STRATEGY, given)
    if explicit is not None:
        if explicit != engine.AUTO:
            _show_decision(ui, engine.decide({**answers, STRATEGY: explicit}))
        return explicit
    strategies = engine.table()["strategies"]
    others = [s for s in engine.choices(STRATEGY) if s not in (engine.AUTO, recommended.strategy)]
    options = [
        (engine.AUTO, f"Accept {recommended.strategy} (decided from the answers)"),
        *((s, f"Override with {s}: {strategies[s]}") for s in others),
    ]
    while True:
        choice = ui.choose(ACCEPT_QUESTION, options, engine.AUTO, ACCEPT_HELP)
        if choice == engine.AUTO:
            return engine.AUTO
        overridden = engine.decide({**answers, STRATEGY: choice})
        _show_decision(ui, overridden)
        if ui.confirm(f"Use {choice} anyway?", default=True):
            return choice


def ask_all(
    ui: Prompter,
    defaults: Mapping[str, Default],
    given: Mapping[str, str],
    notes: list[str],
    extra: Check = _no_check,
) -> dict[str, str]:
    """Run the questionnaire on `ui`; every public answer, validated (also by `extra`).
    Ctrl-C: KeyboardInterrupt."""
    ui.say(
        "cookiecutter-ml-deploy: questions about the model you want in production.", prompts.TITLE
    )
    ui.say(
        "Enter keeps the default shown; ? shows a question's help; Ctrl-C aborts without"
        " writing anything.",
        prompts.HELP,
    )
    for note in notes:
        ui.say(f"note: {note}", prompts.WARNING)
    answers: dict[str, str] = {}
    for group in groups():
        ui.say()
        ui.say(f"{group.title}  (changes: {group.changes})", prompts.TITLE)
        for name in group.answers:
            default = defaults[name]
            if name == "project_slug" and not default.value:
                default = Default(slug_of(answers["project_name"]), "")
            value = _given(ui, name, given)
            if value is None and not applies(name, answers):
                value = _table_default(name)
                shown = value or "empty"
                ui.say(f"  {name}: {shown} (default; {follow_up_reason(name)})", prompts.HELP)
            if value is None:
                value = _ask_one(ui, name, default, extra)
            answers[name] = value
    for name in strategy_options():  # recorded for every strategy, asked for its own
        valid_given = name in given and engine.check_answer(name, given[name]) is None
        answers[name] = given[name] if valid_given else defaults[name].value
    answers[STRATEGY] = _choose_strategy(ui, answers, given)
    strategy = engine.decide(answers, revisit=False).strategy
    options = strategy_options(strategy)
    if options:
        ui.say()
        ui.say(f"Options of {strategy}", prompts.TITLE)
    for name in options:
        answers[name] = _given(ui, name, given) or _ask_one(ui, name, defaults[name])
    ui.say()
    return answers
