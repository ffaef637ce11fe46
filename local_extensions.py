"""Jinja filters the template renders with (cookiecutter puts this repo on sys.path).

They are thin adapters: the decision lives in decision/engine.py, the files a project keeps
in hooks/manifest.py (reading the manifests) and the dependency pins in pins.yaml.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import sys
from functools import cache
from pathlib import Path, PurePosixPath
from typing import Any

import yaml
from jinja2 import TemplateSyntaxError
from jinja2.ext import Extension

from decision import engine
from hooks import manifest
from hooks.cookiecutter_internals import Refusal
from hooks.invocation import discard_template_copy
from hooks.questionnaire import training_table_problem

ROOT = Path(__file__).resolve().parent


@cache
def _yaml(name: str) -> Any:
    return yaml.load((ROOT / name).read_text(encoding="utf-8"), Loader=engine.SafeLoader)


def _public_answers(context: dict[str, Any]) -> dict[str, Any]:
    return {name: context[name] for name in engine.table()["answers"] if name in context}


class InvalidAnswers(Refusal):
    """Bad answers. Raised while the context is rendered, before any file is written, it
    stops generation without a traceback and without leftovers (a failing pre_gen hook
    would leave a logged traceback behind)."""


def decide(context: dict[str, Any]) -> str:
    """The decision for the answers so far, as JSON; refuses invalid answers."""
    answers = _public_answers(context)
    errors = engine.validation_errors(answers)
    if not errors:
        decision = engine.decide(answers)
        error = engine.generation_error(decision.strategy, answers)
        errors = [error] if error else []
    if errors:
        discard_template_copy(ROOT)
        raise InvalidAnswers("\n".join(f"error: {error}" for error in errors))
    return json.dumps(decision.to_record())


def _contract_inference() -> Any:
    """The generated project's own `contract_inference` module (plain Python, no Jinja): the
    bake infers the contract exactly as the project's `make schema` does."""
    import importlib.util

    package = ROOT / "{{cookiecutter.project_slug}}" / "src" / "{{cookiecutter.__package_name}}"
    path = package / "contract_inference.py"
    spec = importlib.util.spec_from_file_location("contract_inference", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def training_data_path(context: dict[str, Any]) -> str:
    """The `training_data` answer as an absolute path ("" for the sample data): relative to
    the directory cookiecutter was started in, and usable from the project wherever it is."""
    text = str(context.get("training_data", "")).strip()
    return str(Path(text).expanduser().resolve()) if text else ""


def basename(path: str) -> str:
    return Path(path).name


def dirname(path: str) -> str:
    return str(Path(path).parent)


def feature_contract(context: dict[str, Any]) -> str:
    """features.yaml inferred from `training_data` and `target` ("" for the sample data's);
    refuses, before anything is written, a file or a column that cannot give one."""
    path, target = context["__training_data"], str(context.get("target", "")).strip()
    if not path and not target:
        return ""
    inference = _contract_inference()
    model_type = context["model_type"]
    try:
        if not path or not target:
            raise inference.InferenceError(
                "give both training_data and target, or neither for the sample data"
            )
        problem = training_table_problem(Path(path))
        if problem:
            raise inference.InferenceError(problem)
        contract, notes = inference.infer(Path(path), target, model_type)
    except inference.InferenceError as error:
        hint = _regression_hint(inference, Path(path), target, model_type, str(error))
        discard_template_copy(ROOT)
        raise InvalidAnswers(f"error: training_data: {error}{hint}") from None
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    return str(inference.dump(contract))


def python_string(text: str) -> str:
    """A Python string literal holding `text`, quoted as `ruff format` quotes it: double
    quotes unless single quotes need fewer escapes (answers such as project_name may hold
    quotes and backslashes)."""
    quote = "'" if text.count('"') > text.count("'") else '"'
    escaped = text.replace("\\", "\\\\").replace(quote, "\\" + quote)
    return f"{quote}{escaped}{quote}"


def _regression_hint(inference: Any, path: Path, target: str, model_type: str, error: str) -> str:
    """`; ...give model_type=regression` when a classification is refused for its classes
    and the target holds numbers with more distinct values than a category may have (a
    price, an amount: regression was meant). Profiles the table once more, on failure only."""
    if model_type == "regression" or "classes" not in error:
        return ""
    try:
        seen = inference.profile(path).get(target)
    except inference.InferenceError:
        return ""
    many = seen is not None and (seen.overflowed or len(seen.distinct) > inference.MAX_LEVELS)
    if not (many and seen.numbers):
        return ""
    return (
        f"; its values are numbers with more than {inference.MAX_LEVELS} distinct values:"
        " give model_type=regression to predict the number"
    )


def from_yaml(text: str) -> Any:
    return yaml.safe_load(text)


def from_json(text: str) -> Any:
    return json.loads(text)


def answers_record(context: dict[str, Any]) -> str:
    """`.cookiecutter.json` of a generated project: public answers, template, decision."""
    record = {name: str(value) for name, value in _public_answers(context).items()}
    if "__training_data" in context:
        record["training_data"] = context["__training_data"]
    if "_template" in context:
        record["_template"] = template_location(context)
    record["_decision"] = json.loads(context["__decision"])
    return json.dumps(record, indent=2, ensure_ascii=False)


def working_directory(_: object) -> str:
    """The directory cookiecutter was started in: its working directory while it renders the
    answers (hooks/pre_prompt.py adds `__caller_directory` for this; the files render later,
    inside the template copy)."""
    return os.getcwd()


def template_location(context: dict[str, Any]) -> str:
    """Where the project came from, usable from the project: a local template's absolute
    path, anything else (a URL, `gh:org/repo`) as given."""
    template = str(context.get("_template", ""))
    caller = context.get("__caller_directory")
    local = Path(str(caller or "."), template).expanduser()
    if template and caller and local.is_dir():
        return str(local.resolve())
    return template


def cookiecutter_requirement(_: object) -> str:
    """The cookiecutter this template is tested with (its pyproject), as `cookiecutter==X`."""
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    found = re.search(r'"(cookiecutter==[^"]+)"', text)
    assert found, "pyproject.toml pins cookiecutter"
    return found.group(1)


def _pin_name(line: str) -> str:
    return re.split(r"[=<>!~; \[]", line, maxsplit=1)[0].lower().replace("_", "-")


def pins(blocks: list[str]) -> list[str]:
    """Exact pins for the union of `blocks`, one line per package (markers merged)."""
    resolved = _yaml("pins.yaml")["resolved"]
    by_name: dict[str, list[str]] = {}
    for block in blocks:
        for line in resolved[block]:
            by_name.setdefault(_pin_name(line), []).append(line)
    merged = []
    for lines in by_name.values():
        requirement = lines[0].split(";")[0].strip()
        markers = [line.split(";", 1)[1].strip() for line in lines if ";" in line]
        if len(markers) < len(lines) or len(set(markers)) == 1:
            # Some block needs it everywhere, or every block needs it under one marker.
            merged.append(lines[0] if len(markers) == len(lines) else requirement)
        else:
            merged.append(f"{requirement} ; " + " or ".join(f"({m})" for m in sorted(set(markers))))
    return sorted(merged, key=str.lower)


def _marker(line: str) -> str | None:
    return line.split(";", 1)[1].strip() if ";" in line else None


def pins_except(blocks: list[str], installed_by: list[str]) -> list[str]:
    """Pins of `blocks` that `installed_by` does not already bring in: a package it installs
    only on some platforms (`tzdata ; sys_platform == 'win32'`) stays where `blocks` needs it
    on others."""
    already = {_pin_name(line): _marker(line) for line in pins(installed_by)}
    return [
        line
        for line in pins(blocks)
        if _pin_name(line) not in already or already[_pin_name(line)] not in (None, _marker(line))
    ]


def batch_engine(context: dict[str, Any]) -> str:
    """The batch engine: the answer, or by the volume's workload tier when it is auto."""
    if context["batch_engine"] != "auto":
        return context["batch_engine"]
    tier = engine.table()["volume_tiers"][context["data_volume"]]
    return "pandas" if engine.table()["batch_tiers"][tier]["engine"] == "pandas" else "dask"


def install_blocks(context: dict[str, Any], section: str) -> list[str]:
    """pins.yaml blocks a project installs in one pyproject section (runtime, train, ...)."""
    values = _resolved(context)
    blocks = []
    for entry in _yaml("pins.yaml")["installs"][section]:
        rule = entry if isinstance(entry, dict) else {"block": entry, "when": {}}
        if engine.matches(rule["when"], values):
            blocks.append(rule["block"].format(**values))
    return blocks


def tool_version(name: str) -> str:
    """Exact version of a build or CI tool (pins.yaml `tools`)."""
    return str(_yaml("pins.yaml")["tools"][name])


def image(python_version: str) -> str:
    """Exact python base image tag for a Python version."""
    return _yaml("pins.yaml")["images"]["python"][python_version]


def lambda_image(runtime: str) -> str:
    """Exact public.ecr.aws/lambda/python tag for a Lambda Python runtime."""
    return str(_yaml("pins.yaml")["images"]["lambda_python"][runtime])


def service_image(name: str) -> str:
    """A service or job container (`postgres`, `redis`, ...) as repository:tag."""
    return str(_yaml("pins.yaml")["images"]["services"][name])


def action(name: str) -> str:
    """A GitHub Action as `uses:` takes it: pinned to its commit, its tag as a comment."""
    pin = _yaml("pins.yaml")["actions"][name]
    return f"{name}@{pin['commit']} # {pin['tag']}"


def debian_package(name: str) -> str:
    """A Debian package pinned for apt-get (pins.yaml `debian_packages`): `name=version`."""
    return f"{name}={_yaml('pins.yaml')['debian_packages'][name]}"


def _resolved(context: dict[str, Any]) -> dict[str, Any]:
    """What `when` conditions read: the answers, with the resolved strategy and engine."""
    return {**context, "strategy": context["__strategy"], "batch_engine": context["__batch_engine"]}


def manifests() -> dict[str, Any]:
    """Every manifest by owner: hooks/manifest.yaml, and each strategy's own."""
    found = {manifest.SHARED: _yaml("hooks/manifest.yaml")}
    for strategy in engine.table()["generated"]:
        found[strategy] = _yaml(f"templates/strategies/{strategy}/manifest.yaml")
    return found


def file_plan(context: dict[str, Any]) -> manifest.FilePlan:
    """The paths the chosen strategy and options do not keep, and the variants they take."""
    return manifest.plan(_resolved(context), context["__package_name"], manifests())


def keeps(context: dict[str, Any], path: str) -> bool:
    """Whether the project keeps `path` (`{package}` standing for the package), by the
    manifests' rules: a shared file asks this rather than restating which strategies and
    options have the file."""
    wanted = PurePosixPath(path.format(package=context["__package_name"]))
    removed = {PurePosixPath(gone) for gone in file_plan(context).remove}
    return wanted not in removed and removed.isdisjoint(wanted.parents)


def hook_data(context: dict[str, Any]) -> str:
    """What the generation hooks need, as JSON: the strategy, the paths to remove, the
    variants to move into place and the decision summary (engine.summary). The hooks read it
    from a raw triple-quoted string, which holds any JSON text, so they stay plain Python
    that ruff checks."""
    plan = file_plan(context)
    return json.dumps(
        {
            "strategy": context["__strategy"],
            "remove": plan.remove,
            "moves": plan.moves,
            "summary": engine.summary(_public_answers(context)),
        }
    )


class DeployExtension(Extension):
    """Registers the filters above, and keeps odd answers from crashing the render."""

    def preprocess(self, source: str, name: str | None, filename: str | None = None) -> str:
        """Render an answer that is not valid Jinja (a project name with `{{`) literally.

        cookiecutter renders every answer as a template, so `project_name="a {{ b"` would stop
        generation with a raw TemplateSyntaxError. Only one-line sources are answers: template
        files have newlines and stay strict (the tests check no `{{` is left in any output).
        """
        if "\n" in source or "{" not in source or "endraw" in source or self._checking:
            return source
        self._checking = True  # parsing runs preprocess again
        try:
            self.environment.parse(source)
        except TemplateSyntaxError:
            return "{% raw %}" + source + "{% endraw %}"
        finally:
            self._checking = False
        return source

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)
        self._checking = False
        environment.filters.update(
            decide=decide,
            default_slug=engine.default_slug,
            training_data_path=training_data_path,
            basename=basename,
            dirname=dirname,
            shell_quote=shlex.quote,
            python_string=python_string,
            feature_contract=feature_contract,
            from_yaml=from_yaml,
            from_json=from_json,
            answers_record=answers_record,
            working_directory=working_directory,
            template_location=template_location,
            cookiecutter_requirement=cookiecutter_requirement,
            pins=pins,
            batch_engine=batch_engine,
            install_blocks=install_blocks,
            tool_version=tool_version,
            pins_except=pins_except,
            image=image,
            lambda_image=lambda_image,
            service_image=service_image,
            action=action,
            debian_package=debian_package,
            hook_data=hook_data,
            keeps=keeps,
        )
