"""The one decorator every Lambda handler wears, so each handler body is only: parse the event,
get its clients, call the pure function.

It owns, from the outside in: the Lambda context in every log line, the X-Ray trace of the
invocation (where tracing is on; see InvocationTracer), flushing the handler's metrics, logging and counting a typed pipeline error, and
the function's settings, read from the environment and checked before any other work (the
event is not even parsed with a variable missing). The settings reach the body as its
`settings` keyword argument.

    tracer = InvocationTracer()

    @pipeline_handler(settings_model=EvaluationSettings, logger=logger, tracer=tracer, metrics=metrics,
                      failure_log_message="evaluation_failed", failure_metric="EvaluationErrors")
    @parsed_event(model=EvaluateModelRequest)
    def lambda_handler(event: EvaluateModelRequest, context: LambdaContext, settings: EvaluationSettings): ...

A handler that reads no tables names its settings and event models as Deferred (imported at the
first invocation) and imports its service code in its body, so its import stays close to boto3's.
"""

from __future__ import annotations

import functools
import importlib
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.middleware_factory import lambda_handler_decorator
from aws_lambda_powertools.shared import constants as powertools_constants
from aws_lambda_powertools.shared.functions import resolve_truthy_env_var_choice
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.common.errors import PipelineError

if TYPE_CHECKING:
    from aws_lambda_powertools import Tracer
    from pydantic import BaseModel, TypeAdapter

    from functions.common.environment import FunctionEnvironment

_Loaded = TypeVar("_Loaded")


FOREIGN_EVENTS_METRIC = "ForeignEventsIgnored"


def ignore_foreign_event(logger: Logger, metrics: Metrics | None, reason: str, **keys: Any) -> dict[str, Any]:
    """What a handler returns for an event that is not its stack's (functions.common.event_ownership):
    nothing is done and nothing is sent; a log line and a metric say it was ignored."""
    logger.warning("foreign_event_ignored", extra={"reason": reason, **keys})
    if metrics is not None:
        metrics.add_metric(name=FOREIGN_EVENTS_METRIC, unit=MetricUnit.Count, value=1)
    return {"ignored": True, "reason": reason}


def tracing_enabled() -> bool:
    """Whether Powertools' Tracer would trace here: inside Lambda (LAMBDA_TASK_ROOT), not under
    SAM local or Chalice, and POWERTOOLS_TRACE_DISABLED not set; the rule of Tracer's own
    `_is_tracer_disabled` in aws-lambda-powertools 3.x (aws_lambda_powertools/tracing/tracer.py),
    read from the same environment variables."""
    if resolve_truthy_env_var_choice(env=os.getenv(powertools_constants.TRACER_DISABLED_ENV, "false")):
        return False
    if os.getenv(powertools_constants.SAM_LOCAL_ENV) or os.getenv(powertools_constants.CHALICE_LOCAL_ENV):
        return False
    return bool(os.getenv(powertools_constants.LAMBDA_TASK_ROOT_ENV))


class InvocationTracer:
    """Powertools' Tracer, built at the first invocation where tracing is on, and never built where
    it is off.

    Building a Tracer imports the X-Ray SDK, whose recorder loads the X-Ray service model for its
    sampling client: about twice the import time of boto3, paid by every handler module at import
    even where Tracer then disables itself (tests, the local cloud). In Lambda with active
    tracing the Tracer is built before the first invocation's body runs, so its botocore patch
    covers every client the body builds.
    """

    def __init__(self) -> None:
        self._tracer: Tracer | None = None

    def tracer(self) -> Tracer | None:
        """The Tracer of this function, or None where tracing is off."""
        if self._tracer is None and tracing_enabled():
            from aws_lambda_powertools import Tracer

            self._tracer = Tracer()
        return self._tracer

    def capture_lambda_handler(self, handler: Callable[..., Any]) -> Callable[..., Any]:
        tracer = self.tracer()
        return handler if tracer is None else tracer.capture_lambda_handler(handler)


class Deferred(Generic[_Loaded]):
    """An attribute of a module, imported at its first use.

    A handler module names its settings and event models this way, and imports its service code
    inside its body, so that importing it (a cold start) costs little more than boto3: building
    the pydantic classes of the pipeline config and the contracts took more time than importing
    pydantic itself. The first invocation pays for them instead.
    """

    def __init__(self, module: str, name: str) -> None:
        self.module = module
        self.name = name
        self._loaded: _Loaded | None = None

    def load(self) -> _Loaded:
        if self._loaded is None:
            self._loaded = getattr(importlib.import_module(self.module), self.name)
        return self._loaded


def _resolved(value: _Loaded | Deferred[_Loaded]) -> _Loaded:
    return value.load() if isinstance(value, Deferred) else value


@lambda_handler_decorator
def pipeline_handler(
    handler: Callable[..., Any],
    event: Any,
    context: LambdaContext,
    *,
    settings_model: type[FunctionEnvironment] | Deferred[type[FunctionEnvironment]],
    logger: Logger,
    tracer: InvocationTracer | Tracer,
    failure_log_message: str,
    metrics: Metrics | None = None,
    failure_metric: str | None = None,
) -> Any:
    """Run `handler` instrumented; a PipelineError is logged, counted and raised again, so the
    state machine's Retry and Catch (or Lambda's retries) see the error's own name."""
    if failure_metric is not None and metrics is None:
        raise TypeError(f"failure metric {failure_metric} needs the handler's Metrics")

    @functools.wraps(handler)
    def checked(event: Any, context: LambdaContext) -> Any:
        try:
            settings = _resolved(settings_model).from_environment()
            return handler(event, context, settings=settings)
        except PipelineError as error:
            logger.error(failure_log_message, extra={"error_type": type(error).__name__, "reason": str(error)})
            if metrics is not None and failure_metric is not None:
                metrics.add_metric(name=failure_metric, unit=MetricUnit.Count, value=1)
            raise

    instrumented = checked if metrics is None else metrics.log_metrics(checked)
    instrumented = tracer.capture_lambda_handler(instrumented)
    instrumented = logger.inject_lambda_context(log_event=False)(instrumented)
    return instrumented(event, context)


@lambda_handler_decorator
def parsed_event(
    handler: Callable[..., Any],
    event: Any,
    context: LambdaContext,
    *,
    model: type[BaseModel] | TypeAdapter[Any] | Deferred[type[BaseModel]],
    **kwargs: Any,
) -> Any:
    """Call `handler` with the event validated into `model`, as Powertools' event_parser does
    (a JSON string is parsed first; an invalid event raises pydantic's ValidationError). A
    TypeAdapter stands for an event that is one of several models.

    Importing Powertools' parser package loads its envelopes and event models for every AWS
    service with it: more import time than all the rest a handler adds to boto3.
    """
    from pydantic import TypeAdapter

    event_model = _resolved(model)
    if isinstance(event_model, TypeAdapter):
        parsed = event_model.validate_json(event) if isinstance(event, (str, bytes)) else event_model.validate_python(event)
    else:
        parsed = event_model.model_validate_json(event) if isinstance(event, (str, bytes)) else event_model.model_validate(event)
    return handler(parsed, context, **kwargs)
