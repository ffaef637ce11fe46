"""The batch scoring pipeline the engine runs chunk by chunk (or partition by partition).

A chunk is validated with vectorised checks, its valid rows are scored with one model call,
and its predictions and rejects are committed as one part of the run's output:

    <output_dir>/<run_id>/predictions/part-00000.parquet   scored rows, with their keys
    <output_dir>/<run_id>/rejects/part-00000.parquet       rows not scored, with the reason
    <output_dir>/<run_id>/_commits/part-00000.json         the part's counts, written last
    <output_dir>/<run_id>/_SUCCESS.json                    the run's counts, once complete

Every file is written under a temporary name and renamed into place, and a part counts only
once its commit marker exists: a run that is killed and started again with the same run id
skips the committed parts and redoes the others, so every input row ends up in exactly one
output row. Downstream readers wait for `_SUCCESS.json`.

    <output_dir>/<run_id>/_run.json                        what the run scores, and how

`_run.json` records the input's fingerprint (for files: each file's size and the sha256 of
every byte; for a query: its text and row count at start). Running a run id again with an
input whose fingerprint differs is refused, whether the run completed or not: committed
parts never mix with parts of another input, and a finished run never answers for another.
"""

import hashlib
import json
import logging
import os
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import Field

from .batch_columns import output_columns
from .batch_validation import InputError, decoded, validate
from .contract import Columns, Contract, load_contract
from .predictor import Predictor, score_accepted
from .review import explanation_columns
from .schema import Scores
from .settings import Settings

PART_NAME = "part-{:05d}"

logger = logging.getLogger(__name__)


class BatchSettings(Settings):
    """What to score and where the outputs go (`{{ cookiecutter.__package_name | upper }}_*` variables)."""

    input: str = "data/input.parquet"
    """A Parquet or CSV file, a directory of Parquet files, or a database with `query`:
    `sqlite:///path.db` or `postgresql://user@host:5432/database` (pandas engine only)."""

    query: str = ""
    """The SQL query that reads the rows of a database input. Give it an ORDER BY: a rerun
    must read the same rows in the same chunks."""

    output_dir: Path = Path("predictions")
    """Each run writes to its own directory `<output_dir>/<run_id>/`."""

    run_id: str = Field(
        default_factory=lambda: datetime.now(UTC).strftime("%Y-%m-%d"),
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$",
    )
    """Names the run (default: today's UTC date). Running a run id again on the same input
    resumes or, when it is complete, does nothing; on another input it is refused."""

    chunk_rows: int = Field(default=100_000, gt=0)
    """Rows scored per model call and per output part: bounds the job's memory."""


class RunMismatchError(Exception):
    """A run id was reused for another input, chunking or model version."""


def file_fingerprint(path: Path) -> list[dict[str, Any]]:
    """Each input file's name, size and the sha256 of its bytes: a file rewritten in place,
    even with its size and modification time restored, is another input."""
    if not path.exists():
        raise InputError(f"the input {path} does not exist")
    files = sorted(path.rglob("*.parquet")) if path.is_dir() else [path]
    return [
        {
            "file": str(file.relative_to(path)) if path.is_dir() else file.name,
            "bytes": file.stat().st_size,
            "sha256": content_digest(file),
        }
        for file in files
    ]


def content_digest(file: Path) -> str:
    with file.open("rb") as stream:
        return hashlib.file_digest(stream, "sha256").hexdigest()


def fingerprint_digest(fingerprint: Any) -> str:
    """A short digest naming a whole input fingerprint in one message."""
    canonical = json.dumps(fingerprint, sort_keys=True).encode()
    return hashlib.sha256(canonical).hexdigest()[:16]


@dataclass(frozen=True)
class PartCounts:
    rows: int
    scored: int
    rejected: int


@dataclass(frozen=True)
class RunSummary:
    run_id: str
    model_version: str
    parts: int
    rows: int
    scored: int
    rejected: int
    output: str

    def as_json(self) -> str:
        return json.dumps(asdict(self))


def input_names() -> list[str]:
    """The columns features.yaml names, its keys then its inputs: what the job reads of its
    input (a CSV's as text: a key keeps its leading zeros)."""
    contract = load_contract()
    return [*contract.key_names, *(item.name for item in contract.inputs)]


