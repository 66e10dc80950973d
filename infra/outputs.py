"""What the deployed stack is called and the outputs it exports: the CLI and the local runtime
read the stack by these names, without loading the CDK."""

from __future__ import annotations

from functions.common.config import PipelineConfig

# CloudFormation output keys; the CLI and the local runtime read the stack by these.
OUTPUT_DATA_BUCKET = "DataBucketName"
OUTPUT_ARTIFACTS_BUCKET = "ArtifactsBucketName"
OUTPUT_STATE_MACHINE = "StateMachineArn"
OUTPUT_TOPIC = "TopicArn"
OUTPUT_ENDPOINT = "EndpointName"
OUTPUT_MODEL_PACKAGE_GROUP = "ModelPackageGroupName"
OUTPUT_KEY = "KeyArn"
OUTPUT_MODEL_ROLE = "ModelRoleArn"
OUTPUT_IDEMPOTENCY_TABLE = "IdempotencyTableName"
OUTPUT_SOURCE_BUNDLE = "SourceBundleUri"
OUTPUT_ALARM_RESPONDER = "AlarmResponderArn"


def stack_name(config: PipelineConfig) -> str:
    return f"{config.project}-pipeline"
