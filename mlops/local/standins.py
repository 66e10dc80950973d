"""Where moto lacks an API the pipeline calls, these stand-ins fill it, at moto's own backend
and response layer, so the same behaviour answers in-process calls (the Step Functions
interpreter's clients, the handlers' clients) and calls that reach the local server over HTTP.
They change what moto answers, never what the pipeline does."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from unittest import mock

from moto.awslambda.models import LambdaBackend
from moto.cloudwatch.models import CloudWatchBackend
from moto.core.responses import ActionResult
from moto.events.models import Rule
from moto.sagemaker.exceptions import ResourceInUseException, SagemakerClientError, ValidationError
from moto.sagemaker.models import SageMakerModelBackend
from moto.sagemaker.responses import SageMakerResponse
from moto.sagemakerruntime.responses import SageMakerRuntimeResponse
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
    state_task_service_aws_sdk as aws_sdk_task,
)
from moto.utilities.arns import parse_arn

from mlops.local import moto_access
from mlops.local.alarms import evaluate_alarms
from mlops.local.endpoints import EndpointNotFoundError, LocalEndpointServer, ModelInvocationError
from mlops.local.lambda_runtime import InProcessLambdaRuntime
from mlops.local.training_jobs import LocalTrainingJobRunner

ALARM_STATE_CHANGE = "CloudWatch Alarm State Change"
MODEL_PACKAGE_STATE_CHANGE = "SageMaker Model Package State Change"


@dataclass
class Delivery:
    """One event handed to one EventBridge target by the local router."""

    rule: str
    target_arn: str
    detail_type: str
    result: dict[str, Any] | None = None
    error: str | None = None


@dataclass
class StandIns:
    lambdas: InProcessLambdaRuntime
    training: LocalTrainingJobRunner
    endpoints: LocalEndpointServer
    deliveries: list[Delivery] = field(default_factory=list)
    published_events: list[dict[str, Any]] = field(default_factory=list)
    # Errors the next calls of an operation answer with, for fault-injection tests.
    injected_faults: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    started_executions: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def inject_fault(self, operation: str, error_code: str, message: str, times: int = 1) -> None:
        """The next `times` calls of `operation` (e.g. "CreateTrainingJob") fail with this error."""
        self.injected_faults.setdefault(operation, []).extend([(error_code, message)] * times)

    def _raise_injected_fault(self, operation: str) -> None:
        with self._lock:
            queued = self.injected_faults.get(operation)
            fault = queued.pop(0) if queued else None
        if fault:
            error_code, message = fault
            raise type(error_code, (SagemakerClientError,), {"code": error_code})(message)

    @contextmanager
    def installed(self) -> Iterator[StandIns]:
        with ExitStack() as stack:
            for target, attribute, replacement in self._patches():
                stack.enter_context(mock.patch.object(target, attribute, replacement, create=True))
            yield self

    def _patches(self) -> list[tuple[Any, str, Any]]:
        standins = self
        original_create_training_job = SageMakerModelBackend.create_training_job
        original_send_to_targets = Rule.send_to_targets
        original_set_alarm_state = CloudWatchBackend.set_alarm_state
        original_update_model_package = SageMakerModelBackend.update_model_package
        original_put_metric_data = CloudWatchBackend.put_metric_data

        def invoke_lambda(backend, function_name, qualifier, body, headers, response_headers):
            function = backend.get_function(function_name, qualifier)
            payload, error_type = standins.lambdas.invoke(function, body)
            if error_type:
                response_headers["x-amz-function-error"] = "Unhandled"
            response_headers["Content-Length"] = str(len(payload))
            return payload

        def create_training_job(backend, training_job_name, **request):
            standins._raise_injected_fault("CreateTrainingJob")
            if training_job_name in backend.training_jobs:
                raise ResourceInUseException(f"Training job names must be unique: {training_job_name} exists")
            job = original_create_training_job(backend, training_job_name=training_job_name, **request)
            run = standins.training.run(training_job_name, request)
            if not run.succeeded:
                job.training_job_status = "Failed"
                job.secondary_status = "Failed"
                job.failure_reason = run.failure_reason
            return job

        def update_endpoint(response):
            standins._raise_injected_fault("UpdateEndpoint")
            try:
                arn = standins.endpoints.update(
                    response._get_param("EndpointName"),
                    response._get_param("EndpointConfigName"),
                    response._get_param("DeploymentConfig"),
                )
            except EndpointNotFoundError as error:
                raise ValidationError(message=f"Could not find {error}.") from error
            return ActionResult({"EndpointArn": arn})

        def invoke_endpoint(response):
            # moto takes an error response's status code from its "status" header.
            endpoint_name = response.path.split("/")[2]
            try:
                invocation = standins.endpoints.invoke(
                    endpoint_name,
                    response.body if isinstance(response.body, bytes) else (response.body or "").encode(),
                    response.headers.get("Content-Type", "application/json"),
                    response.headers.get("Accept"),
                    response.headers.get("X-Amzn-SageMaker-Inference-Id"),
                )
            except EndpointNotFoundError:
                message = {"__type": "ValidationError", "message": f"Endpoint {endpoint_name} not found."}
                return 400, {"status": 400, "Content-Type": "application/json"}, json.dumps(message)
            except ModelInvocationError as error:
                message = {"__type": "ModelError", "message": str(error), "OriginalStatusCode": 500}
                headers = {"status": 424, "Content-Type": "application/json", "x-amzn-ErrorType": "ModelError"}
                return 424, headers, json.dumps(message)
            headers = {"Content-Type": invocation.content_type, "x-Amzn-Invoked-Production-Variant": invocation.variant}
            return 200, headers, invocation.body

        def send_to_targets(rule, original_event, transform_input=True):
            # A schedule rule has no event pattern, which moto's matcher reads as "match all";
            # in EventBridge it receives no events at all.
            if rule.scheduled_expression or not rule.event_pattern.matches_event(original_event):
                return
            handled = [t for t in rule.targets if parse_arn(t["Arn"]).service in ("states", "lambda")]
            for target in handled:
                standins._deliver(rule, target, original_event)
            others = [t for t in rule.targets if t not in handled]
            if others:
                with mock.patch.object(rule, "targets", others):
                    original_send_to_targets(rule, original_event, transform_input)

        def set_alarm_state(backend, alarm_name, reason, reason_data, state_value):
            alarm = backend.alarms.get(alarm_name)
            previous = (alarm.state_value, alarm.state_reason) if alarm else (None, None)
            original_set_alarm_state(backend, alarm_name, reason, reason_data, state_value)
            if previous[0] != state_value:
                standins.publish_event(_alarm_state_change_event(backend.alarms[alarm_name], previous))

        def update_model_package(
            backend,
            model_package_arn,
            model_approval_status,
            approval_description,
            customer_metadata_properties,
            customer_metadata_properties_to_remove,
            additional_inference_specifications_to_add,
        ):
            # AWS leaves what an update does not name as it was; moto clears it.
            package = backend.model_packages.get(
                backend.model_package_name_mapping.get(model_package_arn, model_package_arn)
            )
            status_before = package.model_approval_status if package else None
            arn = original_update_model_package(
                backend,
                model_package_arn,
                model_approval_status,
                approval_description if approval_description is not None else getattr(package, "approval_description", None),
                customer_metadata_properties
                if customer_metadata_properties is not None
                else getattr(package, "customer_metadata_properties", None),
                customer_metadata_properties_to_remove,
                additional_inference_specifications_to_add,
            )
            if package is not None and model_approval_status and model_approval_status != status_before:
                standins.publish_event(_model_package_state_change_event(package))
            return arn

        def put_metric_data(backend, namespace, metric_data):
            original_put_metric_data(backend, namespace, metric_data)
            evaluate_alarms(backend, namespace, {metric["MetricName"] for metric in metric_data})

        return [
            (aws_sdk_task, "_SERVICE_ERROR_NAMES", {**aws_sdk_task._SERVICE_ERROR_NAMES, "sagemaker": "SageMaker"}),
            (aws_sdk_task.StateTaskServiceAwsSdk, "_normalise_exception_name", staticmethod(_aws_sdk_error_name)),
            (LambdaBackend, "invoke", invoke_lambda),
            (CloudWatchBackend, "put_metric_data", put_metric_data),
            (SageMakerModelBackend, "update_model_package", update_model_package),
            (SageMakerModelBackend, "create_training_job", create_training_job),
            (SageMakerResponse, "update_endpoint", update_endpoint),
            (SageMakerRuntimeResponse, "invoke_endpoint", invoke_endpoint),
            (Rule, "send_to_targets", send_to_targets),
            (CloudWatchBackend, "set_alarm_state", set_alarm_state),
        ]

    def publish_event(self, event: dict[str, Any]) -> None:
        """Hand an AWS service event to every rule on every bus, as EventBridge does."""
        with self._lock:
            self.published_events.append(event)
        for bus in moto_access.events_backend().event_buses.values():
            for rule in list(bus.rules.values()):
                if rule.state == "ENABLED":
                    rule.send_to_targets(event, transform_input=False)

    def _deliver(self, rule: Any, target: dict[str, Any], event: dict[str, Any]) -> None:
        arn = target["Arn"]
        delivery = Delivery(rule.name, arn, event.get("detail-type", ""))
        payload = _target_input(target, event)
        try:
            if parse_arn(arn).service == "states":
                execution = moto_access.stepfunctions_backend().start_execution(
                    arn, name=str(uuid.uuid4()), execution_input=json.dumps(payload)
                )
                with self._lock:
                    self.started_executions.append(execution.execution_arn)
                delivery.result = {"executionArn": execution.execution_arn}
            else:
                function = moto_access.lambda_backend().get_function(arn.split(":")[6], None)
                body, error_type = self.lambdas.invoke(function, json.dumps(payload))
                delivery.result = json.loads(body)
                delivery.error = error_type
        except Exception as error:  # EventBridge records a failed delivery; it never raises to the sender
            delivery.error = f"{type(error).__name__}: {error}"
        with self._lock:
            self.deliveries.append(delivery)


def _aws_sdk_error_name(service_error_name: str, error: Exception) -> str:
    """The error name Step Functions gives an aws-sdk task's failure: the service's name and the
    modeled exception (SageMaker.ResourceInUseException), or for an error the API model does not
    name, the service's generic exception (SageMaker.AmazonSageMakerException). moto's
    interpreter lower-cases SageMaker and names the generic one SageMakerException."""
    name = type(error).__name__
    if name == "ClientError":
        return f"{service_error_name}.Amazon{service_error_name}Exception"
    return f"{service_error_name}.{name}" if name.endswith("Exception") else f"{service_error_name}.{name}Exception"


def _target_input(target: dict[str, Any], event: dict[str, Any]) -> Any:
    if target.get("Input"):
        return json.loads(target["Input"])
    if target.get("InputPath"):
        node: Any = event
        for part in target["InputPath"].removeprefix("$").strip(".").split("."):
            if part:
                node = node[part]
        return node
    return event


def _alarm_state_change_event(alarm: Any, previous: tuple[str | None, str | None]) -> dict[str, Any]:
    now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000"
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": ALARM_STATE_CHANGE,
        "source": "aws.cloudwatch",
        "account": moto_access.LOCAL_ACCOUNT_ID,
        "time": now[:19] + "Z",
        "region": moto_access.LOCAL_REGION,
        "resources": [alarm.alarm_arn],
        "detail": {
            "alarmName": alarm.name,
            "state": {"value": alarm.state_value, "reason": alarm.state_reason, "timestamp": now},
            "previousState": {"value": previous[0] or "INSUFFICIENT_DATA", "reason": previous[1] or "", "timestamp": now},
            "configuration": {"description": alarm.description or "", "metrics": []},
        },
    }


def _model_package_state_change_event(package: Any) -> dict[str, Any]:
    now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": MODEL_PACKAGE_STATE_CHANGE,
        "source": "aws.sagemaker",
        "account": moto_access.LOCAL_ACCOUNT_ID,
        "time": now,
        "region": moto_access.LOCAL_REGION,
        "resources": [package.arn],
        "detail": {
            "ModelPackageGroupName": package.model_package_group_name,
            "ModelPackageVersion": package.model_package_version,
            "ModelPackageArn": package.arn,
            "ModelPackageStatus": "Completed",
            "ModelApprovalStatus": package.model_approval_status,
            "ApprovalDescription": getattr(package, "approval_description", None) or "",
            "CustomerMetadataProperties": getattr(package, "customer_metadata_properties", None) or {},
        },
    }
