"""Tier 0's mypy step (tools/typecheck_template_python.py): the layouts it checks are the
files a bake keeps, and a broken call in the template is reported without a bake."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))

import typecheck_template_python as typecheck


def test_a_layout_holds_each_ports_chosen_variant_and_no_other() -> None:
    files = typecheck.layout({"deployment_strategy": "stream", "broker": "redis"})
    assert not [path for path in files if "@" in Path(path).name]
    assert files["src/package_name/broker.py"].endswith("broker@redis.py")
    assert "src/package_name/consumer.py" in files
    assert "src/package_name/api.py" not in files, "another strategy's module"


def test_a_call_that_no_longer_fits_its_signature_is_reported(tmp_path: Path) -> None:
    files = typecheck.layout({})
    predictor = Path(files["src/package_name/predictor.py"])
    broken = tmp_path / "predictor.py"
    broken.write_text(
        predictor.read_text(encoding="utf-8")
        + "\n\ndef reload() -> None:\n    Predictor.load(Path('models'))\n",
        encoding="utf-8",
    )
    files["src/package_name/predictor.py"] = str(broken)
    found = typecheck.check(files, [sys.executable, "-m", "mypy"], tmp_path / "cache")
    assert 'Missing positional argument "settings" in call to "load"' in found, found
