"""The `cdk` CLI that the README installs synthesizes the app with no AWS credentials and no
Docker, and cfn-lint finds no error in what it writes."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]
SYNTH_TIMEOUT_SECONDS = 300
CFN_LINT_ERROR_BITS = 0b11  # 1: cfn-lint itself failed, 2: the template has errors (4, 8: warnings, notes)


@pytest.fixture(scope="module")
def cli_assembly(tmp_path_factory) -> Path:
    if shutil.which("cdk") is None:
        pytest.fail("the cdk CLI is not installed; the README's test command installs it with npm")
    outdir = tmp_path_factory.mktemp("cdk.out")
    environment = {
        key: value for key, value in os.environ.items() if not key.startswith("AWS_") and key != "CDK_DEFAULT_ACCOUNT"
    }
    environment["JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION"] = "20"
    completed = subprocess.run(
        ["cdk", "synth", "--quiet", "--output", str(outdir)],
        cwd=REPOSITORY_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=SYNTH_TIMEOUT_SECONDS,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return outdir


def test_cdk_synth_writes_one_stack_template(cli_assembly):
    templates = sorted(cli_assembly.glob("*.template.json"))
    assert [t.name for t in templates] == ["mlops-pipeline.template.json"]


def test_cfn_lint_reports_no_errors(cli_assembly):
    completed = subprocess.run(
        ["cfn-lint", *map(str, sorted(cli_assembly.glob("*.template.json")))],
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode & CFN_LINT_ERROR_BITS == 0, completed.stdout[-3000:]
