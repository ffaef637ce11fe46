"""Adaptive batching: single-row requests that wait on one worker together are scored in
one model call.

A row does not wait for company it has no reason to expect. It is scored at the next turn
of the event loop, together with every row that reached the batcher meanwhile (requests
that arrived in the same network read); it waits longer only while other single-row
requests are already on their way (being read, validated or completed from stored state),
and then at most `max_wait_s`. A lone caller therefore pays one turn of the loop, not the
wait; a busy worker makes one model call for many rows instead of one per request.
"""

import asyncio
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Protocol

import numpy as np

from .contract import Columns
from .predictor import UnscorableInputError
from .schema import Features, Scores


class Model(Protocol):
    """What the batcher needs of a predictor (predictor.py)."""

    @property
    def model_version(self) -> str: ...

    def columns_of(self, rows: Sequence[Features]) -> Columns: ...

    def score(self, columns: Columns) -> Scores: ...


Answer = dict[str, Any]
"""One row's prediction as the JSON object the service answers (the fields of `Prediction`)."""


def answers(model: Model, rows: Sequence[Features]) -> list[Answer]:
    """The predictions of `rows` in one model call, as JSON objects: serialised once, by the
    response, rather than built as models and validated again."""
    scores = model.score(model.columns_of(rows))
    version = scores.model_version
    return [{**output, "model_version": version} for output in scores.outputs()]


def answers_or_refusals(model: Model, rows: Sequence[Features]) -> list[Answer | Exception]:
    """Each row's answer, or why the model refused it: a refused row is left out and the
    others scored again, so that one caller's bad row never fails another's request."""
    results: dict[int, Answer | Exception] = {}
    remaining = list(range(len(rows)))
    while remaining:
        try:
            scored = answers(model, [rows[position] for position in remaining])
        except UnscorableInputError as error:
            refused = set(error.rows.tolist())
            for index in refused:
                # As the row's own request would have been refused, scored alone.
                results[remaining[index]] = UnscorableInputError(np.array([0]), error.reason)
            remaining = [p for i, p in enumerate(remaining) if i not in refused]
        except Exception as error:  # each waiting request gets the failure, not a hang
            for position in remaining:
                results[position] = error
            break
        else:
            results |= dict(zip(remaining, scored, strict=True))
            break
    return [results[position] for position in range(len(rows))]


class RowBatcher:
    """Collects single rows on the event loop and scores them together.

    `max_rows` bounds one model call; `max_wait_s` bounds how long a row waits for rows that
    are on their way, and 0 turns batching off (each row is scored at once, alone).
    """

    def __init__(self, max_rows: int, max_wait_s: float) -> None:
        self.max_rows = max_rows
        self.max_wait_s = max_wait_s
        self.pending: list[tuple[Model, Features, asyncio.Future[Answer]]] = []
        self.on_the_way = 0
        """Single-row requests being read, validated or completed, not yet pending."""
        self.deadline = 0.0
        self.check_scheduled = False
        self.timer: asyncio.TimerHandle | None = None
        self.model_calls = 0
        """Model calls made so far (for tests and operators)."""

    @contextmanager
    def arriving(self) -> Iterator[None]:
        """Count a single-row request from its first byte until it is answered or refused,
        so that the rows already waiting know to wait for it."""
        self.on_the_way += 1
        try:
            yield
        finally:
            self.on_the_way -= 1
            if self.timer is not None:
                # The pending rows wait for requests on their way: this one is no more.
                self.check()

    async def answer(self, model: Model, row: Features) -> Answer:
        """The prediction of `row`, scored with the rows waiting beside it; raises
        UnscorableInputError when the model refuses it."""
        if self.max_wait_s <= 0:
            self.model_calls += 1
            (answer,) = answers(model, [row])
            return answer
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Answer] = loop.create_future()
        if not self.pending:
            self.deadline = loop.time() + self.max_wait_s
        self.pending.append((model, row, future))
        self.on_the_way -= 1
        try:
            if len(self.pending) >= self.max_rows:
                self.flush()
            elif not self.check_scheduled:
                # The next turn of the loop: rows that arrived together join this one.
                self.check_scheduled = True
                loop.call_soon(self.check)
            return await future
        finally:
            self.on_the_way += 1  # `arriving` takes it off again as the request leaves

    def check(self) -> None:
        """Score the pending rows, unless rows on their way may still join them in time."""
        self.check_scheduled = False
        if not self.pending:
            return
        loop = asyncio.get_running_loop()
        if self.on_the_way and loop.time() < self.deadline:
            # Woken again when one of them arrives or leaves, or at the deadline.
            if self.timer is None:
                self.timer = loop.call_at(self.deadline, self.flush)
            return
        self.flush()

    def flush(self) -> None:
        """Score every pending row in one model call (per model version) and answer each."""
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        pending = [item for item in self.pending if not item[2].done()]
        self.pending = []
        while pending:
            # A new model version may have been promoted meanwhile: one call per version.
            model = pending[0][0]
            batch = [item for item in pending if item[0] is model]
            pending = [item for item in pending if item[0] is not model]
            self.model_calls += 1
            results = answers_or_refusals(model, [row for _, row, _ in batch])
            for (_, _, future), result in zip(batch, results, strict=True):
                if isinstance(result, Exception):
                    future.set_exception(result)
                else:
                    future.set_result(result)
