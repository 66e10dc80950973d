"""How the CLI shows results to a person: what decided the outcome first, then the timeline."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, TextIO

from mlops.terminal_text import for_terminal

if TYPE_CHECKING:
    from mlops.local.results import UploadResult

# Besides the gate's primary metric, this many other challenger metrics are shown.
OTHER_METRICS_SHOWN = 4


def print_result(result: UploadResult, index: int, total: int, stream: TextIO = sys.stdout) -> None:
    label = result.outcome.name.replace("_", " ")
    print(f"[{index}/{total}] {for_terminal(result.file)}: {label}", file=stream)
    if result.reason:
        print(f"      why: {for_terminal(result.reason)}", file=stream)
    for line in decision_lines(result.decision):
        print(f"      {line}", file=stream)
    if result.execution:
        states = result.execution["states"]
        width = max((len(state["name"]) for state in states), default=0)
        for state in states:
            marker = "x" if state["status"] == "failed" else " "
            print(f"    {marker} {state['name']:<{width}} {state['seconds']:>7.2f} s", file=stream)
    if result.evaluation and result.evaluation.get("metrics"):
        primary = (result.decision or {}).get("primary_metric")
        others = [(k, v) for k, v in sorted(result.evaluation["metrics"].items()) if k != primary]
        if others:
            shown = ", ".join(f"{k}={_number(v)}" for k, v in others[:OTHER_METRICS_SHOWN])
            more = f" (+{len(others) - OTHER_METRICS_SHOWN} more in the report)" if len(others) > OTHER_METRICS_SHOWN else ""
            print(f"      other metrics: {shown}{more}", file=stream)
    if result.model_version is not None:
        print(f"      model version {result.model_version} ({result.approval_status})", file=stream)
    if result.quarantine_uri:
        print(f"      quarantined at {for_terminal(result.quarantine_uri)}", file=stream)
    if result.extra.get("predictions_uri"):
        print(f"      predictions at {for_terminal(result.extra['predictions_uri'])}", file=stream)
    if result.endpoint:
        endpoint = result.endpoint
        print(
            f"      endpoint {endpoint['name']}: {endpoint['status']}, serving version {endpoint['model_version']}",
            file=stream,
        )


def decision_lines(decision: dict[str, Any] | None) -> list[str]:
    """What decided the outcome, in the order a reader checks it: the gate's primary metric for
    challenger (with its interval) and champion, the margin between them, the verdict's sentence,
    and what rolled a deployment back."""
    if not decision:
        return []
    lines = []
    primary = decision.get("primary_metric")
    if primary:
        challenger = f"challenger {primary}={_number(decision.get('challenger'))}"
        interval = decision.get("challenger_interval")
        if interval:
            challenger += f" (95% CI {_number(interval[0])} to {_number(interval[1])})"
        if decision.get("champion_version") is not None or decision.get("champion") is not None:
            champion = f"champion v{decision.get('champion_version')} {primary}={_number(decision.get('champion'))}"
            margin = decision.get("margin")
            margin_text = f", margin {margin:+.4f}" if isinstance(margin, (int, float)) else ""
            lines.append(f"gate: {challenger} vs {champion}{margin_text}")
        else:
            lines.append(f"gate: {challenger}, no champion to compare with")
        summary = decision.get("summary")
        verdict = "passed" if decision.get("passed") else "failed"
        lines.append(f"decision: {for_terminal(summary)}" if summary else f"decision: the gate {verdict}")
    if decision.get("rollback_cause"):
        lines.append(f"rolled back because: {for_terminal(decision['rollback_cause'])}")
    return lines


def _number(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, (int, float)) else "undefined"
