"""The local cloud: moto with the pipeline's synthesized stack deployed in it and the stand-ins
installed. One LocalCloud is one account; uploads to it trigger executions as in AWS."""

from __future__ import annotations

import contextlib
import logging
import shutil
import warnings
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from moto import mock_aws

from infra import outputs as stack_outputs
from mlops.local import moto_access, runtime_env
from mlops.local.deployment import (
    DeployedStack,
    DeploymentError,
    SynthesizedApp,
    deploy,
    encrypted_log_groups,
    environment_for_moto,
    prepared_session,
    synthesize,
)
from mlops.local.endpoints import LocalEndpointServer
from mlops.local.iam.enforcement import OPERATOR_ARN, OPERATOR_POLICY, Enforcement, enforced
from mlops.local.iam.evaluator import PolicyEvaluator
from mlops.local.iam.service_principals import use_key_for_log_group
from mlops.local.iam.policies import stack_policies
from mlops.local.lambda_runtime import InProcessLambdaRuntime, patched_environment
from mlops.local.standins import StandIns
from mlops.local.processing_jobs import LocalProcessingJobRunner
from mlops.local.transform_jobs import LocalTransformJobRunner
from mlops.local.training_jobs import LocalTrainingJobRunner

EXECUTION_POLL_SECONDS = 0.05
EXECUTION_TIMEOUT_SECONDS = 600
# Lambda code runs through the in-process stand-in, so moto's Docker-backed Lambda backend
# is the one to keep (its record-only "simple" backend would answer invocations itself).
MOTO_CONFIG = {"stepfunctions": {"execute_state_machine": True}}


# No X-Ray daemon runs locally; the SDK would only report discarded segments.
LOCAL_LAMBDA_ENVIRONMENT = {"POWERTOOLS_TRACE_DISABLED": "true"}
PROCESS_ENVIRONMENT = {"AWS_XRAY_SDK_ENABLED": "false"}


class ExecutionTimeoutError(Exception):
    pass


@dataclass
class StackOutputs:
    data_bucket: str
    artifacts_bucket: str
    state_machine_arn: str
    topic_arn: str
    # None when the stack exports no endpoint (deployment.mode batch_only).
    endpoint_name: str | None
    model_package_group: str

    @classmethod
    def from_outputs(cls, outputs: dict[str, str]) -> StackOutputs:
        return cls(
            data_bucket=outputs[stack_outputs.OUTPUT_DATA_BUCKET],
            artifacts_bucket=outputs[stack_outputs.OUTPUT_ARTIFACTS_BUCKET],
            state_machine_arn=outputs[stack_outputs.OUTPUT_STATE_MACHINE],
            topic_arn=outputs[stack_outputs.OUTPUT_TOPIC],
            endpoint_name=outputs.get(stack_outputs.OUTPUT_ENDPOINT),
            model_package_group=outputs[stack_outputs.OUTPUT_MODEL_PACKAGE_GROUP],
        )


