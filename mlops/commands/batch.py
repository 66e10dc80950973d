"""`mlops batch FILE [--version N]`: score a file with a model version. The file is uploaded under
batch/ (batch/v<N>/ with --version), which starts the state machine's batch branch; the command
waits for that execution and prints its outcome and where the predictions are."""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops.cli_support import EXIT_FAILED, EXIT_OK, UsageError, add_target_arguments

if TYPE_CHECKING:
    from mlops.aws_target import AwsTarget

POLL_SECONDS = 2.0
DEFAULT_WAIT_SECONDS = 6 * 3600
FINISHED = frozenset({"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"})


def register(commands: argparse._SubParsersAction) -> None:
    command = commands.add_parser("batch", help="score a file with the serving model (or --version N); print where the predictions are")
    command.add_argument("file", type=Path, metavar="FILE", help="a CSV (plain or gzip) or Parquet file; the target may be left out")
    command.add_argument("--version", type=int, default=None, metavar="N", help="the approved model version to score with")
    command.add_argument("--wait", type=float, default=DEFAULT_WAIT_SECONDS, metavar="SECONDS",
                         help=f"how long to wait for the outcome (default {DEFAULT_WAIT_SECONDS} s)")
    command.add_argument("--json", action="store_true", help="the outcome as one JSON object")
    add_target_arguments(command)
    command.set_defaults(handler=lambda arguments: batch(
        arguments.file, arguments.version, arguments.config, arguments.local, arguments.json, arguments.wait,
        profile=arguments.profile, region=arguments.region))


def batch_key(file: Path, version: int | None) -> str:
    return f"batch/{f'v{version}/' if version is not None else ''}{file.name}"


def batch(
    file: Path,
    version: int | None,
    config_path: Path | None,
    local: bool,
    as_json: bool,
    wait_seconds: float,
    *,
    profile: str | None = None,
    region: str | None = None,
) -> int:
    from mlops.aws_target import resolve_target

    command = "mlops batch"
    if not file.is_file():
        raise UsageError(f"{command}: no such file: {file}")
    if version is not None and version < 1:
        raise UsageError(f"{command}: --version must be a version number (1 or more)")
    target = resolve_target(command, config_path, local, profile=profile, region=region)
    outcome = score_file(target, file, version, wait_seconds)
    if as_json:
        print(json.dumps(outcome, sort_keys=True))
    else:
        print(f"{file.name}: {outcome['outcome']}: {outcome['reason']}")
        for label in ("predictions_uri", "report_uri", "quarantine_uri"):
            if outcome.get(label):
                print(f"  {label.removesuffix('_uri')}: {outcome[label]}")
    return EXIT_OK if outcome["outcome"] == "scored" else EXIT_FAILED


def score_file(
    target: AwsTarget,
    file: Path,
    version: int | None,
    wait_seconds: float,
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """Upload, find the execution the upload's event started, wait for it, and read its outcome."""
    from infra.outputs import OUTPUT_STATE_MACHINE

    bucket = target.data_bucket
    machine = target.outputs.get(OUTPUT_STATE_MACHINE)
    if not bucket or not machine:
        raise UsageError(f"mlops batch: the outputs of {target.description} name no data bucket or state machine")
    key = batch_key(file, version)
    s3, sfn = target.client("s3"), target.client("stepfunctions")
    with file.open("rb") as body:
        uploaded = s3.put_object(Bucket=bucket, Key=key, Body=body)
    version_id = uploaded.get("VersionId")
    deadline = time.monotonic() + wait_seconds
    execution_arn = None
    while time.monotonic() < deadline:
        execution_arn = execution_arn or _execution_for(sfn, machine, key, version_id)
        if execution_arn:
            described = sfn.describe_execution(executionArn=execution_arn)
            if described["status"] in FINISHED:
                return batch_outcome(described, key)
        sleep(POLL_SECONDS)
    raise UsageError(
        f"mlops batch: s3://{bucket}/{key} was uploaded, but its scoring did not end within {wait_seconds:.0f} s"
        + (f"; follow {execution_arn}" if execution_arn else "")
    )


def _execution_for(sfn: Any, machine: str, key: str, version_id: str | None) -> str | None:
    for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=machine):
        for summary in page.get("executions", []):
            described = sfn.describe_execution(executionArn=summary["executionArn"])
            detail = json.loads(described.get("input") or "{}").get("detail") or {}
            obj = detail.get("object") or {}
            if obj.get("key") == key and (version_id is None or obj.get("version-id") in (None, version_id)):
                return summary["executionArn"]
    return None


def batch_outcome(described: dict[str, Any], key: str) -> dict[str, Any]:
    """What a finished batch execution came to, from its output (or, failed, its error)."""
    output = json.loads(described.get("output") or "{}")
    result = output.get("result") or {}
    plan = output.get("batch") or {}
    scored = output.get("batch_result") or {}
    if described["status"] != "SUCCEEDED":
        reason = plan.get("reason") or described.get("cause") or described.get("error") or "the execution failed"
        return {"key": key, "outcome": "failed", "reason": reason, "execution_arn": described["executionArn"],
                "report_uri": plan.get("report_uri")}
    return {
        "key": key,
        "outcome": result.get("outcome", "failed"),
        "reason": result.get("reason", "the execution recorded no outcome"),
        "execution_arn": described["executionArn"],
        "predictions_uri": scored.get("predictions_uri"),
        "report_uri": scored.get("report_uri") or plan.get("report_uri"),
        "quarantine_uri": plan.get("quarantine_uri"),
        "model_version": scored.get("model_version"),
    }
