"""The training report: the held-out metrics beside the baseline's and the current
version's, the figures written beside the version, and the model card's generated section.

Figures are drawn with matplotlib's object-oriented interface (no pyplot, no display: the
Agg renderer writes PNG). The model card, MODEL_CARD.md beside the models directory, is
rewritten between `CARD_START` and `CARD_END` only: the sections people write (intended use,
limitations, ...) stay as they were edited.
"""

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from .artifact import REPORT_DIR, Metadata
from .contract import Contract
from .data import Dataset
from .features import model_frame

CARD_FILE = "MODEL_CARD.md"
CARD_START = (
    "<!-- training report: written by make train from the current version; edits here are lost -->"
)
CARD_END = "<!-- /training report -->"
CARD_SKELETON = """# Model card

## Intended use

Fill in: the decision the model supports, who acts on its output, and what happens when it
is wrong.

{start}
{end}

## Limitations

Fill in: populations or conditions the training data under-represents, known failure modes.
"""


def table(metadata: Metadata) -> list[str]:
    """The metrics as Markdown table rows: model and baseline on the held-out rows; the
    previous current version on the comparison rows, beside the new one's there."""
    previous = metadata.previous
    header = "previous"
    if previous:
        header = f"previous ({previous.version}) / model, on {previous.rows} comparison rows"
    rows = [f"| metric | model | baseline | {header} |", "| --- | ---: | ---: | ---: |"]
    for name, value in metadata.metrics.items():
        if name in metadata.baseline:
            before = ""
            if previous and name in previous.metrics:
                before = f"{previous.metrics[name]:.4f} / {previous.new_metrics[name]:.4f}"
            rows.append(f"| {name} | {value:.4f} | {metadata.baseline[name]:.4f} | {before} |")
    return rows


def summary(metadata: Metadata) -> str:
    """What `make train` prints: the metrics table, then the decision threshold if any."""
    lines = [
        f"model {metadata.version}: {metadata.estimator} on {metadata.data.rows} rows,"
        f" measured on {metadata.data.held_out_rows} held-out rows",
        *table(metadata),
    ]
    if metadata.threshold is not None:
        lines.append(
            f"decision threshold {metadata.threshold:.4f} ({metadata.threshold_rule}):"
            f" {metadata.contract.labels[1]} from this probability up"
        )
    return "\n".join(lines)


def card_section(metadata: Metadata, models_dir: Path, card: Path) -> str:
    """The model card's generated section for `metadata`'s version."""
    report = models_dir / metadata.version / REPORT_DIR
    data = metadata.data
    lines = [
        "## Training report",
        "",
        f"Version `{metadata.version}`, {metadata.estimator}, trained"
        f" {metadata.created_at:%Y-%m-%d %H:%M} UTC on {data.name} (sha256 `{data.sha256[:12]}`).",
        "",
        *table(metadata),
        "",
    ]
    if metadata.threshold is not None:
        lines += [
            f"Decision threshold: {metadata.threshold:.4f}, chosen on the held-out rows by the"
            f" rule `{metadata.threshold_rule}` (the `threshold_rule` setting); serving answers"
            f" {metadata.contract.labels[1]} from this probability up.",
            "",
        ]
    lines += [
        f"Training data: {data.rows} training and {data.held_out_rows} held-out rows.",
        "",
    ]
    if data.classes:
        lines.append("| class | rows |")
        lines.append("| --- | ---: |")
        lines += [f"| {label} | {count} |" for label, count in data.classes.items()]
        lines.append("")
    lines += ["| input | kind | nullable | missing values | training range or levels |"]
    lines += ["| --- | --- | --- | ---: | --- |"]
    for item in metadata.contract.inputs:
        span = ", ".join(item.levels or ()) if item.levels else ""
        if item.min is not None and item.max is not None:
            span = f"{item.min:g} to {item.max:g}"
        nullable = "yes" if item.nullable else "no"
        gaps = data.gaps.get(item.name, 0)
        lines.append(f"| `{item.name}` | {item.kind} | {nullable} | {gaps} | {span} |")
    if report.is_dir():
        lines.append("")
        for path in sorted(report.glob("*.png")):
            where = Path(_relative(path, card.parent))
            lines.append(f"![{path.stem.replace('_', ' ')}]({where.as_posix()})")
    return "\n".join(lines)


def _relative(path: Path, start: Path) -> str:
    try:
        return str(path.resolve().relative_to(start.resolve()))
    except ValueError:
        return str(path.resolve())


def write_card(metadata: Metadata, models_dir: Path) -> Path:
    """Rewrite the generated section of the model card beside `models_dir` (created from a
    skeleton when missing); the rest of the card is kept as it is."""
    card = models_dir.resolve().parent / CARD_FILE
    text = (
        card.read_text(encoding="utf-8")
        if card.exists()
        else CARD_SKELETON.format(start=CARD_START, end=CARD_END)
    )
    if CARD_START not in text or CARD_END not in text:
        text = text.rstrip("\n") + f"\n\n{CARD_START}\n{CARD_END}\n"
    before, rest = text.split(CARD_START, 1)
    after = rest.split(CARD_END, 1)[1]
    section = card_section(metadata, models_dir, card)
    card.write_text(f"{before}{CARD_START}\n{section}\n{CARD_END}{after}", encoding="utf-8")
    return card


