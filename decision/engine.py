"""Answers in, deployment decision out: the pure core of the template.

Everything here is data-driven by ``table.yaml`` beside this file. No I/O besides reading
that file once, no cookiecutter imports: hooks, Jinja filters, the questionnaire, the docs
and the tests all call these functions directly.
"""

from __future__ import annotations

import difflib
import itertools
import re
from dataclasses import asdict, dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

# libyaml's parser when PyYAML has it: ten times faster, and this runs on every bake.
SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
TABLE_PATH = Path(__file__).with_name("table.yaml")
AUTO = "auto"


@cache
def table() -> dict[str, Any]:
    """The decision table and answer contract, parsed once."""
    with TABLE_PATH.open(encoding="utf-8") as stream:
        return yaml.load(stream, Loader=SafeLoader)


def choices(name: str) -> list[str]:
    """Allowed values of a choice answer, in display order."""
    return [str(value) for value in table()["answers"][name]["choices"]]


def default(name: str) -> str:
    """The default of an answer: its `default`, else its first choice."""
    spec = table()["answers"][name]
    return str(spec["default"]) if "default" in spec else choices(name)[0]


def matches(when: dict[str, Any], values: dict[str, Any]) -> bool:
    """Whether every condition of `when` holds for `values`: the one meaning of a `when:`
    (decision rules, unsupported combinations, installs, the file manifest, follow-ups).

    A condition's value is one accepted value or a list of them, or `{not: ...}` (one value
    or a list) for every value but those, compared as strings; a name missing from `values`
    fails its condition.
    """
    for name, wanted in when.items():
        if name not in values:
            return False
        excluded = isinstance(wanted, dict)
        listed = wanted["not"] if excluded else wanted
        listed = listed if isinstance(listed, list) else [listed]
        if (str(values[name]) in [str(v) for v in listed]) != (not excluded):
            return False
    return True


@dataclass(frozen=True)
class CriterionResult:
    name: str
    answer: str
    expected: list[str] | str  # accepted values, or "any"
    verdict: str  # match | any | near | miss
    points: float


@dataclass(frozen=True)
class RowScore:
    index: int  # 1-based position in the source table
    strategy: str
    score: float
    criteria: list[CriterionResult]

    @property
    def matched(self) -> list[str]:
        return [c.name for c in self.criteria if c.verdict in ("match", "any")]

    @property
    def unmatched(self) -> list[str]:
        return [c.name for c in self.criteria if c.verdict in ("near", "miss")]


@dataclass
class Decision:
    strategy: str
    source: str  # table | rule | explicit
    row: int  # 1-based row of the resolved strategy
    scores: dict[str, float]
    matched: list[str]
    unmatched: list[str]
    runner_up: str
    margin: float
    reasons: list[str]
    report_card: dict[str, str] | None
    batch_tier: dict[str, Any] | None
    warnings: list[str] = field(default_factory=list)
    revisit: list[str] = field(default_factory=list)

    def to_record(self) -> dict[str, Any]:
        """The JSON-friendly record stored as `_decision` in the generated project."""
        return asdict(self)


def _cell_verdict(name: str, answer: str, cell: list[str] | str) -> tuple[str, float]:
    points = table()["scoring"]
    if cell == "any":
        return "any", points["any"]
    accepted = [str(v) for v in cell]
    if answer in accepted:
        return "match", points["match"]
    spec = table()["answers"][name]
    if spec.get("ordinal"):
        order = choices(name)
        distance = min(abs(order.index(answer) - order.index(v)) for v in accepted)
        if distance == 1:
            return "near", points["near"]
    return "miss", points["miss"]


