"""jsii's end-of-life banner for Node.js, which its Python runtime prints as bytes reprs, is one
readable line instead, in `cdk synth`, pytest and the local runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from infra.node_runtime import SILENCE_VARIABLE, replace_end_of_life_banner

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]
# A hang guard for importing the CDK in a new process, not a speed goal.
IMPORT_GUARD_SECONDS = 300


@pytest.fixture
def node_reporting(tmp_path, monkeypatch):
    """A `node` on PATH that reports the version given."""
    def install(version: str) -> None:
        node = tmp_path / "node"
        node.write_text(f"#!/bin/sh\necho {version}\n")
        node.chmod(0o755)
        monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
        monkeypatch.delenv(SILENCE_VARIABLE, raising=False)

    return install


def test_an_end_of_life_node_gets_one_readable_line_and_the_banner_is_silenced(node_reporting, capsys):
    node_reporting("v20.19.1")

    replace_end_of_life_banner()

    assert capsys.readouterr().err == "warning: Node.js v20.19.1 is past its end of life; the CDK supports Node.js 22 or 24\n"
    assert os.environ[SILENCE_VARIABLE] == "20"


def test_a_supported_node_is_left_alone(node_reporting, capsys):
    node_reporting("v22.3.0")

    replace_end_of_life_banner()

    assert capsys.readouterr().err == ""
    assert SILENCE_VARIABLE not in os.environ


def test_a_persons_own_setting_is_kept(node_reporting, monkeypatch, capsys):
    node_reporting("v20.19.1")
    monkeypatch.setenv(SILENCE_VARIABLE, "18")

    replace_end_of_life_banner()

    assert capsys.readouterr().err == "" and os.environ[SILENCE_VARIABLE] == "18"


def test_importing_the_app_prints_no_bytes_reprs():
    environment = {name: value for name, value in os.environ.items() if name != SILENCE_VARIABLE}

    completed = subprocess.run(
        [sys.executable, "-c", "import infra.app"], cwd=REPOSITORY_ROOT, env=environment,
        capture_output=True, text=True, timeout=IMPORT_GUARD_SECONDS,
    )

    assert completed.returncode == 0, completed.stderr
    assert "b'" not in completed.stderr
