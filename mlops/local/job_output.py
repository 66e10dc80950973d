"""A local job's process, its output captured as `subprocess.run(capture_output=True)` does and
also appended line by line to a log file while it runs: CloudWatch Logs shows a SageMaker job's
output as it comes, and so do `mlops local run`'s progress and its results folder."""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import IO


def run_with_live_log(
    command: Sequence[str],
    *,
    cwd: Path,
    env: dict[str, str],
    timeout: float,
    live_log: Path | None,
) -> subprocess.CompletedProcess[str]:
    """Raises subprocess.TimeoutExpired (the process killed) after `timeout` seconds, as
    subprocess.run does."""
    process = subprocess.Popen(
        list(command), cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, errors="replace"
    )
    collected: dict[str, list[str]] = {"stdout": [], "stderr": []}
    lock = threading.Lock()
    log = live_log.open("a", encoding="utf-8") if live_log is not None else None

    def pump(stream: IO[str], into: list[str]) -> None:
        for line in stream:
            into.append(line)
            if log is not None:
                with lock:
                    log.write(line)
                    log.flush()

    readers = [
        threading.Thread(target=pump, args=(process.stdout, collected["stdout"]), daemon=True),
        threading.Thread(target=pump, args=(process.stderr, collected["stderr"]), daemon=True),
    ]
    for reader in readers:
        reader.start()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise
    finally:
        for reader in readers:
            reader.join()
        if log is not None:
            log.close()
    return subprocess.CompletedProcess(
        process.args, process.returncode, "".join(collected["stdout"]), "".join(collected["stderr"])
    )
