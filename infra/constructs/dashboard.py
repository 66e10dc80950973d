"""The pipeline's CloudWatch dashboard: the model version deployed on the endpoint, the
endpoint's traffic, errors and latency, drift and live quality, training pipeline executions,
and the state of every alarm."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration, aws_cloudwatch as cloudwatch, aws_stepfunctions as sfn
from constructs import Construct

from functions.common.deployed_version import DEPLOYED_MODEL_VERSION_METRIC, ENDPOINT_DIMENSION
from infra.constructs.monitoring import alarm_arn, endpoint_metric, monitoring_namespace

WIDGET_WIDTH = 8
WIDGET_HEIGHT = 6
ALARM_WIDGET_WIDTH = 12
TEXT_WIDGET_HEIGHT = 3
ENDPOINT_METRIC_PERIOD = Duration.minutes(5)
# The drift monitor publishes the deployed version every run and a rollback publishes the
# restored one; per minute, the latest datapoint is the latest publication.
DEPLOYED_VERSION_PERIOD = Duration.minutes(1)
PIPELINE_METRIC_PERIOD = Duration.hours(1)


def dashboard_name(project: str) -> str:
    return f"{project}-pipeline"


class PipelineDashboard(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        project: str,
        endpoint_name: str,
        model_package_group: str,
        state_machine: sfn.IStateMachine,
        drift_metrics: Sequence[cloudwatch.IMetric],
        quality_metric: cloudwatch.IMetric,
        alarm_names: Sequence[str],
    ) -> None:
        super().__init__(scope, construct_id)
        self._endpoint_name = endpoint_name
        self.dashboard = cloudwatch.Dashboard(self, "Dashboard", dashboard_name=dashboard_name(project))
        self.dashboard.add_widgets(self._overview(project, model_package_group), self._deployed_version(project))
        self.dashboard.add_widgets(*self._endpoint_widgets())
        self.dashboard.add_widgets(*self._model_widgets(drift_metrics, quality_metric, state_machine))
        self.dashboard.add_widgets(*self._alarm_widgets(alarm_names))

    def _overview(self, project: str, model_package_group: str) -> cloudwatch.TextWidget:
        return cloudwatch.TextWidget(
            markdown=(
                f"# {project} pipeline\n"
                f"Endpoint **{self._endpoint_name}** serves versions of the model package group "
                f"**{model_package_group}**; the one deployed is shown beside this. "
                "`mlops versions` lists every version."
            ),
            width=WIDGET_WIDTH * 2,
            height=TEXT_WIDGET_HEIGHT,
        )

    def _deployed_version(self, project: str) -> cloudwatch.SingleValueWidget:
        return cloudwatch.SingleValueWidget(
            title="Deployed model version",
            metrics=[
                cloudwatch.Metric(
                    namespace=monitoring_namespace(project),
                    metric_name=DEPLOYED_MODEL_VERSION_METRIC,
                    dimensions_map={ENDPOINT_DIMENSION: self._endpoint_name},
                    statistic=cloudwatch.Stats.MAXIMUM,
                    period=DEPLOYED_VERSION_PERIOD,
                    label="version",
                )
            ],
            width=WIDGET_WIDTH,
            height=TEXT_WIDGET_HEIGHT,
        )

    def _endpoint_widgets(self) -> list[cloudwatch.IWidget]:
        def metric(name: str, statistic: str) -> cloudwatch.Metric:
            return endpoint_metric(self._endpoint_name, name, statistic=statistic, period=ENDPOINT_METRIC_PERIOD)

        return [
            self._graph("Invocations", [metric("Invocations", cloudwatch.Stats.SUM)]),
            self._graph("5XX errors", [metric("Invocation5XXErrors", cloudwatch.Stats.SUM)]),
            # ModelLatency is reported in microseconds.
            self._graph("p99 model latency (µs)", [metric("ModelLatency", cloudwatch.Stats.percentile(99))]),
        ]

    def _model_widgets(
        self,
        drift_metrics: Sequence[cloudwatch.IMetric],
        quality_metric: cloudwatch.IMetric,
        state_machine: sfn.IStateMachine,
    ) -> list[cloudwatch.IWidget]:
        return [
            self._graph("Drift", list(drift_metrics)),
            self._graph("Live model quality", [quality_metric]),
            self._graph(
                "Pipeline executions",
                [
                    state_machine.metric_succeeded(period=PIPELINE_METRIC_PERIOD, statistic=cloudwatch.Stats.SUM),
                    state_machine.metric_failed(period=PIPELINE_METRIC_PERIOD, statistic=cloudwatch.Stats.SUM),
                ],
            ),
        ]

    def _alarm_widgets(self, alarm_names: Sequence[str]) -> list[cloudwatch.IWidget]:
        return [
            cloudwatch.AlarmWidget(
                title=name,
                alarm=cloudwatch.Alarm.from_alarm_arn(self, name, alarm_arn(self, name)),
                width=ALARM_WIDGET_WIDTH,
                height=WIDGET_HEIGHT,
            )
            for name in alarm_names
        ]

    @staticmethod
    def _graph(title: str, metrics: list[cloudwatch.IMetric]) -> cloudwatch.GraphWidget:
        return cloudwatch.GraphWidget(title=title, left=metrics, width=WIDGET_WIDTH, height=WIDGET_HEIGHT)
