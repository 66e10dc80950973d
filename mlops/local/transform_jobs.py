"""SageMaker Batch Transform jobs run through the image's serving stack.

moto records a transform job as Completed at once and runs nothing. This stand-in runs the job
during CreateTransformJob instead, as Batch Transform does
(https://docs.aws.amazon.com/sagemaker/latest/dg/batch-transform.html,
https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateTransformJob.html): the
model's artifact is unpacked and served by the scikit-learn image's serving stack in a process of
the image's interpreter (endpoints.ServedModel, the same host the endpoint uses, but no endpoint:
no invocation metrics, no data capture); each input object under the S3Prefix is split into
records by line (SplitType Line), records are grouped into mini-batches of at most MaxPayloadInMB
(BatchStrategy MultiRecord; one record per request with SingleRecord), each mini-batch is POSTed
to /invocations with the input's ContentType and the output's Accept, and the answers are
joined, each followed by a line end (AssembleWith Line), into `<input name>.out` under
S3OutputPath. Everything S3 holds is read and written as the model's execution role, the output
with the output's KmsKeyId. A record above MaxPayloadInMB or an error status from the container
fails the job with a reason, as SageMaker reports it.
"""

from __future__ import annotations

import io
import shutil
import tarfile
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlops.local import moto_access
from mlops.local.endpoints import ModelInvocationError, ServedModel
from mlops.local.iam import enforcement
from mlops.local.training_jobs import JobSetupError, execution_role_access, live_log, prefix_objects, split_s3_uri

BYTES_PER_MB = 1024 * 1024
HTTP_OK = 200
OUTPUT_SUFFIX = ".out"
LINE_END = b"\n"
DEFAULT_MAX_PAYLOAD_MB = 6


@dataclass
class TransformRun:
    job_name: str
    succeeded: bool
    failure_reason: str | None
    seconds: float
    requests: int = 0
    records: int = 0
    outputs: list[str] = field(default_factory=list)


def mini_batches(records: list[bytes], max_payload_bytes: int, multi_record: bool) -> list[bytes]:
    """Consecutive records joined into request bodies of at most `max_payload_bytes` each."""
    batches: list[bytes] = []
    current: list[bytes] = []
    size = 0
    for record in records:
        if len(record) > max_payload_bytes:
            raise JobSetupError(
                f"ClientError: a record of {len(record)} bytes is larger than MaxPayloadInMB ({max_payload_bytes // BYTES_PER_MB} MB)"
            )
        if current and (not multi_record or size + len(record) > max_payload_bytes):
            batches.append(b"".join(current))
            current, size = [], 0
        current.append(record)
        size += len(record)
    if current:
        batches.append(b"".join(current))
    return batches


def split_records(body: bytes, split_type: str | None) -> list[bytes]:
    if split_type == "Line":
        return [line if line.endswith(LINE_END) else line + LINE_END for line in body.splitlines() if line.strip()]
    return [body] if body else []


class LocalTransformJobRunner:
    def __init__(self, work_root: Path, live_log_folder: Path | None = None) -> None:
        self._work_root = work_root
        self._live_log_folder = live_log_folder
        self.runs: dict[str, TransformRun] = {}

    def run(self, job_name: str, request: dict[str, Any]) -> TransformRun:
        """`request`: CreateTransformJob's parameters as moto's backend receives them (snake_case keys)."""
        started = time.monotonic()
        job_root = Path(tempfile.mkdtemp(prefix=f"{job_name}-", dir=self._work_root))
        run = TransformRun(job_name, False, None, 0.0)
        served: ServedModel | None = None
        try:
            model = moto_access.sagemaker_backend()._models[request["model_name"]]
            role = model.execution_role_arn
            container = model.primary_container or (model.containers or [{}])[0]
            served = self._serve(job_root, container, role, job_name)
            transform_input = request.get("transform_input") or {}
            transform_output = request.get("transform_output") or {}
            max_payload_bytes = int(request.get("max_payload_in_mb") or DEFAULT_MAX_PAYLOAD_MB) * BYTES_PER_MB
            multi_record = request.get("batch_strategy") == "MultiRecord"
            for bucket, key, relative in self._input_objects(transform_input, role):
                with execution_role_access(role, "Data download failed"):
                    enforcement.authorize_object_read(role, bucket, key)
                records = split_records(moto_access.read_object(bucket, key), transform_input.get("SplitType"))
                answers = []
                for body in mini_batches(records, max_payload_bytes, multi_record):
                    answers.append(self._invoke(served, body, transform_input, transform_output))
                    run.requests += 1
                run.records += len(records)
                run.outputs.append(self._write_output(transform_output, relative, answers, role))
            run.succeeded = True
        except JobSetupError as error:
            run.failure_reason = str(error)
        finally:
            if served is not None:
                served.close()
            shutil.rmtree(job_root, ignore_errors=True)
        run.seconds = time.monotonic() - started
        self.runs[job_name] = run
        return run

    def _serve(self, job_root: Path, container: dict[str, Any], role: str, job_name: str) -> ServedModel:
        bucket, key = split_s3_uri(container["ModelDataUrl"])
        # SageMaker downloads the model artifact as the model's execution role.
        with execution_role_access(role, "Failed to download model data"):
            enforcement.authorize_object_read(role, bucket, key)
        with tarfile.open(fileobj=io.BytesIO(moto_access.read_object(bucket, key)), mode="r:gz") as archive:
            archive.extractall(job_root / "model", filter="data")
        log_path = live_log(self._live_log_folder, job_name) or job_root / "container.log"
        try:
            return ServedModel(container, job_root, log_path)
        except ModelInvocationError as error:
            raise JobSetupError(f"ClientError: {error}") from error

    def _input_objects(self, transform_input: dict[str, Any], role: str) -> list[tuple[str, str, str]]:
        source = (transform_input.get("DataSource") or {}).get("S3DataSource") or {}
        if source.get("S3DataType") != "S3Prefix":
            raise JobSetupError(f"ClientError: the local cloud runs S3Prefix inputs only, not {source.get('S3DataType')}")
        with execution_role_access(role, "Data download failed"):
            enforcement.authorize_listing(role, *split_s3_uri(source["S3Uri"]))
        objects = prefix_objects(source["S3Uri"])
        if not objects:
            raise JobSetupError(f"ClientError: no S3 objects found under {source['S3Uri']}")
        return objects

    def _invoke(
        self, served: ServedModel, body: bytes, transform_input: dict[str, Any], transform_output: dict[str, Any]
    ) -> bytes:
        try:
            response = served.invoke(body, transform_input.get("ContentType") or "", transform_output.get("Accept"))
        except ModelInvocationError as error:
            raise JobSetupError(f"ClientError: {error}") from error
        if response.status != HTTP_OK:
            message = response.body.decode("utf-8", errors="replace")[:512]
            raise JobSetupError(f"ClientError: the model answered {response.status}: {message}")
        return response.body

    def _write_output(self, transform_output: dict[str, Any], relative: str, answers: list[bytes], role: str) -> str:
        bucket, prefix = split_s3_uri(transform_output["S3OutputPath"])
        prefix = prefix if not prefix or prefix.endswith("/") else prefix + "/"
        key = f"{prefix}{relative}{OUTPUT_SUFFIX}"
        joiner = LINE_END if transform_output.get("AssembleWith") == "Line" else b""
        body = b"".join(answer + joiner for answer in answers)
        with execution_role_access(role, "Uploading output failed"):
            enforcement.authorize_object_write(role, bucket, key, transform_output.get("KmsKeyId"))
        moto_access.write_object(bucket, key, body)
        return f"s3://{bucket}/{key}"
