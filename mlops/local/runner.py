"""Upload files to a local cloud one by one and read back what each came to."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from mlops.local.cloud import LocalCloud
from mlops.local.progress import ExecutionProgress
from mlops.local.results import UploadResult, not_started_result, upload_result


def run_uploads(
    cloud: LocalCloud,
    files: Iterable[Path],
    on_result: Callable[[UploadResult], None] | None = None,
    progress: ExecutionProgress | None = None,
) -> list[UploadResult]:
    results = []
    for path in files:
        results.append(run_upload(cloud, Path(path), progress=progress))
        if on_result:
            on_result(results[-1])
    return results


def run_upload(
    cloud: LocalCloud, path: Path, key: str | None = None, progress: ExecutionProgress | None = None
) -> UploadResult:
    executions = cloud.upload(path, key)
    if not executions:
        return not_started_result(path.name, "The upload started no execution: no EventBridge rule matched it.")
    # One upload is one S3 event; the rule starts one execution for it.
    return execution_result(cloud, executions[0], path.name, progress)


def execution_result(
    cloud: LocalCloud, execution_arn: str, label: str, progress: ExecutionProgress | None = None
) -> UploadResult:
    """Wait for an execution, showing its progress if asked, and read back what it came to."""
    try:
        described = cloud.wait(execution_arn, on_poll=progress)
    finally:
        if progress is not None:
            progress.finish(execution_arn)
    history = cloud.history(execution_arn)
    return upload_result(label, described, history, endpoint_status(cloud))


def endpoint_status(cloud: LocalCloud) -> dict[str, Any] | None:
    name = cloud.outputs.endpoint_name
    if name is None:
        return None
    sagemaker = cloud.client("sagemaker")
    try:
        endpoint = sagemaker.describe_endpoint(EndpointName=name)
    except ClientError:
        return None
    return {
        "name": name,
        "status": endpoint["EndpointStatus"],
        "endpoint_config": endpoint["EndpointConfigName"],
        "model_version": serving_model_version(sagemaker, endpoint["EndpointConfigName"]),
        # After a rolled-back update SageMaker says why here, naming the alarm.
        "failure_reason": endpoint.get("FailureReason"),
    }


def serving_model_version(sagemaker: Any, endpoint_config_name: str) -> int | None:
    config = sagemaker.describe_endpoint_config(EndpointConfigName=endpoint_config_name)
    model = sagemaker.describe_model(ModelName=config["ProductionVariants"][0]["ModelName"])
    version = (model.get("PrimaryContainer") or {}).get("Environment", {}).get("MODEL_VERSION")
    return int(version) if version else None
