"""A handler that reads no tables imports little more than boto3 (a Lambda cold start).

Its settings and event models, the pipeline config, the contracts and its service code are
imported by its first invocation (functions.common.handler.Deferred), Powertools' parser package
not at all, and the X-Ray SDK only where tracing is on. A fresh interpreter imports each handler
and reports which of those modules came with it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
HANDLERS_READING_TABLES = {"validate_data", "evaluate_model", "monitor_drift", "monitor_quality"}
HANDLERS_READING_NO_TABLES = {"start_pipeline", "register_model", "prepare_deployment", "alarm_responder"}
MODULES_LEFT_TO_THE_INVOCATION = (
    "pydantic",
    "functions.common.config",
    "functions.common.contracts",
    "aws_lambda_powertools.utilities.parser",
    "aws_lambda_powertools.utilities.idempotency",
    "aws_xray_sdk",
    "pandas",
    "numpy",
)


def test_every_handler_is_classified_by_whether_it_reads_tables():
    handlers = {path.parent.name for path in (REPO_ROOT / "functions").glob("*/handler.py")} - {"common"}

    assert handlers == HANDLERS_READING_TABLES | HANDLERS_READING_NO_TABLES


@pytest.mark.parametrize("function_name", sorted(HANDLERS_READING_NO_TABLES))
def test_importing_a_handler_that_reads_no_tables_leaves_the_rest_to_its_invocation(function_name):
    probe = (
        f"import sys, functions.{function_name}.handler; "
        f"print(' '.join(name for name in {MODULES_LEFT_TO_THE_INVOCATION!r} if name in sys.modules))"
    )
    # Outside Lambda, as the benchmark measures it: tracing is off without LAMBDA_TASK_ROOT.
    environment = {name: value for name, value in os.environ.items() if name != "LAMBDA_TASK_ROOT"}

    imported = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO_ROOT, env=environment, capture_output=True, text=True, check=True
    ).stdout.split()

    assert imported == []
