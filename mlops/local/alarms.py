"""CloudWatch alarm evaluation and anomaly detectors, which moto does not have.

After metric data arrives, each alarm on that metric is evaluated over its last
EvaluationPeriods periods (statistic per period, DatapointsToAlarm, TreatMissingData), and a
changed state is set through SetAlarmState, which emits the state change event.

A static-threshold alarm compares each period with its Threshold, as CloudWatch does.

An anomaly detection alarm (its ThresholdMetricId names an ANOMALY_DETECTION_BAND(m, width)
expression) is compared with a stand-in band, an approximation of CloudWatch's model, which
learns up to two weeks of the metric with its daily and weekly patterns and trend. The
stand-in's rule: the metric's statistic per period over the ANOMALY_HISTORY before the
evaluated periods (only periods with data) gives a mean and a standard deviation, and the band
is mean ± width × standard deviation. The standard deviation is taken as at least the square
root of the mean, the noise of a count that arrives at random, so a perfectly steady history
does not make every change an anomaly. Until the history holds MIN_ANOMALY_HISTORY_PERIODS
periods the band is not known and the alarm cannot go off, like a model still training. There
is no seasonality, no trend, and no excluded time range.

PutAnomalyDetector and DescribeAnomalyDetectors record and list detectors on the backend; the
band an alarm uses does not depend on them, as a CloudWatch alarm makes its model itself.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import numpy as np
from moto.core.responses import ActionResult, EmptyResult

COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    "GreaterThanOrEqualToThreshold": lambda value, threshold: value >= threshold,
    "GreaterThanThreshold": lambda value, threshold: value > threshold,
    "LessThanThreshold": lambda value, threshold: value < threshold,
    "LessThanOrEqualToThreshold": lambda value, threshold: value <= threshold,
}
BAND_COMPARISONS: dict[str, Callable[[float, float, float], bool]] = {
    "LessThanLowerOrGreaterThanUpperThreshold": lambda value, lower, upper: value < lower or value > upper,
    "GreaterThanUpperThreshold": lambda value, lower, upper: value > upper,
    "LessThanLowerThreshold": lambda value, lower, upper: value < lower,
}
BAND_EXPRESSION = re.compile(r"^\s*ANOMALY_DETECTION_BAND\(\s*(\w+)\s*(?:,\s*([0-9]*\.?[0-9]+)\s*)?\)\s*$")
# CloudWatch's band width when the expression gives none, in standard deviations.
DEFAULT_BAND_WIDTH = 2.0
ANOMALY_HISTORY = timedelta(days=14)
MIN_ANOMALY_HISTORY_PERIODS = 12
DETECTORS_ATTRIBUTE = "local_anomaly_detectors"
DETECTOR_FIELDS = ("SingleMetricAnomalyDetector", "MetricMathAnomalyDetector", "Configuration", "MetricCharacteristics")
# The single metric's fields, which the older form of the detector API has at the top level.
SINGLE_METRIC_FIELDS = ("Namespace", "MetricName", "Dimensions", "Stat")


@dataclass(frozen=True)
class WatchedMetric:
    namespace: str
    name: str
    dimensions: frozenset[tuple[str, str]]
    period: timedelta
    statistic: str


@dataclass(frozen=True)
class Band:
    lower: float
    upper: float


def evaluate_alarms(backend: Any, namespace: str, metric_names: set[str], now: datetime | None = None) -> None:
    """Evaluate every alarm of `backend` that watches one of these metrics in this namespace."""
    now = now or datetime.now(timezone.utc)
    for alarm in list(backend.alarms.values()):
        watched = watched_metric(alarm)
        if watched is None or watched.namespace != namespace or watched.name not in metric_names:
            continue
        state, reason = alarm_state(alarm, backend.metric_data, now)
        if state != alarm.state_value:
            backend.set_alarm_state(alarm.name, reason, "{}", state)


def watched_metric(alarm: Any) -> WatchedMetric | None:
    """The one metric an alarm evaluates, or None for an alarm the local cloud does not evaluate."""
    if alarm.threshold_metric_id:
        band = _band_query(alarm)
        if band is None:
            return None
        metric_id, _ = band
        stat = next(
            (query.metric_stat for query in alarm.metric_data_queries if query.id == metric_id and query.metric_stat),
            None,
        )
        if stat is None:
            return None
        return WatchedMetric(
            namespace=stat.metric.namespace,
            name=stat.metric.metric_name,
            dimensions=frozenset((d.name, d.value) for d in stat.metric.dimensions),
            period=timedelta(seconds=int(stat.period)),
            statistic=stat.stat,
        )
    if not alarm.metric_name:
        return None
    return WatchedMetric(
        namespace=alarm.namespace,
        name=alarm.metric_name,
        dimensions=frozenset((d.name, d.value) for d in alarm.dimensions),
        period=timedelta(seconds=int(alarm.period)),
        statistic=alarm.extended_statistic or alarm.statistic or "Average",
    )


def alarm_state(alarm: Any, metric_data: list[Any], now: datetime) -> tuple[str, str]:
    watched = watched_metric(alarm)
    if watched is None:
        return alarm.state_value, alarm.state_reason
    by_period = period_statistics(watched, metric_data, now)
    periods = int(alarm.evaluation_periods)
    needed = int(alarm.datapoints_to_alarm or periods)
    if alarm.threshold_metric_id:
        return _anomaly_state(alarm, watched, by_period, periods, needed)
    threshold = float(alarm.threshold)
    compare = COMPARISONS[alarm.comparison_operator]
    breaching = _breaching(alarm, by_period, periods, lambda value: compare(value, threshold))
    if breaching >= needed:
        return "ALARM", (
            f"Threshold Crossed: {breaching} of the last {periods} period(s) of {alarm.period} s breached "
            f"{alarm.comparison_operator} {alarm.threshold} (local evaluation)"
        )
    return "OK", f"Threshold not crossed: {breaching} of the last {periods} period(s) breached (local evaluation)"


def period_statistics(watched: WatchedMetric, metric_data: Iterable[Any], now: datetime) -> dict[int, float]:
    """The metric's statistic per period, by how many periods ago it ended: period 0 is
    (now - period, now], period 1 the one before. Periods without data are absent."""
    seconds = watched.period.total_seconds()
    values: dict[int, list[float]] = defaultdict(list)
    for datum in metric_data:
        if (
            datum.namespace != watched.namespace
            or datum.name != watched.name
            or not hasattr(datum, "value")
            or {(d.name, d.value) for d in datum.dimensions} != watched.dimensions
        ):
            continue
        age = (now - _aware(datum.timestamp)).total_seconds()
        if age < 0:
            continue
        # A datum exactly at a period's end belongs to that period, as (start, end] says.
        values[math.floor(age / seconds)].append(float(datum.value))
    return {index: statistic(watched.statistic, in_period) for index, in_period in values.items()}


def anomaly_band(history: list[float], width: float) -> Band | None:
    """The stand-in band from the per-period history; None while the history is too short."""
    if len(history) < MIN_ANOMALY_HISTORY_PERIODS:
        return None
    mean = float(np.mean(history))
    spread = max(float(np.std(history, ddof=1)), math.sqrt(abs(mean)))
    return Band(mean - width * spread, mean + width * spread)


def statistic(name: str, values: list[float]) -> float:
    if name.startswith("p"):
        return float(np.percentile(values, float(name[1:])))
    if name == "Sum":
        return float(sum(values))
    if name == "SampleCount":
        return float(len(values))
    if name == "Maximum":
        return max(values)
    if name == "Minimum":
        return min(values)
    return float(sum(values) / len(values)) if values else math.nan


def _anomaly_state(
    alarm: Any, watched: WatchedMetric, by_period: dict[int, float], periods: int, needed: int
) -> tuple[str, str]:
    _, width = _band_query(alarm) or ("", DEFAULT_BAND_WIDTH)
    history_periods = int(ANOMALY_HISTORY / watched.period)
    history = [value for index, value in by_period.items() if periods <= index < periods + history_periods]
    band = anomaly_band(history, width)
    if band is None:
        return "OK", (
            f"Anomaly band not learned yet: {len(history)} of {MIN_ANOMALY_HISTORY_PERIODS} periods of history "
            "(local evaluation)"
        )
    compare = BAND_COMPARISONS[alarm.comparison_operator]
    breaching = _breaching(alarm, by_period, periods, lambda value: compare(value, band.lower, band.upper))
    band_text = f"band {band.lower:.2f} to {band.upper:.2f} ({width} standard deviations)"
    period_seconds = int(watched.period.total_seconds())
    if breaching >= needed:
        return "ALARM", (
            f"Thresholds Crossed: {breaching} of the last {periods} period(s) of {period_seconds} s "
            f"were outside the {band_text} (local evaluation)"
        )
    return "OK", f"Inside the {band_text}: {breaching} of the last {periods} period(s) outside (local evaluation)"


def _breaching(alarm: Any, by_period: dict[int, float], periods: int, breaches: Callable[[float], bool]) -> int:
    count = 0
    for index in range(periods):
        if index not in by_period:
            count += alarm.treat_missing_data == "breaching"
        else:
            count += breaches(by_period[index])
    return count


def _band_query(alarm: Any) -> tuple[str, float] | None:
    """The metric id and width of the alarm's ANOMALY_DETECTION_BAND threshold expression."""
    for query in alarm.metric_data_queries:
        if query.id == alarm.threshold_metric_id and query.expression:
            match = BAND_EXPRESSION.match(query.expression)
            if match:
                return match.group(1), float(match.group(2) or DEFAULT_BAND_WIDTH)
    return None


