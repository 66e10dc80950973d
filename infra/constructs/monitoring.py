"""Alarms on the pipeline and on the live endpoint, and the route from alarm state changes
to the alarm responder (the endpoint's part only when there is an endpoint: deployment.mode
realtime).

Alarm names are f"{project}-{kind}"; the responder derives the kind from the name and maps
it to an action with config.monitoring.actions. The invocation anomaly alarm compares the
endpoint's traffic with a CloudWatch anomaly detection band learned from its own history.
The drift and quality alarms belong to the drift and quality monitors (DriftMonitoring,
QualityMonitoring); their names are routed here so the responder receives them.
"""

from __future__ import annotations

from aws_cdk import ArnFormat, Duration, Stack, aws_cloudwatch as cloudwatch, aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_events as events, aws_events_targets as targets, aws_lambda as lambda_
from aws_cdk import aws_sns as sns, aws_sqs as sqs, aws_stepfunctions as sfn
from constructs import Construct

from functions.common.config import MonitoringConfig

SAGEMAKER_NAMESPACE = "AWS/SageMaker"
VARIANT_NAME = "AllTraffic"
MICROSECONDS_PER_MILLISECOND = 1000
ERRORS_KIND = "errors"
LATENCY_KIND = "latency"
DRIFT_KIND = "drift"
QUALITY_KIND = "quality"
PIPELINE_FAILURES_KIND = "pipeline-failures"
INVOCATION_ANOMALY_KIND = "invocation-anomaly"
# Owned by Notifications, next to the dead-letter queue it watches.
DEAD_LETTERS_KIND = "dead-letters"
PIPELINE_FAILURES_THRESHOLD = 1
ALARM_EVENT_MAX_AGE = Duration.hours(1)
ALARM_EVENT_RETRY_ATTEMPTS = 3


def alarm_name(project: str, kind: str) -> str:
    return f"{project}-{kind}"


def alarm_arn(scope: Construct, name: str) -> str:
    """The ARN of an alarm by name. Built from the name, not read from the alarm resource: the
    local runtime creates alarms through the CloudWatch API, outside its CloudFormation stack."""
    return Stack.of(scope).format_arn(
        service="cloudwatch", resource="alarm", resource_name=name, arn_format=ArnFormat.COLON_RESOURCE_NAME
    )


def monitoring_namespace(project: str) -> str:
    """The CloudWatch namespace of the drift and quality monitors' metrics."""
    return f"{project}/monitoring"


def endpoint_metric(endpoint_name: str, metric_name: str, *, statistic: str, period: Duration) -> cloudwatch.Metric:
    """A SageMaker metric of the endpoint's one production variant."""
    return cloudwatch.Metric(
        namespace=SAGEMAKER_NAMESPACE,
        metric_name=metric_name,
        dimensions_map={"EndpointName": endpoint_name, "VariantName": VARIANT_NAME},
        statistic=statistic,
        period=period,
    )


def notify_on_state_changes(alarm: cloudwatch.Alarm, topic: sns.ITopic) -> None:
    notify = cloudwatch_actions.SnsAction(topic)
    alarm.add_alarm_action(notify)
    alarm.add_ok_action(notify)


def rollback_alarm_names(project: str) -> list[str]:
    """The alarms a blue/green endpoint update watches for automatic rollback."""
    return [alarm_name(project, ERRORS_KIND), alarm_name(project, LATENCY_KIND)]


def routed_alarm_names(project: str) -> list[str]:
    """The alarms whose state changes reach the alarm responder."""
    return [
        alarm_name(project, kind)
        for kind in (
            ERRORS_KIND,
            LATENCY_KIND,
            INVOCATION_ANOMALY_KIND,
            DRIFT_KIND,
            QUALITY_KIND,
            PIPELINE_FAILURES_KIND,
            DEAD_LETTERS_KIND,
        )
    ]


