"""Throughput and latency of the service's /predict next to three references.

Four uvicorn servers on loopback (one worker each, ephemeral ports) are measured one after
the other, at 1 and at 32 concurrent keep-alive connections, in several rounds (each round
measures every server in turn, so that a machine whose load changes meanwhile weighs on all
of them alike; a server's figures add its rounds up):

- service: this project's app, `create_app`, serving the trained model;
- validation only: a FastAPI endpoint that validates the same `Features` body (built from
  features.yaml) and returns a constant: the ceiling of a service that must validate;
- empty: a FastAPI endpoint that reads nothing and returns a constant;
- naive: FastAPI with the pickled scikit-learn pipeline fed a one-row pandas DataFrame per
  request, as a first prototype is often written.

    make bench                                  # or: python benchmarks/bench_api.py --help

Targets: the service sustains at least 80% of the validation-only endpoint's requests per
second, and its p99 latency at one connection stays within 1 ms.

With `--overload` (`make bench-overload`) it measures the service alone under more work than
it can do: 200 connections sending batches of 1,000 rows back to back, while one more
connection calls /health every 50 ms. It prints the statuses answered, the server's resident
memory idle, at its peak and after the load, and /health's latency during the load. Targets:
503s with Retry-After rather than 504s, the resident memory within 2x of idle, /health
answered throughout.
"""

import argparse
import asyncio
import json
import os
import pickle
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from http.client import HTTPConnection
from pathlib import Path
from typing import Any

import numpy as np
import uvloop
from fastapi import FastAPI
from service_requests import service_request

from {{ cookiecutter.__package_name }}.api import ServiceSettings
from {{ cookiecutter.__package_name }}.artifact import load_pipeline
from {{ cookiecutter.__package_name }}.contract import load_contract
from {{ cookiecutter.__package_name }}.data import load_dataset
from {{ cookiecutter.__package_name }}.features import FEATURE_NAMES
from {{ cookiecutter.__package_name }}.review import scratch_settings
from {{ cookiecutter.__package_name }}.schema import Features

SERVICE = "{{ cookiecutter.__package_name }}.api:create_app"
HOST = "127.0.0.1"
CONNECTIONS = (1, 32)
WARM_UP_SECONDS = 0.5
EMPTY = "empty FastAPI endpoint"
VALIDATION = "validation only (same Features)"
NAIVE_MODEL = "BENCH_NAIVE_MODEL"
NAIVE = "naive (pickle + pandas DataFrame)"


def create_empty_app() -> FastAPI:
    app = FastAPI()

    @app.post("/predict")
    async def predict() -> dict[str, str]:
        return {}

    return app


def create_validation_app() -> FastAPI:
    app = FastAPI()

    @app.post("/predict")
    async def predict(features: Features) -> dict[str, str]:
        return {}

    return app


def create_naive_app() -> FastAPI:
    with Path(os.environ[NAIVE_MODEL]).open("rb") as file:
        pipeline = pickle.load(file)  # noqa: S301 (written by this benchmark a moment ago)
    app = FastAPI()

    @app.post("/predict")
    def predict(row: dict[str, Any]) -> dict[str, Any]:
        import pandas as pd

        features = pd.DataFrame([row], columns=list(FEATURE_NAMES))
        return {"prediction": pipeline.predict(features).tolist()}

    return app


@dataclass(frozen=True)
class Measurement:
    requests: int
    errors: int
    seconds: float
    latencies_ms: list[float]

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    def percentile(self, q: float) -> float:
        return float(np.percentile(self.latencies_ms, q))

    def __add__(self, other: "Measurement") -> "Measurement":
        return Measurement(
            self.requests + other.requests,
            self.errors + other.errors,
            self.seconds + other.seconds,
            self.latencies_ms + other.latencies_ms,
        )


def http_request(path: str, body: bytes) -> bytes:
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {HOST}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> bool:
    """Send one request and read its whole response; whether it was a 200."""
    writer.write(request)
    status_code, _ = await read_response(reader)
    return status_code == 200


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """One response's status code and head (the body is read and dropped)."""
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.lower().split(b"\r\n")
        if line.startswith(b"content-length:")
    )
    await reader.readexactly(length)
    return int(head.split(b" ", 2)[1]), head.lower()


