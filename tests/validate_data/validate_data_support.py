"""What the "Validate data" tests share: names, requests, CSV bytes, and the moto account the handler runs in."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from functions.common.config import CONFIG_FILE_NAME, PipelineConfig
from tests.support.events import load_event

DATA_BUCKET = "mlops-data-test"
MODEL_PACKAGE_GROUP = "mlops-models"
ENDPOINT_NAME = "mlops-endpoint"
MODEL_ROLE_ARN = "arn:aws:iam::123456789012:role/model-role"
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/sklearn:1.4-2"


def request_for(key: str, execution_name: str = "0f1e2d3c-4b5a-6978-8695-a4b3c2d1e0f9") -> dict[str, Any]:
    event = load_event("validate_data_request")
    event.update(
        key=key,
        execution_name=execution_name,
        execution_arn=f"arn:aws:states:us-east-1:123456789012:execution:mlops-training:{execution_name}",
    )
    return event


def to_csv_bytes(frame: pd.DataFrame, **options: Any) -> bytes:
    return frame.to_csv(index=False, **options).encode("utf-8")


def accept_upload(aws: "Aws", lambda_context: Any, frame: pd.DataFrame, name: str, execution: str) -> dict[str, Any]:
    """Upload `frame` as incoming/<name> and validate it in `execution`; it must be accepted."""
    from functions.validate_data.handler import lambda_handler

    event = request_for(f"incoming/{name}", execution)
    aws.put(event["key"], to_csv_bytes(frame))
    result = lambda_handler(event, lambda_context)
    assert result["outcome"] == "accepted", result
    return result


@dataclass
class Aws:
    s3: Any
    sagemaker: Any
    task_root: Path
    monkeypatch: pytest.MonkeyPatch

    def use_config(self, config: PipelineConfig) -> None:
        (self.task_root / CONFIG_FILE_NAME).write_text(config.to_json())

    def put(self, key: str, body: bytes) -> None:
        self.s3.put_object(Bucket=DATA_BUCKET, Key=key, Body=body)

    def get(self, key: str) -> bytes:
        return self.s3.get_object(Bucket=DATA_BUCKET, Key=key)["Body"].read()

    def get_json(self, key: str) -> Any:
        return json.loads(self.get(key))

    def keys(self, prefix: str = "") -> list[str]:
        listing = self.s3.list_objects_v2(Bucket=DATA_BUCKET, Prefix=prefix)
        return sorted(item["Key"] for item in listing.get("Contents", []))

    def serve_version(self, accepted: dict[str, Any], *, primary_metric_value: str = "0.99") -> str:
        """Register the accepted upload's model as an approved version and serve it on the endpoint,
        as the pipeline's deployment leaves them; returns its model package ARN."""
        package_arn = self.register_version(accepted, primary_metric_value=primary_metric_value)
        version = package_arn.rsplit("/", 1)[-1]
        name = f"mlops-v{version}-serving"
        self.sagemaker.create_model(
            ModelName=name,
            ExecutionRoleArn=MODEL_ROLE_ARN,
            PrimaryContainer={"Image": IMAGE, "Environment": {"MODEL_PACKAGE_ARN": package_arn, "MODEL_VERSION": version}},
        )
        self.sagemaker.create_endpoint_config(
            EndpointConfigName=name,
            ProductionVariants=[
                {"VariantName": "AllTraffic", "ModelName": name, "InstanceType": "ml.m5.large", "InitialInstanceCount": 1}
            ],
        )
        endpoints = self.sagemaker.list_endpoints(NameContains=ENDPOINT_NAME)["Endpoints"]
        if endpoints:
            self.sagemaker.update_endpoint(EndpointName=ENDPOINT_NAME, EndpointConfigName=name)
        else:
            self.sagemaker.create_endpoint(EndpointName=ENDPOINT_NAME, EndpointConfigName=name)
        return package_arn

    def register_version(
        self, accepted: dict[str, Any], *, primary_metric_value: str = "0.99", status: str = "Approved"
    ) -> str:
        """Register the accepted upload's model as a version with `status`, deployed nowhere (as
        deployment.mode batch_only leaves an approved one); returns its model package ARN."""
        return self.sagemaker.create_model_package(
            ModelPackageGroupName=MODEL_PACKAGE_GROUP,
            ModelApprovalStatus=status,
            CustomerMetadataProperties={
                "profile_uri": accepted["profile_uri"],
                "dataset_version": accepted["dataset_version"],
                "primary_metric": "roc_auc",
                "primary_metric_value": primary_metric_value,
            },
            InferenceSpecification={
                "Containers": [{"Image": IMAGE, "ModelDataUrl": "s3://artifacts/training-jobs/v/output/model.tar.gz"}],
                "SupportedContentTypes": ["text/csv"],
                "SupportedResponseMIMETypes": ["application/json"],
            },
        )["ModelPackageArn"]

def run_validation_job(aws: Aws, job_plan: dict[str, Any], work: Path) -> None:
    """What SageMaker Processing does with a validation job's plan (a ValidationJobPlan): download
    plan.json and the object the manifest names, run the job's entry point, upload its output."""
    from functions.validate_data import processing_job

    _, plan_key = job_plan["plan_uri"].removeprefix("s3://").split("/", 1)
    _, manifest_key = job_plan["source_manifest_uri"].removeprefix("s3://").split("/", 1)
    plan_document = aws.get_json(plan_key)
    prefix, *relative = aws.get_json(manifest_key)
    folders = {name: work / name for name in ("plan", "data", "output")}
    for folder in folders.values():
        folder.mkdir(parents=True)
    (folders["plan"] / "plan.json").write_text(json.dumps(plan_document))
    source_prefix = prefix["prefix"].removeprefix(f"s3://{DATA_BUCKET}/")
    for name in relative:
        (folders["data"] / name).write_bytes(aws.get(source_prefix + name))
    config_json = (aws.task_root / CONFIG_FILE_NAME).read_text()
    arguments = ["--plan", str(folders["plan"] / "plan.json"), "--data", str(folders["data"]), "--output", str(folders["output"])]
    assert processing_job.main([*arguments, "--message-file", str(work / "message")], config_json) == 0
    output_prefix = job_plan["output_uri"].removeprefix(f"s3://{DATA_BUCKET}/")
    for path in sorted(folders["output"].rglob("*")):
        if path.is_file():
            aws.put(output_prefix + path.relative_to(folders["output"]).as_posix(), path.read_bytes())
