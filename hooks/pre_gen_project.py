"""Before any file is written over an existing project (a regeneration): say which strategy
it replaces and which of its files go (stderr; ML_DEPLOY_QUIET=1 silences it)."""

import json
import os
import sys
from pathlib import Path

DATA = json.loads(r"""{{ cookiecutter | hook_data }}""")
RECORD = Path(".cookiecutter.json")  # the existing project's answers, if there is one

if RECORD.is_file() and os.environ.get("ML_DEPLOY_QUIET") != "1":
    try:
        before = json.loads(RECORD.read_text(encoding="utf-8"))["_decision"]["strategy"]
    except (OSError, ValueError, KeyError, TypeError):
        before = "an unknown strategy"
    after = DATA["strategy"]
    gone = [path for path in DATA["remove"] if Path(path).exists()]
    change = f"keeps {after}" if before == after else f"replaces {before} with {after}"
    print(f"regenerating {Path.cwd()}: {change}", file=sys.stderr)
    print("  removes: " + (", ".join(gone) or "no files"), file=sys.stderr)