def figures(
    model: Any,
    held_out: Dataset,
    dataset: Dataset,
    contract: Contract,
    threshold: float | None,
    repeats: int,
) -> dict[str, bytes]:
    """The report's figures as PNG files, by name."""
    frame = model_frame(held_out.columns, contract)
    drawn: dict[str, Callable[[Any], None]] = {}
    if contract.labels:
        probabilities = model.predict_proba(frame)
        predicted = (
            model.predict(frame) if threshold is None else (probabilities[:, 1] >= threshold)
        ).astype(np.intp)
        drawn["confusion_matrix"] = lambda axes: _confusion(
            axes, held_out.target, predicted, contract.labels
        )
        if threshold is not None:
            drawn["roc_curve"] = lambda axes: _roc(axes, held_out.target, probabilities, threshold)
            drawn["precision_recall"] = lambda axes: _precision_recall(
                axes, held_out.target, probabilities, threshold
            )
            drawn["calibration"] = lambda axes: _calibration(axes, held_out.target, probabilities)
        counts = np.bincount(dataset.target, minlength=len(contract.labels))
        drawn["target_balance"] = lambda axes: _balance(axes, contract.labels, counts)
    else:
        values = model.predict(frame)
        drawn["predicted_vs_actual"] = lambda axes: _predicted(axes, held_out.target, values)
        drawn["residuals"] = lambda axes: _residuals(axes, held_out.target, values)
        drawn["target_balance"] = lambda axes: _histogram(axes, dataset.target)
    drawn["permutation_importance"] = lambda axes: _importance(
        axes, model, frame, held_out.target, repeats
    )
    return {f"{name}.png": _png(draw) for name, draw in drawn.items()}


def _png(draw: Callable[[Any], None]) -> bytes:
    from matplotlib.figure import Figure

    figure = Figure(figsize=(5, 4), layout="constrained")
    draw(figure.subplots())
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=80)
    return buffer.getvalue()


def _confusion(
    axes: Any, actual: npt.NDArray[Any], predicted: npt.NDArray[Any], labels: tuple[str, ...]
) -> None:
    from sklearn.metrics import confusion_matrix

    matrix = confusion_matrix(actual, predicted, labels=range(len(labels)))
    axes.imshow(matrix, cmap="Blues")
    for (row, column), count in np.ndenumerate(matrix):
        axes.text(column, row, str(count), ha="center", va="center")
    axes.set(
        xticks=range(len(labels)), yticks=range(len(labels)), xlabel="predicted", ylabel="actual"
    )
    axes.set_xticklabels(labels)
    axes.set_yticklabels(labels)
    axes.set_title("Confusion matrix (held-out rows)")


def _roc(
    axes: Any, actual: npt.NDArray[Any], probabilities: npt.NDArray[Any], threshold: float
) -> None:
    from sklearn.metrics import roc_curve

    false, true, thresholds = roc_curve(actual, probabilities[:, 1])
    axes.plot(false, true)
    at = int(np.argmin(np.abs(thresholds - threshold)))
    axes.plot(false[at], true[at], "o", label=f"threshold {threshold:.3f}")
    axes.plot([0, 1], [0, 1], "--", color="grey")
    axes.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC curve")
    axes.legend()


def _precision_recall(
    axes: Any, actual: npt.NDArray[Any], probabilities: npt.NDArray[Any], threshold: float
) -> None:
    from sklearn.metrics import precision_recall_curve

    precision, recall, thresholds = precision_recall_curve(actual, probabilities[:, 1])
    axes.plot(recall, precision)
    at = int(np.argmin(np.abs(thresholds - threshold)))
    axes.plot(recall[at], precision[at], "o", label=f"threshold {threshold:.3f}")
    axes.axhline(float(np.mean(actual)), linestyle="--", color="grey", label="class prior")
    axes.set(xlabel="recall", ylabel="precision", title="Precision-recall curve")
    axes.legend()


def _calibration(axes: Any, actual: npt.NDArray[Any], probabilities: npt.NDArray[Any]) -> None:
    from sklearn.calibration import calibration_curve

    observed, predicted = calibration_curve(actual, probabilities[:, 1], n_bins=10)
    axes.plot(predicted, observed, "o-")
    axes.plot([0, 1], [0, 1], "--", color="grey")
    axes.set(xlabel="predicted probability", ylabel="observed frequency", title="Calibration")


def _balance(axes: Any, labels: tuple[str, ...], counts: npt.NDArray[np.intp]) -> None:
    axes.bar(range(len(labels)), counts)
    axes.set_xticks(range(len(labels)))
    axes.set_xticklabels(labels)
    axes.set(ylabel="rows", title="Target balance (whole table)")


def _predicted(axes: Any, actual: npt.NDArray[Any], predicted: npt.NDArray[Any]) -> None:
    axes.scatter(actual, predicted, s=8)
    low, high = float(np.min(actual)), float(np.max(actual))
    axes.plot([low, high], [low, high], "--", color="grey")
    axes.set(xlabel="actual", ylabel="predicted", title="Predicted against actual")


def _residuals(axes: Any, actual: npt.NDArray[Any], predicted: npt.NDArray[Any]) -> None:
    axes.scatter(predicted, actual - predicted, s=8)
    axes.axhline(0, linestyle="--", color="grey")
    axes.set(xlabel="predicted", ylabel="actual - predicted", title="Residuals")


def _histogram(axes: Any, values: npt.NDArray[Any]) -> None:
    axes.hist(values, bins=30)
    axes.set(xlabel="target", ylabel="rows", title="Target distribution (whole table)")


def _importance(axes: Any, model: Any, frame: Any, actual: npt.NDArray[Any], repeats: int) -> None:
    from sklearn.inspection import permutation_importance

    result = permutation_importance(model, frame, actual, n_repeats=repeats, random_state=0)
    order = np.argsort(result.importances_mean)
    axes.barh(np.asarray(frame.columns)[order], result.importances_mean[order])
    axes.set(xlabel="score lost when the input is shuffled", title="Permutation importance")
