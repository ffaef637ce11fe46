"""Keep only the files of the chosen strategy and options, move each port's chosen variant
into place, then say what was decided.

The plan comes from hooks/manifest.py and the summary from engine.summary, both through
local_extensions.hook_data; the summary goes to stderr unless ML_DEPLOY_QUIET=1.
"""

import json
import os
import shlex
import shutil
import sys
from pathlib import Path

DATA = json.loads(r"""{{ cookiecutter | hook_data }}""")

for relative in DATA["remove"]:
    path = Path(relative)
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()

for variant, path in DATA["moves"]:
    Path(variant).replace(path)

if os.environ.get("ML_DEPLOY_QUIET") != "1":
    project = Path.cwd()
    lines = [
        *DATA["summary"],
        f"written: {project}",
        f"next: cd {shlex.quote(str(project))} && make run",
    ]
    print("\n".join(lines), file=sys.stderr)