def key_columns(chunk: pa.Table, contract: Contract) -> dict[str, pa.ChunkedArray]:
    """The keys (features.yaml's `keys`) the chunk has, carried beside each prediction; a
    key the input lacks is named in a warning (its rows are then known by part and row)."""
    if absent := [name for name in contract.key_names if name not in chunk.column_names]:
        logger.warning("the input has no key column %s: not in its predictions", ", ".join(absent))
    return {
        name: decoded(chunk.column(name))
        for name in contract.key_names
        if name in chunk.column_names
    }


def predict(
    predictor: Predictor, columns: Columns, rows: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.int64], Scores, dict[int, str]]:
    """Score `columns` (the chunk's `rows`): the rows scored, their scores, and the rows the
    model refused with the reason."""
    accepted, scores, refused = score_accepted(predictor, columns)
    return rows[accepted], scores, {int(rows[i]): reason for i, reason in refused.items()}


def prediction_columns(scores: Scores) -> dict[str, pa.Array | npt.NDArray[Any]]:
    """Scores as columns: the model type's outputs (batch_columns.py), then the columns of
    the answers' review (review.py)."""
    return output_columns(scores) | explanation_columns(scores)


def score_chunk(
    chunk: pa.Table,
    part: int,
    predictor: Predictor,
    run_id: str,
    entity_reasons: Mapping[int, str],
) -> tuple[pa.Table, pa.Table]:
    """The predictions and the rejects of one chunk; together they hold each of its rows once.

    Rows are identified by `part` and `row` (the position in the part), and by the keys
    features.yaml names that the input has, carried as it gives them. Rejects keep every
    input column, as text. `entity_reasons` are the rows rejected for their entity
    (state_join.py): that reason comes first, as it explains their missing inputs.
    """
    keys = key_columns(chunk, predictor.metadata.contract)
    columns, reasons = validate(chunk, predictor.metadata.contract)
    reasons |= entity_reasons
    rows = np.arange(len(columns), dtype=np.int64)
    if reasons:
        valid = np.ones(len(rows), dtype=bool)
        valid[list(reasons)] = False
        columns, rows = columns.take(valid), rows[valid]
    scored, scores, refused = predict(predictor, columns, rows)
    reasons |= refused
    predictions = pa.table(
        {
            "part": np.full(len(scored), part, dtype=np.int32),
            "row": scored,
            **{name: values.take(scored) for name, values in keys.items()},
            **prediction_columns(scores),
            "model_version": repeated(predictor.model_version, len(scored)),
            "run_id": repeated(run_id, len(scored)),
        }
    )
    rejected = np.array(sorted(reasons), dtype=np.int64)
    inputs = chunk.take(rejected)
    rejects = pa.table(
        {
            "part": np.full(len(rejected), part, dtype=np.int32),
            "row": rejected,
            **{name: inputs.column(name).cast(pa.string()) for name in inputs.column_names},
            "reason": pa.array([reasons[row] for row in rejected.tolist()], type=pa.string()),
            "run_id": repeated(run_id, len(rejected)),
        }
    )
    return predictions, rejects


def repeated(value: str, rows: int) -> pa.DictionaryArray:
    """A column holding `value` in every row: dictionary-encoded, as Parquet stores it."""
    return pa.DictionaryArray.from_arrays(np.zeros(rows, dtype=np.int32), pa.array([value]))


