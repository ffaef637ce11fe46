"""Cold start, invoke latency and package size of the Lambda function, side by side.

Each figure comes from fresh Python processes, as a new Lambda execution environment is:

- cold import: the function's module (Powertools, pydantic, onnxruntime), next to
  `import sklearn` alone, which serving never does;
- first invoke: the first event an execution environment answers (settings, model load, score);
- warm invoke: the sample API Gateway event through the whole handler (routing, validation,
  logging, metrics), next to the raw model scoring the same row (`Predictor.score`);
- package size: the deployment zip when `make package` built one, else the installed runtime
  dependencies and the model (what the image adds to the Lambda base image).

    make bench                                # or: python benchmarks/bench_function.py --help

The sample event is events/predict.json, which `make` writes from features.yaml; what state
the function reads while it is measured is benchmarks/function_state.py's.

Targets: cold import under 0.5 s, package under 150 MB (Lambda's limit is 250 MB unzipped).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from importlib.metadata import distribution, requires
from pathlib import Path
from typing import Any

import numpy as np
from function_state import serving_state
from packaging.requirements import Requirement

PROJECT = Path(__file__).resolve().parents[1]
EVENT = PROJECT / "events" / "predict.json"
DISTRIBUTION = "{{ cookiecutter.project_slug }}"
MODEL_DIR = "{{ cookiecutter.__package_name | upper }}_MODEL_DIR"


def worker(mode: str, repeat: int) -> dict[str, Any]:
    """Runs in a fresh process: what `mode` measures, as JSON-ready figures."""
    if mode == "sklearn":
        started = time.perf_counter()
        import sklearn  # noqa: F401

        return {"import_s": time.perf_counter() - started}
    started = time.perf_counter()
    from {{ cookiecutter.__package_name }}.function import handler
    from {{ cookiecutter.__package_name }}.local_lambda import LocalContext

    imported = time.perf_counter()
    event = json.loads(EVENT.read_text(encoding="utf-8"))
    response = handler(event, LocalContext())
    if response["statusCode"] != 200:
        raise RuntimeError(f"the sample event was not answered: {response}")
    figures: dict[str, Any] = {
        "import_s": imported - started,
        "first_invoke_s": time.perf_counter() - imported,
    }
    if mode == "warm":
        from {{ cookiecutter.__package_name }}.function import FunctionSettings
        from {{ cookiecutter.__package_name }}.lambda_state import Request
        from {{ cookiecutter.__package_name }}.predictor import Predictor

        settings = FunctionSettings()
        predictor = Predictor.from_settings(settings)
        rows = settings.state().features([Request.model_validate_json(event["body"])])
        columns = predictor.columns_of(rows)
        figures["handler_s"] = timings(lambda: handler(event, LocalContext()), repeat)
        figures["model_s"] = timings(lambda: predictor.score(columns), repeat)
    return figures


def timings(call: Any, repeat: int) -> list[float]:
    for _ in range(min(100, repeat)):
        call()
    durations = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        durations.append(time.perf_counter() - started)
    return durations


def run_worker(mode: str, repeat: int = 0) -> dict[str, Any]:
    """`worker(mode)` in a fresh interpreter; its logs and metrics go to /dev/null."""
    with tempfile.TemporaryDirectory() as directory:
        out = Path(directory) / "figures.json"
        env = {
            **os.environ,
            MODEL_DIR: str((PROJECT / "models" / "current").resolve()),
            "POWERTOOLS_LOG_LEVEL": "WARNING",
        }
        command = [sys.executable, __file__, "--worker", mode, "--repeat", str(repeat)]
        subprocess.run(  # noqa: S603 (this interpreter running this file)
            [*command, "--out", str(out)],
            cwd=directory,  # anything the function writes stays there
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        figures: dict[str, Any] = json.loads(out.read_text())
        return figures


def size_mb(paths: list[Path]) -> float:
    return sum(path.stat().st_size for path in paths if path.is_file()) / 1e6


def runtime_files() -> list[Path]:
    """The files of the runtime dependencies installed here (not the train or dev extras)."""
    files = []
    for line in requires(DISTRIBUTION) or []:
        requirement = Requirement(line)
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
            continue
        dist = distribution(requirement.name)
        files += [Path(str(dist.locate_file(file))) for file in dist.files or []]
    return files


def package_size() -> str:
    zips = sorted((PROJECT / "dist").glob("*-lambda.zip"))
    if zips:
        with zipfile.ZipFile(zips[-1]) as archive:
            unzipped = sum(info.file_size for info in archive.infolist()) / 1e6
        zipped = zips[-1].stat().st_size / 1e6
        return f"{unzipped:.0f} MB unzipped ({zipped:.0f} MB zip, {zips[-1].name})"
    model = (PROJECT / "models" / (PROJECT / "models" / "current").read_text().strip()).glob("*")
    dependencies = size_mb(runtime_files())
    return (
        f"{dependencies + size_mb(list(model)):.0f} MB (runtime dependencies"
        " and model, as installed here; `make package` builds the deployment package)"
    )


def ms(seconds: float) -> str:
    return f"{seconds * 1000:8.2f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cold-runs", type=int, default=5, help="fresh processes (5)")
    parser.add_argument("--repeat", type=int, default=2000, help="warm invocations (2000)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        args.out.write_text(json.dumps(worker(args.worker, args.repeat)))
        return

    # The workers inherit where the state is (its endpoint, its credentials) from this process.
    with serving_state():
        cold = [run_worker("cold") for _ in range(args.cold_runs)]
        sklearn = [run_worker("sklearn") for _ in range(min(3, args.cold_runs))]
        warm = run_worker("warm", args.repeat)

    def median(key: str, runs: list[dict[str, Any]]) -> float:
        return float(statistics.median(run[key] for run in runs))

    print(f"cold start, median of {len(cold)} fresh processes:")
    print(f"  import the function        {ms(median('import_s', cold))}   (target < 500 ms)")
    print(f"  import sklearn alone       {ms(median('import_s', sklearn))}   (never at serving)")
    print(f"  first invoke (model load)  {ms(median('first_invoke_s', cold))}")
    print(f"warm invoke, {args.repeat} calls:            p50          p99")
    for label, key in (("handler, sample event", "handler_s"), ("raw model, same row", "model_s")):
        p50, p99 = np.percentile(warm[key], [50, 99])
        print(f"  {label:24} {ms(p50)}  {ms(p99)}")
    print(f"package size: {package_size()}   (target < 150 MB)")


if __name__ == "__main__":
    main()
