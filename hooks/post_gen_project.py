"""Keep only the files of the chosen strategy and options (hooks/manifest.yaml).

Also removes files another strategy left behind when a project is regenerated over itself.
"""

import json
import shutil
from pathlib import Path

MANIFEST = json.loads({{ cookiecutter | manifest | tojson }})
ANSWERS = json.loads({{ cookiecutter | answers_record | tojson }})
STRATEGY = ANSWERS["_decision"]["strategy"]
PACKAGE = {{ cookiecutter.__package_name | tojson }}
# What `when` conditions read: the answers, with the resolved strategy and batch engine.
VALUES = {**ANSWERS, "strategy": STRATEGY, "batch_engine": {{ cookiecutter.__batch_engine | tojson }}}


def holds(condition: dict) -> bool:
    def accepts(name, wanted):
        return VALUES.get(name) in (wanted if isinstance(wanted, list) else [wanted])

    return all(accepts(name, wanted) for name, wanted in condition.items())


def paths_to_remove() -> set[str]:
    owned = {
        (path, strategy == STRATEGY)
        for strategy, paths in MANIFEST["strategies"].items()
        for path in paths
    }
    owned |= {(path, holds(rule["when"])) for rule in MANIFEST["options"] for path in rule["paths"]}
    keep = {path for path, wanted in owned if wanted}
    return {path for path, _ in owned} - keep


for relative in sorted(paths_to_remove()):
    path = Path(relative.format(package=PACKAGE))
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()
