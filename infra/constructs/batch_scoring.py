"""Batch scoring's grants: what the validate function and the model's execution role need for
files uploaded under batch/. The state machine's branch is training_workflow/batch.py; the
trigger is the upload rule on batch/ (workflow_triggers.py)."""

from __future__ import annotations

from aws_cdk import aws_iam as iam, aws_s3 as s3
from constructs import Construct

from functions.common import batch_layout, s3_layout
from infra.constructs.nag import acknowledge, nag_text
from functions.validate_data.batch_model import batch_model_name_prefix
from infra.constructs.permissions import grant_bucket_prefixes, sagemaker_arn


class BatchScoring(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        project: str,
        validate_role: iam.Role,
        model_role: iam.Role,
        data_bucket: s3.IBucket,
    ) -> None:
        super().__init__(scope, construct_id)
        # The validate function reads the upload and its tags, writes the rows the transform job
        # scores (batch-jobs/), reads the job's output, and writes the predictions and the audit
        # record; reports and quarantine are granted by the validation stage.
        grant_bucket_prefixes(
            validate_role,
            data_bucket,
            read=[batch_layout.BATCH_PREFIX, batch_layout.BATCH_JOBS_PREFIX],
            write=[batch_layout.BATCH_JOBS_PREFIX, batch_layout.PREDICTIONS_PREFIX, s3_layout.AUDIT_PREFIX],
            purpose="data bucket for batch scoring",
        )
        uploads = data_bucket.arn_for_objects(f"{batch_layout.BATCH_PREFIX}*")
        # A version named by the object's model-version tag.
        validate_role.add_to_policy(
            iam.PolicyStatement(actions=["s3:GetObjectTagging", "s3:GetObjectVersionTagging"], resources=[uploads])
        )
        acknowledge(
            validate_role,
            "AwsSolutions-IAM5",
            "Reading the tags of batch uploads, whose names are the user's.",
            findings=[f"Resource::{nag_text(validate_role, uploads)}"],
        )
        # Each batch's SageMaker model is deleted once its transform job has ended (batch_model.py
        # names them "<project>-batch-v<version>-<digest>").
        batch_models = sagemaker_arn(self, "model", f"{batch_model_name_prefix(project)}*")
        validate_role.add_to_policy(iam.PolicyStatement(actions=["sagemaker:DeleteModel"], resources=[batch_models]))
        acknowledge(
            validate_role,
            "AwsSolutions-IAM5",
            "Deleting the SageMaker models batch scoring created; each is named per execution at run time.",
            findings=[f"Resource::{nag_text(validate_role, batch_models)}"],
        )
        # Whether a model DeleteModel refused is already gone (a retried step) is asked of ListModels.
        validate_role.add_to_policy(iam.PolicyStatement(actions=["sagemaker:ListModels"], resources=["*"]))
        acknowledge(
            validate_role,
            "AwsSolutions-IAM5",
            "sagemaker:ListModels has no resource-level permissions (Service Authorization Reference, "
            "Amazon SageMaker: ListModels names no resource type).",
            findings=["Resource::*"],
        )
        # Batch Transform reads its input and writes its output as the model's execution role
        # (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateModel.html, ExecutionRoleArn).
        job_input = data_bucket.arn_for_objects(f"{batch_layout.BATCH_JOBS_PREFIX}*/input/*")
        job_output = data_bucket.arn_for_objects(f"{batch_layout.BATCH_JOBS_PREFIX}*/output/*")
        model_role.add_to_policy(iam.PolicyStatement(actions=["s3:GetObject"], resources=[job_input]))
        model_role.add_to_policy(
            iam.PolicyStatement(actions=["s3:PutObject", "s3:AbortMultipartUpload"], resources=[job_output])
        )
        model_role.add_to_policy(
            iam.PolicyStatement(
                actions=["s3:ListBucket"],
                resources=[data_bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [f"{batch_layout.BATCH_JOBS_PREFIX}*/input/*"]}},
            )
        )
        acknowledge(
            model_role,
            "AwsSolutions-IAM5",
            "A transform job reads the rows to score and writes their predictions under the folder of "
            "its execution, whose name is only known at run time.",
            findings=[f"Resource::{nag_text(model_role, arn)}" for arn in (job_input, job_output)],
        )
