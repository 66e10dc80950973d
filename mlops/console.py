"""How the CLI shows results to a person."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, TextIO

from mlops.terminal_text import for_terminal

if TYPE_CHECKING:
    from mlops.local.results import UploadResult


def print_result(result: UploadResult, index: int, total: int, stream: TextIO = sys.stdout) -> None:
    label = result.outcome.name.replace("_", " ")
    print(f"[{index}/{total}] {for_terminal(result.file)}: {label}", file=stream)
    if result.reason:
        print(f"      why: {for_terminal(result.reason)}", file=stream)
    if result.execution:
        for state in result.execution["states"]:
            marker = "x" if state["status"] == "failed" else " "
            print(f"    {marker} {state['name']:<32} {state['seconds']:>7.2f} s", file=stream)
    if result.evaluation and result.evaluation.get("metrics"):
        metrics = ", ".join(f"{k}={v:.4f}" for k, v in sorted(result.evaluation["metrics"].items())[:6])
        print(f"      challenger: {metrics}", file=stream)
        if result.evaluation.get("champion_metrics"):
            champion = ", ".join(
                f"{k}={v:.4f}" for k, v in sorted(result.evaluation["champion_metrics"].items())[:6]
            )
            print(f"      champion:   {champion}", file=stream)
    if result.model_version is not None:
        print(f"      model version {result.model_version} ({result.approval_status})", file=stream)
    if result.quarantine_uri:
        print(f"      quarantined at {for_terminal(result.quarantine_uri)}", file=stream)
    if result.endpoint:
        endpoint = result.endpoint
        print(
            f"      endpoint {endpoint['name']}: {endpoint['status']}, serving version {endpoint['model_version']}",
            file=stream,
        )