def score_rows(answers: dict[str, str]) -> list[RowScore]:
    """Score every row of the table against the decision inputs."""
    scored = []
    for index, row in enumerate(table()["rows"], start=1):
        results = []
        for name in table()["criteria"]:
            cell = row["cells"][name]
            verdict, points = _cell_verdict(name, answers[name], cell)
            expected = cell if cell == "any" else [str(v) for v in cell]
            results.append(CriterionResult(name, answers[name], expected, verdict, points))
        if not any(r.verdict == "match" for r in results):
            # A row that fits none of its specific cells fits nothing: its `any` cells earn
            # nothing, or a mostly-`any` row (precompute) would win whenever nothing fits.
            results = [replace(r, points=0.0) if r.verdict == "any" else r for r in results]
        scored.append(RowScore(index, row["strategy"], sum(r.points for r in results), results))
    return scored


def _rank(scored: list[RowScore]) -> list[RowScore]:
    """Best first; equal scores go to the simpler strategy."""
    simplicity = table()["simplicity"]
    return sorted(scored, key=lambda r: (-r.score, simplicity.index(r.strategy)))


def _batch_tier(volume: str) -> dict[str, Any]:
    return table()["batch_tiers"][table()["volume_tiers"][volume]]


def _describe(result: CriterionResult) -> str:
    expected = "any" if result.expected == "any" else " or ".join(result.expected)
    return f"{result.name}={result.answer} (row expects {expected})"


def _table_choice(answers: dict[str, str], ranked: list[RowScore]) -> tuple[str, str, list[str]]:
    for rule in table()["rules"]:
        if matches(rule["when"], answers):
            condition = ", ".join(f"{k}={v}" for k, v in rule["when"].items())
            return rule["strategy"], "rule", [f"{condition}: {rule['reason']}"]
    best = ranked[0]
    reasons = [f"row {best.index} ({best.strategy}) fits best with {best.score:g} points"]
    return best.strategy, "table", reasons


def _contradictions(row: RowScore) -> list[str]:
    return [_describe(c) for c in row.criteria if c.verdict in ("near", "miss")]


def _inputs(answers: dict[str, Any]) -> dict[str, str]:
    return {name: str(answers[name]) for name in table()["criteria"]}


def decide(answers: dict[str, Any], *, revisit: bool = True) -> Decision:
    """Resolve the deployment strategy for valid answers (see `validation_errors`)."""
    inputs = _inputs(answers)
    ranked = _rank(score_rows(inputs))
    by_strategy = {r.strategy: r for r in ranked}
    table_strategy, source, reasons = _table_choice(inputs, ranked)

    requested = str(answers.get("deployment_strategy", AUTO))
    warnings: list[str] = []
    strategy = table_strategy
    if requested != AUTO:
        strategy, source = requested, "explicit"
        reasons = [f"deployment_strategy={requested} was chosen explicitly"]
        if requested != table_strategy:
            warnings.append(
                f"deployment_strategy={requested} overrides the table's choice ({table_strategy})"
            )
            warnings += [
                f"deployment_strategy={requested} contradicts {text}"
                for text in _contradictions(by_strategy[requested])
            ]

    warnings += answer_warnings(strategy, answers)
    chosen = by_strategy[strategy]
    others = [r for r in ranked if r.strategy != strategy]
    runner_up = others[0]
    warnings += _waiting_caller_warnings(strategy, answers, others)
    reasons += [f"matches {_describe(c)}" for c in chosen.criteria if c.verdict == "match"]
    reasons += [f"misses {_describe(c)}" for c in chosen.criteria if c.verdict in ("near", "miss")]
    margin = chosen.score - runner_up.score
    if margin >= 0:
        reasons.append(
            f"runner-up: {runner_up.strategy} (row {runner_up.index}) with {runner_up.score:g} "
            f"points, {margin:g} behind"
        )
    else:
        reasons.append(
            f"the table prefers {runner_up.strategy} (row {runner_up.index}): "
            f"{runner_up.score:g} points, {-margin:g} more"
        )
    return Decision(
        strategy=strategy,
        source=source,
        row=chosen.index,
        scores={r.strategy: r.score for r in sorted(ranked, key=lambda r: r.index)},
        matched=chosen.matched,
        unmatched=chosen.unmatched,
        runner_up=runner_up.strategy,
        margin=round(margin, 6),
        reasons=reasons,
        report_card=table()["report_cards"].get(strategy),
        batch_tier=_batch_tier(inputs["data_volume"])
        if strategy in ("batch", "precompute")
        else None,
        warnings=warnings,
        revisit=_revisit(inputs, table_strategy) if revisit else [],
    )


