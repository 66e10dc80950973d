"""Cold start: the import time of each Lambda handler module in a fresh Python process.

Each module is imported in a new `python -c "import <module>"` process (median of N), next to
the same for `import boto3` alone (every handler needs it) and an empty interpreter. Import
time is what a Lambda cold start adds on top of the runtime's own start. Two measures: wall
time, and the CPU time (user + system) of the process, which other work on a shared machine
stretches far less than the wall time. Every functions/*/handler.py is measured; one the
table below does not classify stops the benchmark. Only the handlers
that read tables (uploads, test rows, captured requests, ground truth) may import pandas and
numpy; the check column says whether the others stayed free of them and within
MAX_RATIO_TO_BOTO3 of boto3. Tracing is off here, as outside Lambda: the X-Ray SDK is loaded
only where tracing is on (functions.common.handler.InvocationTracer), at the first invocation.

    python -m benchmarks.cold_start [--repeats N]
"""

from __future__ import annotations

import argparse
import os
import resource
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


def handler_modules() -> list[str]:
    """Every handler module of functions/, each of which HANDLERS must say whether it reads tables."""
    found = sorted(f"functions.{path.parent.name}.handler" for path in (REPO_ROOT / "functions").glob("*/handler.py"))
    found = [module for module in found if module != "functions.common.handler"]
    unclassified = sorted(set(found) - set(HANDLERS))
    if unclassified:
        raise SystemExit(f"add {', '.join(unclassified)} to HANDLERS in {Path(__file__).name}: does it read tables?")
    return found


def import_seconds(modules: list[str], repeats: int) -> dict[str, tuple[float, float]]:
    """Median (wall, CPU) seconds of importing each module; the modules take turns in every round,
    so load that comes and goes on a shared machine weighs on all of them alike."""
    samples: dict[str, list[tuple[float, float]]] = {module: [] for module in modules}
    for _ in range(repeats):
        for module in modules:
            command = [sys.executable, "-c", f"import {module}"]
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            seconds, _ = median_seconds(lambda: subprocess.run(command, check=True, cwd=REPO_ROOT, env=_environment()), 1)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu_seconds = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
            samples[module].append((seconds, cpu_seconds))
    return {
        module: (statistics.median(wall for wall, _ in times), statistics.median(cpu for _, cpu in times))
        for module, times in samples.items()
    }


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
    handlers = handler_modules()
    seconds_of = import_seconds(["sys", "boto3", "aws_xray_sdk.core", *handlers], repeats)
    boto3_wall, boto3_cpu = seconds_of["boto3"]

    def row(name: str, module: str, check: str) -> list[object]:
        wall, cpu = seconds_of[module]
        return [name, wall, wall / boto3_wall, cpu, cpu / boto3_cpu, check]

    rows = [
        row("python (no import)", "sys", "-"),
        row("boto3", "boto3", "-"),
        row("aws_xray_sdk.core (Powertools Tracer)", "aws_xray_sdk.core", "-"),
    ]
    for module in handlers:
        wall, cpu = seconds_of[module]
        heavy = heavy_imports(module)
        if HANDLERS[module]:
            check = "reads tables: " + (" ".join(heavy) or "no heavy imports")
        else:
            within = wall <= MAX_RATIO_TO_BOTO3 * boto3_wall and cpu <= MAX_RATIO_TO_BOTO3 * boto3_cpu
            check = ("no pandas/numpy" if not heavy else "imports " + " ".join(heavy)) + (
                f", within {MAX_RATIO_TO_BOTO3}x boto3" if within else f", over {MAX_RATIO_TO_BOTO3}x boto3"
            )
        rows.append(row(module, module, check))
    print_table(
        f"Import time in a fresh process (includes interpreter start), median of {repeats} rounds",
        ["module", "wall s", "x boto3", "CPU s", "x boto3 (CPU)", "check"],
        rows,
    )


if __name__ == "__main__":
    main()
