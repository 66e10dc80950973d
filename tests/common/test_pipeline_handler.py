"""The handler decorator: settings checked first and handed to the body, a typed pipeline error
logged with the invocation's context, counted and raised again, metrics flushed."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from pydantic import Field

from functions.common.environment import EnvironmentValue, FunctionEnvironment
from functions.common.errors import MissingEnvironmentError, PipelineError
from functions.common.handler import pipeline_handler
from tests.support.lambda_handlers import lambda_context

FUNCTIONS_DIR = Path(__file__).resolve().parents[2] / "functions"
FAILURE_LOG_MESSAGE = "example_failed"
FAILURE_METRIC = "ExampleErrors"


class ExampleSettings(FunctionEnvironment):
    data_bucket: EnvironmentValue = Field(alias="EXAMPLE_DATA_BUCKET")


class ExampleRefusal(PipelineError):
    pass


class Observed:
    """A handler wearing the decorator, with what its logger and metrics wrote."""

    def __init__(self, capsys: pytest.CaptureFixture[str]) -> None:
        self._capsys = capsys
        self._log = io.StringIO()
        # A logger of its own, so its handler writes to this test's buffer.
        self.logger = Logger(service=f"example-{uuid.uuid4()}", logger_handler=logging.StreamHandler(self._log))
        self.metrics = Metrics(namespace="test")
        self.calls: list[tuple[Any, ExampleSettings]] = []
        self.raises: Exception | None = None

        @pipeline_handler(
            settings_model=ExampleSettings,
            logger=self.logger,
            tracer=Tracer(disabled=True),
            metrics=self.metrics,
            failure_log_message=FAILURE_LOG_MESSAGE,
            failure_metric=FAILURE_METRIC,
        )
        def handler(event: Any, context: Any, settings: ExampleSettings) -> dict[str, Any]:
            self.calls.append((event, settings))
            if self.raises is not None:
                raise self.raises
            self.metrics.add_metric(name="ExamplesDone", unit=MetricUnit.Count, value=1)
            return {"bucket": settings.data_bucket}

        self.handler = handler

    def invoke(self, event: Any = None) -> Any:
        return self.handler(event if event is not None else {"id": "1"}, lambda_context("example", 256, 7))

    def log_lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self._log.getvalue().splitlines()]

    def flushed_metrics(self) -> dict[str, Any]:
        [emf] = [json.loads(line) for line in self._capsys.readouterr().out.splitlines() if '"_aws"' in line]
        return {name: emf[name] for directive in emf["_aws"]["CloudWatchMetrics"] for name in
                (metric["Name"] for metric in directive["Metrics"])}


@pytest.fixture
def observed(monkeypatch, capsys) -> Observed:
    monkeypatch.setenv("EXAMPLE_DATA_BUCKET", "data-bucket")
    return Observed(capsys)


def test_the_body_gets_the_settings_and_its_metrics_are_flushed(observed):
    result = observed.invoke({"id": "1"})

    assert result == {"bucket": "data-bucket"}
    [(event, settings)] = observed.calls
    assert event == {"id": "1"}
    assert settings == ExampleSettings(data_bucket="data-bucket")
    assert observed.flushed_metrics() == {"ExamplesDone": [1.0]}


def test_settings_are_read_at_each_invocation(observed, monkeypatch):
    observed.invoke()
    monkeypatch.setenv("EXAMPLE_DATA_BUCKET", "other-bucket")

    assert observed.invoke() == {"bucket": "other-bucket"}


def test_a_missing_variable_stops_the_invocation_before_the_body(observed, monkeypatch):
    monkeypatch.delenv("EXAMPLE_DATA_BUCKET")

    with pytest.raises(MissingEnvironmentError):
        observed.invoke()

    assert observed.calls == []
    [line] = observed.log_lines()
    assert (line["message"], line["error_type"], line["reason"]) == (
        FAILURE_LOG_MESSAGE,
        "MissingEnvironmentError",
        "environment variable EXAMPLE_DATA_BUCKET is not set",
    )
    assert observed.flushed_metrics() == {FAILURE_METRIC: [1.0]}


def test_a_pipeline_error_is_logged_with_the_invocation_context_counted_and_raised_as_itself(observed):
    refusal = ExampleRefusal("the registry refused the version")
    observed.raises = refusal

    with pytest.raises(ExampleRefusal) as raised:
        observed.invoke()

    assert raised.value is refusal
    [line] = observed.log_lines()
    assert line["level"] == "ERROR"
    assert (line["message"], line["error_type"], line["reason"]) == (
        FAILURE_LOG_MESSAGE,
        "ExampleRefusal",
        "the registry refused the version",
    )
    assert line["function_request_id"] == "00000000-0000-0000-0000-000000000007"
    assert observed.flushed_metrics() == {FAILURE_METRIC: [1.0]}


def test_an_unexpected_error_is_raised_without_being_counted_as_a_pipeline_error(observed, capsys):
    observed.raises = KeyError("bug")

    with pytest.raises(KeyError):
        observed.invoke()

    assert observed.log_lines() == []
    assert '"_aws"' not in capsys.readouterr().out


HANDLER_MODULES = sorted(
    f"functions.{path.parent.name}.handler" for path in FUNCTIONS_DIR.glob("*/handler.py") if path.parent.name != "common"
)
# Loads the X-Ray service model on import: about twice boto3's import time.
XRAY_SDK = "aws_xray_sdk"


def _probe(code: str, environment: dict[str, str]) -> list[str]:
    """Run `code` in a fresh interpreter with `environment` (and PATH); its stdout, split."""
    completed = subprocess.run(
        [sys.executable, "-c", code],
        cwd=FUNCTIONS_DIR.parent,
        env={"PATH": os.environ.get("PATH", ""), **environment},
        capture_output=True,
        text=True,
        check=True,
    )
    return completed.stdout.split()


def test_every_handler_module_imports_without_the_xray_sdk():
    imports = "; ".join(f"import {module}" for module in HANDLER_MODULES)
    assert len(HANDLER_MODULES) >= 8
    loaded = _probe(f"import sys; {imports}; print({XRAY_SDK!r} in sys.modules)", {"LAMBDA_TASK_ROOT": "/var/task"})

    assert loaded == ["False"]


@pytest.mark.parametrize(
    ("environment", "traced"),
    [
        ({"LAMBDA_TASK_ROOT": "/var/task"}, True),
        ({"LAMBDA_TASK_ROOT": "/var/task", "POWERTOOLS_TRACE_DISABLED": "true"}, False),
        ({"LAMBDA_TASK_ROOT": "/var/task", "AWS_SAM_LOCAL": "true"}, False),
        ({}, False),
    ],
)
def test_the_tracer_is_built_at_the_first_invocation_only_where_tracing_is_on(environment, traced):
    code = (
        "import sys\n"
        "from functions.common.handler import InvocationTracer\n"
        "tracer = InvocationTracer()\n"
        f"before = {XRAY_SDK!r} in sys.modules\n"
        "def body(event, context): return None\n"
        "wrapped = tracer.capture_lambda_handler(body)\n"
        "print(before, type(tracer.tracer()).__name__, wrapped is not body, "
        f"{XRAY_SDK!r} in sys.modules)\n"
    )
    expected = ["False", "Tracer", "True", "True"] if traced else ["False", "NoneType", "False", "False"]

    assert _probe(code, environment) == expected
