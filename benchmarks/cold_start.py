"""Cold start: the import time of each Lambda handler module in a fresh Python process.

Each module is imported in a new `python -c "import <module>"` process (median of N), next to
the same for `import boto3` alone (every handler needs it) and an empty interpreter. Import
time is what a Lambda cold start adds on top of the runtime's own start. Only the handlers
that read tables (uploads, test rows, captured requests, ground truth) may import pandas and
numpy; the check column says whether the others stayed free of them and within
MAX_RATIO_TO_BOTO3 of boto3. Tracing is off here, as outside Lambda: the X-Ray SDK is loaded
only where tracing is on (functions.common.handler.InvocationTracer), at the first invocation.

    python -m benchmarks.cold_start [--repeats N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

from benchmarks.common import median_seconds, print_table

REPO_ROOT = Path(__file__).resolve().parent.parent
# Every Lambda handler module; True for those that read tables.
HANDLERS = {
    "functions.validate_data.handler": True,
    "functions.evaluate_model.handler": True,
    "functions.monitor_drift.handler": True,
    "functions.monitor_quality.handler": True,
    "functions.start_pipeline.handler": False,
    "functions.register_model.handler": False,
    "functions.prepare_deployment.handler": False,
    "functions.alarm_responder.handler": False,
}
# Compared with boto3 alone; a handler without pandas should stay within this factor.
MAX_RATIO_TO_BOTO3 = 1.5
HEAVY_MODULES = ("pandas", "numpy", "pyarrow", "sklearn", "scipy", "aws_xray_sdk")


def import_seconds(modules: list[str], repeats: int) -> dict[str, float]:
    """Median import time of each module; the modules take turns in every round, so load that
    comes and goes on a shared machine weighs on all of them alike."""
    samples: dict[str, list[float]] = {module: [] for module in modules}
    for _ in range(repeats):
        for module in modules:
            command = [sys.executable, "-c", f"import {module}"]
            seconds, _ = median_seconds(lambda: subprocess.run(command, check=True, cwd=REPO_ROOT, env=_environment()), 1)
            samples[module].append(seconds)
    return {module: statistics.median(times) for module, times in samples.items()}


def heavy_imports(module: str) -> list[str]:
    probe = f"import sys, {module}; print(' '.join(m for m in {HEAVY_MODULES!r} if m in sys.modules))"
    output = subprocess.run(
        [sys.executable, "-c", probe], check=True, cwd=REPO_ROOT, capture_output=True, text=True, env=_environment()
    )
    return output.stdout.split()


def _environment() -> dict[str, str]:
    """This environment without Lambda's LAMBDA_TASK_ROOT: tracing off, as in the local cloud."""
    return {name: value for name, value in os.environ.items() if name != "LAMBDA_TASK_ROOT"}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="3 repeats")
    args = parser.parse_args(argv)
    repeats = 3 if args.quick else args.repeats
    seconds_of = import_seconds(["sys", "boto3", "aws_xray_sdk.core", *HANDLERS], repeats)
    interpreter, boto3_seconds, xray_seconds = seconds_of["sys"], seconds_of["boto3"], seconds_of["aws_xray_sdk.core"]
    rows = [
        ["python (no import)", interpreter, interpreter / boto3_seconds, "-"],
        ["boto3", boto3_seconds, 1.0, "-"],
        ["aws_xray_sdk.core (Powertools Tracer)", xray_seconds, xray_seconds / boto3_seconds, "-"],
    ]
    for module, may_use_pandas in HANDLERS.items():
        seconds = seconds_of[module]
        heavy = heavy_imports(module)
        if may_use_pandas:
            check = "reads tables: " + (" ".join(heavy) or "no heavy imports")
        else:
            check = ("no pandas/numpy" if not heavy else "imports " + " ".join(heavy)) + (
                f", within {MAX_RATIO_TO_BOTO3}x boto3" if seconds <= MAX_RATIO_TO_BOTO3 * boto3_seconds else
                f", over {MAX_RATIO_TO_BOTO3}x boto3"
            )
        rows.append([module, seconds, seconds / boto3_seconds, check])
    print_table(
        f"Import time in a fresh process (includes interpreter start), median of {repeats} rounds",
        ["module", "seconds", "x boto3", "check"],
        rows,
    )


if __name__ == "__main__":
    main()
