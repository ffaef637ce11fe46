"""The documentation's tables, rendered from the data the template itself runs on.

The decision table, report cards, batch tiers, considerations and answer reference come from
`decision/table.yaml` (through `decision/engine.py`), the per-strategy file lists from
`hooks/manifest.yaml` and the per-strategy packages from `pins.yaml`. A page asks for a table
with a pair of markers; what sits between them is generated:

    <!-- generated: decision-table -->
    ...
    <!-- /generated -->

Three ways to use it:

- as a MkDocs hook (`hooks:` in mkdocs.yml): every page's blocks are re-rendered while the
  site builds, so the site always shows the data as it is;
- `python tools/docs_tables.py`: rewrite the blocks in docs/*.md (commit the result);
- `python tools/docs_tables.py --check`: exit 1 if a committed block differs from the data
  (tests/test_docs.py does the same).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
if str(ROOT) not in sys.path:  # MkDocs loads this file by path
    sys.path.insert(0, str(ROOT))

from decision import engine  # noqa: E402

BLOCK = re.compile(
    r"(?P<open><!-- generated: (?P<name>[a-z-]+)(?: (?P<arg>[a-z_-]+))? -->\n)"
    r"(?P<body>.*?)"
    r"(?P<close><!-- /generated -->)",
    re.DOTALL,
)
CARD_COLUMNS = {
    "scalability": "scalability",
    "speed": "speed",
    "ease_of_deployment": "ease of deployment",
    "mlops_pipeline": "MLOps pipeline",
}


def _yaml(name: str) -> Any:
    return yaml.safe_load((ROOT / name).read_text(encoding="utf-8"))


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _code(values: list[str]) -> str:
    return ", ".join(f"`{value}`" for value in values)


def considerations() -> str:
    rows = [
        [str(number), c["title"], _code(c["answers"]), c["changes"]]
        for number, c in enumerate(engine.table()["considerations"], start=1)
    ]
    return _table(["#", "consideration", "answers", "what it changes"], rows)


def decision_table() -> str:
    data = engine.table()
    criteria = data["criteria"]
    rows = []
    for number, row in enumerate(data["rows"], start=1):
        cells = []
        for name in criteria:
            cell = row["cells"][name]
            text = "any" if cell == "any" else _code([str(v) for v in cell])
            if name in row.get("inferred", []):
                text += " (inferred: the source leaves it blank)"
            cells.append(text)
        rows.append([str(number), *cells, f"`{row['strategy']}`: {row['title']}"])
    return _table(["row", *[f"`{name}`" for name in criteria], "strategy"], rows)


def scoring() -> str:
    data = engine.table()
    points = data["scoring"]
    lines = [
        f"- a cell that lists the answer: {points['match']:g} point",
        f"- an `any` cell: {points['any']:g} point (0 when the row matches none of its"
        " specific cells)",
        f"- an ordinal answer one step from an accepted value: {points['near']:g} point",
        f"- anything else: {points['miss']:g} points",
        "- ties go to the simpler strategy, in this order: " + _code(data["simplicity"]),
    ]
    for rule in data["rules"]:
        condition = ", ".join(f"`{k}={v}`" for k, v in rule["when"].items())
        lines.append(f"- rule: {condition} always gives `{rule['strategy']}` ({rule['reason']})")
    return "\n".join(lines) + "\n"


def report_cards() -> str:
    data = engine.table()
    rows = []
    for strategy, title in data["strategies"].items():
        card = data["report_cards"].get(strategy)
        values = [card[key] for key in CARD_COLUMNS] if card else ["not given"] * 4
        rows.append([f"`{strategy}`: {title}", *values])
    return _table(["strategy", *CARD_COLUMNS.values()], rows)


def batch_tiers() -> str:
    data = engine.table()
    by_tier: dict[int, list[str]] = {}
    for volume, tier in data["volume_tiers"].items():
        by_tier.setdefault(tier, []).append(volume)
    rows = []
    low = 0
    for index, tier in enumerate(data["batch_tiers"]):
        size = f"{low}-{tier['max_gb']} GB" if tier["max_gb"] is not None else f"over {low} GB"
        rows.append([size, tier["engine"], tier["where"], _code(by_tier.get(index, []))])
        low = tier["max_gb"]
    return _table(["data per run", "engine", "where", "`data_volume` answers here"], rows)


def _allowed(name: str, spec: dict[str, Any]) -> str:
    if spec["kind"] == "choice":
        return "<br>".join(f"`{value}`: {label}" for value, label in spec["choices"].items())
    if spec["kind"] == "slug":  # its error names only the rule that failed
        return str(spec["help"])
    # What the one-line error says is allowed (no answer of any kind accepts a line break).
    return str(engine.check_answer(name, "\n")).split(": use ", 1)[1]


def answers() -> str:
    rows = []
    for name, spec in engine.table()["answers"].items():
        if name == "project_slug":
            default = "from `project_name`"
        else:
            default = f"`{engine.default(name)}`" if engine.default(name) else "empty"
        used = spec["question"]
        if "applies_to" in spec:
            used += f" (used by {_code(spec['applies_to'])} only)"
        rows.append([f"`{name}`", _allowed(name, spec), default, used])
    return _table(["answer", "allowed values", "default", "question"], rows)


def decision_inputs() -> str:
    data = engine.table()
    rows = [[f"`{name}`", _code(engine.choices(name))] for name in data["criteria"]]
    rows.append(["`deployment_strategy`", _code(engine.choices("deployment_strategy"))])
    return _table(["answer", "values"], rows)


def generated_strategies() -> str:
    return _code(engine.table()["generated"]) + "\n"


def strategy_files(strategy: str) -> str:
    manifest = _yaml(f"templates/strategies/{strategy}/manifest.yaml")
    lines = [f"- `{path.format(package='<package>')}`" for path in manifest["files"]]
    for rule in manifest.get("options", []):
        condition = ", ".join(f"`{k}={v}`" for k, v in rule["when"].items())
        lines += [f"- `{p.format(package='<package>')}` ({condition})" for p in rule["paths"]]
    for path, choices in manifest.get("variants", {}).items():
        answers = sorted({name for when in choices.values() for name in (when or {})})
        lines.append(
            f"- `{path.format(package='<package>')}` (one file per `{'`/`'.join(answers)}`:"
            f" {', '.join(choices)})"
        )
    return "\n".join(lines) + "\n"


def strategy_packages(strategy: str) -> str:
    """The pins.yaml blocks only projects of `strategy` install, with their requirements."""
    pins = _yaml("pins.yaml")
    requirements = pins["requirements"]
    rows = []
    for section, entries in pins["installs"].items():
        for entry in entries:
            rule = entry if isinstance(entry, dict) else {"block": entry, "when": {}}
            wanted = rule["when"].get("strategy", [])
            if "{strategy}" not in rule["block"] and strategy not in wanted:
                continue
            block = rule["block"].replace("{strategy}", strategy)
            # Another placeholder ({broker}, {batch_engine}) stands for one block per answer.
            placeholder = re.search(r"\{([a-z_]+)\}", block)
            pattern = re.escape(block)
            if placeholder:
                pattern = pattern.replace(re.escape(placeholder[0]), "(?P<value>[a-z-]+)")
            for name in requirements:
                match = re.fullmatch(pattern, name)
                if match is None:
                    continue
                packages = _code(requirements[name]) if requirements[name] else "(none)"
                conditions = [f"`{placeholder[1]}={match['value']}`"] if placeholder else []
                conditions += [
                    f"`{answer}={'/'.join(map(str, value)) if isinstance(value, list) else value}`"
                    for answer, value in rule["when"].items()
                    if answer != "strategy"
                ]
                condition = ", ".join(conditions)
                rows.append([section, f"`{name}`", packages, condition])
    return _table(["pyproject section", "pins.yaml block", "direct requirements", "when"], rows)


RENDERERS: dict[str, Callable[..., str]] = {
    "considerations": considerations,
    "decision-table": decision_table,
    "scoring": scoring,
    "report-cards": report_cards,
    "batch-tiers": batch_tiers,
    "answers": answers,
    "decision-inputs": decision_inputs,
    "generated-strategies": generated_strategies,
    "strategy-files": strategy_files,
    "strategy-packages": strategy_packages,
}


def render_blocks(markdown: str) -> str:
    """`markdown` with every generated block rendered from the data as it is now."""

    def replace(match: re.Match[str]) -> str:
        name, arg = match["name"], match["arg"]
        if name not in RENDERERS:
            raise ValueError(f"unknown generated block {name!r}: use one of {', '.join(RENDERERS)}")
        body = RENDERERS[name](arg) if arg else RENDERERS[name]()
        return f"{match['open']}{body}{match['close']}"

    return BLOCK.sub(replace, markdown)


def pages() -> list[Path]:
    return sorted(DOCS.rglob("*.md"))


def stale_pages() -> list[Path]:
    """Pages whose committed blocks differ from the data."""
    return [
        p
        for p in pages()
        if render_blocks(p.read_text(encoding="utf-8")) != p.read_text(encoding="utf-8")
    ]


def on_page_markdown(markdown: str, **_: Any) -> str:
    """MkDocs hook: the built site always shows the data as it is."""
    return render_blocks(markdown)


def main(argv: list[str]) -> int:
    if argv[1:] == ["--check"]:
        stale = stale_pages()
        for page in stale:
            print(f"{page.relative_to(ROOT)}: stale tables; run python tools/docs_tables.py")
        return 1 if stale else 0
    for page in pages():
        text = page.read_text(encoding="utf-8")
        rendered = render_blocks(text)
        if rendered != text:
            page.write_text(rendered, encoding="utf-8")
            print(f"updated {page.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