class RunOutput:
    """The output directory of one run: committed parts, and the run's completion record."""

    def __init__(self, settings: BatchSettings) -> None:
        self.root = settings.output_dir / settings.run_id
        self.predictions = self.root / "predictions"
        self.rejects = self.root / "rejects"
        self.commits = self.root / "_commits"
        self.success = self.root / "_SUCCESS.json"
        self.run_id = settings.run_id

    def start(self, identity: dict[str, Any]) -> None:
        """Create the run's directories, or check that running this run id again scores the
        same input the same way, whether the run completed or not.

        Files a killed run left half-written are removed; its committed parts stay.
        """
        record = self.root / "_run.json"
        if record.exists():
            started = json.loads(record.read_text(encoding="utf-8"))
            keys = started.keys() | identity.keys()
            changed = sorted(key for key in keys if started.get(key) != identity.get(key))
            if changed:
                raise RunMismatchError(self.mismatch(started, identity, changed))
        for directory in (self.predictions, self.rejects, self.commits):
            directory.mkdir(parents=True, exist_ok=True)
            for leftover in directory.glob(".*.tmp"):
                leftover.unlink()
        if not record.exists():
            _write_atomically(record, json.dumps(identity, indent=2).encode())

    def mismatch(self, started: dict[str, Any], now: dict[str, Any], changed: list[str]) -> str:
        """One line: what changed since the run started, naming both inputs' fingerprints."""
        verb = "cannot run again" if self.success.exists() else "cannot resume"
        inputs = ""
        if "input_fingerprint" in changed:
            inputs = (
                f" (input {started.get('input')} fingerprint"
                f" {fingerprint_digest(started.get('input_fingerprint'))} then,"
                f" {now['input']} fingerprint {fingerprint_digest(now['input_fingerprint'])} now)"
            )
        return (
            f"run {self.run_id} {verb}: its {', '.join(changed)} changed since it started"
            f"{inputs}; see its _run.json: run it as it started, or use another run id"
        )

    def completed(self) -> RunSummary | None:
        """The summary of this run when it already completed."""
        if not self.success.exists():
            return None
        return RunSummary(**json.loads(self.success.read_text(encoding="utf-8")))

    def committed(self) -> dict[int, PartCounts]:
        return {
            int(marker.stem.removeprefix("part-")): PartCounts(
                **json.loads(marker.read_text(encoding="utf-8"))
            )
            for marker in self.commits.glob("part-*.json")
        }

    def commit(self, part: int, predictions: pa.Table, rejects: pa.Table) -> PartCounts:
        """Write one part's outputs, then its commit marker; each file is whole or absent."""
        name = PART_NAME.format(part)
        counts = PartCounts(
            rows=len(predictions) + len(rejects), scored=len(predictions), rejected=len(rejects)
        )
        for directory, table in ((self.predictions, predictions), (self.rejects, rejects)):
            sink = pa.BufferOutputStream()
            # Dictionary encoding pays off for the repeated text columns only.
            repeats = [field.name for field in table.schema if pa.types.is_dictionary(field.type)]
            pq.write_table(table, sink, use_dictionary=repeats)
            _write_atomically(directory / f"{name}.parquet", sink.getvalue().to_pybytes())
        _write_atomically(self.commits / f"{name}.json", json.dumps(asdict(counts)).encode())
        return counts

    def finish(self, parts: int, rows_read: int, model_version: str) -> RunSummary:
        """Check every part is committed and every row read is scored or rejected, and record it."""
        committed = self.committed()
        missing = sorted(set(range(parts)) - committed.keys())
        if missing or len(committed) != parts:
            raise RuntimeError(f"run {self.run_id}: parts {missing} are not committed")
        rows = sum(counts.rows for counts in committed.values())
        scored = sum(counts.scored for counts in committed.values())
        rejected = sum(counts.rejected for counts in committed.values())
        if rows != rows_read or scored + rejected != rows:
            raise RuntimeError(
                f"run {self.run_id}: {rows_read} rows read, but {scored} scored"
                f" + {rejected} rejected = {scored + rejected} rows written"
            )
        summary = RunSummary(
            run_id=self.run_id,
            model_version=model_version,
            parts=parts,
            rows=rows,
            scored=scored,
            rejected=rejected,
            output=str(self.root),
        )
        _write_atomically(self.success, summary.as_json().encode())
        return summary


def run_identity(
    settings: BatchSettings, predictor: Predictor, engine: str, fingerprint: Any
) -> dict[str, Any]:
    """What a rerun of a run id must repeat for its committed parts to stay valid."""
    return {
        "input": settings.input,
        "input_fingerprint": fingerprint,
        "query": settings.query,
        "chunk_rows": settings.chunk_rows,
        "engine": engine,
        "model_version": predictor.model_version,
    }


def check_counts(parts: Iterable[tuple[int, int]], committed: dict[int, PartCounts]) -> None:
    """Refuse to resume when a committed part no longer has the rows it had: the input changed."""
    for part, rows in parts:
        if part in committed and committed[part].rows != rows:
            raise RunMismatchError(
                f"part {part} had {committed[part].rows} rows and now has {rows}: the input changed"
            )


def _write_atomically(path: Path, data: bytes) -> None:
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    with temporary.open("wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())
    temporary.replace(path)
