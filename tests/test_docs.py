"""The documentation's tables are the data the template runs on, not a copy that drifts.

Every page's `<!-- generated: ... -->` blocks are rendered again from decision/table.yaml,
hooks/manifest.yaml and pins.yaml (tools/docs_tables.py, also the MkDocs hook) and compared
with what is committed.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from decision import engine

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


def _load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("docs_tables", ROOT / "tools" / "docs_tables.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


docs_tables = _load_generator()
PAGES = sorted(DOCS.rglob("*.md"))


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(DOCS)))
def test_generated_blocks_match_the_data(page: Path) -> None:
    committed = page.read_text(encoding="utf-8")
    assert docs_tables.render_blocks(committed) == committed, (
        f"{page.relative_to(ROOT)} is stale: run python tools/docs_tables.py"
    )


def test_a_changed_table_changes_the_page(monkeypatch: pytest.MonkeyPatch) -> None:
    """The comparison above can fail: edit the data and the rendered block differs."""
    page = (DOCS / "decision-table.md").read_text(encoding="utf-8")
    data = engine.table()
    changed = {**data, "rows": [{**data["rows"][0], "strategy": "rest"}, *data["rows"][1:]]}
    monkeypatch.setattr(engine, "table", lambda: changed)
    assert docs_tables.render_blocks(page) != page


def test_the_reference_pages_hold_the_tables() -> None:
    blocks = {
        match["name"] + (f" {match['arg']}" if match["arg"] else "")
        for page in PAGES
        for match in docs_tables.BLOCK.finditer(page.read_text(encoding="utf-8"))
    }
    expected = {
        "considerations",
        "decision-table",
        "scoring",
        "report-cards",
        "batch-tiers",
        "answers",
        "decision-inputs",
        "generated-strategies",
    }
    expected |= {f"strategy-files {s}" for s in engine.table()["strategies"]}
    expected |= {f"strategy-packages {s}" for s in engine.table()["strategies"]}
    assert expected <= blocks


def test_every_public_answer_is_documented() -> None:
    answers_page = (DOCS / "answers.md").read_text(encoding="utf-8")
    for name in engine.table()["answers"]:
        assert re.search(rf"^\| `{name}` \|", answers_page, re.MULTILINE), name


def test_every_strategy_has_a_page_with_a_diagram() -> None:
    for strategy in engine.table()["strategies"]:
        page = (DOCS / "strategies" / f"{strategy}.md").read_text(encoding="utf-8")
        assert "```mermaid" in page, strategy


def test_the_quickstart_in_the_docs_is_the_readme_quickstart() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    quickstart = readme.split("## Quickstart", 1)[1].split("```bash\n", 1)[1].split("```", 1)[0]
    assert quickstart in (DOCS / "getting-started.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("page", [ROOT / "README.md", *PAGES], ids=lambda p: p.name)
def test_no_page_points_at_a_template_url_that_does_not_exist(page: Path) -> None:
    # The template is used from a clone (or a fork the reader names): no placeholder URL
    # that ends in a git traceback when copied.
    text = page.read_text(encoding="utf-8")
    urls = re.findall(r"(?:gh|gl|bb):[\w.-]+/[\w.-]+|https://github\.com/[\w.-]+/[\w.-]+", text)
    assert urls == [], f"{page.name}: {urls}"


def test_no_page_needs_a_remote_script(tmp_path: Path) -> None:
    # Built as `make docs` builds it, with the pinned mermaid from tests/tools/package.json.
    site = tmp_path / "site"
    result = subprocess.run(
        [
            str(Path(sys.executable).with_name("mkdocs")),
            "build",
            "--strict",
            "--site-dir",
            str(site),
        ],
        cwd=ROOT,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    remote = re.compile(r"""<(?:script|link|img|iframe)\b[^>]*\b(?:src|href)=["']?(?:https?:)?//""")
    diagrams = 0
    for page in site.rglob("*.html"):
        html = page.read_text(encoding="utf-8")
        assert not remote.search(html), f"{page.relative_to(site)}: {remote.search(html)}"
        if 'class="mermaid"' in html:
            diagrams += 1
            local = (
                page.parent / re.search(r'src="([^"]*js/mermaid\.min\.js)"', html)[1]
            ).resolve()
            assert local == (site / "js/mermaid.min.js").resolve()
    assert diagrams >= 6  # one per strategy page
    # Material loads Mermaid from a CDN only when the page has not defined `mermaid`: the
    # bundled build defines it, and it is the version tests/tools/package.json pins.
    build = (site / "js/mermaid.min.js").read_text(encoding="utf-8")
    assert 'globalThis["mermaid"] =' in build
    pinned = json.loads((ROOT / "tests/tools/package.json").read_text())["dependencies"]["mermaid"]
    lock = json.loads((ROOT / "tests/tools/package-lock.json").read_text())
    assert lock["packages"]["node_modules/mermaid"]["version"] == pinned
    assert f'version:"{pinned}"' in build, (
        "the installed mermaid is not the pinned one: make install"
    )


