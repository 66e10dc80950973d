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
