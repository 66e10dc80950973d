"""SageMaker Processing jobs run as a local process under the processing contract.

moto records a processing job as Completed at once and runs nothing. This stand-in runs the job
during CreateProcessingJob instead: it lays out the container's /opt/ml tree in a temporary
folder (with /opt/ml/config/processingjobconfig.json and resourceconfig.json), downloads each
ProcessingInput from the (moto) bucket to its LocalPath (an S3 prefix, or the objects a manifest
file names), runs AppSpecification's ContainerEntrypoint and ContainerArguments with every
/opt/ml/... path mapped into that folder and `python3` as the SageMaker image's interpreter
(mlops/local/runtime_env.py), then uploads each
ProcessingOutput's LocalPath to its S3Uri. /opt/ml/output/message becomes the job's ExitMessage;
a non-zero exit leaves the job Failed with that message (or the end of stderr) as the reason,
as SageMaker reports it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops.local import moto_access, runtime_env
from mlops.local.iam import enforcement
from mlops.local.job_output import run_with_live_log
from mlops.local.training_jobs import (
    JobSetupError,
    execution_role_access,
    live_log,
    manifest_objects,
    output_tail,
    prefix_objects,
    split_s3_uri,
)

CONTAINER_ROOT = "/opt/ml/"
CONTAINER_PYTHON = "python3"
MESSAGE_FILE = Path("output") / "message"
# SageMaker keeps the first 1 KB of the message file and of the failure reason.
MAX_MESSAGE_CHARS = 1024
DEFAULT_MAX_RUNTIME_SECONDS = 86400
HOST_NAME = "algo-1"


@dataclass
class ProcessingRun:
    job_name: str
    succeeded: bool
    failure_reason: str | None
    exit_message: str | None
    seconds: float
    log: str


class LocalProcessingJobRunner:
    def __init__(self, work_root: Path, live_log_folder: Path | None = None) -> None:
        """`live_log_folder`: where each job's output is appended as it comes (`<job>.log`)."""
        self._work_root = work_root
        self._live_log_folder = live_log_folder
        self.runs: dict[str, ProcessingRun] = {}

    def run(self, job_name: str, request: dict[str, Any]) -> ProcessingRun:
        """`request`: CreateProcessingJob's parameters as moto's backend receives them (snake_case keys)."""
        started = time.monotonic()
        job_root = Path(tempfile.mkdtemp(prefix=f"{job_name}-", dir=self._work_root))
        try:
            self._write_config(job_root, job_name, request)
            role = request.get("role_arn") or ""
            for processing_input in request.get("processing_inputs") or []:
                self._download_input(job_root, processing_input, role)
            completed = self._run_container(job_root, request, live_log(self._live_log_folder, job_name))
            message = _exit_message(job_root)
            failure = _failure_reason(completed, message)
            if failure is None:
                output_config = request.get("processing_output_config") or {}
                for output in output_config.get("Outputs") or []:
                    self._upload_output(job_root, output, role, output_config.get("KmsKeyId"))
            run = ProcessingRun(
                job_name, failure is None, failure, message, time.monotonic() - started, completed.stdout + completed.stderr
            )
        except JobSetupError as error:
            run = ProcessingRun(job_name, False, str(error), None, time.monotonic() - started, "")
        finally:
            shutil.rmtree(job_root, ignore_errors=True)
        self.runs[job_name] = run
        return run

    def _write_config(self, job_root: Path, job_name: str, request: dict[str, Any]) -> None:
        config_dir = job_root / "config"
        config_dir.mkdir(parents=True)
        job_config = {
            "ProcessingJobName": job_name,
            "AppSpecification": request.get("app_specification") or {},
            "ProcessingInputs": request.get("processing_inputs") or [],
            "ProcessingOutputConfig": request.get("processing_output_config") or {},
            "StoppingCondition": request.get("stopping_condition") or {},
            "RoleArn": request.get("role_arn"),
        }
        (config_dir / "processingjobconfig.json").write_text(json.dumps(job_config, default=str))
        (config_dir / "resourceconfig.json").write_text(json.dumps({"current_host": HOST_NAME, "hosts": [HOST_NAME]}))

    def _download_input(self, job_root: Path, processing_input: dict[str, Any], role: str) -> None:
        source = processing_input.get("S3Input")
        if source is None:
            raise JobSetupError(f"ClientError: input {processing_input.get('InputName')} has no S3Input")
        target = _local(job_root, source["LocalPath"])
        target.mkdir(parents=True, exist_ok=True)
        if source.get("S3DataType") == "ManifestFile":
            objects = manifest_objects(source["S3Uri"], role)
        else:
            with execution_role_access(role, "Data download failed"):
                enforcement.authorize_listing(role, *split_s3_uri(source["S3Uri"]))
            objects = prefix_objects(source["S3Uri"])
        if not objects:
            raise JobSetupError(f"ClientError: no S3 objects found under {source['S3Uri']} (input {processing_input['InputName']})")
        for bucket, key, relative in objects:
            destination = target / relative
            destination.parent.mkdir(parents=True, exist_ok=True)
            with execution_role_access(role, "Data download failed"):
                enforcement.authorize_object_read(role, bucket, key)
            try:
                destination.write_bytes(moto_access.read_object(bucket, key))
            except FileNotFoundError as error:
                raise JobSetupError(f"ClientError: s3://{bucket}/{key} does not exist") from error

    def _run_container(
        self, job_root: Path, request: dict[str, Any], live_log_file: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        specification = request.get("app_specification") or {}
        command = [*(specification.get("ContainerEntrypoint") or []), *(specification.get("ContainerArguments") or [])]
        if not command:
            raise JobSetupError("ClientError: AppSpecification has no ContainerEntrypoint")
        if command[0] == CONTAINER_PYTHON:
            command[0] = str(runtime_env.image_python())
        command = [str(_local(job_root, part)) if part.startswith(CONTAINER_ROOT) else part for part in command]
        (job_root / MESSAGE_FILE).parent.mkdir(parents=True, exist_ok=True)
        for output in (request.get("processing_output_config") or {}).get("Outputs") or []:
            _local(job_root, output["S3Output"]["LocalPath"]).mkdir(parents=True, exist_ok=True)
        max_runtime_seconds = (request.get("stopping_condition") or {}).get("MaxRuntimeInSeconds", DEFAULT_MAX_RUNTIME_SECONDS)
        try:
            return run_with_live_log(
                command,
                cwd=job_root,
                env=runtime_env.clean_environment(),
                timeout=max_runtime_seconds,
                live_log=live_log_file,
            )
        except subprocess.TimeoutExpired as error:
            raise JobSetupError(
                f"MaxRuntimeExceeded: processing job exceeded MaxRuntimeInSeconds ({max_runtime_seconds} s)"
            ) from error
        except OSError as error:
            raise JobSetupError(f"ClientError: the container command cannot start ({error})") from error

    def _upload_output(self, job_root: Path, output: dict[str, Any], role: str, kms_key_id: str | None) -> None:
        destination = output["S3Output"]
        bucket, prefix = split_s3_uri(destination["S3Uri"])
        prefix = prefix if not prefix or prefix.endswith("/") else prefix + "/"
        folder = _local(job_root, destination["LocalPath"])
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                with execution_role_access(role, "Uploading output failed"):
                    enforcement.authorize_object_write(role, bucket, prefix + path.relative_to(folder).as_posix(), kms_key_id)
                moto_access.write_object(bucket, prefix + path.relative_to(folder).as_posix(), path.read_bytes())


def _local(job_root: Path, container_path: str) -> Path:
    if not container_path.startswith(CONTAINER_ROOT):
        raise JobSetupError(f"ClientError: {container_path} is not under {CONTAINER_ROOT}")
    return job_root / container_path.removeprefix(CONTAINER_ROOT)


def _exit_message(job_root: Path) -> str | None:
    message_file = job_root / MESSAGE_FILE
    if message_file.is_file():
        text = message_file.read_text(encoding="utf-8", errors="replace").strip()
        return text[:MAX_MESSAGE_CHARS] or None
    return None


def _failure_reason(completed: subprocess.CompletedProcess[str], message: str | None) -> str | None:
    if completed.returncode == 0:
        return None
    if message:
        reason = message
    else:
        reason = output_tail(completed)
    return f"AlgorithmError: {reason}"[:MAX_MESSAGE_CHARS]
