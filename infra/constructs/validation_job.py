"""What the validation job needs: the SageMaker Processing job that validates uploads above
validation.max_lambda_file_bytes, in the scikit-learn framework image the training uses.

Its code bundle (infra/assets.py) is an asset; its execution role reads the upload and the
job's plan and writes the job's output; as the join job of a batch file it validated, it reads
the scored rows and the transform job's answers and writes the predictions; nothing else. The
job runs with network isolation: SageMaker moves its inputs and output, the code calls no AWS
API. The state machine starts it (infra/constructs/training_workflow/validation.py and
batch.py) with the paths below.
"""

from __future__ import annotations

from pathlib import Path

from aws_cdk import ArnFormat, Stack, aws_iam as iam, aws_kms as kms, aws_s3 as s3
from aws_cdk import aws_s3_assets as s3_assets
from constructs import Construct

from functions.common import batch_layout, s3_layout
from functions.validate_data.prediction_join import JOIN_PLAN_FILE_NAME
from infra.constructs.nag import acknowledge, nag_text
from infra.constructs.permissions import (
    acknowledge_sagemaker_logs_and_metrics,
    sagemaker_log_statements,
    sagemaker_metric_statement,
)

PROCESSING_LOG_GROUP = "/aws/sagemaker/ProcessingJobs"
# Where SageMaker Processing puts the job's inputs and from where it uploads its output.
CODE_DIR = "/opt/ml/processing/input/code"
PLAN_DIR = "/opt/ml/processing/input/plan"
DATA_DIR = "/opt/ml/processing/input/data"
OUTPUT_DIR = "/opt/ml/processing/output"
# The join job (processing_job.py --join): a batch file's rows, the transform job's answers, and
# where the predictions and the summary go.
JOIN_PLAN_DIR = PLAN_DIR
JOIN_ROWS_DIR = DATA_DIR
JOIN_ANSWERS_DIR = "/opt/ml/processing/input/answers"
JOIN_PREDICTIONS_DIR = "/opt/ml/processing/predictions"
JOIN_SUMMARY_DIR = "/opt/ml/processing/summary"
# SageMaker reports the first 1 KB of this file as the job's ExitMessage.
MESSAGE_FILE = "/opt/ml/output/message"
PLAN_FILE_NAME = "plan.json"


def validation_job_prefix(project: str) -> str:
    """The start of every validation job name the pipeline gives (validate_data.service.validation_job_name)."""
    return f"{project}-validate-"


