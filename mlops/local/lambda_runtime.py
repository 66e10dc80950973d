"""Lambda functions run in-process: moto stores the function (code location, handler,
environment) from the template; this stand-in answers `Invoke` by importing the handler and
calling it with the function's environment, the way the Lambda runtime would."""

from __future__ import annotations

import importlib
import json
import logging
import os
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from functions.common.aws_clients import clear_clients
from infra import runtime_manifest
from mlops.local.iam.enforcement import acting_as
from mlops.local.moto_access import LOCAL_ACCOUNT_ID, LOCAL_REGION

# Set by the Lambda runtime itself, not by the template.
RUNTIME_ENVIRONMENT_KEYS = ("LAMBDA_TASK_ROOT", "AWS_LAMBDA_FUNCTION_NAME", "AWS_REGION", "AWS_DEFAULT_REGION")


@dataclass
class LambdaContext:
    """The attributes of the Lambda context object that the handlers and Powertools read."""

    function_name: str
    memory_limit_in_mb: int
    timeout_seconds: int
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    _started_at: float = field(default_factory=time.monotonic)

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{LOCAL_REGION}:{LOCAL_ACCOUNT_ID}:function:{self.function_name}"

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    @property
    def log_stream_name(self) -> str:
        return self.aws_request_id

    def get_remaining_time_in_millis(self) -> int:
        elapsed_seconds = time.monotonic() - self._started_at
        return max(0, int((self.timeout_seconds - elapsed_seconds) * 1000))


class ThreadRoutedStream:
    """A text stream that writes to the log of the invocation the calling thread runs, and to
    `default` for every other thread. The state machine runs functions on its own threads while
    the caller prints results on the main thread: a process-wide redirect would send the caller's
    lines into a function's log file."""

    def __init__(self, default: Any) -> None:
        self.default = default

    def _target(self) -> Any:
        logs = getattr(_invocation_streams, "logs", None)
        return logs[-1] if logs else self.default

    def write(self, text: str) -> int:
        return self._target().write(text)

    def flush(self) -> None:
        self._target().flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._target(), name)


_invocation_streams = threading.local()


@contextmanager
def function_logs(log_file: Path) -> Iterator[None]:
    """What a handler logs goes to its function's log file (CloudWatch Logs in AWS), not to the
    terminal: stdout and every stream handler of every logger write there for the invocation, on
    the invoking thread only. Loggers created at import bind the stdout of that moment, so their
    streams are routed too, and loggers born during the invocation go back to the terminal after it."""
    terminal = sys.stdout
    routed_stdout = terminal if isinstance(terminal, ThreadRoutedStream) else ThreadRoutedStream(terminal)
    handlers = _stream_handlers()
    with log_file.open("a", encoding="utf-8") as log:
        # A stack per thread, each log removed by identity: invocations on one thread do not
        # always end in the reverse order of their start (an upload's event is delivered from
        # inside the transfer that another invocation started).
        if not hasattr(_invocation_streams, "logs"):
            _invocation_streams.logs = []
        previous: list[Any] = []
        try:
            _invocation_streams.logs.append(log)
            sys.stdout = routed_stdout
            for handler in handlers:
                routed = handler.stream if isinstance(handler.stream, ThreadRoutedStream) else ThreadRoutedStream(handler.stream)
                previous.append(_swap_stream(handler, routed))
            yield
        finally:
            _invocation_streams.logs = [stream for stream in _invocation_streams.logs if stream is not log]
            if sys.stdout is routed_stdout:
                sys.stdout = routed_stdout.default if routed_stdout is not terminal else terminal
            for handler, stream in zip(handlers, previous):
                _swap_stream(handler, stream)
            for handler in _stream_handlers():
                if handler.stream is log:
                    _swap_stream(handler, terminal)


def _swap_stream(handler: logging.StreamHandler, stream: Any) -> Any:
    """StreamHandler.setStream without its flush of the old stream, which may be closed."""
    with handler.lock:
        previous, handler.stream = handler.stream, stream
    return previous


