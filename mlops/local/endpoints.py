"""SageMaker endpoints served from the trained artifact, and endpoint updates.

moto keeps endpoints as records: InvokeEndpoint returns canned text and UpdateEndpoint is not
implemented. This stand-in serves an invocation the way the scikit-learn serving container
does: it loads the variant's model.tar.gz, imports `SAGEMAKER_PROGRAM` from
`SAGEMAKER_SUBMIT_DIRECTORY` inside it, and calls model_fn, input_fn, predict_fn, output_fn.
UpdateEndpoint moves the endpoint to the new endpoint config, unless one of the deployment's
auto-rollback alarms is in ALARM, in which case the endpoint stays InService on the old config,
which is how SageMaker reports a blue/green update that rolled back.
"""

from __future__ import annotations

import importlib.util
import io
import tarfile
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from mlops.local import moto_access

SERVING_MOUNT = "/opt/ml/model"
DEFAULT_ACCEPT = "application/json"


class EndpointNotFoundError(Exception):
    pass


class ModelInvocationError(Exception):
    """The model's own code failed on the request (SageMaker's ModelError)."""


@dataclass
class LoadedModel:
    module: ModuleType
    model: Any


@dataclass
class Invocation:
    body: bytes
    content_type: str
    variant: str
    model_version: str | None


class LocalEndpointServer:
    def __init__(self, work_root: Path) -> None:
        self._work_root = work_root
        self._models: dict[str, LoadedModel] = {}
        self._lock = threading.Lock()

    def invoke(self, endpoint_name: str, body: bytes, content_type: str, accept: str | None) -> Invocation:
        container, variant = self._serving_container(endpoint_name)
        loaded = self._load(container)
        try:
            data = loaded.module.input_fn(body.decode("utf-8") if isinstance(body, bytes) else body, content_type)
            prediction = loaded.module.predict_fn(data, loaded.model)
            response = loaded.module.output_fn(prediction, accept or DEFAULT_ACCEPT)
        except Exception as error:  # the container turns any model-code error into ModelError
            raise ModelInvocationError(f"{type(error).__name__}: {error}") from error
        if isinstance(response, tuple):
            response, response_type = response
        else:
            response_type = accept or DEFAULT_ACCEPT
        payload = response.encode("utf-8") if isinstance(response, str) else bytes(response)
        environment = container.get("Environment") or {}
        return Invocation(payload, response_type, variant, environment.get("MODEL_VERSION"))

    def update(self, endpoint_name: str, endpoint_config_name: str, deployment_config: dict[str, Any] | None) -> str:
        backend = moto_access.sagemaker_backend()
        endpoint = backend.endpoints.get(endpoint_name)
        if endpoint is None:
            raise EndpointNotFoundError(endpoint_name)
        config = backend.endpoint_configs.get(endpoint_config_name)
        if config is None:
            raise EndpointNotFoundError(f"endpoint config {endpoint_config_name}")
        alarms = ((deployment_config or {}).get("AutoRollbackConfiguration") or {}).get("Alarms") or []
        firing = _alarms_in_alarm([alarm["AlarmName"] for alarm in alarms])
        if firing:
            endpoint.failure_reason = f"Rolled back: alarm(s) {', '.join(firing)} in ALARM during the update"
        else:
            endpoint.endpoint_config_name = endpoint_config_name
            endpoint.production_variants = endpoint._process_production_variants(config.production_variants)
            endpoint.data_capture_config = config.data_capture_config
            endpoint.failure_reason = None
        endpoint.endpoint_status = "InService"
        endpoint.last_modified_time = _now()
        return endpoint.arn

    def _serving_container(self, endpoint_name: str) -> tuple[dict[str, Any], str]:
        backend = moto_access.sagemaker_backend()
        endpoint = backend.endpoints.get(endpoint_name)
        if endpoint is None or endpoint.endpoint_status != "InService":
            raise EndpointNotFoundError(endpoint_name)
        config = backend.endpoint_configs[endpoint.endpoint_config_name]
        variant = config.production_variants[0]
        model = backend._models[variant["ModelName"]]
        container = model.primary_container or (model.containers or [{}])[0]
        return container, variant["VariantName"]

    def _load(self, container: dict[str, Any]) -> LoadedModel:
        model_data_url = container["ModelDataUrl"]
        with self._lock:
            if model_data_url not in self._models:
                self._models[model_data_url] = self._load_uncached(container)
            return self._models[model_data_url]

    def _load_uncached(self, container: dict[str, Any]) -> LoadedModel:
        bucket, _, key = container["ModelDataUrl"].removeprefix("s3://").partition("/")
        model_dir = Path(tempfile.mkdtemp(prefix="model-", dir=self._work_root))
        with tarfile.open(fileobj=io.BytesIO(moto_access.read_object(bucket, key)), mode="r:gz") as archive:
            archive.extractall(model_dir, filter="data")
        environment = container.get("Environment") or {}
        program = environment.get("SAGEMAKER_PROGRAM", "inference.py")
        submit_directory = environment.get("SAGEMAKER_SUBMIT_DIRECTORY", f"{SERVING_MOUNT}/code")
        code_dir = model_dir / submit_directory.removeprefix(SERVING_MOUNT).lstrip("/")
        spec = importlib.util.spec_from_file_location(f"served_model_{len(self._models)}", code_dir / program)
        if spec is None or spec.loader is None:
            raise ModelInvocationError(f"{program} is not in the model artifact")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return LoadedModel(module, module.model_fn(str(model_dir)))


def _alarms_in_alarm(alarm_names: list[str]) -> list[str]:
    alarms = moto_access.cloudwatch_backend().alarms
    return [name for name in alarm_names if name in alarms and alarms[name].state_value == "ALARM"]


def _now():
    from datetime import datetime, timezone

    return datetime.now(timezone.utc)



