"""Joining a Batch Transform job's answers to the rows it scored, line by line: the predictions
file (`PredictionJoin.lines`), the distribution of the predictions, and a readable byte stream
over lines for a managed upload (`LineStream`). Pure: it holds one line of each input at a time,
so it runs in the validate function ("Conclude batch") for a file the function validated and in
the validation job's image (processing_job.py --join) for a larger one.
"""

from __future__ import annotations

import csv
import io
import json
from array import array
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from functions.common.errors import PipelineError

MODEL_VERSION_COLUMN = "model_version"
PREDICTION_COLUMN = "prediction"
PROBABILITY_COLUMN_PREFIX = "probability_"
REGRESSION_QUANTILES = (0.0, 0.05, 0.25, 0.5, 0.75, 0.95, 1.0)
JOIN_PLAN_FILE_NAME = "join-plan.json"
JOIN_SUMMARY_FILE_NAME = "summary.json"


class BatchOutputError(PipelineError):
    """The transform job completed but its output does not hold one prediction per scored row."""


def transform_answers(answer_lines: Iterable[str]) -> Iterator[tuple[Any, list[float] | None, list[str] | None]]:
    """Each scored row's prediction, its probabilities and the classes they belong to, in order.

    Batch Transform with AssembleWith Line writes each mini-batch's answer followed by a line
    end; the serving code answers JSON on one line, so each line is one mini-batch in order."""
    for number, line in enumerate(answer_lines, start=1):
        if not line.strip():
            continue
        try:
            answer = json.loads(line)
            predictions = answer["predictions"]
        except (ValueError, KeyError, TypeError) as error:
            raise BatchOutputError(f"line {number} of the transform output is not a JSON answer: {error}") from error
        probabilities = answer.get("probabilities")
        classes = answer.get("classes")
        for position, prediction in enumerate(predictions):
            yield prediction, probabilities[position] if probabilities is not None else None, classes


class PredictionJoin:
    """Joins the transform job's answers to the scored rows line by line, holding one line of
    each at a time (and, for a regression, one float per row for the quantiles)."""

    def __init__(self, model_version: int, regression: bool) -> None:
        self.model_version = model_version
        self.regression = regression
        self.rows = 0
        self.classes: list[str] | None = None
        self._counts: Counter[str] = Counter()
        self._values = array("d")

    def lines(self, rows: Iterable[list[str]], answer_lines: Iterable[str]) -> Iterator[str]:
        """The predictions file: the rows' numbers and ids, then the prediction, a probability
        per class and the version. `rows` is rows.csv as parsed CSV, header first."""
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")

        def line(fields: list[Any]) -> str:
            buffer.seek(0)
            buffer.truncate()
            writer.writerow(fields)
            return buffer.getvalue()

        row_iterator = iter(rows)
        header = next(row_iterator, None)
        if header is None:
            raise BatchOutputError("the scored rows' file has no header")
        answers = transform_answers(answer_lines)
        wrote_header = False
        for row in row_iterator:
            answer = next(answers, None)
            if answer is None:
                raise BatchOutputError(
                    f"the transform output holds {self.rows} predictions for {self.rows + 1 + _count(row_iterator)} scored rows"
                )
            prediction, probabilities, classes = answer
            if not wrote_header:
                self.classes = classes if probabilities is not None else None
                yield line(self._header(header))
                wrote_header = True
            self._tally(prediction)
            extra = [repr(float(p)) for p in probabilities] if probabilities is not None else []
            yield line([*row, prediction, *extra, self.model_version])
        surplus = _count(answers)
        if surplus:
            raise BatchOutputError(f"the transform output holds {self.rows + surplus} predictions for {self.rows} scored rows")
        if not wrote_header:
            yield line(self._header(header))

    def summary(self) -> dict[str, Any]:
        return {"rows": self.rows, "classes": self.classes, "distribution": self.distribution()}

    def distribution(self) -> dict[str, Any]:
        if not self.rows:
            return {}
        if self.regression:
            values = np.frombuffer(self._values, dtype=float)
            return {
                "mean": float(values.mean()),
                "quantiles": {f"{q:g}": float(np.quantile(values, q)) for q in REGRESSION_QUANTILES},
            }
        total = self.rows
        counts = sorted(self._counts.items())
        return {"counts": dict(counts), "fractions": {k: v / total for k, v in counts}}

    def _header(self, header: list[str]) -> list[str]:
        probability_columns = [f"{PROBABILITY_COLUMN_PREFIX}{label}" for label in self.classes or []]
        return [*header, PREDICTION_COLUMN, *probability_columns, MODEL_VERSION_COLUMN]

    def _tally(self, prediction: Any) -> None:
        self.rows += 1
        if self.regression:
            self._values.append(float(prediction))
        else:
            self._counts[str(prediction)] += 1


def _count(items: Iterator[Any]) -> int:
    return sum(1 for _ in items)


class LineStream(io.RawIOBase):
    """A readable byte stream over text lines, so a managed upload sends them in parts without
    ever holding the whole file."""

    def __init__(self, lines: Iterable[str]) -> None:
        self._lines = iter(lines)
        self._pending = bytearray()

    def readable(self) -> bool:
        return True

    def readinto(self, target: Any) -> int:
        wanted = len(target)
        while len(self._pending) < wanted:
            line = next(self._lines, None)
            if line is None:
                break
            self._pending += line.encode("utf-8")
        size = min(wanted, len(self._pending))
        target[:size] = self._pending[:size]
        del self._pending[:size]
        return size


def join_files(
    rows_file: Path, answer_files: list[Path], predictions_file: Path, *, model_version: int, regression: bool
) -> dict[str, Any]:
    """Join on files (the validation job's --join mode); returns the summary "Conclude batch" reports."""
    join = PredictionJoin(model_version, regression)
    predictions_file.parent.mkdir(parents=True, exist_ok=True)

    def answer_lines() -> Iterator[str]:
        for path in answer_files:
            with path.open(encoding="utf-8") as answers:
                yield from answers

    with (
        rows_file.open(encoding="utf-8", newline="") as rows,
        predictions_file.open("w", encoding="utf-8", newline="") as out,
    ):
        for line in join.lines(csv.reader(rows), answer_lines()):
            out.write(line)
    return join.summary()