# --- The generated READMEs ---------------------------------------------------------------


def markdown_problems(text: str) -> list[str]:
    """What breaks a Markdown page's structure, one line each: a heading glued onto the end
    of another line (a Jinja whitespace strip too many), a table whose rows have another
    number of cells than its header, a table row outside any table."""
    from markdown_it import MarkdownIt

    tokens = MarkdownIt("commonmark").enable("table").parse(text)
    lines = text.splitlines()
    code, tables = set(), []
    for token in tokens:
        if token.type in ("fence", "code_block", "html_block") and token.map:
            code |= set(range(*token.map))
        if token.type == "table_open" and token.map:
            tables.append(range(*token.map))
    in_table = {number for rows in tables for number in rows}
    problems = []
    for number, line in enumerate(lines, start=1):
        if number - 1 in code:
            continue
        if re.search(r"[^#\s]#{2,6} \w", line):
            problems.append(f"line {number}: a heading does not start the line: {line!r}")
        if line.lstrip().startswith("|") and number - 1 not in in_table:
            problems.append(f"line {number}: a table row outside a table: {line!r}")
    for rows in tables:
        widths = [len(_cells(lines[number])) for number in rows]
        if len(set(widths)) > 1:
            problems.append(f"lines {rows.start + 1}-{rows.stop}: rows of {widths} cells")
    return problems


def _cells(row: str) -> list[str]:
    """A table row's cells, split at pipes that are not escaped (as GFM splits them)."""
    inner = row.strip().removeprefix("|").removesuffix("|")
    return re.split(r"(?<!\\)\|", inner)


def test_the_markdown_check_finds_a_glued_heading_and_a_ragged_table() -> None:
    good = "# T\n\n| a | b |\n| --- | --- |\n| 1 | `x\\|y` |\n\n## Next\n\n```\n|x#### y\n```\n"
    assert markdown_problems(good) == []
    glued = "| a | b |\n| --- | --- |\n| 1 | 2 |### Delivery guarantees\n"
    assert markdown_problems(glued) == [
        "line 3: a heading does not start the line: '| 1 | 2 |### Delivery guarantees'",
        "lines 1-3: rows of [2, 2, 3] cells",
    ]
    assert markdown_problems("text\n| a | b |\n") == [
        "line 2: a table row outside a table: '| a | b |'"
    ]


def _first_combination_of_each_strategy() -> list[tuple[str, dict[str, str]]]:
    from .test_generated import COMBINATIONS

    first: dict[str, tuple[str, dict[str, str]]] = {}
    for combination in COMBINATIONS:
        first.setdefault(combination.strategy, (combination.id, combination.answers))
    return list(first.values())


@pytest.mark.parametrize(
    ("combination", "answers"), _first_combination_of_each_strategy(), ids=lambda v: str(v)
)
def test_every_generated_readme_is_well_formed_markdown(
    cookies_session, combination: str, answers: dict[str, str]
) -> None:
    result = cookies_session.bake(extra_context=answers)
    assert result.exception is None, result.exception
    readme = (Path(result.project_path) / "README.md").read_text(encoding="utf-8")
    assert markdown_problems(readme) == [], combination
