"""Helpers of the HTTP API's tests: a served app, and what the model answers for rows."""

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI

from {{ cookiecutter.__package_name }}.predictor import Predictor
from {{ cookiecutter.__package_name }}.schema import Features

MAX_BATCH_SIZE = 4


def documented_statuses(app: FastAPI) -> Callable[[httpx.Response], Awaitable[None]]:
    """A response hook failing the test on a status that the OpenAPI schema does not list
    for the operation answering it: every status a test observes is documented."""
    paths = app.openapi()["paths"]

    async def check(response: httpx.Response) -> None:
        request = response.request
        operation = paths.get(request.url.path, {}).get(request.method.lower())
        if operation is not None:
            assert str(response.status_code) in operation["responses"], (
                f"{request.method} {request.url.path} answered {response.status_code},"
                f" which its OpenAPI schema does not list"
            )

    return check


@asynccontextmanager
async def serving(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client of `app`, started (its model loaded) as the server would start it; each
    status it gets is checked against the OpenAPI schema."""
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=transport,
            base_url="http://test",
            event_hooks={"response": [documented_statuses(app)]},
        ) as client,
    ):
        yield client


@contextmanager
def served_over_http(app: FastAPI) -> Iterator[str]:
    """`app` served by uvicorn on a free loopback port, in a thread of its own (its own
    event loop, as in production); the base URL to call it at."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive(), "the server stopped while starting"
        assert time.monotonic() < deadline, "the server did not start within 30 s"
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


Connection = tuple[asyncio.StreamReader, asyncio.StreamWriter]


async def connect(url: str) -> Connection:
    """A connection to the server at `url` (as `served_over_http` gives it)."""
    host, port = url.removeprefix("http://").split(":")
    return await asyncio.open_connection(host, int(port))


async def send_post(connection: Connection, path: str, payload: Any) -> None:
    """Send one POST of `payload` as JSON on `connection`, the last on it, without waiting
    for the answer (read it with `read_answer`)."""
    _, writer = connection
    content = json.dumps(payload).encode()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(content)}\r\nConnection: close\r\n\r\n"
    )
    writer.write(head.encode() + content)
    await writer.drain()


async def read_answer(connection: Connection) -> tuple[int, Any]:
    """The status code and JSON body of the response to `send_post` on `connection`, which
    it closes."""
    reader, writer = connection
    response = await reader.read()
    writer.close()
    await writer.wait_closed()
    head, content = response.split(b"\r\n\r\n", 1)
    return int(head.split(b" ", 2)[1]), json.loads(content)


def expected(predictor: Predictor, rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """What the service must answer for `rows`: the model's predictions, as JSON."""
    predictions = predictor.predict([Features(**row) for row in rows])
    return [prediction.model_dump(mode="json") for prediction in predictions]
