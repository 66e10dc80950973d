"""CloudWatch alarm evaluation, which moto does not do: after metric data arrives, each alarm on
that metric is evaluated over its last EvaluationPeriods periods the way CloudWatch does for
a static threshold (statistic per period, comparison, DatapointsToAlarm, TreatMissingData),
and a changed state is set through SetAlarmState, which emits the state change event."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import numpy as np

COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    "GreaterThanOrEqualToThreshold": lambda value, threshold: value >= threshold,
    "GreaterThanThreshold": lambda value, threshold: value > threshold,
    "LessThanThreshold": lambda value, threshold: value < threshold,
    "LessThanOrEqualToThreshold": lambda value, threshold: value <= threshold,
}


def evaluate_alarms(backend: Any, namespace: str, metric_names: set[str], now: datetime | None = None) -> None:
    """Evaluate every alarm of `backend` that watches one of these metrics in this namespace."""
    now = now or datetime.now(timezone.utc)
    for alarm in list(backend.alarms.values()):
        if alarm.namespace != namespace or alarm.metric_name not in metric_names:
            continue
        state, reason = alarm_state(alarm, backend.metric_data, now)
        if state != alarm.state_value:
            backend.set_alarm_state(alarm.name, reason, "{}", state)


def alarm_state(alarm: Any, metric_data: list[Any], now: datetime) -> tuple[str, str]:
    period = timedelta(seconds=int(alarm.period))
    periods = int(alarm.evaluation_periods)
    needed = int(alarm.datapoints_to_alarm or periods)
    wanted = {(d.name, d.value) for d in alarm.dimensions}
    values = [
        (datum.timestamp, float(datum.value))
        for datum in metric_data
        if datum.namespace == alarm.namespace
        and datum.name == alarm.metric_name
        and hasattr(datum, "value")
        and {(d.name, d.value) for d in datum.dimensions} == wanted
    ]
    breaching = 0
    for index in range(periods):
        end = now - index * period
        start = end - period
        in_period = [value for timestamp, value in values if start < _aware(timestamp) <= end]
        if not in_period:
            breaching += alarm.treat_missing_data == "breaching"
            continue
        statistic = _statistic(alarm, in_period)
        breaching += COMPARISONS[alarm.comparison_operator](statistic, float(alarm.threshold))
    if breaching >= needed:
        return "ALARM", (
            f"Threshold Crossed: {breaching} of the last {periods} period(s) of {alarm.period} s breached "
            f"{alarm.comparison_operator} {alarm.threshold} (local evaluation)"
        )
    return "OK", f"Threshold not crossed: {breaching} of the last {periods} period(s) breached (local evaluation)"


def _statistic(alarm: Any, values: list[float]) -> float:
    if alarm.extended_statistic:
        percentile = float(alarm.extended_statistic.lstrip("p"))
        return float(np.percentile(values, percentile))
    statistic = alarm.statistic or "Average"
    if statistic == "Sum":
        return float(sum(values))
    if statistic == "SampleCount":
        return float(len(values))
    if statistic == "Maximum":
        return max(values)
    if statistic == "Minimum":
        return min(values)
    return float(sum(values) / len(values)) if values else math.nan


def _aware(timestamp: datetime) -> datetime:
    return timestamp if timestamp.tzinfo else timestamp.replace(tzinfo=timezone.utc)
