"""A deployed pipeline in moto for the operating commands: three registered versions (1 and 2
Approved, 3 pending), version 2 serving on the endpoint, and the stack's outputs."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID

from functions.register_model.registration import RegistrationSettings, customer_metadata
from registry_cli_support import (
    APPROVAL,
    CODE_VERSION,
    DATA_BUCKET,
    ENDPOINT_NAME,
    GROUP,
    HYPERPARAMETERS,
    IMAGE_URI,
    MODEL_ROLE_ARN,
    OPERATOR,
    REGION,
    SERVING_VERSION,
    Deployment,
    dataset_version,
    pipeline_config,
    registration_request,
    stack_outputs,
    training_job,
)


@pytest.fixture
def environment(monkeypatch, tmp_path):
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "POWERTOOLS_TRACE_DISABLED": "1",
        "POWERTOOLS_METRICS_NAMESPACE": "test",
        "LOGNAME": OPERATOR,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pipeline.json").write_text(pipeline_config().to_json())


@pytest.fixture
def aws(environment):
    with mock_aws():
        # A fresh default session per test: the hooks registered on it reach the commands' clients.
        boto3.setup_default_session()
        yield


@pytest.fixture
def deployment(aws, monkeypatch) -> Deployment:
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=DATA_BUCKET)
    topic_arn = boto3.client("sns").create_topic(Name="mlops-alarms")["TopicArn"]
    sagemaker = boto3.client("sagemaker")
    sagemaker.create_model_package_group(ModelPackageGroupName=GROUP)
    settings = RegistrationSettings(
        data_bucket=DATA_BUCKET, model_package_group=GROUP, inference_image_uri=IMAGE_URI, code_version=CODE_VERSION
    )
    package_arns = {}
    for version, status in APPROVAL.items():
        model_data = f"s3://mlops-artifacts/training-jobs/{training_job(version)}/output/model.tar.gz"
        package_arns[version] = sagemaker.create_model_package(
            ModelPackageGroupName=GROUP,
            ModelApprovalStatus=status,
            InferenceSpecification={
                "Containers": [{"Image": IMAGE_URI, "ModelDataUrl": model_data}],
                "SupportedContentTypes": ["text/csv", "application/json"],
                "SupportedResponseMIMETypes": ["application/json"],
            },
            CustomerMetadataProperties=customer_metadata(registration_request(version), settings, HYPERPARAMETERS),
        )["ModelPackageArn"]
        sagemaker.create_model(
            ModelName=f"mlops-v{version}",
            ExecutionRoleArn=MODEL_ROLE_ARN,
            PrimaryContainer={
                "Image": IMAGE_URI,
                "ModelDataUrl": model_data,
                "Environment": {
                    "SAGEMAKER_PROGRAM": "inference.py",
                    "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code",
                    "MODEL_PACKAGE_ARN": package_arns[version],
                    "MODEL_VERSION": str(version),
                    "DATASET_VERSION": dataset_version(version),
                },
            },
        )
    sagemaker.create_endpoint_config(
        EndpointConfigName=f"mlops-v{SERVING_VERSION}-config",
        ProductionVariants=[{
            "VariantName": "AllTraffic",
            "ModelName": f"mlops-v{SERVING_VERSION}",
            "InstanceType": "ml.m5.large",
            "InitialInstanceCount": 1,
            "InitialVariantWeight": 1.0,
        }],
        DataCaptureConfig={
            "EnableCapture": True,
            "InitialSamplingPercentage": 100,
            "DestinationS3Uri": f"s3://{DATA_BUCKET}/capture/",
            "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
        },
    )
    sagemaker.create_endpoint(EndpointName=ENDPOINT_NAME, EndpointConfigName=f"mlops-v{SERVING_VERSION}-config")

    recorded = Deployment(package_arns=package_arns, topic_arn=topic_arn)

    def answer_update_endpoint(params: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        # moto does not implement UpdateEndpoint; record the request and answer like SageMaker.
        request = json.loads(params["body"])
        recorded.update_endpoint_calls.append(request)
        arn = f"arn:aws:sagemaker:{REGION}:{DEFAULT_ACCOUNT_ID}:endpoint/{request['EndpointName']}"
        return AWSResponse(url="", status_code=200, headers={}, raw=None), {"EndpointArn": arn}

    boto3.DEFAULT_SESSION.events.register("before-call.sagemaker.UpdateEndpoint", answer_update_endpoint)

    def deployed_outputs(session: Any, name: str) -> dict[str, str]:
        # Stands in for CloudFormation's DescribeStacks of the deployed stack.
        assert name == "mlops-pipeline"
        return stack_outputs(topic_arn)

    monkeypatch.setattr("mlops.aws_target.read_stack_outputs", deployed_outputs)
    return recorded