def answer_warnings(strategy: str, answers: dict[str, Any]) -> list[str]:
    """Answers that contradict each other or the strategy's measured figures, one line each.

    Answers missing from `answers` are not checked. A latency target with realtime_sla=no
    is checked only when it differs from the default: it is not asked then.
    """
    warnings = []
    latency = int(answers["latency_sla_ms"]) if "latency_sla_ms" in answers else None
    realtime = str(answers.get("realtime_sla", ""))
    below = table()["realtime_below_ms"]
    if latency is not None and latency < below:
        asked = realtime == "maybe" or (
            realtime == "no" and str(latency) != default("latency_sla_ms")
        )
        if asked:
            warnings.append(
                f"realtime_sla={realtime} contradicts latency_sla_ms={latency}: a target under"
                f" {below} ms means the caller waits (realtime_sla=yes)"
            )
    figures = table()["figures"].get(strategy, {})
    doc = f"docs/strategies/{strategy}.md"
    packaging = str(answers.get("lambda_packaging", ""))
    cold = figures.get("cold_start_ms", {}).get(packaging)
    if latency is not None and cold is not None and latency < cold:
        warnings.append(
            f"latency_sla_ms={latency} is below {strategy}'s measured cold start ({cold:g} ms"
            f" with lambda_packaging={packaging}, {doc}): cold invocations miss it"
        )
    elif latency is not None and "p99_ms" in figures and latency < figures["p99_ms"]:
        warnings.append(
            f"latency_sla_ms={latency} is below {strategy}'s measured p99"
            f" ({figures['p99_ms']:g} ms, {doc})"
        )
    rate = int(answers["peak_rps"]) if "peak_rps" in answers else None
    if rate is not None and "per_second" in figures and rate > figures["per_second"]:
        warnings.append(
            f"peak_rps={rate} is beyond {strategy}'s measured {figures['per_second']:g} per second"
            f" ({figures['measured']}, {doc}): plan more replicas"
        )
    if strategy == "serverless" and str(answers.get("stateful")) == "yes":
        warnings.append(
            "serverless with stateful=yes: the function keeps nothing between invocations, so"
            " every call reads the entity's state from DynamoDB over the network"
        )
    return warnings


def _waiting_caller_warnings(
    strategy: str, answers: dict[str, Any], others: list[RowScore]
) -> list[str]:
    """A caller that waits for its answer (realtime_sla=yes) and a strategy that answers
    asynchronously: the latency target cannot be met by design. Names the best-scoring
    strategy that answers the request itself (`others`: best first). Not checked without a
    latency target in `answers`."""
    asynchronous = table()["asynchronous"]
    if (
        strategy not in asynchronous
        or str(answers.get("realtime_sla")) != "yes"
        or "latency_sla_ms" not in answers
    ):
        return []
    latency = answers["latency_sla_ms"]
    warning = (
        f"realtime_sla=yes: the caller waits for each answer (latency_sla_ms={latency}), but"
        f" {strategy} answers asynchronously: {asynchronous[strategy]}"
    )
    answering = [row for row in others if row.strategy not in asynchronous]
    if answering:
        best = answering[0]
        place = (
            "the runner-up" if best is others[0] else f"below the runner-up {others[0].strategy}"
        )
        warning += (
            f"; {best.strategy} ({place}, {best.score:g} points) answers while the caller waits"
        )
    return [warning]


