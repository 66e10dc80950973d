"""The validation job: a SageMaker Processing job, in the scikit-learn framework image the
training uses, that validates an upload above validation.max_lambda_file_bytes with the same
`validate_file` the Lambda route calls.

It runs with ProcessingInputs and a ProcessingOutput only (no AWS calls, so the job runs with
network isolation):

    --plan     plan.json written by the "plan" mode of the Lambda function (job_documents.py):
               the upload's file name and the drift baseline profile;
    --data     the folder the upload was downloaded to (exactly the object, through a manifest);
    --output   the folder SageMaker uploads at the end: outcome.json and, when the data is
               accepted, splits/<split>.csv (for a file to score, plan.json's purpose
               "scoring": splits/features.csv and splits/rows.csv, as scoring_rows.py writes);
    --message-file  /opt/ml/output/message, which SageMaker reports as the job's ExitMessage.

With --join, the same image joins a transform job's answers to the rows of a file it validated
(prediction_join.py): inputs the join plan, rows.csv and the job's output; outputs
predictions.csv and summary.json.

Bad data is an outcome (outcome.json with the findings, exit status 0), never a failure; the
job fails (non-zero exit, reason in the message file) only when it cannot finish, and the
state machine reports that as a pipeline failure. The "conclude" mode of the Lambda function
then does the S3 side as the Lambda route does: duplicate check, quarantine, curated splits.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from functions.common.batch_layout import PREDICTIONS_FILE_NAME, ROWS_FILE_NAME
from functions.common.config import PipelineConfig
from functions.validate_data.job_documents import (
    OUTCOME_FILE_NAME,
    SPLITS_FOLDER,
    dumps,
    outcome_to_document,
)
from functions.validate_data.fingerprint import rows_fingerprint
from functions.validate_data.prediction_join import JOIN_SUMMARY_FILE_NAME, join_files
from functions.validate_data.scoring_rows import scoring_config
from functions.validate_data.splitting import SPLIT_NAMES
from functions.validate_data.storage import sha256_file
from functions.validate_data.validation import validate_file

DEFAULT_PLAN = "/opt/ml/processing/input/plan/plan.json"
DEFAULT_DATA_DIR = "/opt/ml/processing/input/data"
DEFAULT_OUTPUT_DIR = "/opt/ml/processing/output"
DEFAULT_MESSAGE_FILE = "/opt/ml/output/message"
# SageMaker keeps the first 1 KB of the message file.
MAX_MESSAGE_BYTES = 1024
# A gzip upload is decompressed on the job's volume, and its splits take about as much again.
DECOMPRESSED_SHARE_OF_FREE_DISK = 0.5


def parse_arguments(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Validate one uploaded file (SageMaker Processing job)")
    parser.add_argument("--plan", type=Path, default=Path(DEFAULT_PLAN))
    parser.add_argument("--data", type=Path, default=Path(DEFAULT_DATA_DIR))
    parser.add_argument("--output", type=Path, default=Path(DEFAULT_OUTPUT_DIR))
    parser.add_argument("--message-file", type=Path, default=Path(DEFAULT_MESSAGE_FILE))
    # --join: join a transform job's answers (--answers) to the scored rows (--data/rows.csv) into
    # --output/predictions.csv, with the summary in --summary; --plan is the join plan.
    parser.add_argument("--join", action="store_true")
    parser.add_argument("--answers", type=Path)
    parser.add_argument("--summary", type=Path)
    return parser.parse_args(list(argv))


def main(argv: Sequence[str], config_json: str | bytes) -> int:
    arguments = parse_arguments(argv)
    if arguments.join:
        return join_main(arguments)
    try:
        config = PipelineConfig.model_validate_json(config_json)
        plan = json.loads(arguments.plan.read_text(encoding="utf-8"))
        document = validate_upload_file(plan, config, arguments.data, arguments.output)
    except Exception as error:  # any failure to finish is the job's FailureReason, not an outcome
        traceback.print_exc()
        _write_message(arguments.message_file, f"{type(error).__name__}: {error}")
        return 1
    outcome = document["outcome"]
    verdict = "accepted" if outcome["accepted"] else f"rejected ({len(outcome['errors'])} finding(s))"
    _write_message(arguments.message_file, f"{plan['file_name']}: {outcome['rows']} rows, {verdict}")
    return 0


def join_main(arguments: argparse.Namespace) -> int:
    try:
        plan = json.loads(arguments.plan.read_text(encoding="utf-8"))
        answers = sorted(path for path in arguments.answers.rglob("*") if path.is_file())
        summary = join_files(
            arguments.data / ROWS_FILE_NAME,
            answers,
            arguments.output / PREDICTIONS_FILE_NAME,
            model_version=int(plan["model_version"]),
            regression=bool(plan["regression"]),
        )
        arguments.summary.mkdir(parents=True, exist_ok=True)
        (arguments.summary / JOIN_SUMMARY_FILE_NAME).write_text(dumps(summary), encoding="utf-8")
    except Exception as error:  # a join that cannot finish is the job's FailureReason
        traceback.print_exc()
        _write_message(arguments.message_file, f"{type(error).__name__}: {error}")
        return 1
    _write_message(arguments.message_file, f"{summary['rows']} rows joined to their predictions")
    return 0


def validate_upload_file(plan: dict[str, Any], config: PipelineConfig, data_dir: Path, output_dir: Path) -> dict[str, Any]:
    """Validate the planned file in `data_dir`; write outcome.json (and the splits) to `output_dir`."""
    file_name = plan["file_name"]
    source = data_dir / plan["input_file_name"]
    if not source.is_file():
        raise FileNotFoundError(f"the job's input has no file {plan['input_file_name']!r}")
    output_dir.mkdir(parents=True, exist_ok=True)
    dataset_version = sha256_file(source)
    baseline_profile = (plan.get("baseline") or {}).get("profile")
    free_bytes = shutil.disk_usage(output_dir).free
    # A file uploaded under batch/ is checked as a file to score: no target, rows in file order.
    scoring = plan.get("purpose") == "scoring"
    outcome = validate_file(
        source,
        scoring_config(config) if scoring else config,
        baseline_profile,
        work_dir=output_dir / SPLITS_FOLDER,
        file_name=file_name,
        max_decompressed_bytes=int(free_bytes * DECOMPRESSED_SHARE_OF_FREE_DISK),
        purpose="scoring" if scoring else "training",
    )
    document = outcome_to_document(
        outcome,
        dataset_version=dataset_version,
        execution_name=plan["execution_name"],
        source_bytes=source.stat().st_size,
        output_dir=output_dir,
    )
    if outcome.accepted and not scoring:
        document["rows_fingerprint"] = rows_fingerprint(
            [outcome.split_files[split] for split in SPLIT_NAMES],
            [(column.name, column.type) for column in config.dataset.columns],
        )
    (output_dir / OUTCOME_FILE_NAME).write_text(dumps(document), encoding="utf-8")
    return document


def _write_message(path: Path, message: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(message.encode("utf-8")[:MAX_MESSAGE_BYTES].decode("utf-8", "ignore").encode("utf-8"))
    except OSError:
        print(message, file=sys.stderr)