def _aware(timestamp: datetime) -> datetime:
    return timestamp if timestamp.tzinfo else timestamp.replace(tzinfo=timezone.utc)


# ---------------------------------------------------------------------------------------------
# PutAnomalyDetector and DescribeAnomalyDetectors, answered at moto's CloudWatch response layer


def anomaly_detectors(backend: Any) -> dict[str, dict[str, Any]]:
    if not hasattr(backend, DETECTORS_ATTRIBUTE):
        setattr(backend, DETECTORS_ATTRIBUTE, {})
    return getattr(backend, DETECTORS_ATTRIBUTE)


def put_anomaly_detector(response: Any) -> ActionResult:
    detector = _single_metric_detector(
        {field: response._get_param(field) for field in (*DETECTOR_FIELDS, *SINGLE_METRIC_FIELDS)}
    )
    anomaly_detectors(response.cloudwatch_backend)[_detector_key(detector)] = detector
    return EmptyResult()


def describe_anomaly_detectors(response: Any) -> ActionResult:
    namespace, metric_name = response._get_param("Namespace"), response._get_param("MetricName")
    listed = [
        detector
        for detector in anomaly_detectors(response.cloudwatch_backend).values()
        if (namespace is None or detector.get("Namespace") == namespace)
        and (metric_name is None or detector.get("MetricName") == metric_name)
    ]
    return ActionResult({"AnomalyDetectors": listed})


def _single_metric_detector(request: dict[str, Any]) -> dict[str, Any]:
    """The detector as DescribeAnomalyDetectors lists it: the single metric's fields both inside
    SingleMetricAnomalyDetector and, as the older form of the API has them, at the top."""
    single = dict(request.get("SingleMetricAnomalyDetector") or {})
    for field in SINGLE_METRIC_FIELDS:
        if request.get(field) is not None:
            single.setdefault(field, request[field])
    detector = {key: value for key, value in request.items() if key in DETECTOR_FIELDS and value}
    if single:
        detector["SingleMetricAnomalyDetector"] = single
        detector.update({field: single[field] for field in SINGLE_METRIC_FIELDS if field in single})
    return detector


def _detector_key(detector: dict[str, Any]) -> str:
    single = detector.get("SingleMetricAnomalyDetector") or {}
    dimensions = sorted((d["Name"], d["Value"]) for d in single.get("Dimensions") or [])
    return repr((single.get("Namespace"), single.get("MetricName"), dimensions, single.get("Stat"),
                 detector.get("MetricMathAnomalyDetector")))