def _revisit(inputs: dict[str, str], strategy: str) -> list[str]:
    """Single-answer changes that would make the table choose another strategy."""
    changes = []
    for name in table()["criteria"]:
        for value in choices(name):
            if value == inputs[name]:
                continue
            changed = decide({**inputs, name: value}, revisit=False).strategy
            if changed != strategy:
                changes.append(f"{name}: {inputs[name]} -> {value} would choose {changed}")
    return changes


# --- The summary every run prints ---------------------------------------------------------


def _scored(result: CriterionResult) -> str:
    answer = f"{result.name}={result.answer}"
    if result.verdict == "match":
        return f"{answer} ({result.points:g})"
    if result.verdict == "any":
        return f"{answer} (any value, {result.points:g})"
    expected = " or ".join(result.expected)
    verdict = "near" if result.verdict == "near" else "expects"
    return f"{answer} ({verdict} {expected}, {result.points:g})"


def summary(answers: dict[str, Any]) -> list[str]:
    """The decision in a few lines: strategy and how it was chosen, the chosen row's score
    with every criterion's points, the runner-up and margin, one `warning:` line each."""
    decision = decide(answers, revisit=False)
    row = next(r for r in score_rows(_inputs(answers)) if r.strategy == decision.strategy)
    most = len(table()["criteria"]) * table()["scoring"]["match"]
    if decision.source == "rule":
        rule = next(r for r in table()["rules"] if matches(r["when"], answers))
        how = "by the rule " + ", ".join(f"{k}={v}" for k, v in rule["when"].items())
    elif decision.source == "explicit":
        how = f"requested with deployment_strategy={decision.strategy}"
    else:
        how = "the decision table's best fit"
    matched = [_scored(c) for c in row.criteria if c.verdict in ("match", "any")]
    unmatched = [_scored(c) for c in row.criteria if c.verdict in ("near", "miss")]
    runner_up = decision.scores[decision.runner_up]
    if decision.margin >= 0:
        behind = f"{decision.margin:g} behind"
    elif decision.source == "rule":
        behind = f"{-decision.margin:g} more, but the rule decides"
    else:
        behind = f"{-decision.margin:g} more: the table prefers it"
    lines = [
        f"deployment: {decision.strategy}, {how}"
        f" (row {row.index}: {row.score:g} of {most:g} points)",
        "  matched: " + (", ".join(matched) or "none"),
        "  unmatched: " + (", ".join(unmatched) or "none"),
        f"  runner-up: {decision.runner_up}, {runner_up:g} points ({behind})",
    ]
    return lines + [f"warning: {warning}" for warning in decision.warnings]


# --- Validation of the answer contract ------------------------------------------------

_SLUG = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_OWNER = re.compile(r"^@[A-Za-z0-9][A-Za-z0-9_.-]*(/[A-Za-z0-9][A-Za-z0-9_.-]*)?$")
# The five fields of a schedule and the values each takes where the schedule goes: a
# Kubernetes CronJob, GitHub Actions and GitLab CI accept these (Sunday is 0; names such as
# MON and 7 for Sunday are not accepted everywhere, so nowhere).
CRON_FIELDS = (
    ("minute", 0, 59),
    ("hour", 0, 23),
    ("day of month", 1, 31),
    ("month", 1, 12),
    ("day of week", 0, 6),
)
# One item of a field's list: `*`, a number or a range, optionally with a step after `*` or
# a range (`5/15` means different things to different crons).
_CRON_ITEM = re.compile(r"^(?:(\d+)|(?:\*|(\d+)-(\d+))(?:/(\d+))?)$")
_CRON_SYNTAX = "a number, a range a-b, *, a step */n or a-b/n, or a comma-separated list of those"
_ORDINALS = ("first", "second", "third", "fourth", "fifth")
_URL = re.compile(r"^https?://[^\s'\"]+$")
# A registry (host[:port]) and an optional path, as the OCI distribution reference grammar
# reads the part of an image name before the repository (`docker.io/library` in
# `docker.io/library/python:3.11`). The host must look like one (a dot, a port or
# localhost): `acme/python` would silently mean Docker Hub's `acme`.
_REGISTRY_HOST = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_REGISTRY_PATH = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_REGISTRY = re.compile(
    rf"^(?:{_REGISTRY_HOST}(?:\.{_REGISTRY_HOST})*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?"
    rf"(?:/{_REGISTRY_PATH})*$"
)
_IMAGE_NAME_MAX = 255  # the reference grammar's limit on a whole image name
_LOOPBACK_HOSTS = ("localhost", "::1")