def _stream_handlers() -> list[logging.StreamHandler]:
    loggers = [logging.getLogger(), *logging.Logger.manager.loggerDict.values()]
    return [
        handler
        for logger in loggers
        if isinstance(logger, logging.Logger)
        for handler in logger.handlers
        if type(handler) is logging.StreamHandler
    ]


@dataclass
class InvocationRecord:
    function_name: str
    seconds: float
    error_type: str | None


class InProcessLambdaRuntime:
    """Runs a deployed function's handler in this process.

    `code_root_for` maps a function's S3 code location to the staged asset folder from
    `cdk synth`, which becomes LAMBDA_TASK_ROOT (where the packaged pipeline config lives).
    """

    def __init__(
        self,
        code_root_for: Callable[[str, str], Path],
        extra_environment: dict[str, str],
        log_folder: Path,
    ):
        self._code_root_for = code_root_for
        self._extra_environment = extra_environment
        self._log_folder = log_folder
        # Handlers read os.environ at invocation; one invocation at a time keeps them apart.
        self._lock = threading.RLock()
        self.invocations: list[InvocationRecord] = []
        # A new local cloud's functions start cold, as a new deployment's do: no boto3 client
        # the handlers kept from an earlier cloud in this process (another moto) is reused.
        clear_clients()

    def invoke(self, function: Any, payload: bytes | str | None) -> tuple[bytes, str | None]:
        """Returns (response payload, function error type or None)."""
        event = json.loads(payload) if payload else {}
        module_name, _, attribute = function.handler.rpartition(".")
        code = function.code or {}
        code_root = self._code_root_for(code.get("S3Bucket", ""), code.get("S3Key", ""))
        environment = {
            **(function.environment_vars or {}),
            **self._extra_environment,
            "LAMBDA_TASK_ROOT": str(code_root),
            "AWS_LAMBDA_FUNCTION_NAME": function.function_name,
            "AWS_REGION": LOCAL_REGION,
            "AWS_DEFAULT_REGION": LOCAL_REGION,
        }
        context = LambdaContext(
            function_name=function.function_name,
            memory_limit_in_mb=int(function.memory_size or 128),
            timeout_seconds=int(function.timeout or 3),
        )
        started = time.monotonic()
        with (
            self._lock,
            patched_environment(environment),
            function_logs(self._log_folder / f"{function.function_name}.log"),
            acting_as(function.role),
            layer_arrow_codecs(runtime_manifest.lambda_arrow_codecs()),
        ):
            try:
                handler = getattr(importlib.import_module(module_name), attribute)
                result = handler(event, context)
                body, error_type = json.dumps(result, default=str).encode(), None
            except Exception as error:  # the Lambda runtime's own contract: report, don't crash
                error_type = type(error).__name__
                body = json.dumps(
                    {
                        "errorType": error_type,
                        "errorMessage": str(error),
                        "stackTrace": traceback.format_exception(error)[-5:],
                    }
                ).encode()
        self.invocations.append(InvocationRecord(function.function_name, time.monotonic() - started, error_type))
        return body, error_type


class _LayerCodecs:
    """pyarrow.Codec as a function sees it: `is_available` answers for the layer's build, the
    rest is the installed class's."""

    def __init__(self, codec_type: Any, available: frozenset[str]) -> None:
        self._codec_type = codec_type
        self._available = available

    def is_available(self, compression: str) -> bool:
        return str(compression).lower() in self._available and self._codec_type.is_available(compression)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._codec_type(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._codec_type, name)


@contextmanager
def layer_arrow_codecs(available: frozenset[str]) -> Iterator[None]:
    """During an invocation, pyarrow says that only the pandas layer's codecs are available, as
    the layer's own build does (infra/runtime_manifest.toml, arrow_codecs); the installed wheel
    has every codec. pyarrow.Codec is an immutable extension type, so the module's name for it
    is what changes, for the invocation (invocations run one at a time)."""
    import pyarrow

    codec_type = pyarrow.Codec
    pyarrow.Codec = _LayerCodecs(codec_type, available)
    try:
        yield
    finally:
        pyarrow.Codec = codec_type


@contextmanager
def patched_environment(values: dict[str, str]) -> Iterator[None]:
    """os.environ with these values for the duration of the block, then as it was."""
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update({key: str(value) for key, value in values.items()})
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
