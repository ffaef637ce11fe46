"""MkDocs hook: the strategy pages' Mermaid diagrams render from the site itself, offline.

Material for MkDocs fetches Mermaid from unpkg.com when a page has a diagram, unless the
page has already defined `mermaid`. This hook puts the pinned npm package's self-contained
build (tests/tools/package.json; `make install` installs it into the tooling cache) into
the site as js/mermaid.min.js and loads it on every page, so no page needs a remote script.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File, Files

SCRIPT = "js/mermaid.min.js"
BUILD = Path("mermaid", "dist", "mermaid.min.js")
DEFAULT_NODE_MODULES = Path.home() / ".cache" / "cookiecutter-ml-deploy" / "node_modules"


def mermaid_build(environ: dict[str, str] | os._Environ[str] = os.environ) -> Path:
    """The installed mermaid.min.js: under NODE_PATH, else the tooling cache's node_modules."""
    roots = [Path(p) for p in environ.get("NODE_PATH", "").split(os.pathsep) if p]
    for root in [*roots, DEFAULT_NODE_MODULES]:
        if (root / BUILD).is_file():
            return root / BUILD
    raise PluginError(
        f"error: {BUILD} is not installed under NODE_PATH or {DEFAULT_NODE_MODULES}: "
        "run make install (tests/tools/package.json pins it)"
    )


def on_config(config: Any) -> Any:
    config.extra_javascript.insert(0, SCRIPT)
    return config


def on_files(files: Files, config: Any) -> Files:
    files.append(File.generated(config, SCRIPT, abs_src_path=str(mermaid_build())))
    return files