def _check(kind: str, value: str, spec: dict[str, Any]) -> str | None:
    """What is allowed, if `value` is not; None when it is fine."""
    if kind == "choice":
        allowed = [str(v) for v in spec["choices"]]
        if value in allowed:
            return None
        close = difflib.get_close_matches(value, allowed, n=1, cutoff=0.6)
        hint = f" (did you mean {close[0]}?)" if close else ""
        return "one of " + ", ".join(allowed) + hint
    if kind == "slug":
        longest = spec["max_length"]
        if not value:
            return (
                "a slug, not nothing: lower-case letters, digits and single hyphens,"
                f" at most {longest} characters"
            )
        if not _SLUG.match(value):
            return (
                "lower-case letters, digits and single hyphens, starting with a letter"
                " (no spaces, quotes, capitals or other characters)"
            )
        if len(value) > longest:
            return f"at most {longest} characters, not {len(value)} (give a shorter project_slug)"
        return None
    if kind == "positive_int":
        return None if value.isdigit() and int(value) > 0 else "a positive whole number"
    if kind == "email":
        return None if _EMAIL.match(value) else "an email address like team@example.com"
    if kind == "owners":
        ok = value.split() and all(_OWNER.match(o) for o in value.split())
        return None if ok else "space-separated @user or @org/team handles"
    if kind == "cron":
        return _cron_problem(value)
    if kind == "url":
        return _url_problem(value)
    if kind == "image_registry":
        return _registry_problem(value)
    if kind == "text":
        return None if value.strip() and "\n" not in value else "non-empty single-line text"
    if kind == "optional_text":
        return None if "\n" not in value else "single-line text (or nothing)"
    raise ValueError(f"unknown answer kind {kind!r}")


def _cron_problem(value: str) -> str | None:
    """What a schedule must be, naming the first field that is not, or None."""
    fields = value.split()
    if len(fields) != len(CRON_FIELDS):
        return (
            "five cron fields such as '0 2 * * *' (minute, hour, day of month, month, day of week)"
        )
    for position, text, (unit, low, high) in zip(_ORDINALS, fields, CRON_FIELDS, strict=True):
        where = f"in the {position} field ({unit})"
        for item in text.split(","):
            found = _CRON_ITEM.match(item)
            if not found:
                return f"{_CRON_SYNTAX} {where}, not {item!r}"
            single, first, last, step = found.groups()
            numbers = [int(n) for n in (single, first, last) if n is not None]
            outside = [n for n in numbers if not low <= n <= high]
            if outside:
                return f"{unit} values from {low} to {high} {where}, not {outside[0]}"
            if first is not None and int(first) > int(last):
                return f"a range from low to high {where}, not {item!r}"
            if step is not None and not 1 <= int(step) <= high:
                return f"a step from 1 to {high} {where}, not {item!r}"
    return None


def _url_problem(value: str) -> str | None:
    """An https URL, or plain http to this machine only (packages fetched in clear text can be
    swapped on the way)."""
    try:
        parts = urlsplit(value)
        host = parts.hostname or ""
    except ValueError:  # a malformed [IPv6] host
        host = ""
    if not _URL.match(value) or not host:
        return "an https:// URL such as https://pypi.org/simple"
    loopback = host in _LOOPBACK_HOSTS or re.fullmatch(r"127(\.\d{1,3}){3}", host)
    if parts.scheme == "http" and not loopback:
        return (
            "an https:// URL: plain http only to a loopback host (localhost, 127.0.0.1, [::1]),"
            f" not {host}"
        )
    return None


