"""Live progress of an execution while `mlops local run` (or the demo) waits for it: the state
being executed and its elapsed time, and the training and processing jobs' output lines as they
come. In a terminal one status line is rewritten in place with the job lines scrolling above it;
otherwise each new state and each job line is a plain line (a log file or CI keeps them)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from mlops.terminal_text import for_terminal, unescaped

if TYPE_CHECKING:
    from mlops.local.cloud import LocalCloud

REFRESH_SECONDS = 0.5
# Without a terminal, a state that runs this long is said again, so a silent wait never looks hung.
STILL_RUNNING_EVERY_SECONDS = 30.0
CLEAR_LINE = "\r\x1b[2K"
MAX_LINE_CHARS = 160


class ExecutionProgress:
    """Called by LocalCloud.wait at each poll; draws at most every REFRESH_SECONDS."""

    def __init__(self, cloud: LocalCloud, stream: TextIO, interactive: bool | None = None) -> None:
        self._cloud = cloud
        self._stream = unescaped(stream)
        self._interactive = stream.isatty() if interactive is None else interactive
        self._job_log_offsets: dict[Path, int] = {}
        self._execution: str | None = None
        self._started = 0.0
        self._state: str | None = None
        self._states_said = 0
        self._state_started = 0.0
        self._last_refresh = 0.0
        self._last_said = 0.0
        self._status_shown = False
        # Job output from before this execution is not its progress.
        self._skip_existing_job_output()

    def __call__(self, execution_arn: str) -> None:
        now = time.monotonic()
        if execution_arn != self._execution:
            self._execution, self._started, self._state, self._last_refresh = execution_arn, now, None, float("-inf")
            self._states_said = 0
        if now - self._last_refresh < REFRESH_SECONDS:
            return
        self._last_refresh = now
        history = self._cloud.history(execution_arn)
        # Every state entered is said, from the history: a state that starts and ends between two
        # polls (a fast one, or any on a machine too busy to poll on time) is not skipped.
        self._say_new_states(history)
        state = current_state(history)
        if state != self._state:
            self._state, self._state_started, self._last_said = state, now, now
        self._say_new_job_lines()
        if self._interactive:
            self._draw_status(now)
        elif self._state and now - self._last_said >= STILL_RUNNING_EVERY_SECONDS:
            self._last_said = now
            self._line(f"     {for_terminal(self._state)} still running ({now - self._state_started:.0f} s)")

    def finish(self, execution_arn: str | None = None) -> None:
        """Say what happened after the last poll (all of it, for an execution that ended before
        the first), then clear the status line before the result is printed."""
        if execution_arn is not None and execution_arn != self._execution:
            self._execution, self._states_said = execution_arn, 0
        if self._execution is not None:
            self._say_new_states(self._cloud.history(self._execution))
            self._say_new_job_lines()
        if self._interactive and self._status_shown:
            self._stream.write(CLEAR_LINE)
            self._stream.flush()
            self._status_shown = False
        self._execution = None
        self._skip_existing_job_output()

    def _say_new_states(self, history: list[dict[str, Any]]) -> None:
        entered = entered_states(history)
        if not self._interactive:
            for name, elapsed_seconds in entered[self._states_said :]:
                self._line(f"  -> {for_terminal(name)} (at {elapsed_seconds:.1f} s)")
        self._states_said = len(entered)

    def _say_new_job_lines(self) -> None:
        for job, line in self._new_job_lines():
            self._line(f"     {for_terminal(job)} | {for_terminal(line)[:MAX_LINE_CHARS]}")

    def _draw_status(self, now: float) -> None:
        if not self._state:
            return
        text = (
            f"  ... {for_terminal(self._state)} {now - self._state_started:5.1f} s "
            f"(execution {now - self._started:.1f} s)"
        )
        self._stream.write(CLEAR_LINE + text[:MAX_LINE_CHARS])
        self._stream.flush()
        self._status_shown = True

    def _line(self, text: str) -> None:
        if self._interactive and self._status_shown:
            self._stream.write(CLEAR_LINE)
            self._status_shown = False
        self._stream.write(text + "\n")
        self._stream.flush()

    def _new_job_lines(self) -> list[tuple[str, str]]:
        found = []
        folder = getattr(self._cloud, "job_log_folder", None)
        for log in sorted(folder.glob("*.log")) if folder else []:
            offset = self._job_log_offsets.get(log, 0)
            with log.open("rb") as stream:
                stream.seek(offset)
                data = stream.read()
            # Only whole lines: a line being written is read at the next refresh.
            complete = data[: data.rfind(b"\n") + 1]
            self._job_log_offsets[log] = offset + len(complete)
            found.extend((log.stem, line) for line in complete.decode("utf-8", "replace").splitlines() if line.strip())
        return found

    def _skip_existing_job_output(self) -> None:
        folder = getattr(self._cloud, "job_log_folder", None)
        for log in folder.glob("*.log") if folder else []:
            self._job_log_offsets[log] = log.stat().st_size


def entered_states(history: list[dict[str, Any]]) -> list[tuple[str, float]]:
    """Each state entered, in order, with its seconds since the execution started."""
    started = history[0]["timestamp"] if history else None
    return [
        (event["stateEnteredEventDetails"]["name"], (event["timestamp"] - started).total_seconds())
        for event in history
        if event.get("stateEnteredEventDetails")
    ]


def current_state(history: list[dict[str, Any]]) -> str | None:
    """The state the execution is in: the last one entered and not yet exited."""
    open_states: list[str] = []
    for event in history:
        entered = event.get("stateEnteredEventDetails")
        exited = event.get("stateExitedEventDetails")
        if entered:
            open_states.append(entered["name"])
        elif exited and exited["name"] in open_states:
            open_states.remove(exited["name"])
    return open_states[-1] if open_states else None
