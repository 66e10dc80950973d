"""Where moto lacks an API the pipeline calls, these stand-ins fill it, at moto's own backend
and response layer, so the same behaviour answers in-process calls (the Step Functions
interpreter's clients, the handlers' clients) and calls that reach the local server over HTTP.
They change what moto answers, never what the pipeline does."""

from __future__ import annotations

import functools
import json
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from unittest import mock

import botocore.session
from botocore.model import OperationModel
from moto.awslambda.models import LambdaBackend
from moto.cloudformation.models import Stack
from moto.cloudwatch.models import CloudWatchBackend
from moto.cloudwatch.responses import CloudWatchResponse
from moto.core.responses import ActionResult
from moto.events.models import Rule
from moto.s3 import notifications as s3_notifications
from moto.sagemaker.exceptions import ResourceInUseException, SagemakerClientError, ValidationError
from moto.sagemaker.models import SageMakerModelBackend
from moto.sagemaker.responses import SageMakerResponse
from moto.sagemakerruntime.responses import SageMakerRuntimeResponse
from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
    state_task_service_aws_sdk as aws_sdk_task,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service import (
    StateTaskService,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.state_task_lambda import StateTaskLambda
from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
from moto.stepfunctions.parser.asl.parse.preprocessor import Preprocessor
from moto.stepfunctions.parser.models import StepFunctionsParserBackend
from moto.utilities.arns import parse_arn
from s3transfer.futures import NonThreadedExecutor
from s3transfer.manager import TransferManager

from functions.common.config import MAX_REALTIME_PAYLOAD_BYTES
from mlops.local import moto_access
from mlops.local.api_models import shared_loader
from mlops.local.alarms import describe_anomaly_detectors, evaluate_alarms, put_anomaly_detector
from mlops.local.iam import service_principals
from mlops.local.iam.enforcement import AccessDeniedError, acting_as
from mlops.local.endpoints import (
    EndpointExistsError,
    EndpointInProgressError,
    EndpointNotFoundError,
    LocalEndpointServer,
    ModelInvocationError,
)
from mlops.local.lambda_runtime import InProcessLambdaRuntime
from mlops.local.processing_jobs import LocalProcessingJobRunner
from mlops.local.training_jobs import LocalTrainingJobRunner
from mlops.local.transform_jobs import LocalTransformJobRunner

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


class _ParsedDefinitions:
    """AmazonStateLanguageParser.parse as moto's Step Functions calls it: at the creation of a
    state machine and at the start of each of its executions. ANTLR's pure-Python parse of the
    pipeline's definition takes about a second of CPU; it is done once per definition, and every
    call still builds the evaluation components from the parse tree afresh, so no execution
    shares state with another. A definition that does not parse raises at every call."""

    def __init__(self) -> None:
        self._original = AmazonStateLanguageParser.parse
        self._trees: dict[str, Any] = {}
        self._lock = threading.Lock()

    def parse(self, definition: str) -> tuple[Any, Any]:
        with self._lock:
            tree = self._trees.get(definition)
            if tree is None:
                program, tree = self._original(definition)
                self._trees[definition] = tree
                return program, tree
        return Preprocessor().visit(tree), tree


def _template_as_json_first(original):
    # CloudFormation reads a JSON template as JSON; moto reads every template with PyYAML's
    # pure-Python loader first, half a second of CPU for the pipeline's 240 kB template.
    def parse_template(template: str) -> dict[str, Any]:
        try:
            return json.loads(template)
        except ValueError:
            return original(template)

    return staticmethod(parse_template)


class _RetryClock:
    """The `time` module as moto's Retrier sees it: each backoff it sleeps is recorded, and
    waited out unless the stand-ins say not to."""

    def __init__(self, standins: StandIns) -> None:
        self._standins = standins

    def sleep(self, seconds: float) -> None:
        with self._standins._lock:
            self._standins.retry_waits_seconds.append(seconds)
        if self._standins.wait_out_retries:
            time.sleep(seconds)

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


@dataclass
class StandIns:
    lambdas: InProcessLambdaRuntime
    training: LocalTrainingJobRunner
    endpoints: LocalEndpointServer
    processing: LocalProcessingJobRunner
    deliveries: list[Delivery] = field(default_factory=list)
    published_events: list[dict[str, Any]] = field(default_factory=list)
    # Errors the next calls of an operation answer with, for fault-injection tests.
    injected_faults: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    started_executions: list[str] = field(default_factory=list)
    # What CloudWatch and EventBridge did (or were refused) as service principals.
    service_actions: list[service_principals.ServiceAction] = field(default_factory=list)
    # Runs Batch Transform jobs; without one, CreateTransformJob is refused rather than recorded
    # as a job that completed without scoring anything.
    transform: LocalTransformJobRunner | None = None
    # The interval of every retry a state machine's Retrier waited, in seconds, in order.
    retry_waits_seconds: list[float] = field(default_factory=list)
    # False: a retry is recorded but not waited out in real time. A test whose faults are
    # injected by count, not by time, has nothing for the backoff to wait for.
    wait_out_retries: bool = True
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
        original_create_processing_job = SageMakerModelBackend.create_processing_job
        original_create_transform_job = SageMakerModelBackend.create_transform_job
        original_send_to_targets = Rule.send_to_targets
        original_set_alarm_state = CloudWatchBackend.set_alarm_state
        original_update_model_package = SageMakerModelBackend.update_model_package
        original_put_metric_data = CloudWatchBackend.put_metric_data
        original_create_endpoint = SageMakerModelBackend.create_endpoint
        original_describe_endpoint = SageMakerModelBackend.describe_endpoint
        original_list_endpoints = SageMakerModelBackend.list_endpoints
        original_start_execution = StepFunctionsParserBackend.start_execution
        original_transfer_manager_init = TransferManager.__init__
        original_service_task = StateTaskService._eval_execution
        original_lambda_task = StateTaskLambda._eval_execution

        def as_state_machine_role(original):
            # A task's calls are the state machine's: Step Functions makes them with its role.
            def evaluate(task, env):
                with acting_as(env.aws_execution_details.role_arn):
                    return original(task, env)

            return evaluate

        def start_execution(backend, *args, **kwargs):
            # Whoever starts it (a rule's target, a function), an execution is recorded once:
            # a repeated name answers with the execution already recorded.
            execution = original_start_execution(backend, *args, **kwargs)
            with standins._lock:
                if execution.execution_arn not in standins.started_executions:
                    standins.started_executions.append(execution.execution_arn)
            return execution

        def send_s3_event_to_eventbridge(account_id, bucket, event_name, key):
            # moto gives every S3 event one fixed id; EventBridge events each have their own.
            standins.publish_event(_s3_event(bucket, event_name, key))

        def transfer_in_the_calling_thread(manager, client, config=None, osutil=None, executor_cls=None):
            # An upload's event invokes a function, and the in-process runtime runs one function
            # at a time: a transfer on threads of its own would deliver it to a function while
            # the function that uploads holds the runtime and waits for the transfer.
            original_transfer_manager_init(manager, client, config, osutil, NonThreadedExecutor)

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

        def create_processing_job(backend, processing_job_name, **request):
            standins._raise_injected_fault("CreateProcessingJob")
            if processing_job_name in backend.processing_jobs:
                raise ResourceInUseException(f"Processing job names must be unique: {processing_job_name} exists")
            job = original_create_processing_job(backend, processing_job_name=processing_job_name, **request)
            run = standins.processing.run(processing_job_name, request)
            if run.exit_message:
                job.exit_message = run.exit_message
            if not run.succeeded:
                job.processing_job_status = "Failed"
                job.failure_reason = run.failure_reason
            return job

        def create_transform_job(backend, transform_job_name, **request):
            standins._raise_injected_fault("CreateTransformJob")
            if transform_job_name in backend.transform_jobs:
                raise ResourceInUseException(f"Transform job names must be unique: {transform_job_name} exists")
            # SageMaker refuses a transform job of a model that does not exist.
            if request.get("model_name") not in backend._models:
                raise ValidationError(message=f"Could not find model \"{request.get('model_name')}\".")
            if standins.transform is None:
                raise ValidationError(message="the local cloud has no transform job runner")
            job = original_create_transform_job(backend, transform_job_name=transform_job_name, **request)
            run = standins.transform.run(transform_job_name, request)
            if not run.succeeded:
                job.transform_job_status = "Failed"
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
            except EndpointInProgressError as error:
                raise ValidationError(message=f'Cannot update in-progress endpoint "{error}".') from error
            return ActionResult({"EndpointArn": arn})

        def create_endpoint(backend, endpoint_name, endpoint_config_name, tags):
            try:
                return standins.endpoints.create(
                    endpoint_name,
                    lambda: original_create_endpoint(backend, endpoint_name, endpoint_config_name, tags),
                )
            except EndpointExistsError as error:
                raise ValidationError(message=f'Cannot create already existing endpoint "{error}".') from error

        def describe_endpoint(backend, endpoint_name):
            standins.endpoints.settle(endpoint_name)
            return original_describe_endpoint(backend, endpoint_name)

        def list_endpoints(backend, *args, **kwargs):
            standins.endpoints.settle()
            return original_list_endpoints(backend, *args, **kwargs)

        def invoke_endpoint(response):
            # moto takes an error response's status code from its "status" header.
            endpoint_name = response.path.split("/")[2]
            body = response.body if isinstance(response.body, bytes) else (response.body or "").encode()
            if len(body) > MAX_REALTIME_PAYLOAD_BYTES:
                message = {
                    "__type": "ValidationError",
                    "message": f"Request payload of {len(body)} bytes exceeds the real-time invocation limit "
                    f"of {MAX_REALTIME_PAYLOAD_BYTES} bytes (6 MB).",
                }
                return 400, {"status": 400, "Content-Type": "application/json"}, json.dumps(message)
            try:
                invocation = standins.endpoints.invoke(
                    endpoint_name,
                    body,
                    response.headers.get("Content-Type", "application/json"),
                    response.headers.get("Accept"),
                    response.headers.get("X-Amzn-SageMaker-Inference-Id"),
                )
            except EndpointNotFoundError:
                message = {"__type": "ValidationError", "message": f"Endpoint {endpoint_name} not found."}
                return 400, {"status": 400, "Content-Type": "application/json"}, json.dumps(message)
            except ModelInvocationError as error:
                message = {"__type": "ModelError", "message": str(error), "OriginalStatusCode": error.original_status}
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
                standins._run_alarm_actions(backend.alarms[alarm_name], previous)

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
            (retrier_decl, "time", _RetryClock(self)),
            (AmazonStateLanguageParser, "parse", staticmethod(_ParsedDefinitions().parse)),
            (Stack, "parse_template", _template_as_json_first(Stack.parse_template)),
            (botocore.session, "create_loader", shared_loader),
            (aws_sdk_task, "_SERVICE_ERROR_NAMES", {**aws_sdk_task._SERVICE_ERROR_NAMES, "sagemaker": "SageMaker"}),
            (aws_sdk_task.StateTaskServiceAwsSdk, "_normalise_exception_name", staticmethod(_aws_sdk_error_name)),
            *aws_sdk_casing_patches(),
            (LambdaBackend, "invoke", invoke_lambda),
            (CloudWatchBackend, "put_metric_data", put_metric_data),
            (SageMakerModelBackend, "update_model_package", update_model_package),
            (SageMakerModelBackend, "create_training_job", create_training_job),
            (SageMakerModelBackend, "create_processing_job", create_processing_job),
            (SageMakerModelBackend, "create_transform_job", create_transform_job),
            (SageMakerResponse, "update_endpoint", update_endpoint),
            (SageMakerModelBackend, "create_endpoint", create_endpoint),
            (SageMakerModelBackend, "describe_endpoint", describe_endpoint),
            (SageMakerModelBackend, "list_endpoints", list_endpoints),
            (SageMakerRuntimeResponse, "invoke_endpoint", invoke_endpoint),
            (Rule, "send_to_targets", send_to_targets),
            (StepFunctionsParserBackend, "start_execution", start_execution),
            (s3_notifications, "_send_event_bridge_message", send_s3_event_to_eventbridge),
            (TransferManager, "__init__", transfer_in_the_calling_thread),
            (CloudWatchBackend, "set_alarm_state", set_alarm_state),
            (StateTaskService, "_eval_execution", as_state_machine_role(original_service_task)),
            (StateTaskLambda, "_eval_execution", as_state_machine_role(original_lambda_task)),
            (CloudWatchResponse, "put_anomaly_detector", put_anomaly_detector),
            (CloudWatchResponse, "describe_anomaly_detectors", describe_anomaly_detectors),
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
            service_principals.authorize_event_delivery(rule.arn, target)
            if parse_arn(arn).service == "states":
                execution = moto_access.stepfunctions_backend().start_execution(
                    arn, name=str(uuid.uuid4()), execution_input=json.dumps(payload)
                )
                delivery.result = {"executionArn": execution.execution_arn}
            else:
                function = moto_access.lambda_backend().get_function(arn.split(":")[6], None)
                body, error_type = self.lambdas.invoke(function, json.dumps(payload))
                delivery.result = json.loads(body)
                delivery.error = error_type
        except AccessDeniedError as error:
            # EventBridge retries a refused invocation, then sends the event to the target's
            # dead-letter queue, which it may be refused too.
            delivery.error = f"AccessDeniedException: {error}"
            queue = (target.get("DeadLetterConfig") or {}).get("Arn")
            if queue:
                self._record(service_principals.send_to_dead_letter_queue(rule.arn, queue, event, str(error)))
        except Exception as error:  # EventBridge records a failed delivery; it never raises to the sender
            delivery.error = f"{type(error).__name__}: {error}"
        with self._lock:
            self.deliveries.append(delivery)

    def _run_alarm_actions(self, alarm: Any, previous: tuple[str | None, str | None]) -> None:
        """CloudWatch runs the actions of the alarm's new state; an SNS action publishes as
        cloudwatch.amazonaws.com, which the topic's policy must allow."""
        actions = {
            "ALARM": alarm.alarm_actions,
            "OK": alarm.ok_actions,
            "INSUFFICIENT_DATA": alarm.insufficient_data_actions,
        }.get(alarm.state_value) or []
        if not alarm.actions_enabled:
            return
        message = {
            "AlarmName": alarm.name,
            "AlarmArn": alarm.alarm_arn,
            "NewStateValue": alarm.state_value,
            "NewStateReason": alarm.state_reason,
            "OldStateValue": previous[0] or "INSUFFICIENT_DATA",
        }
        for action in actions:
            if parse_arn(action).service == "sns":
                self._record(service_principals.publish_alarm_action(alarm, action, message))

    def _record(self, action: service_principals.ServiceAction) -> None:
        with self._lock:
            self.service_actions.append(action)


def aws_sdk_casing_patches() -> list[tuple[Any, str, Any]]:
    """An aws-sdk task takes its parameters and returns its result in PascalCase whatever the
    API's own casing (ExecutionArn in, Status out for Step Functions' DescribeExecution);
    moto's interpreter passes both through as written. For the APIs whose members are not
    PascalCase, these translate at the boto3 call, with the helpers moto's interpreter has."""
    return [
        (aws_sdk_task.StateTaskServiceAwsSdk, "_normalise_parameters", _normalise_aws_sdk_parameters),
        (aws_sdk_task.StateTaskServiceAwsSdk, "_normalise_response", _normalise_aws_sdk_response),
    ]


# The aws-sdk services (as named in the task's resource) whose API members are camelCase.
CAMEL_CASED_SDK_SERVICES = frozenset({"sfn"})


def _normalise_aws_sdk_parameters(task: Any, parameters: dict[str, Any], *_: Any, **__: Any) -> None:
    operation = _camel_cased_operation(task.resource.api_name, task.resource.api_action)
    if operation is not None and operation.input_shape is not None:
        task._to_boto_request(parameters, operation.input_shape)


def _normalise_aws_sdk_response(task: Any, response: Any, *_: Any, **__: Any) -> None:
    operation = _camel_cased_operation(task.resource.api_name, task.resource.api_action)
    if operation is not None and operation.output_shape is not None:
        task._from_boto_response(response, operation.output_shape)


@functools.lru_cache(maxsize=None)
def _camel_cased_operation(service: str, action: str) -> OperationModel | None:
    if service not in CAMEL_CASED_SDK_SERVICES:
        return None
    boto_service = aws_sdk_task.StateTaskServiceAwsSdk._SERVICE_NAME_SFN_TO_BOTO_OVERRIDES.get(service, service)
    model = botocore.session.get_session().get_service_model(boto_service)
    return model.operation_model(action[0].upper() + action[1:])


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


def _s3_event(bucket: Any, event_name: str, key: Any) -> dict[str, Any]:
    """The event S3 sends to EventBridge, as moto builds it, with an id of its own and AWS's time format."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": s3_notifications._detail_type(event_name),
        "source": "aws.s3",
        "account": bucket.account_id,
        "time": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": bucket.region_name,
        "resources": [bucket.arn],
        "detail": {
            "version": "0",
            "bucket": {"name": bucket.name},
            "object": {
                "key": key.name,
                "size": key.size,
                "etag": key.etag.replace('"', ""),
                # S3 names a version only for an object that has one: moto gives objects of an
                # unversioned bucket the version "null", which its own API then refuses.
                **({"version-id": key.version_id} if key.version_id and key.version_id != "null" else {}),
                "sequencer": "617F08299329D189",
            },
            "request-id": "N4N7GDK58NMKJ12R",
            "requester": bucket.account_id,
            "source-ip-address": "127.0.0.1",
            "reason": event_name.split(":")[1],
        },
    }
