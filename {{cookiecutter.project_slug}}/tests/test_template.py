"""The SAM template: valid for CloudFormation, and pointing at handlers that exist."""

import importlib
import re
import subprocess
import sys
from pathlib import Path

TEMPLATE = Path(__file__).resolve().parents[1] / "template.yaml"
HANDLER = re.compile(r"{{ cookiecutter.__package_name }}\.\w+\.handler")


def test_the_template_passes_cfn_lint() -> None:
    cfn_lint = Path(sys.executable).with_name("cfn-lint")
    result = subprocess.run([cfn_lint, str(TEMPLATE)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_handler_in_the_template_exists() -> None:
    handlers = sorted(set(HANDLER.findall(TEMPLATE.read_text(encoding="utf-8"))))
    assert handlers == [
        "{{ cookiecutter.__package_name }}.function.handler",
        "{{ cookiecutter.__package_name }}.scheduled.handler",
    ]
    for handler in handlers:
        module, name = handler.rsplit(".", 1)
        assert callable(getattr(importlib.import_module(module), name))
