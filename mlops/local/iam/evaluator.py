"""The policy evaluator: @cloud-copilot/iam-simulate in one long-lived Node.js process that
answers one JSON line per question.

The npm package is installed on first use from the lock file shipped beside the script, into
the user's cache (keyed by the lock file, so a version change installs afresh), with the npm
that comes with the Node.js the CDK needs."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops.local.iam.operations import Authorization

EVALUATOR_SOURCE = Path(__file__).with_name("evaluator")
EVALUATOR_FILES = ("package.json", "package-lock.json", "evaluator.js")
INSTALL_TIMEOUT_SECONDS = 600
ALLOWED = "Allowed"


class EvaluatorError(Exception):
    """The evaluator could not be installed, or could not answer a question."""


@dataclass(frozen=True)
class Decision:
    principal: str
    authorization: Authorization
    result: str

    @property
    def allowed(self) -> bool:
        return self.result == ALLOWED


def install_folder(cache_root: Path | None = None) -> Path:
    """The evaluator's folder, with node_modules installed from the lock file (`npm ci`)."""
    base = cache_root or _default_cache_root()
    digest = hashlib.sha256()
    for name in EVALUATOR_FILES:
        digest.update((EVALUATOR_SOURCE / name).read_bytes())
    folder = base / digest.hexdigest()[:16]
    if (folder / "node_modules" / ".installed").exists():
        return folder
    base.mkdir(parents=True, exist_ok=True)
    staging = Path(os.path.join(base, f"staging-{os.getpid()}-{threading.get_ident()}"))
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    for name in EVALUATOR_FILES:
        shutil.copy2(EVALUATOR_SOURCE / name, staging / name)
    npm = shutil.which("npm")
    if npm is None:
        raise EvaluatorError("npm is not on PATH; the local cloud's IAM evaluator needs Node.js and npm")
    completed = subprocess.run(
        [npm, "ci", "--omit=dev", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=staging,
        capture_output=True,
        text=True,
        timeout=INSTALL_TIMEOUT_SECONDS,
        check=False,
    )
    if completed.returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        raise EvaluatorError(f"npm ci of the IAM evaluator failed: {completed.stderr.strip()[-2000:]}")
    (staging / "node_modules" / ".installed").write_text("")
    try:
        staging.rename(folder)
    except OSError:
        # Another process installed the same lock file first.
        shutil.rmtree(staging, ignore_errors=True)
    return folder


def _default_cache_root() -> Path:
    base = os.environ.get("MLOPS_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "mlops"
    )
    return Path(base) / "iam-evaluator"


class PolicyEvaluator:
    """Asks the Node.js process; remembers every answer, as policies do not change during a run."""

    def __init__(self, identity: dict[str, list[dict[str, Any]]], resource: dict[str, dict[str, Any]], account: str):
        folder = install_folder()
        node = shutil.which("node")
        if node is None:
            raise EvaluatorError("node is not on PATH; the local cloud's IAM evaluator needs Node.js")
        self._account = account
        self._lock = threading.Lock()
        self._decisions: dict[tuple[str, Authorization], Decision] = {}
        self._process = subprocess.Popen(
            [node, str(folder / "evaluator.js")],
            cwd=folder,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        self._ask({"load": {"identity": identity, "resource": resource}})

    def decide(self, principal: str, authorization: Authorization) -> Decision:
        cache_key = (principal, authorization)
        with self._lock:
            known = self._decisions.get(cache_key)
            if known is not None:
                return known
            answer = self._ask(
                {
                    "principal": principal,
                    "action": authorization.action,
                    "resource": authorization.resource,
                    "account": self._account,
                    "resourcePolicy": authorization.resource_policy,
                    # Every AWS SDK call and every service's own call is made over TLS.
                    "context": {"aws:SecureTransport": "true", **dict(authorization.context)},
                }
            )
            if "error" in answer:
                raise EvaluatorError(
                    f"cannot evaluate {authorization.action} on {authorization.resource} for {principal}: {answer['error']}"
                )
            decision = Decision(principal, authorization, answer["result"])
            self._decisions[cache_key] = decision
            return decision

    def _ask(self, message: dict[str, Any]) -> dict[str, Any]:
        assert self._process.stdin is not None and self._process.stdout is not None
        self._process.stdin.write(json.dumps(message) + "\n")
        self._process.stdin.flush()
        line = self._process.stdout.readline()
        if not line:
            raise EvaluatorError(f"the IAM evaluator exited with status {self._process.poll()}")
        return json.loads(line)

    def close(self) -> None:
        if self._process.poll() is None:
            assert self._process.stdin is not None
            self._process.stdin.close()
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._process.kill()
