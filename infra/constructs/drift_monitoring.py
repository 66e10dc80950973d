"""Monitor drift: a Lambda function, run on a schedule, that compares the endpoint's captured
requests with the serving version's training profile and publishes drift metrics; and the
drift alarm on those metrics."""

from __future__ import annotations

from aws_cdk import Duration, aws_cloudwatch as cloudwatch, aws_events as events
from aws_cdk import aws_events_targets as targets, aws_iam as iam, aws_kms as kms, aws_s3 as s3
from aws_cdk import aws_sns as sns, aws_sqs as sqs
from constructs import Construct

from functions.common import s3_layout
from functions.common.config import PipelineConfig
from functions.monitor_drift.settings import DriftMonitorSettings
from infra.constructs.lambda_factory import FunctionSpec, LambdaFactory, PipelineFunction
from infra.constructs.monitoring import DRIFT_KIND, alarm_name, monitoring_namespace, notify_on_state_changes
from infra.constructs.nag import acknowledge
from infra.constructs.permissions import (
    grant_key_for_objects,
    grant_list_prefix,
    grant_missing_object_answers,
    grant_model_packages,
    grant_objects,
    grant_put_metric_data,
    grant_read_serving_model,
)

DRIFT_MEMORY_MB = 1024
DRIFT_TIMEOUT = Duration.minutes(5)
SCHEDULE_EVENT_MAX_AGE = Duration.hours(1)
SCHEDULE_EVENT_RETRY_ATTEMPTS = 2
# Written by functions/monitor_drift/service.py.
DRIFT_WATERMARK_KEY = "monitoring/drift-watermark.json"
DRIFT_REPORTS_PREFIX = f"{s3_layout.REPORTS_PREFIX}monitoring/drift/"
PROFILE_KEY_PATTERN = s3_layout.curated_profile_key("*")


class DriftMonitoring(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        factory: LambdaFactory,
        config: PipelineConfig,
        model_package_group: str,
        data_bucket: s3.IBucket,
        encryption_key: kms.IKey,
        topic: sns.ITopic,
        failure_queue: sqs.IQueue,
    ) -> None:
        super().__init__(scope, construct_id)
        self._project = config.project
        self._endpoint_name = config.deployment.endpoint_name
        self._namespace = monitoring_namespace(config.project)
        self._schedule_period = Duration.minutes(config.monitoring.drift_schedule_minutes)

        self.function = self._create_function(factory, data_bucket, failure_queue)
        self._grant_data_and_metrics(data_bucket, encryption_key)
        self._grant_serving_version_lookup(model_package_group)
        self.schedule_rule = self._schedule(failure_queue)
        self.drifted_feature_fraction = self._metric("DriftedFeatureFraction")
        self.max_feature_psi = self._metric("MaxFeaturePSI")
        self.alarm_name = alarm_name(config.project, DRIFT_KIND)
        self.alarm = self._drift_alarm(config.drift.alarm_threshold, topic)

    def _create_function(self, factory: LambdaFactory, data_bucket: s3.IBucket, failure_queue: sqs.IQueue) -> PipelineFunction:
        return factory.create(
            self,
            "MonitorDrift",
            FunctionSpec(
                name="monitor_drift",
                description="Measures drift of captured endpoint traffic from the serving version's training data",
                memory_mb=DRIFT_MEMORY_MB,
                timeout=DRIFT_TIMEOUT,
                environment=DriftMonitorSettings(
                    data_bucket=data_bucket.bucket_name,
                    endpoint_name=self._endpoint_name,
                    metrics_namespace=self._namespace,
                ).to_environment(),
                failure_queue=failure_queue,
            ),
        )

    def _grant_data_and_metrics(self, data_bucket: s3.IBucket, encryption_key: kms.IKey) -> None:
        role = self.function.role
        capture_prefix = f"{s3_layout.CAPTURE_PREFIX}{self._endpoint_name}/"
        grant_list_prefix(role, data_bucket, capture_prefix)
        grant_objects(
            role,
            data_bucket,
            actions=["s3:GetObject"],
            keys=[f"{capture_prefix}*", PROFILE_KEY_PATTERN, DRIFT_WATERMARK_KEY],
            reason=(
                f"Reads only the endpoint's data capture ({capture_prefix}) and the training profiles "
                "of curated datasets; capture files and dataset versions are named at run time."
            ),
        )
        grant_objects(
            role,
            data_bucket,
            actions=["s3:PutObject"],
            keys=[DRIFT_WATERMARK_KEY, f"{DRIFT_REPORTS_PREFIX}*"],
            reason=f"Writes only drift reports under {DRIFT_REPORTS_PREFIX}, named by the time of the run.",
        )
        # The first run reads a watermark that does not exist yet: the read must answer 404.
        grant_missing_object_answers(role, data_bucket)
        grant_key_for_objects(role, encryption_key)
        grant_put_metric_data(role, self._namespace)

    def _grant_serving_version_lookup(self, model_package_group: str) -> None:
        """Endpoint -> endpoint config -> model -> the model package whose profile is the baseline."""
        role = self.function.role
        role.add_to_policy(iam.PolicyStatement(actions=["sagemaker:ListEndpoints"], resources=["*"]))
        acknowledge(
            role,
            "AwsSolutions-IAM5",
            "sagemaker:ListEndpoints and the X-Ray tracing actions have no resource-level permissions; "
            f"cloudwatch:PutMetricData has none either and is limited to the {self._namespace} namespace "
            "by a condition.",
            findings=["Resource::*"],
        )
        grant_read_serving_model(role, self._project, self._endpoint_name)
        grant_model_packages(role, model_package_group, ["sagemaker:DescribeModelPackage"], include_group=False)

    def _schedule(self, failure_queue: sqs.IQueue) -> events.Rule:
        return events.Rule(
            self,
            "ScheduleRule",
            description=f"Runs the drift monitor of {self._endpoint_name} every {self._schedule_period.to_minutes()} minutes",
            schedule=events.Schedule.expression(f"rate({self._schedule_period.to_minutes()} minutes)"),
            targets=[
                targets.LambdaFunction(
                    self.function.function,
                    dead_letter_queue=failure_queue,
                    max_event_age=SCHEDULE_EVENT_MAX_AGE,
                    retry_attempts=SCHEDULE_EVENT_RETRY_ATTEMPTS,
                )
            ],
        )

    def _metric(self, metric_name: str) -> cloudwatch.Metric:
        return cloudwatch.Metric(
            namespace=self._namespace,
            metric_name=metric_name,
            dimensions_map={"EndpointName": self._endpoint_name},
            statistic=cloudwatch.Stats.MAXIMUM,
            period=self._schedule_period,
        )

    def _drift_alarm(self, threshold: float, topic: sns.ITopic) -> cloudwatch.Alarm:
        alarm = cloudwatch.Alarm(
            self,
            "DriftAlarm",
            alarm_name=self.alarm_name,
            alarm_description=(
                f"More than {threshold:.0%} of the features of the traffic to {self._endpoint_name} "
                "drifted from the serving version's training data"
            ),
            metric=self.drifted_feature_fraction,
            threshold=threshold,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        notify_on_state_changes(alarm, topic)
        return alarm
