"""SageMaker endpoints served from the trained artifact, and endpoint updates.

moto keeps endpoints as records: InvokeEndpoint returns canned text and UpdateEndpoint is not
implemented. This stand-in serves an invocation through the serving stack of the framework image the
model names (scikit-learn or XGBoost), in that image's environment (mlops/local/runtime_env.py): the variant's model.tar.gz is unpacked
under a SAGEMAKER_BASE_DIR of its own, and a process of the image's interpreter
(image_serving_host.py) imports `SAGEMAKER_PROGRAM` from `SAGEMAKER_SUBMIT_DIRECTORY` and answers
through sagemaker-containers' transformer and worker. Its status, Content-Type and body are the
container's: a 4xx or 5xx becomes SageMaker's ModelError with the original status, counted as
Invocation4XXErrors or Invocation5XXErrors.

CreateEndpoint and UpdateEndpoint take time, as in SageMaker: the endpoint is Creating or
Updating (still serving the old config) until the deployment bakes, which ends at the first
look at the endpoint (DescribeEndpoint, ListEndpoints, InvokeEndpoint, another deployment) at
least `deployment_bake_seconds` after it started. Meanwhile another UpdateEndpoint fails with
SageMaker's ValidationException, as does a CreateEndpoint of an existing name. An update then
moves the endpoint to the new endpoint config, unless one of the deployment's auto-rollback
alarms is in ALARM, in which case the endpoint is InService on the old config, which is how
SageMaker reports a blue/green update that rolled back.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import subprocess
import tarfile
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any

from mlops.local import moto_access, runtime_env
from mlops.local.iam import enforcement
from mlops.local.iam.operations import Authorization

SERVING_MOUNT = "/opt/ml/model"
SERVING_HOST = Path(__file__).resolve().parent / "image_serving_host.py"
SERVING_HOST_EXIT_SECONDS = 5
SERVING_OPENMP_THREADS = "1"
HTTP_INTERNAL_SERVER_ERROR = 500
HTTP_CLIENT_ERROR_CLASS = 4
HTTP_SERVER_ERROR_CLASS = 5


class EndpointNotFoundError(Exception):
    pass


class EndpointInProgressError(Exception):
    """A deployment of the endpoint is in progress (the endpoint's ARN)."""


class EndpointExistsError(Exception):
    """CreateEndpoint of a name that exists (the endpoint's ARN)."""


class ModelInvocationError(Exception):
    """The container answered with an error status, or could not serve (SageMaker's ModelError)."""

    def __init__(self, message: str, original_status: int = HTTP_INTERNAL_SERVER_ERROR) -> None:
        super().__init__(message)
        self.original_status = original_status


@dataclass
class ContainerResponse:
    status: int
    content_type: str
    body: bytes


class ServedModel:
    """A model artifact served by the image's serving stack in a process of the image's interpreter."""

    def __init__(self, container: dict[str, Any], base_dir: Path, log_path: Path) -> None:
        environment = container.get("Environment") or {}
        submit_directory = environment.get("SAGEMAKER_SUBMIT_DIRECTORY", f"{SERVING_MOUNT}/code")
        serving_environment = {
            **runtime_env.clean_environment(),
            **{key: str(value) for key, value in environment.items()},
            "SAGEMAKER_BASE_DIR": str(base_dir),
            "SAGEMAKER_PROGRAM": environment.get("SAGEMAKER_PROGRAM", "inference.py"),
            # The image mounts the artifact at /opt/ml/model; here it is unpacked under base_dir/model.
            "SAGEMAKER_SUBMIT_DIRECTORY": str(base_dir / "model" / submit_directory.removeprefix(SERVING_MOUNT).lstrip("/")),
            # An endpoint instance has its cores to itself; a local machine runs jobs, tests and other
            # endpoints beside it, and OpenMP's spinning threads then make ModelLatency measure that
            # load (8 s instead of 30 ms for 60 rows on a busy 2-core machine), which trips the
            # latency alarm. One thread changes no prediction: each row is scored on its own.
            "OMP_NUM_THREADS": SERVING_OPENMP_THREADS,
        }
        image = container.get("Image") or ""
        try:
            framework = runtime_env.framework_of_image(image) if image else "sklearn"
            python = runtime_env.image_python(framework)
        except runtime_env.UnknownImageError as error:
            raise ModelInvocationError(f"the model container did not start: {error}") from error
        answers_read, answers_write = os.pipe()
        self._log = log_path.open("ab")
        try:
            self._process = subprocess.Popen(
                [str(python), str(SERVING_HOST), str(answers_write), framework],
                stdin=subprocess.PIPE,
                stdout=self._log,
                stderr=self._log,
                env=serving_environment,
                pass_fds=(answers_write,),
            )
        finally:
            os.close(answers_write)
        self._answers: IO[str] = os.fdopen(answers_read, "r")
        self._lock = threading.Lock()
        ready = self._read_answer()
        if not ready.get("ready"):
            self.close()
            raise ModelInvocationError(f"the model container did not start: {ready.get('error')}")

    def invoke(self, body: bytes, content_type: str, accept: str | None) -> ContainerResponse:
        request = {"body": base64.b64encode(body).decode("ascii"), "content_type": content_type, "accept": accept}
        with self._lock:
            assert self._process.stdin is not None
            self._process.stdin.write((json.dumps(request) + "\n").encode())
            self._process.stdin.flush()
            answer = self._read_answer()
        return ContainerResponse(answer["status"], answer.get("content_type") or "", base64.b64decode(answer["body"]))

    def _read_answer(self) -> dict[str, Any]:
        line = self._answers.readline()
        if not line:
            raise ModelInvocationError("the model container exited; see its log")
        return json.loads(line)

    def close(self) -> None:
        if self._process.stdin is not None:
            self._process.stdin.close()
        try:
            self._process.wait(timeout=SERVING_HOST_EXIT_SECONDS)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._answers.close()
        self._log.close()


@dataclass
class PendingDeployment:
    endpoint_config_name: str
    rollback_alarm_names: list[str]
    started_monotonic: float
    is_update: bool


@dataclass
class Invocation:
    body: bytes
    content_type: str
    variant: str
    model_version: str | None


INVOCATION_NAMESPACE = "AWS/SageMaker"
MICROSECONDS_PER_SECOND = 1_000_000
PERCENT = 100


class LocalEndpointServer:
    def __init__(self, work_root: Path) -> None:
        self._work_root = work_root
        self._models: dict[str, ServedModel] = {}
        self._lock = threading.Lock()
        self._deployment_lock = threading.Lock()
        self._pending: dict[str, PendingDeployment] = {}
        # Alarms that go off while the next blue/green update bakes (fault-injection tests).
        self.alarms_during_next_update: list[str] = []
        # Model versions whose container fails every request with a 500, as a model that runs out
        # of memory or hits a bug would (fault injection for tests and the demo).
        self.failing_model_versions: set[str] = set()
        # How long a deployment stays Creating/Updating at least; 0 ends it at the next look.
        self.deployment_bake_seconds = 0.0
        # The most CreateEndpoint/UpdateEndpoint requests for one endpoint in progress at once,
        # counting one SageMaker rejected because another was in progress.
        self.max_updates_in_flight = 0

    def invoke(
        self, endpoint_name: str, body: bytes, content_type: str, accept: str | None, inference_id: str | None = None
    ) -> Invocation:
        container, variant = self._serving_container(endpoint_name)
        served = self._load(container)
        environment = container.get("Environment") or {}
        started = time.monotonic()
        if environment.get("MODEL_VERSION") in self.failing_model_versions:
            response = ContainerResponse(HTTP_INTERNAL_SERVER_ERROR, "text/plain", b"the model failed (injected fault)")
        else:
            response = served.invoke(body, content_type, accept)
        status_class = response.status // 100
        _publish_invocation_metrics(endpoint_name, variant, time.monotonic() - started, status_class)
        if status_class in (HTTP_CLIENT_ERROR_CLASS, HTTP_SERVER_ERROR_CLASS):
            message = response.body.decode("utf-8", errors="replace")
            raise ModelInvocationError(
                f"Received {'client' if status_class == HTTP_CLIENT_ERROR_CLASS else 'server'} error "
                f"({response.status}) from primary with message \"{message}\"",
                original_status=response.status,
            )
        _capture(endpoint_name, variant, body, content_type, response.body, response.content_type, inference_id)
        return Invocation(response.body, response.content_type, variant, environment.get("MODEL_VERSION"))

    def close(self) -> None:
        with self._lock:
            for served in self._models.values():
                served.close()
            self._models.clear()

    def create(self, endpoint_name: str, create: Callable[[], Any]) -> Any:
        """CreateEndpoint through moto's `create`, which would replace an existing endpoint."""
        backend = moto_access.sagemaker_backend()
        with self._deployment_lock:
            self._settle(endpoint_name)
            existing = backend.endpoints.get(endpoint_name)
            self._count_request(endpoint_name)
            if existing is not None:
                raise EndpointExistsError(existing.arn)
            self._pending.pop(endpoint_name, None)
            endpoint = create()
            endpoint.endpoint_status = "Creating"
            self._pending[endpoint_name] = PendingDeployment(
                endpoint.endpoint_config_name, [], time.monotonic(), is_update=False
            )
            return endpoint

    def update(self, endpoint_name: str, endpoint_config_name: str, deployment_config: dict[str, Any] | None) -> str:
        backend = moto_access.sagemaker_backend()
        endpoint = backend.endpoints.get(endpoint_name)
        if endpoint is None:
            raise EndpointNotFoundError(endpoint_name)
        if backend.endpoint_configs.get(endpoint_config_name) is None:
            raise EndpointNotFoundError(f"endpoint config {endpoint_config_name}")
        alarms = ((deployment_config or {}).get("AutoRollbackConfiguration") or {}).get("Alarms") or []
        with self._deployment_lock:
            self._settle(endpoint_name)
            self._count_request(endpoint_name)
            if endpoint_name in self._pending:
                raise EndpointInProgressError(endpoint.arn)
            endpoint.endpoint_status = "Updating"
            self._pending[endpoint_name] = PendingDeployment(
                endpoint_config_name, [alarm["AlarmName"] for alarm in alarms], time.monotonic(), is_update=True
            )
        # Outside the lock: an alarm's event reaches its responder in this thread, which may
        # look at the endpoint.
        self._raise_alarms_during_bake()
        return endpoint.arn

    def settle(self, endpoint_name: str | None = None) -> None:
        """End the deployments of this endpoint (or of all) whose bake is over."""
        with self._deployment_lock:
            for name in [endpoint_name] if endpoint_name else list(self._pending):
                self._settle(name)

    def _settle(self, endpoint_name: str) -> None:
        pending = self._pending.get(endpoint_name)
        if pending is None or time.monotonic() - pending.started_monotonic < self.deployment_bake_seconds:
            return
        del self._pending[endpoint_name]
        backend = moto_access.sagemaker_backend()
        endpoint = backend.endpoints.get(endpoint_name)
        if endpoint is None:
            return
        if pending.is_update:
            firing = _alarms_in_alarm(pending.rollback_alarm_names)
            unwatched = _alarms_the_role_cannot_describe(pending.endpoint_config_name, pending.rollback_alarm_names)
            if unwatched:
                endpoint.failure_reason = (
                    "Update failed: the execution role is not authorized to perform cloudwatch:DescribeAlarms "
                    f"on the auto-rollback alarm(s) {', '.join(unwatched)} (AccessDenied)"
                )
            elif firing:
                endpoint.failure_reason = f"Rolled back: alarm(s) {', '.join(firing)} in ALARM during the update"
            else:
                config = backend.endpoint_configs[pending.endpoint_config_name]
                endpoint.endpoint_config_name = pending.endpoint_config_name
                endpoint.production_variants = endpoint._process_production_variants(config.production_variants)
                endpoint.data_capture_config = config.data_capture_config
                endpoint.failure_reason = None
        endpoint.endpoint_status = "InService"
        endpoint.last_modified_time = _now()

    def _count_request(self, endpoint_name: str) -> None:
        in_flight = 1 + (endpoint_name in self._pending)
        self.max_updates_in_flight = max(self.max_updates_in_flight, in_flight)

    def _raise_alarms_during_bake(self) -> None:
        cloudwatch = moto_access.cloudwatch_backend()
        while self.alarms_during_next_update:
            name = self.alarms_during_next_update.pop(0)
            cloudwatch.set_alarm_state(name, "Threshold crossed while the new fleet baked", "{}", "ALARM")

    def _serving_container(self, endpoint_name: str) -> tuple[dict[str, Any], str]:
        self.settle(endpoint_name)
        backend = moto_access.sagemaker_backend()
        endpoint = backend.endpoints.get(endpoint_name)
        # An update serves the old config until it completes.
        if endpoint is None or endpoint.endpoint_status not in ("InService", "Updating"):
            raise EndpointNotFoundError(endpoint_name)
        config = backend.endpoint_configs[endpoint.endpoint_config_name]
        variant = config.production_variants[0]
        model = backend._models[variant["ModelName"]]
        container = model.primary_container or (model.containers or [{}])[0]
        bucket, _, key = container["ModelDataUrl"].removeprefix("s3://").partition("/")
        # SageMaker downloads the model artifact as the model's execution role.
        try:
            enforcement.authorize_object_read(model.execution_role_arn, bucket, key)
        except enforcement.AccessDeniedError as error:
            raise ModelInvocationError(f"Failed to download model data: {error}") from error
        return container, variant["VariantName"]

    def _load(self, container: dict[str, Any]) -> ServedModel:
        model_data_url = container["ModelDataUrl"]
        with self._lock:
            if model_data_url not in self._models:
                self._models[model_data_url] = self._load_uncached(container)
            return self._models[model_data_url]

    def _load_uncached(self, container: dict[str, Any]) -> ServedModel:
        bucket, _, key = container["ModelDataUrl"].removeprefix("s3://").partition("/")
        base_dir = Path(tempfile.mkdtemp(prefix="model-", dir=self._work_root))
        with tarfile.open(fileobj=io.BytesIO(moto_access.read_object(bucket, key)), mode="r:gz") as archive:
            archive.extractall(base_dir / "model", filter="data")
        return ServedModel(container, base_dir, base_dir / "container.log")


def _publish_invocation_metrics(endpoint_name: str, variant: str, seconds: float, status_class: int) -> None:
    """The per-invocation metrics SageMaker publishes for an endpoint variant."""
    dimensions = [{"Name": "EndpointName", "Value": endpoint_name}, {"Name": "VariantName", "Value": variant}]
    moto_access.cloudwatch_backend().put_metric_data(
        INVOCATION_NAMESPACE,
        [
            {"MetricName": "Invocations", "Value": 1, "Unit": "Count", "Dimensions": dimensions},
            {"MetricName": "Invocation4XXErrors", "Value": int(status_class == HTTP_CLIENT_ERROR_CLASS), "Unit": "Count", "Dimensions": dimensions},
            {"MetricName": "Invocation5XXErrors", "Value": int(status_class == HTTP_SERVER_ERROR_CLASS), "Unit": "Count", "Dimensions": dimensions},
            {"MetricName": "ModelLatency", "Value": seconds * MICROSECONDS_PER_SECOND, "Unit": "Microseconds", "Dimensions": dimensions},
        ],
    )


def _capture(
    endpoint_name: str,
    variant: str,
    request: bytes,
    request_type: str,
    response: bytes,
    response_type: str,
    inference_id: str | None,
) -> None:
    """SageMaker data capture: one JSON line per sampled invocation under the configured prefix."""
    endpoint = moto_access.sagemaker_backend().endpoints[endpoint_name]
    capture = endpoint.data_capture_config or {}
    if not capture.get("EnableCapture"):
        return
    event_id = str(uuid.uuid4())
    sampled_in = int(hashlib.sha256(event_id.encode()).hexdigest(), 16) % PERCENT
    if sampled_in >= int(capture.get("InitialSamplingPercentage", PERCENT)):
        return
    now = datetime.now(timezone.utc)
    modes = {option["CaptureMode"] for option in capture.get("CaptureOptions", [])}
    record = {
        "captureData": {
            **({"endpointInput": _captured(request, request_type, "INPUT")} if "Input" in modes else {}),
            **({"endpointOutput": _captured(response, response_type, "OUTPUT")} if "Output" in modes else {}),
        },
        "eventMetadata": {
            "eventId": event_id,
            "inferenceTime": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            **({"inferenceId": inference_id} if inference_id else {}),
        },
        "eventVersion": "0",
    }
    bucket, _, prefix = capture["DestinationS3Uri"].removeprefix("s3://").partition("/")
    key = (
        f"{prefix.rstrip('/')}/{endpoint_name}/{variant}/{now:%Y/%m/%d/%H}/"
        f"{now:%M-%S-%f}-{event_id}.jsonl"
    ).lstrip("/")
    if not _capture_allowed(endpoint_name, variant, bucket, key, capture.get("KmsKeyId")):
        return
    moto_access.write_object(bucket, key, (json.dumps(record) + "\n").encode())


def _capture_allowed(endpoint_name: str, variant: str, bucket: str, key: str, kms_key_id: str | None) -> bool:
    """SageMaker writes captured data as the variant's model execution role; a refused write
    loses the record, as in AWS, where it shows only in the endpoint's logs."""
    backend = moto_access.sagemaker_backend()
    config = backend.endpoint_configs[backend.endpoints[endpoint_name].endpoint_config_name]
    model_name = next(v["ModelName"] for v in config.production_variants if v["VariantName"] == variant)
    try:
        enforcement.authorize_object_write(backend._models[model_name].execution_role_arn, bucket, key, kms_key_id)
    except enforcement.AccessDeniedError:
        return False
    return True


def _captured(body: bytes, content_type: str, mode: str) -> dict[str, str]:
    text_types = ("application/json", "text/csv")
    if content_type.split(";")[0].strip() in text_types:
        encoding = "JSON" if "json" in content_type else "CSV"
        return {"observedContentType": content_type, "mode": mode, "data": body.decode("utf-8"), "encoding": encoding}
    return {
        "observedContentType": content_type,
        "mode": mode,
        "data": base64.b64encode(body).decode("ascii"),
        "encoding": "BASE64",
    }


def _alarms_the_role_cannot_describe(endpoint_config_name: str, alarm_names: list[str]) -> list[str]:
    """SageMaker watches an update's auto-rollback alarms as the new model's execution role."""
    backend = moto_access.sagemaker_backend()
    variant = backend.endpoint_configs[endpoint_config_name].production_variants[0]
    role = backend._models[variant["ModelName"]].execution_role_arn
    return [
        name
        for name in alarm_names
        if not enforcement.allowed(role, Authorization("cloudwatch:DescribeAlarms", _alarm_arn(name)))
    ]


def _alarm_arn(name: str) -> str:
    return f"arn:aws:cloudwatch:{moto_access.LOCAL_REGION}:{moto_access.LOCAL_ACCOUNT_ID}:alarm:{name}"


def _alarms_in_alarm(alarm_names: list[str]) -> list[str]:
    alarms = moto_access.cloudwatch_backend().alarms
    return [name for name in alarm_names if name in alarms and alarms[name].state_value == "ALARM"]


def _now() -> datetime:
    return datetime.now(timezone.utc)