class ValidationJobResources(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        bundle_file: Path,
        image_uri: str,
        data_bucket: s3.IBucket,
        encryption_key: kms.IKey,
        project: str,
    ) -> None:
        super().__init__(scope, construct_id)
        self.image_uri = image_uri
        self.code_bundle = s3_assets.Asset(self, "CodeBundle", path=str(bundle_file))
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description="Runs the pipeline's SageMaker Processing jobs that validate large uploads",
        )
        self._grant(data_bucket, encryption_key, validation_job_prefix(project))

    @property
    def code_bundle_uri(self) -> str:
        return self.code_bundle.s3_object_url

    @property
    def entrypoint(self) -> list[str]:
        return ["python3", f"{CODE_DIR}/{self.code_bundle.s3_object_key}"]

    @property
    def arguments(self) -> list[str]:
        return [
            "--plan",
            f"{PLAN_DIR}/{PLAN_FILE_NAME}",
            "--data",
            DATA_DIR,
            "--output",
            OUTPUT_DIR,
            "--message-file",
            MESSAGE_FILE,
        ]

    @property
    def join_arguments(self) -> list[str]:
        return [
            "--join",
            "--plan",
            f"{JOIN_PLAN_DIR}/{JOIN_PLAN_FILE_NAME}",
            "--data",
            JOIN_ROWS_DIR,
            "--answers",
            JOIN_ANSWERS_DIR,
            "--output",
            JOIN_PREDICTIONS_DIR,
            "--summary",
            JOIN_SUMMARY_DIR,
            "--message-file",
            MESSAGE_FILE,
        ]

    def _grant(self, data_bucket: s3.IBucket, key: kms.IKey, job_prefix: str) -> None:
        stack = Stack.of(self)
        bundle_object_arn = stack.format_arn(
            service="s3",
            region="",
            account="",
            resource=self.code_bundle.s3_bucket_name,
            resource_name=self.code_bundle.s3_object_key,
            arn_format=ArnFormat.SLASH_RESOURCE_NAME,
        )
        # The job reads the plan's copy of the upload, never the upload itself.
        job_files = data_bucket.arn_for_objects(f"{s3_layout.VALIDATION_JOBS_PREFIX}*")
        batch_reads = [
            data_bucket.arn_for_objects(f"{batch_layout.BATCH_JOBS_PREFIX}*/{name}")
            for name in (batch_layout.ROWS_FILE_NAME, JOIN_PLAN_FILE_NAME, "output/*")
        ]
        batch_writes = [
            data_bucket.arn_for_objects(f"{batch_layout.PREDICTIONS_PREFIX}*"),
            data_bucket.arn_for_objects(f"{batch_layout.BATCH_JOBS_PREFIX}*/join/*"),
        ]
        statements = [
            iam.PolicyStatement(sid="ReadUploadCopyAndPlan", actions=["s3:GetObject"], resources=[job_files]),
            iam.PolicyStatement(
                sid="ListUploadCopyAndPlan",
                actions=["s3:ListBucket"],
                resources=[data_bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [f"{s3_layout.VALIDATION_JOBS_PREFIX}*"]}},
            ),
            iam.PolicyStatement(
                sid="WriteJobOutput",
                actions=["s3:PutObject", "s3:AbortMultipartUpload"],
                resources=[job_files],
            ),
            # The join job of a batch file it validated: the scored rows, the join plan and the
            # transform job's answers in; the predictions and the summary out.
            iam.PolicyStatement(sid="ReadBatchRowsAndAnswers", actions=["s3:GetObject"], resources=batch_reads),
            iam.PolicyStatement(
                sid="ListBatchRowsAndAnswers",
                actions=["s3:ListBucket"],
                resources=[data_bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [f"{batch_layout.BATCH_JOBS_PREFIX}*"]}},
            ),
            iam.PolicyStatement(
                sid="WriteBatchPredictions", actions=["s3:PutObject", "s3:AbortMultipartUpload"], resources=batch_writes
            ),
            iam.PolicyStatement(sid="ReadCodeBundle", actions=["s3:GetObject"], resources=[bundle_object_arn]),
            iam.PolicyStatement(
                sid="ListCodeBundle",
                actions=["s3:ListBucket"],
                resources=[self.code_bundle.bucket.bucket_arn],
                conditions={"StringEquals": {"s3:prefix": [self.code_bundle.s3_object_key]}},
            ),
            iam.PolicyStatement(
                sid="UseKey",
                actions=["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"],
                resources=[key.key_arn],
            ),
            *sagemaker_log_statements(stack, PROCESSING_LOG_GROUP, job_prefix),
            sagemaker_metric_statement(PROCESSING_LOG_GROUP),
        ]
        for statement in statements:
            self.role.add_to_policy(statement)
        acknowledge(
            self.role,
            "AwsSolutions-IAM5",
            "Object-level access is limited to the job's own copy of the upload, plan and output "
            "(validation-jobs/); object names are only known at run time.",
            findings=[f"Resource::{nag_text(self.role, job_files)}"],
        )
        acknowledge(
            self.role,
            "AwsSolutions-IAM5",
            "The join job reads a batch's scored rows and the transform job's answers, and writes its "
            "predictions and summary, in folders named per execution at run time.",
            findings=[f"Resource::{nag_text(self.role, arn)}" for arn in (*batch_reads, *batch_writes)],
        )
        acknowledge_sagemaker_logs_and_metrics(self.role, stack, PROCESSING_LOG_GROUP, job_prefix)
