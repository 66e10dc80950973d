"""The folder a local run leaves behind: what the data bucket's reports/ and quarantine/ held,
the function and job logs, and the outcome of each upload, kept after moto's memory is gone.

    <folder>/outcomes.txt                      the console's summary of every upload
    <folder>/outcomes.jsonl                    one JSON object per upload (as `--json` prints)
    <folder>/reports/<execution>/...           validation.{html,json}, evaluation.{html,json}
    <folder>/quarantine/<execution>/...        reason.json, upload/<file>, rows.csv
    <folder>/logs/functions/<function>.log     what each Lambda handler logged
    <folder>/logs/jobs/<job>.log               what each training or processing job printed

Keys are the bucket's; local paths are derived from them segment by segment, and a segment no
file system takes (`.`, `..`, above 255 bytes, a control character) becomes a digest of itself,
so nothing is written outside the folder.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from functions.common.batch_layout import PREDICTIONS_PREFIX
from functions.common.s3_layout import QUARANTINE_PREFIX, REPORTS_PREFIX
from mlops.local import moto_access
from mlops.terminal_text import for_terminal

if TYPE_CHECKING:
    from mlops.local.cloud import LocalCloud
    from mlops.local.results import UploadResult

OUTCOMES_TEXT = "outcomes.txt"
OUTCOMES_JSON_LINES = "outcomes.jsonl"
FUNCTION_LOGS = Path("logs") / "functions"
JOB_LOGS = Path("logs") / "jobs"
MAX_SEGMENT_BYTES = 255
DIGEST_CHARS = 16
MAX_RUN_NAME_CHARS = 40
UNSAFE_SEGMENT = re.compile(r"[\x00-\x1f\x7f]")
UNSAFE_NAME_CHARACTERS = re.compile(r"[^A-Za-z0-9._-]+")


def run_name(first_file: str, started: datetime) -> str:
    """`<UTC start>-<first file's stem>`: sorted by time, recognisable by its data."""
    stem = UNSAFE_NAME_CHARACTERS.sub("_", Path(first_file).stem).strip("._")[:MAX_RUN_NAME_CHARS] or "run"
    return f"{started:%Y%m%d-%H%M%S}-{stem}"


def local_path_for_key(root: Path, key: str) -> Path:
    """Where the object `key` is kept under `root`; always inside it."""
    segments = [_safe_segment(segment) for segment in key.split("/") if segment]
    return root.joinpath(*segments) if segments else root / _digest(key)


def _started_for(described: dict) -> str:
    """The object key (or approval) an execution was started for, from its input event."""
    try:
        event = json.loads(described.get("input") or "{}")
    except ValueError:
        event = {}
    detail = event.get("detail") if isinstance(event, dict) else None
    key = ((detail or {}).get("object") or {}).get("key") if isinstance(detail, dict) else None
    return str(key or (event.get("detail-type") if isinstance(event, dict) else None) or described.get("name"))


def _safe_segment(segment: str) -> str:
    if segment in {".", ".."} or len(segment.encode("utf-8")) > MAX_SEGMENT_BYTES or UNSAFE_SEGMENT.search(segment):
        return _digest(segment)
    return segment


def _digest(text: str) -> str:
    return "key-" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:DIGEST_CHARS]


class RunFolder:
    """One run's folder; `sync` copies what the local cloud holds now, and can be called again."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path).resolve()
        self.path.mkdir(parents=True, exist_ok=True)
        self._outcomes_written = 0

    @property
    def function_log_folder(self) -> Path:
        folder = self.path / FUNCTION_LOGS
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    @property
    def job_log_folder(self) -> Path:
        folder = self.path / JOB_LOGS
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def sync(self, cloud: LocalCloud) -> None:
        """Copy the bucket's reports and quarantine copies and the jobs' logs into the folder."""
        bucket = cloud.outputs.data_bucket
        for prefix in (REPORTS_PREFIX, QUARANTINE_PREFIX, PREDICTIONS_PREFIX):
            for key in moto_access.list_keys(bucket, prefix):
                destination = local_path_for_key(self.path, key)
                if destination.exists():
                    continue  # keys under reports/ and quarantine/ are written once per execution
                destination.parent.mkdir(parents=True, exist_ok=True)
                destination.write_bytes(moto_access.read_object(bucket, key))
        # The jobs' logs are written into the folder as they run (LocalCloud's job_log_folder).

    def sync_executions(self, cloud: LocalCloud) -> None:
        """For a server, where uploads come from the user's own tools: the outcome of every
        execution that has finished, labelled with the key it was started for."""
        from mlops.local.results import upload_result
        from mlops.local.runner import endpoint_status

        stepfunctions = cloud.client("stepfunctions")
        finished = [
            execution
            for page in stepfunctions.get_paginator("list_executions").paginate(stateMachineArn=cloud.outputs.state_machine_arn)
            for execution in page["executions"]
            if execution["status"] != "RUNNING"
        ]
        if len(finished) == self._outcomes_written:
            return
        results = []
        for execution in sorted(finished, key=lambda item: item["startDate"]):
            described = stepfunctions.describe_execution(executionArn=execution["executionArn"])
            results.append(upload_result(
                _started_for(described), described, cloud.history(execution["executionArn"]), endpoint_status(cloud)
            ))
        self.write_outcomes(results)
        self._outcomes_written = len(finished)

    def write_outcomes(self, results: Iterable[UploadResult]) -> None:
        from mlops.console import print_result

        results = list(results)
        text = io.StringIO()
        with (self.path / OUTCOMES_JSON_LINES).open("w", encoding="utf-8") as lines:
            for index, result in enumerate(results, start=1):
                lines.write(result.to_json() + "\n")
                print_result(result, index, len(results), text)
                for kept in self.kept_files(result):
                    print(f"      kept: {kept.relative_to(self.path)}", file=text)
                print(file=text)
        (self.path / OUTCOMES_TEXT).write_text(text.getvalue(), encoding="utf-8")

    def kept_files(self, result: UploadResult) -> list[Path]:
        """The files of this folder that belong to one upload's execution."""
        if not result.execution:
            return []
        execution_name = result.execution["arn"].rsplit(":", 1)[-1]
        found = []
        for prefix in (REPORTS_PREFIX, QUARANTINE_PREFIX):
            folder = local_path_for_key(self.path, f"{prefix}{execution_name}")
            if folder.is_dir():
                found.extend(sorted(path for path in folder.rglob("*") if path.is_file()))
        return found

    def summary_lines(self, results: Iterable[UploadResult] = ()) -> list[str]:
        """Where the results are, and each upload's reports and quarantine reason in it."""
        lines = [f"Results kept in {self.path}",
                 f"  {OUTCOMES_TEXT}, {OUTCOMES_JSON_LINES}: each upload's outcome"]
        for result in results:
            kept = [path for path in self.kept_files(result) if path.suffix == ".html" or path.name == "reason.json"]
            if kept:
                shown = ", ".join(str(path.relative_to(self.path)) for path in kept)
                lines.append(f"  {for_terminal(result.file)}: {for_terminal(shown)}")
        lines.append(f"  {FUNCTION_LOGS}/, {JOB_LOGS}/: function and job logs")
        return lines