async def load(
    port: int, request: bytes, connections: int, seconds: float, limit: int
) -> Measurement:
    """Keep-alive connections that send requests back to back, after a warm-up.

    A minimal HTTP/1.1 client, so that the figures measure the server rather than a client
    library; it stops at `seconds` or `limit` requests, whichever comes first.
    """
    latencies: list[float] = []
    errors = 0

    async def connection(until: float) -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection(HOST, port)
        try:
            while time.perf_counter() < until and len(latencies) < limit:
                started = time.perf_counter()
                errors += not await exchange(reader, writer, request)
                latencies.append((time.perf_counter() - started) * 1000)
        finally:
            writer.close()

    warm_up_until = time.perf_counter() + WARM_UP_SECONDS
    await asyncio.gather(*(connection(warm_up_until) for _ in range(connections)))
    latencies.clear()
    errors = 0
    started = time.perf_counter()
    await asyncio.gather(*(connection(started + seconds) for _ in range(connections)))
    return Measurement(len(latencies), errors, time.perf_counter() - started, latencies)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def server(app: str, env: dict[str, str]) -> Iterator[int]:
    """A one-worker uvicorn serving `app` (a factory) on a free loopback port."""
    with server_process(app, env) as (port, _):
        yield port


@contextmanager
def server_process(app: str, env: dict[str, str]) -> Iterator[tuple[int, int]]:
    """`server`, with the process id of the uvicorn process too."""
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "--factory", app, "--host", HOST]
    command += ["--port", str(port), "--app-dir", str(Path(__file__).parent)]
    command += ["--no-access-log", "--log-level", "warning"]
    process = subprocess.Popen(command, env={**os.environ, **env})  # noqa: S603 (fixed arguments)
    try:
        wait_until_serving(port, process)
        yield port, process.pid
    finally:
        process.terminate()
        process.wait(timeout=30)