class Monitoring(Construct):
    """The pipeline's own alarm, always; the endpoint's alarms and the route to the alarm responder
    only once `watch_endpoint` is called (deployment.mode realtime: batch_only has no endpoint)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        project: str,
        monitoring: MonitoringConfig,
        state_machine: sfn.IStateMachine,
        topic: sns.ITopic,
    ) -> None:
        super().__init__(scope, construct_id)
        self._project = project
        self._monitoring = monitoring
        self._topic = topic
        self._period = Duration.seconds(monitoring.period_seconds)
        self.pipeline_failures_alarm = cloudwatch.Alarm(
            self,
            "PipelineFailuresAlarm",
            alarm_name=alarm_name(project, PIPELINE_FAILURES_KIND),
            alarm_description="A training pipeline execution failed",
            metric=state_machine.metric_failed(period=self._period, statistic=cloudwatch.Stats.SUM),
            threshold=PIPELINE_FAILURES_THRESHOLD,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        notify_on_state_changes(self.pipeline_failures_alarm, topic)
        self.alarms: list[cloudwatch.IAlarm] = [self.pipeline_failures_alarm]
        self.alarm_names = [alarm_name(project, PIPELINE_FAILURES_KIND)]

    def watch_endpoint(self, endpoint_name: str, *, responder: lambda_.IFunction, dead_letter_queue: sqs.IQueue) -> None:
        """Alarms on the endpoint's errors, latency and traffic, and the rule that routes every
        routed alarm's state changes to the alarm responder."""
        project, monitoring, period = self._project, self._monitoring, self._period
        self.errors_alarm = cloudwatch.Alarm(
            self,
            "ErrorsAlarm",
            alarm_name=alarm_name(project, ERRORS_KIND),
            alarm_description=f"The endpoint {endpoint_name} returns 5XX errors",
            metric=endpoint_metric(endpoint_name, "Invocation5XXErrors", statistic=cloudwatch.Stats.SUM, period=period),
            threshold=monitoring.error_5xx_threshold,
            evaluation_periods=monitoring.evaluation_periods,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        self.latency_alarm = cloudwatch.Alarm(
            self,
            "LatencyAlarm",
            alarm_name=alarm_name(project, LATENCY_KIND),
            alarm_description=(
                f"The endpoint {endpoint_name}'s p99 model latency is above "
                f"{monitoring.latency_p99_threshold_ms} ms"
            ),
            # ModelLatency is reported in microseconds.
            metric=endpoint_metric(
                endpoint_name, "ModelLatency", statistic=cloudwatch.Stats.percentile(99), period=period
            ),
            threshold=monitoring.latency_p99_threshold_ms * MICROSECONDS_PER_MILLISECOND,
            evaluation_periods=monitoring.evaluation_periods,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        self.invocation_anomaly_detector, self.invocation_anomaly_alarm = self._invocation_anomaly_alarm(
            project, endpoint_name, monitoring
        )
        endpoint_alarms = [self.errors_alarm, self.latency_alarm, self.invocation_anomaly_alarm]
        for alarm in endpoint_alarms:
            notify_on_state_changes(alarm, self._topic)
        # The endpoint's alarms first, as the dashboard shows them.
        self.alarms = [*endpoint_alarms, *self.alarms]
        self.alarm_names = [
            *(alarm_name(project, kind) for kind in (ERRORS_KIND, LATENCY_KIND, INVOCATION_ANOMALY_KIND)),
            *self.alarm_names,
        ]

        self.routed_alarm_names = routed_alarm_names(project)
        self.alarm_rule = events.Rule(
            self,
            "AlarmStateChangeRule",
            description=f"Routes {project} alarm state changes to the alarm responder",
            event_pattern=events.EventPattern(
                source=["aws.cloudwatch"],
                detail_type=["CloudWatch Alarm State Change"],
                detail={"alarmName": self.routed_alarm_names},
            ),
            targets=[
                targets.LambdaFunction(
                    responder,
                    dead_letter_queue=dead_letter_queue,
                    max_event_age=ALARM_EVENT_MAX_AGE,
                    retry_attempts=ALARM_EVENT_RETRY_ATTEMPTS,
                )
            ],
        )

    def _invocation_anomaly_alarm(
        self, project: str, endpoint_name: str, monitoring: MonitoringConfig
    ) -> tuple[cloudwatch.CfnAnomalyDetector, cloudwatch.AnomalyDetectionAlarm]:
        """An anomaly detector on the variant's Invocations (sum per period) and an alarm on its
        band. The detector is declared, so the stack owns it and removes it, and created before
        the alarm: an alarm whose model does not exist yet makes one itself, which the stack's
        detector would then collide with."""
        invocations = endpoint_metric(
            endpoint_name,
            "Invocations",
            statistic=cloudwatch.Stats.SUM,
            period=Duration.seconds(monitoring.invocation_anomaly_period_seconds),
        )
        detector = cloudwatch.CfnAnomalyDetector(
            self,
            "InvocationsAnomalyDetector",
            single_metric_anomaly_detector=cloudwatch.CfnAnomalyDetector.SingleMetricAnomalyDetectorProperty(
                namespace=SAGEMAKER_NAMESPACE,
                metric_name="Invocations",
                dimensions=[
                    cloudwatch.CfnAnomalyDetector.DimensionProperty(name=name, value=value)
                    for name, value in (("EndpointName", endpoint_name), ("VariantName", VARIANT_NAME))
                ],
                stat=cloudwatch.Stats.SUM,
            ),
        )
        alarm = cloudwatch.AnomalyDetectionAlarm(
            self,
            "InvocationAnomalyAlarm",
            alarm_name=alarm_name(project, INVOCATION_ANOMALY_KIND),
            alarm_description=(
                f"The endpoint {endpoint_name} receives unusually many or few invocations: outside "
                f"{monitoring.invocation_anomaly_band_width} standard deviations of its learned traffic"
            ),
            metric=invocations,
            std_devs=monitoring.invocation_anomaly_band_width,
            evaluation_periods=monitoring.invocation_anomaly_evaluation_periods,
            comparison_operator=cloudwatch.ComparisonOperator.LESS_THAN_LOWER_OR_GREATER_THAN_UPPER_THRESHOLD,
            # An idle endpoint publishes no Invocations; silence is not an anomaly to page about.
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        alarm.node.add_dependency(detector)
        return detector, alarm
