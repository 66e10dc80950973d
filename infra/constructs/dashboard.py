"""The pipeline's CloudWatch dashboard: the model version deployed on the endpoint, the
endpoint's traffic, errors and latency, drift and live quality (those only with an endpoint),
training pipeline executions, batch uploads, and the state of every alarm."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

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
# What functions/validate_data/handler.py (BATCH_METRICS) counts for each batch upload, in the
# project's namespace under Powertools' service dimension (the function's name).
BATCH_OUTCOME_METRICS = ("BatchScored", "BatchRejected", "BatchFailed")
BATCH_METRICS_SERVICE = "validate_data"
POWERTOOLS_SERVICE_DIMENSION = "service"


def dashboard_name(project: str) -> str:
    return f"{project}-pipeline"


@dataclass(frozen=True)
class EndpointPanels:
    """What the dashboard shows of the real-time endpoint and its monitors (deployment.mode realtime)."""

    endpoint_name: str
    drift_metrics: Sequence[cloudwatch.IMetric]
    quality_metric: cloudwatch.IMetric


class PipelineDashboard(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        project: str,
        model_package_group: str,
        state_machine: sfn.IStateMachine,
        alarm_names: Sequence[str],
        endpoint: EndpointPanels | None,
    ) -> None:
        """`endpoint` None: there is no endpoint (deployment.mode batch_only), so the dashboard shows
        the pipeline's executions, the batch uploads and the alarms, and nothing about live traffic."""
        super().__init__(scope, construct_id)
        self.dashboard = cloudwatch.Dashboard(self, "Dashboard", dashboard_name=dashboard_name(project))
        pipeline_widgets = [self._executions(state_machine), self._batch_uploads(project)]
        if endpoint is None:
            self.dashboard.add_widgets(self._batch_only_overview(project, model_package_group))
            self.dashboard.add_widgets(*pipeline_widgets)
        else:
            self.dashboard.add_widgets(
                self._overview(project, model_package_group, endpoint.endpoint_name),
                self._deployed_version(project, endpoint.endpoint_name),
            )
            self.dashboard.add_widgets(*self._endpoint_widgets(endpoint.endpoint_name))
            self.dashboard.add_widgets(
                self._graph("Drift", list(endpoint.drift_metrics)),
                self._graph("Live model quality", [endpoint.quality_metric]),
                *pipeline_widgets,
            )
        self.dashboard.add_widgets(*self._alarm_widgets(alarm_names))

    @staticmethod
    def _overview(project: str, model_package_group: str, endpoint_name: str) -> cloudwatch.TextWidget:
        return cloudwatch.TextWidget(
            markdown=(
                f"# {project} pipeline\n"
                f"Endpoint **{endpoint_name}** serves versions of the model package group "
                f"**{model_package_group}**; the one deployed is shown beside this. "
                "`mlops versions` lists every version."
            ),
            width=WIDGET_WIDTH * 2,
            height=TEXT_WIDGET_HEIGHT,
        )

    @staticmethod
    def _batch_only_overview(project: str, model_package_group: str) -> cloudwatch.TextWidget:
        return cloudwatch.TextWidget(
            markdown=(
                f"# {project} pipeline\n"
                "No real-time endpoint (deployment.mode batch_only): files uploaded under batch/ are scored by "
                f"the newest approved version of the model package group **{model_package_group}**, or the one "
                "they name. `mlops versions` lists every version."
            ),
            width=WIDGET_WIDTH * 3,
            height=TEXT_WIDGET_HEIGHT,
        )

    @staticmethod
    def _deployed_version(project: str, endpoint_name: str) -> cloudwatch.SingleValueWidget:
        return cloudwatch.SingleValueWidget(
            title="Deployed model version",
            metrics=[
                cloudwatch.Metric(
                    namespace=monitoring_namespace(project),
                    metric_name=DEPLOYED_MODEL_VERSION_METRIC,
                    dimensions_map={ENDPOINT_DIMENSION: endpoint_name},
                    statistic=cloudwatch.Stats.MAXIMUM,
                    period=DEPLOYED_VERSION_PERIOD,
                    label="version",
                )
            ],
            width=WIDGET_WIDTH,
            height=TEXT_WIDGET_HEIGHT,
        )

    def _endpoint_widgets(self, endpoint_name: str) -> list[cloudwatch.IWidget]:
        def metric(name: str, statistic: str) -> cloudwatch.Metric:
            return endpoint_metric(endpoint_name, name, statistic=statistic, period=ENDPOINT_METRIC_PERIOD)

        return [
            self._graph("Invocations", [metric("Invocations", cloudwatch.Stats.SUM)]),
            self._graph("5XX errors", [metric("Invocation5XXErrors", cloudwatch.Stats.SUM)]),
            # ModelLatency is reported in microseconds.
            self._graph("p99 model latency (µs)", [metric("ModelLatency", cloudwatch.Stats.percentile(99))]),
        ]

    def _executions(self, state_machine: sfn.IStateMachine) -> cloudwatch.GraphWidget:
        return self._graph(
            "Pipeline executions",
            [
                state_machine.metric_succeeded(period=PIPELINE_METRIC_PERIOD, statistic=cloudwatch.Stats.SUM),
                state_machine.metric_failed(period=PIPELINE_METRIC_PERIOD, statistic=cloudwatch.Stats.SUM),
            ],
        )

    def _batch_uploads(self, project: str) -> cloudwatch.GraphWidget:
        return self._graph(
            "Batch uploads",
            [
                cloudwatch.Metric(
                    namespace=project,
                    metric_name=name,
                    dimensions_map={POWERTOOLS_SERVICE_DIMENSION: BATCH_METRICS_SERVICE},
                    statistic=cloudwatch.Stats.SUM,
                    period=PIPELINE_METRIC_PERIOD,
                )
                for name in BATCH_OUTCOME_METRICS
            ],
        )

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
