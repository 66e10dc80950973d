"""A function's log redirect holds for the thread that runs the function, never for the caller."""

from __future__ import annotations

import threading

from mlops.local.lambda_runtime import function_logs

WAIT_SECONDS = 10


def test_the_caller_prints_to_the_terminal_while_a_function_runs_on_another_thread(tmp_path, capsys):
    log_file = tmp_path / "function.log"
    redirected = threading.Event()
    caller_printed = threading.Event()

    def run_function() -> None:
        with function_logs(log_file):
            redirected.set()
            caller_printed.wait(WAIT_SECONDS)
            print("line of the function")

    function_thread = threading.Thread(target=run_function)
    function_thread.start()
    assert redirected.wait(WAIT_SECONDS)
    print("line of the caller", flush=True)
    caller_printed.set()
    function_thread.join(WAIT_SECONDS)

    print("line after the function")
    terminal = capsys.readouterr().out
    log = log_file.read_text(encoding="utf-8")
    assert terminal == "line of the caller\nline after the function\n"
    assert log == "line of the function\n"


def test_a_logger_bound_to_stdout_writes_to_the_function_log_only_on_the_functions_thread(tmp_path):
    import io
    import logging

    terminal = io.StringIO()
    logger = logging.getLogger("function-logs-test")
    handler = logging.StreamHandler(terminal)
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    log_file = tmp_path / "function.log"
    redirected = threading.Event()
    caller_logged = threading.Event()

    def run_function() -> None:
        with function_logs(log_file):
            redirected.set()
            caller_logged.wait(WAIT_SECONDS)
            logger.info("record of the function")

    try:
        function_thread = threading.Thread(target=run_function)
        function_thread.start()
        assert redirected.wait(WAIT_SECONDS)
        logger.info("record of the caller")
        caller_logged.set()
        function_thread.join(WAIT_SECONDS)
        logger.info("record after the function")
    finally:
        logger.removeHandler(handler)

    assert handler.stream is terminal
    assert terminal.getvalue() == "record of the caller\nrecord after the function\n"
    assert log_file.read_text(encoding="utf-8") == "record of the function\n"