def _registry_problem(value: str) -> str | None:
    """An image registry host with an optional port and path, or what it must be."""
    host = value.split("/", 1)[0]
    looks_like_host = "." in host or ":" in host or host == "localhost"
    if not _REGISTRY.match(value) or not looks_like_host:
        return (
            "a registry host[:port] and an optional lower-case path, such as docker.io/library or"
            " registry.acme.example:5000/mirror (no spaces, tags or schemes)"
        )
    if len(f"{value}/python") > _IMAGE_NAME_MAX:
        return f"at most {_IMAGE_NAME_MAX - len('/python')} characters, not {len(value)}"
    return None


def default_slug(project_name: str) -> str:
    """The project_slug a project name gives: slugified as cookiecutter's `slugify` filter
    does (lower case, words joined by hyphens) from its first word that starts with a letter,
    then cut after the last whole word that fits in the slug's length limit
    (`telecom-churn-nightly` would be one character too long: `telecom-churn`); a first word
    longer than the limit is cut at the limit."""
    from slugify import slugify  # python-slugify, a dependency of cookiecutter

    longest = table()["answers"]["project_slug"]["max_length"]
    words = slugify(project_name).split("-")
    words = list(itertools.dropwhile(lambda word: not word[:1].isalpha(), words)) or [""]
    slug = words[0][:longest].rstrip("-")
    for word in words[1:]:
        if len(slug) + 1 + len(word) > longest:
            break
        slug = f"{slug}-{word}"
    return slug


def check_answer(name: str, value: Any) -> str | None:
    """One-line error for a bad answer, or None when the answer is allowed."""
    spec = table()["answers"][name]
    allowed = _check(spec["kind"], str(value), spec)
    if allowed is None:
        return None
    return f"{name}={str(value)!r} is not allowed: use {allowed}"


def generation_error(strategy: str, answers: dict[str, Any] | None = None) -> str | None:
    """Why the decided strategy cannot be generated with these answers, or None."""
    generated = table()["generated"]
    if strategy not in generated:
        return (
            f"deployment_strategy resolved to {strategy!r}, which this template does not "
            f"generate yet: it generates {', '.join(generated)} (set deployment_strategy to "
            "one of them)"
        )
    values = {**(answers or {}), "strategy": strategy}
    for rule in table()["unsupported"]:
        if matches(rule["when"], values):
            given = ", ".join(f"{k}={values[k]}" for k in rule["when"])
            return f"{given} is not supported: {rule['why']}; use {rule['allowed']}"
    return None


def unknown_name_error(name: str) -> str | None:
    """One-line error for a name given on the command line that is no answer, or None.

    Names starting with `_` are cookiecutter's and the template's private variables.
    """
    public = list(table()["answers"])
    if name.startswith("_") or name in public:
        return None
    close = difflib.get_close_matches(name, public, n=1, cutoff=0.6)
    hint = f"did you mean {close[0]}?" if close else "the answers are " + ", ".join(public)
    return f"{name} is not an answer of this template: {hint}"


def validation_errors(answers: dict[str, Any]) -> list[str]:
    """Every problem with the answers, one line each; empty when all is well."""
    errors = [
        error
        for name in table()["answers"]
        if name in answers and (error := check_answer(name, answers[name])) is not None
    ]
    missing = [name for name in table()["answers"] if name not in answers]
    errors += [f"{name} is missing: every public answer must be given" for name in missing]
    return errors


def all_decision_inputs() -> list[dict[str, str]]:
    """Every combination of the decision inputs (for property tests and docs)."""
    names = table()["criteria"]
    combos = itertools.product(*(choices(n) for n in names))
    return [dict(zip(names, combo, strict=True)) for combo in combos]
