"""Ground-truth label files: what a person or a labelling job uploads under ground-truth/.

CSV with a header that names ``inference_id`` and ``label`` (other columns are ignored), or
JSON lines, one ``{"inference_id": ..., "label": ...}`` object per line. ``inference_id`` is the
InferenceId the caller passed to InvokeEndpoint (or the capture record's eventId).

A file that cannot be read that way is rejected with a GroundTruthFormatError naming the check.
Rows of a readable file with an empty id or label are counted as invalid; an id labelled twice
keeps its first label and is counted as a duplicate.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from functions.common.errors import PipelineError

INFERENCE_ID_COLUMN = "inference_id"
LABEL_COLUMN = "label"
# A label file is a batch of answers, not a dataset; anything bigger belongs in another route.
MAX_GROUND_TRUTH_BYTES = 64 * 1024 * 1024
MAX_PROBLEM_EXAMPLES = 5


class GroundTruthFormatError(PipelineError):
    """The ground-truth file is not CSV with inference_id,label nor JSON lines; `check` names why."""

    def __init__(self, check: str, message: str) -> None:
        super().__init__(message)
        self.check = check


@dataclass
class GroundTruthLabels:
    labels: dict[str, Any] = field(default_factory=dict)
    rows: int = 0
    invalid_rows: int = 0
    duplicate_ids: int = 0
    problem_examples: list[str] = field(default_factory=list)

    def add(self, row_number: int, inference_id: Any, label: Any) -> None:
        self.rows += 1
        identifier = "" if inference_id is None else str(inference_id).strip()
        if not identifier or label is None or (isinstance(label, str) and not label.strip()):
            self.invalid_rows += 1
            self._example(f"row {row_number}: empty {INFERENCE_ID_COLUMN} or {LABEL_COLUMN}")
            return
        if identifier in self.labels:
            self.duplicate_ids += 1
            self._example(f"row {row_number}: {identifier} was already labelled")
            return
        self.labels[identifier] = label.strip() if isinstance(label, str) else label

    def _example(self, text: str) -> None:
        if len(self.problem_examples) < MAX_PROBLEM_EXAMPLES:
            self.problem_examples.append(text)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "labelled_ids": len(self.labels),
            "invalid_rows": self.invalid_rows,
            "duplicate_ids": self.duplicate_ids,
            "problem_examples": list(self.problem_examples),
        }


def _decode(body: bytes) -> str:
    if len(body) > MAX_GROUND_TRUTH_BYTES:
        raise GroundTruthFormatError(
            "file_too_large", f"the file has {len(body)} bytes; ground-truth files are limited to {MAX_GROUND_TRUTH_BYTES}"
        )
    try:
        return body.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise GroundTruthFormatError("encoding", f"the file is not UTF-8 text (byte {error.start})") from error


def _json_line_rows(lines: Iterable[tuple[int, str]]) -> Iterator[tuple[int, Any, Any]]:
    for line_number, line in lines:
        try:
            document = json.loads(line)
        except json.JSONDecodeError as error:
            raise GroundTruthFormatError("json_lines", f"line {line_number} is not JSON: {error.msg}") from error
        if not isinstance(document, dict):
            raise GroundTruthFormatError("json_lines", f"line {line_number} is not a JSON object")
        if INFERENCE_ID_COLUMN not in document or LABEL_COLUMN not in document:
            raise GroundTruthFormatError(
                "json_lines", f"line {line_number} lacks {INFERENCE_ID_COLUMN!r} or {LABEL_COLUMN!r}"
            )
        yield line_number, document[INFERENCE_ID_COLUMN], document[LABEL_COLUMN]


def _csv_rows(text: str) -> Iterator[tuple[int, Any, Any]]:
    reader = csv.reader(io.StringIO(text))
    try:
        header = [name.strip().lower() for name in next(reader)]
    except StopIteration as error:
        raise GroundTruthFormatError("empty_file", "the file holds no rows") from error
    except csv.Error as error:
        raise GroundTruthFormatError("csv", f"the header is not CSV: {error}") from error
    if INFERENCE_ID_COLUMN not in header or LABEL_COLUMN not in header:
        raise GroundTruthFormatError(
            "header",
            f"the CSV header must name {INFERENCE_ID_COLUMN} and {LABEL_COLUMN}; it has {', '.join(header) or 'nothing'}",
        )
    id_position, label_position = header.index(INFERENCE_ID_COLUMN), header.index(LABEL_COLUMN)
    try:
        for row in reader:
            if not any(value.strip() for value in row):
                continue
            if len(row) != len(header):
                raise GroundTruthFormatError(
                    "csv", f"line {reader.line_num} has {len(row)} fields; the header has {len(header)}"
                )
            yield reader.line_num, row[id_position], row[label_position]
    except csv.Error as error:
        raise GroundTruthFormatError("csv", f"line {reader.line_num} is not CSV: {error}") from error


def parse_ground_truth(body: bytes) -> GroundTruthLabels:
    text = _decode(body)
    lines = [(number, line) for number, line in enumerate(text.splitlines(), start=1) if line.strip()]
    if not lines:
        raise GroundTruthFormatError("empty_file", "the file holds no rows")
    rows = _json_line_rows(lines) if lines[0][1].lstrip().startswith("{") else _csv_rows(text)
    labels = GroundTruthLabels()
    for row_number, inference_id, label in rows:
        labels.add(row_number, inference_id, label)
    if not labels.rows:
        raise GroundTruthFormatError("empty_file", "the file has a header but no labelled rows")
    return labels
