"""Monitor quality: a Lambda function, run for every ground-truth file put under
ground-truth/, that joins the labels with the endpoint's captured predictions and publishes
the live model quality; and the quality alarm on the gate's primary metric."""

from __future__ import annotations

from aws_cdk import Duration, aws_cloudwatch as cloudwatch, aws_events as events
from aws_cdk import aws_events_targets as targets, aws_kms as kms, aws_s3 as s3, aws_sns as sns, aws_sqs as sqs
from constructs import Construct

from functions.common import s3_layout
from functions.common.config import LOWER_IS_BETTER_METRICS, PipelineConfig
from functions.monitor_quality.settings import QualityMonitorSettings
from infra.constructs.lambda_factory import FunctionSpec, LambdaFactory, PipelineFunction
from infra.constructs.monitoring import QUALITY_KIND, alarm_name, monitoring_namespace, notify_on_state_changes
from infra.constructs.nag import acknowledge
from infra.constructs.permissions import grant_key_for_objects, grant_list_prefix, grant_objects, grant_put_metric_data
from infra.constructs.workflow_triggers import object_created_pattern

QUALITY_MEMORY_MB = 1024
QUALITY_TIMEOUT = Duration.minutes(5)
GROUND_TRUTH_EVENT_MAX_AGE = Duration.hours(2)
GROUND_TRUTH_EVENT_RETRY_ATTEMPTS = 4
# Ground truth arrives when people label it, not on a schedule; the alarm looks at the
# worst value measured in the last hour.
QUALITY_ALARM_PERIOD = Duration.hours(1)
# Written by functions/monitor_quality/service.py.
QUALITY_REPORTS_PREFIX = f"{s3_layout.REPORTS_PREFIX}monitoring/quality/"
MODEL_QUALITY_METRIC = "ModelQuality"


class QualityMonitoring(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        factory: LambdaFactory,
        config: PipelineConfig,
        data_bucket: s3.IBucket,
        encryption_key: kms.IKey,
        topic: sns.ITopic,
        failure_queue: sqs.IQueue,
    ) -> None:
        super().__init__(scope, construct_id)
        self._endpoint_name = config.deployment.endpoint_name
        self._namespace = monitoring_namespace(config.project)
        self.primary_metric = config.gates.primary_metric

        self.function = self._create_function(factory, data_bucket, failure_queue)
        self._grant_data_and_metrics(data_bucket, encryption_key)
        self.ground_truth_rule = self._on_ground_truth(data_bucket, failure_queue)
        self.model_quality = self._model_quality_metric()
        self.alarm_name = alarm_name(config.project, QUALITY_KIND)
        # Without a floor (ceiling) for the primary metric there is nothing to alarm on.
        threshold = config.gates.thresholds.get(self.primary_metric)
        self.alarm = None if threshold is None else self._quality_alarm(threshold, topic)

    def _create_function(self, factory: LambdaFactory, data_bucket: s3.IBucket, failure_queue: sqs.IQueue) -> PipelineFunction:
        return factory.create(
            self,
            "MonitorQuality",
            FunctionSpec(
                name="monitor_quality",
                description="Measures live model quality from ground-truth labels and captured predictions",
                memory_mb=QUALITY_MEMORY_MB,
                timeout=QUALITY_TIMEOUT,
                environment=QualityMonitorSettings(
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
        grant_objects(
            role,
            data_bucket,
            actions=["s3:GetObject", "s3:GetObjectVersion"],
            keys=[f"{s3_layout.GROUND_TRUTH_PREFIX}*"],
            reason=(
                f"Reads only the ground-truth files under {s3_layout.GROUND_TRUTH_PREFIX}, whose names "
                "people choose when they upload labels."
            ),
        )
        grant_list_prefix(role, data_bucket, capture_prefix)
        grant_objects(
            role,
            data_bucket,
            actions=["s3:GetObject"],
            keys=[f"{capture_prefix}*"],
            reason=f"Reads only the endpoint's data capture ({capture_prefix}), named by SageMaker at run time.",
        )
        grant_objects(
            role,
            data_bucket,
            actions=["s3:PutObject"],
            keys=[f"{QUALITY_REPORTS_PREFIX}*"],
            reason=f"Writes only quality reports under {QUALITY_REPORTS_PREFIX}, named by the time of the run.",
        )
        grant_key_for_objects(role, encryption_key)
        grant_put_metric_data(role, self._namespace)
        acknowledge(
            role,
            "AwsSolutions-IAM5",
            "The X-Ray tracing actions have no resource-level permissions; cloudwatch:PutMetricData "
            f"has none either and is limited to the {self._namespace} namespace by a condition.",
            findings=["Resource::*"],
        )

    def _on_ground_truth(self, data_bucket: s3.IBucket, failure_queue: sqs.IQueue) -> events.Rule:
        return events.Rule(
            self,
            "GroundTruthRule",
            description=f"Runs the quality monitor when ground truth lands under {s3_layout.GROUND_TRUTH_PREFIX}",
            event_pattern=object_created_pattern(data_bucket, s3_layout.GROUND_TRUTH_PREFIX),
            targets=[
                targets.LambdaFunction(
                    self.function.function,
                    dead_letter_queue=failure_queue,
                    max_event_age=GROUND_TRUTH_EVENT_MAX_AGE,
                    retry_attempts=GROUND_TRUTH_EVENT_RETRY_ATTEMPTS,
                )
            ],
        )

    def _model_quality_metric(self) -> cloudwatch.Metric:
        lower_is_better = self.primary_metric in LOWER_IS_BETTER_METRICS
        return cloudwatch.Metric(
            namespace=self._namespace,
            metric_name=MODEL_QUALITY_METRIC,
            dimensions_map={"EndpointName": self._endpoint_name, "MetricName": self.primary_metric},
            statistic=cloudwatch.Stats.MAXIMUM if lower_is_better else cloudwatch.Stats.MINIMUM,
            period=QUALITY_ALARM_PERIOD,
        )

    def _quality_alarm(self, threshold: float, topic: sns.ITopic) -> cloudwatch.Alarm:
        lower_is_better = self.primary_metric in LOWER_IS_BETTER_METRICS
        alarm = cloudwatch.Alarm(
            self,
            "QualityAlarm",
            alarm_name=self.alarm_name,
            alarm_description=(
                f"The live {self.primary_metric} of {self._endpoint_name} is "
                f"{'above' if lower_is_better else 'below'} the gate's {threshold}"
            ),
            metric=self.model_quality,
            threshold=threshold,
            evaluation_periods=1,
            comparison_operator=(
                cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD
                if lower_is_better
                else cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD
            ),
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        notify_on_state_changes(alarm, topic)
        return alarm
