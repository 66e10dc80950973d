"""The local stand-ins for CloudWatch anomaly detection: the band rule (pure), the evaluation of
an anomaly detection alarm as the template defines it (moto), and the anomaly detector API."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from unittest import mock

import boto3
import pytest
from moto.cloudwatch.responses import CloudWatchResponse
from moto.core import DEFAULT_ACCOUNT_ID

from mlops.local.alarms import (
    MIN_ANOMALY_HISTORY_PERIODS,
    anomaly_band,
    describe_anomaly_detectors,
    evaluate_alarms,
    put_anomaly_detector,
)

REGION = "us-east-1"
ALARM = "mlops-invocation-anomaly"
PERIOD_SECONDS = 300
BAND_WIDTH = 2.0
DIMENSIONS = [{"Name": "EndpointName", "Value": "mlops-endpoint"}, {"Name": "VariantName", "Value": "AllTraffic"}]
NOW = datetime(2024, 6, 3, 12, 0, tzinfo=timezone.utc)
# Invocations per 5-minute period over the last two hours: the traffic the band learns.
LEARNED_TRAFFIC = [9, 11, 10, 12, 8, 10, 11, 9, 10, 13, 7, 10, 11, 9, 10, 12, 8, 10, 11, 9, 10, 10, 12, 9]


# ---------------------------------------------------------------------------------------------
# The band rule


def test_band_is_mean_plus_minus_width_standard_deviations():
    history = [10.0, 30.0] * (MIN_ANOMALY_HISTORY_PERIODS // 2)

    band = anomaly_band(history, 2.0)

    # sample standard deviation of alternating 10 and 30 over 12 periods
    spread = (sum((value - 20.0) ** 2 for value in history) / (len(history) - 1)) ** 0.5
    assert band is not None
    assert band.lower == pytest.approx(20.0 - 2 * spread)
    assert band.upper == pytest.approx(20.0 + 2 * spread)


def test_steady_history_keeps_the_noise_of_a_count_as_its_spread():
    band = anomaly_band([100.0] * MIN_ANOMALY_HISTORY_PERIODS, 3.0)

    assert band is not None
    assert (band.lower, band.upper) == (pytest.approx(70.0), pytest.approx(130.0))


def test_no_band_before_the_minimum_history():
    assert anomaly_band([10.0] * (MIN_ANOMALY_HISTORY_PERIODS - 1), 2.0) is None


# ---------------------------------------------------------------------------------------------
# An anomaly detection alarm in moto


@pytest.fixture
def cloudwatch(aws_environment):
    from moto import mock_aws

    with mock_aws():
        client = boto3.client("cloudwatch", region_name=REGION)
        # As the template defines it (AnomalyDetectionAlarm), with one evaluation period.
        client.put_metric_alarm(
            AlarmName=ALARM,
            ComparisonOperator="LessThanLowerOrGreaterThanUpperThreshold",
            EvaluationPeriods=1,
            TreatMissingData="notBreaching",
            ThresholdMetricId="expr_1",
            Metrics=[
                {"Id": "expr_1", "Expression": f"ANOMALY_DETECTION_BAND(m0, {BAND_WIDTH})", "ReturnData": True},
                {
                    "Id": "m0",
                    "MetricStat": {
                        "Metric": {"Namespace": "AWS/SageMaker", "MetricName": "Invocations", "Dimensions": DIMENSIONS},
                        "Period": PERIOD_SECONDS,
                        "Stat": "Sum",
                    },
                    "ReturnData": True,
                },
            ],
        )
        yield client


def _backend():
    from moto.cloudwatch.models import cloudwatch_backends

    return cloudwatch_backends[DEFAULT_ACCOUNT_ID][REGION]


def _invocations(counts_by_periods_ago: dict[int, int]) -> None:
    """Invocations as SageMaker publishes them, one datum per invocation, in the middle of each period."""
    data = [
        {
            "MetricName": "Invocations",
            "Dimensions": DIMENSIONS,
            "Timestamp": NOW - timedelta(seconds=PERIOD_SECONDS * (periods_ago + 0.5)),
            "Value": 1.0,
            "Unit": "Count",
        }
        for periods_ago, count in counts_by_periods_ago.items()
        for _ in range(count)
    ]
    _backend().put_metric_data("AWS/SageMaker", data)


def _state(client) -> tuple[str, str]:
    evaluate_alarms(_backend(), "AWS/SageMaker", {"Invocations"}, now=NOW)
    [alarm] = client.describe_alarms(AlarmNames=[ALARM])["MetricAlarms"]
    return alarm["StateValue"], alarm["StateReason"]


def _learned_traffic() -> dict[int, int]:
    return {periods_ago: count for periods_ago, count in enumerate(LEARNED_TRAFFIC, start=1)}


def test_a_burst_far_above_the_learned_traffic_is_an_anomaly(cloudwatch):
    _invocations({**_learned_traffic(), 0: 60})

    state, reason = _state(cloudwatch)

    assert state == "ALARM"
    assert "outside the band" in reason


def test_traffic_inside_the_band_is_not_an_anomaly(cloudwatch):
    _invocations({**_learned_traffic(), 0: 12})

    assert _state(cloudwatch)[0] == "OK"


def test_a_drop_far_below_the_learned_traffic_is_an_anomaly(cloudwatch):
    _invocations({**_learned_traffic(), 0: 1})

    assert _state(cloudwatch)[0] == "ALARM"


def test_without_enough_history_a_burst_cannot_alarm(cloudwatch):
    history = list(_learned_traffic().items())
    _invocations({**dict(history[: MIN_ANOMALY_HISTORY_PERIODS - 1]), 0: 60})

    assert _state(cloudwatch)[0] == "OK"

    # One more period of history and the same burst is an anomaly
    _invocations(dict(history[MIN_ANOMALY_HISTORY_PERIODS - 1 : MIN_ANOMALY_HISTORY_PERIODS]))
    assert _state(cloudwatch)[0] == "ALARM"


# ---------------------------------------------------------------------------------------------
# The anomaly detector API


def test_a_put_anomaly_detector_is_listed(aws_environment):
    from moto import mock_aws

    with mock_aws(), mock.patch.object(
        CloudWatchResponse, "put_anomaly_detector", put_anomaly_detector, create=True
    ), mock.patch.object(CloudWatchResponse, "describe_anomaly_detectors", describe_anomaly_detectors, create=True):
        client = boto3.client("cloudwatch", region_name=REGION)
        detector = {"Namespace": "AWS/SageMaker", "MetricName": "Invocations", "Dimensions": DIMENSIONS, "Stat": "Sum"}
        client.put_anomaly_detector(SingleMetricAnomalyDetector=detector)
        client.put_anomaly_detector(SingleMetricAnomalyDetector=detector)

        [listed] = client.describe_anomaly_detectors(Namespace="AWS/SageMaker")["AnomalyDetectors"]

        assert listed["SingleMetricAnomalyDetector"] == detector
        assert client.describe_anomaly_detectors(Namespace="AWS/EC2")["AnomalyDetectors"] == []
