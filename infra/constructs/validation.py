"""Validate data: the Lambda function that checks an upload, quarantines bad data and
writes the curated, split dataset; and, for uploads above validation.max_lambda_file_bytes,
the SageMaker Processing job that validates the file for it (infra/constructs/validation_job.py)."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import Duration, aws_kms as kms, aws_s3 as s3
from constructs import Construct

from functions.common import s3_layout
from functions.validate_data.settings import ValidateDataSettings
from infra.constructs.lambda_factory import FunctionSpec, LambdaFactory, PipelineFunction
from infra.constructs.permissions import (
    grant_bucket_prefixes,
    grant_key,
    grant_list_model_packages,
    grant_missing_object_answers,
    grant_model_packages,
    grant_read_serving_model,
)
from infra.constructs.validation_job import ValidationJobResources

VALIDATE_MEMORY_MB = 4096
VALIDATE_EPHEMERAL_STORAGE_MB = 4096
VALIDATE_TIMEOUT = Duration.minutes(15)


class ValidationStage(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        factory: LambdaFactory,
        data_bucket: s3.IBucket,
        encryption_key: kms.IKey,
        model_package_group: str,
        invoker: str,
        job_bundle_file: Path,
        job_image_uri: str,
        project: str,
        endpoint_name: str,
    ) -> None:
        super().__init__(scope, construct_id)
        self.function: PipelineFunction = factory.create(
            self,
            "ValidateData",
            FunctionSpec(
                name="validate_data",
                description="Validates an uploaded dataset, quarantines bad data, writes curated splits",
                memory_mb=VALIDATE_MEMORY_MB,
                ephemeral_storage_mb=VALIDATE_EPHEMERAL_STORAGE_MB,
                timeout=VALIDATE_TIMEOUT,
                environment=ValidateDataSettings(
                    data_bucket=data_bucket.bucket_name,
                    model_package_group=model_package_group,
                    endpoint_name=endpoint_name,
                ).to_environment(),
                synchronous_invoker=invoker,
            ),
        )
        role = self.function.role
        grant_bucket_prefixes(
            role,
            data_bucket,
            # curated/ is read to detect duplicates (manifest, rows fingerprint) and the champion's
            # drift baseline, and written with the splits and the reference holdout's manifest;
            # validation-jobs/ holds the validation job's plan (written) and output (read).
            read=[s3_layout.INCOMING_PREFIX, s3_layout.CURATED_PREFIX, s3_layout.VALIDATION_JOBS_PREFIX],
            write=[
                s3_layout.CURATED_PREFIX,
                s3_layout.QUARANTINE_PREFIX,
                s3_layout.REPORTS_PREFIX,
                s3_layout.VALIDATION_JOBS_PREFIX,
            ],
            purpose="data bucket",
        )
        # A new upload's curated manifest does not exist yet: the read must answer 404.
        grant_missing_object_answers(role, data_bucket)
        grant_key(role, encryption_key, write=True)
        # The drift baseline and the champion are the version serving on the endpoint; the
        # reference holdout is the test splits of the approved versions in the registry.
        grant_read_serving_model(role, project, endpoint_name)
        grant_list_model_packages(role)
        grant_model_packages(role, model_package_group, ["sagemaker:DescribeModelPackage"], include_group=False)
        self.job = ValidationJobResources(
            self,
            "ValidationJob",
            bundle_file=job_bundle_file,
            image_uri=job_image_uri,
            data_bucket=data_bucket,
            encryption_key=encryption_key,
            project=project,
        )