class LocalCloud:
    def __init__(
        self,
        config_path: Path,
        work_dir: Path | None = None,
        app: SynthesizedApp | None = None,
        log_folder: Path | None = None,
        job_log_folder: Path | None = None,
    ) -> None:
        """`log_folder`: where the functions' logs go, `job_log_folder` where the training and
        processing jobs' output goes as it comes (defaults: folders of the work folder, removed
        with it)."""
        self.config_path = Path(config_path).resolve()
        self._work_dir = work_dir
        self._log_folder = log_folder
        self._job_log_folder = job_log_folder
        self._app = app
        self._stack = ExitStack()
        self.app: SynthesizedApp | None = None
        self.deployed: DeployedStack | None = None
        self.standins: StandIns | None = None

    def __enter__(self) -> LocalCloud:
        try:
            self._start()
        except BaseException:
            self._stack.close()
            raise
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self._stack.close()

    def _start(self) -> None:
        # Jobs and endpoints run in the SageMaker image's environment: made once, and before the
        # synthesis, so a machine without the image's Python learns it at once.
        runtime_env.image_python()
        work = self._work_dir or Path(self._stack.enter_context(_temporary_folder()))
        work.mkdir(parents=True, exist_ok=True)
        self._stack.enter_context(patched_environment({**environment_for_moto(), **PROCESS_ENVIRONMENT}))
        # Synthesis waits on the CDK's Node.js process, so the session's loading runs meanwhile.
        with ThreadPoolExecutor(max_workers=1) as background:
            loading = background.submit(prepared_session)
            self.app = self._app or synthesize(self.config_path)
            session = loading.result()
        self._stack.enter_context(_quiet_moto())
        self._stack.enter_context(mock_aws(config=MOTO_CONFIG))
        self.log_folder = _ensure(self._log_folder or work / "logs")
        self.job_log_folder = _ensure(self._job_log_folder or work / "job-logs")
        self.standins = StandIns(
            lambdas=InProcessLambdaRuntime(self._code_root_for, LOCAL_LAMBDA_ENVIRONMENT, self.log_folder),
            training=LocalTrainingJobRunner(_ensure(work / "training"), self.job_log_folder),
            processing=LocalProcessingJobRunner(_ensure(work / "processing"), self.job_log_folder),
            endpoints=LocalEndpointServer(_ensure(work / "models")),
            transform=LocalTransformJobRunner(_ensure(work / "transform"), self.job_log_folder),
        )
        self._stack.enter_context(self.standins.installed())
        self._stack.callback(self.standins.endpoints.close)
        self.deployed = deploy(self.app, session)
        self.outputs = StackOutputs.from_outputs(self.deployed.outputs)
        self._stack.enter_context(enforced(self._enforcement()))
        self._check_log_group_keys()

    def _enforcement(self) -> Enforcement:
        """IAM as the synthesized policies say, from here on (the deployment itself is
        CloudFormation's, which acts with the deployer's rights)."""
        assert self.app is not None
        policies = stack_policies(self.app.template, self.app.stack_name)
        evaluator = PolicyEvaluator(
            identity={**policies.identity, OPERATOR_ARN: [OPERATOR_POLICY]},
            resource=policies.resource,
            account=moto_access.LOCAL_ACCOUNT_ID,
        )
        self._stack.callback(evaluator.close)
        return Enforcement(evaluator)

    def _check_log_group_keys(self) -> None:
        """CloudFormation creates an encrypted log group only if CloudWatch Logs may use its key;
        moto's creates it regardless, so the key policy is checked once enforcement is on."""
        assert self.app is not None
        for logical_id, name, key_id in encrypted_log_groups(self.app.template, self.deployed):
            action = use_key_for_log_group(name, key_id)
            self.standins.service_actions.append(action)
            if action.error:
                raise DeploymentError(f"{logical_id}: {action.error}")

    def _code_root_for(self, bucket: str, key: str) -> Path:
        assert self.app is not None
        return self.app.asset_folder_for_key(key)

    def client(self, service: str) -> Any:
        return boto3.client(service, region_name=moto_access.LOCAL_REGION)

    def upload(self, path: Path, key: str | None = None) -> list[str]:
        """Put a file under incoming/ and return the executions its event started."""
        assert self.standins is not None
        before = len(self.standins.started_executions)
        object_key = key or f"incoming/{Path(path).name}"
        self.client("s3").upload_file(str(path), self.outputs.data_bucket, object_key)
        return self.standins.started_executions[before:]

    def wait(
        self,
        execution_arn: str,
        timeout_seconds: float = EXECUTION_TIMEOUT_SECONDS,
        on_poll: Callable[[str], None] | None = None,
    ) -> dict[str, Any]:
        """`on_poll`, called with the execution's ARN at each poll while it runs: live progress."""
        sfn = self.client("stepfunctions")
        deadline = time.monotonic() + timeout_seconds
        while True:
            described = sfn.describe_execution(executionArn=execution_arn)
            if described["status"] != "RUNNING":
                return described
            if time.monotonic() > deadline:
                raise ExecutionTimeoutError(execution_arn)
            if on_poll is not None:
                on_poll(execution_arn)
            time.sleep(EXECUTION_POLL_SECONDS)

    def history(self, execution_arn: str) -> list[dict[str, Any]]:
        sfn = self.client("stepfunctions")
        events: list[dict[str, Any]] = []
        token = None
        while True:
            page = sfn.get_execution_history(executionArn=execution_arn, **({"nextToken": token} if token else {}))
            events.extend(page["events"])
            token = page.get("nextToken")
            if not token:
                return events

    def set_alarm_state(self, alarm_name: str, state: str, reason: str) -> None:
        self.client("cloudwatch").set_alarm_state(AlarmName=alarm_name, StateValue=state, StateReason=reason)


def _ensure(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


@contextmanager
def _temporary_folder() -> Iterator[str]:
    folder = tempfile.mkdtemp(prefix="mlops-local-")
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def _quiet_moto() -> Iterator[None]:
    """moto logs every caught task failure with its parse tree, and warns about each resource
    type its CloudFormation skips; the local cloud reports outcomes itself."""
    logger = logging.getLogger("moto")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            yield
        finally:
            logger.setLevel(level)