def wait_until_serving(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with code {process.returncode}")
        connection = HTTPConnection(HOST, port, timeout=1)
        try:
            connection.request("GET", "/openapi.json")
            connection.getresponse().read()
            return
        except OSError:
            time.sleep(0.1)
        finally:
            connection.close()
    raise RuntimeError("the server did not start within 60 s")


def rss_mb(pid: int) -> float:
    """The resident memory of process `pid`, in MB (Linux)."""
    status = Path(f"/proc/{pid}/status").read_text(encoding="utf-8")
    (line,) = (line for line in status.splitlines() if line.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024


@dataclass
class Overload:
    statuses: Counter[int]
    retry_after: int
    failed_connections: int
    health_ms: list[float]
    health_failures: int
    peak_rss_mb: float


async def overload(
    port: int, pid: int, request: bytes, connections: int, seconds: float
) -> Overload:
    """`connections` clients sending `request` back to back for `seconds`, a /health probe
    every 50 ms on a connection of its own, and the server's memory sampled meanwhile."""
    result = Overload(Counter(), 0, 0, [], 0, rss_mb(pid))
    until = time.perf_counter() + seconds

    async def client() -> None:
        while time.perf_counter() < until:
            try:
                reader, writer = await asyncio.open_connection(HOST, port)
            except OSError:
                result.failed_connections += 1
                await asyncio.sleep(0.05)
                continue
            try:
                while time.perf_counter() < until:
                    writer.write(request)
                    status_code, head = await read_response(reader)
                    result.statuses[status_code] += 1
                    result.retry_after += b"\r\nretry-after:" in head
                    if b"\r\nconnection: close" in head:
                        break
            except (OSError, asyncio.IncompleteReadError):
                result.failed_connections += 1
            finally:
                writer.close()

    async def probe() -> None:
        reader, writer = await asyncio.open_connection(HOST, port)
        request = f"GET /health HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode()
        try:
            while time.perf_counter() < until:
                started = time.perf_counter()
                writer.write(request)
                try:
                    status_code, _ = await asyncio.wait_for(read_response(reader), 5)
                except TimeoutError:
                    status_code = 0
                result.health_ms.append((time.perf_counter() - started) * 1000)
                result.health_failures += status_code != 200
                result.peak_rss_mb = max(result.peak_rss_mb, rss_mb(pid))
                await asyncio.sleep(0.05)
        finally:
            writer.close()

    await asyncio.gather(probe(), *(client() for _ in range(connections)))
    return result


def run_overload(args: argparse.Namespace, service_env: dict[str, str], row: Any) -> None:
    batch = json.dumps([row] * args.rows).encode()
    request = http_request("/predict/batch", batch)
    with server_process(SERVICE, service_env) as (port, pid):
        # Idle, after a few requests of each kind have warmed the service up.
        uvloop.run(load(port, request, 1, 0.5, 10))
        idle = rss_mb(pid)
        result = uvloop.run(overload(port, pid, request, args.connections, args.seconds))
        time.sleep(1)
        after = rss_mb(pid)
    answered = sum(result.statuses.values())
    print(
        f"\nOverload: {args.connections} connections x POST /predict/batch of {args.rows} rows"
        f" ({len(batch) / 1e6:.2f} MB) for {args.seconds:g} s, one uvicorn worker"
    )
    for status_code, count in sorted(result.statuses.items()):
        print(f"  {status_code}: {count:>7} ({count / answered:.1%})")
    print(
        f"  503s with Retry-After: {result.retry_after}; failed connections: "
        f"{result.failed_connections}"
    )
    print(
        f"RSS: idle {idle:.0f} MB, peak {result.peak_rss_mb:.0f} MB"
        f" ({result.peak_rss_mb / idle:.2f}x), after {after:.0f} MB (target peak <= 2x idle)"
    )
    health = np.array(result.health_ms)
    print(
        f"/health during the load: {len(health)} probes, {result.health_failures} not 200,"
        f" p50 {np.percentile(health, 50):.1f} ms, p99 {np.percentile(health, 99):.1f} ms,"
        f" max {health.max():.1f} ms"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Benchmark /predict against references.")
    parser.add_argument("--seconds", type=float, default=3.0, help="per measurement")
    parser.add_argument("--rounds", type=int, default=3, help="the measurements are split into")
    parser.add_argument("--max-requests", type=int, default=100_000, help="per measurement")
    parser.add_argument(
        "--overload", action="store_true", help="the service under more load than it can take"
    )
    parser.add_argument("--connections", type=int, default=200, help="with --overload")
    parser.add_argument("--rows", type=int, default=1000, help="rows per batch, with --overload")
    args = parser.parse_args(argv)

    settings = ServiceSettings()
    model_dir = settings.model_dir.resolve()
    # The first training row with every input present, as a caller sends it.
    columns = load_dataset(settings.training_data).columns
    complete = ~np.isnan(columns.numbers).any(axis=1) & (columns.categories != "").all(axis=1)
    (row,) = columns.take(np.flatnonzero(complete)[:1]).records(load_contract())
    results: dict[tuple[str, int], Measurement] = {}
    with ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-api-")))
        naive_model = work / "pipeline.pkl"
        with naive_model.open("wb") as file:
            pickle.dump(load_pipeline(model_dir), file)
        state_env, service_body = service_request(work, row)
        # The service's predictions go to a scratch audit log, if it keeps one (review.py).
        prefix = settings.model_config["env_prefix"]
        review_env = {
            f"{prefix}{name.upper()}": str(value) for name, value in scratch_settings(work).items()
        }
        service_env = {
            "{{ cookiecutter.__package_name | upper }}_MODEL_DIR": str(model_dir),
            **review_env,
            **state_env,
        }
        if args.overload:
            run_overload(args, service_env, service_body)
            return
        targets = [
            (EMPTY, "bench_api:create_empty_app", {}, row),
            (VALIDATION, "bench_api:create_validation_app", {}, row),
            ("service", SERVICE, service_env, service_body),
            (NAIVE, "bench_api:create_naive_app", {NAIVE_MODEL: str(naive_model)}, row),
        ]
        ports = [stack.enter_context(server(app, env)) for _, app, env, _ in targets]
        seconds = args.seconds / args.rounds
        for _ in range(args.rounds):
            for connections in CONNECTIONS:
                for (name, _, _, body), port in zip(targets, ports, strict=True):
                    request = http_request("/predict", json.dumps(body).encode())
                    measured = uvloop.run(
                        load(port, request, connections, seconds, args.max_requests)
                    )
                    previous = results.get((name, connections))
                    results[name, connections] = (
                        measured if previous is None else previous + measured
                    )

    print(
        f"\nPOST /predict, one uvicorn worker each, {args.seconds:g} s per measurement"
        f" in {args.rounds} rounds"
    )
    print(
        f"{'':36} {'conns':>5} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'vs valid.':>9}"
        f" {'non-200':>8}"
    )
    for connections in CONNECTIONS:
        ceiling = results[VALIDATION, connections]
        for name in (EMPTY, VALIDATION, "service", NAIVE):
            result = results[name, connections]
            print(
                f"{name:36} {connections:>5} {result.rps:>9.0f} {result.percentile(50):>8.2f}"
                f" {result.percentile(99):>8.2f} {result.rps / ceiling.rps:>8.2f}x"
                f" {result.errors:>8}"
            )
    ratio = min(results["service", c].rps / results[VALIDATION, c].rps for c in CONNECTIONS)
    p99 = results["service", 1].percentile(99)
    print(f"\nservice / validation-only throughput: {ratio:.2f}x at worst (target >= 0.8x)")
    print(f"service p99 at 1 connection: {p99:.2f} ms (target <= 1 ms)")


if __name__ == "__main__":
    main()
