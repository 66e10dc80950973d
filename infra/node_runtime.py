"""One readable line instead of jsii's end-of-life banner.

jsii, the bridge the CDK's Python package runs its JavaScript through, prints a 20-line banner
on every start when Node.js is past its end of life, and its Python runtime prints each line as a
bytes repr (`b'!!  Node 20 is end-of-life ...\\n'`), in `cdk synth`, in pytest and in every local
run. Before the CDK is imported, this says the same in one line on stderr and sets the variable
jsii reads to silence the banner for that Node.js major version
(https://github.com/aws/jsii/blob/main/packages/%40jsii/check-node/README.md). A person who set
the variable keeps their choice.
"""

from __future__ import annotations

import os
import subprocess
import sys

SILENCE_VARIABLE = "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION"
# Node.js majors past their end of life (https://nodejs.org/en/about/previous-releases).
END_OF_LIFE_MAJORS = frozenset({"14", "16", "18", "20"})
SUPPORTED_TEXT = "22 or 24"
NODE_VERSION_TIMEOUT_SECONDS = 10


def node_major(version_text: str) -> str | None:
    """`v20.20.2` -> `20`."""
    text = version_text.strip().removeprefix("v")
    major = text.split(".", 1)[0]
    return major if major.isdigit() else None


def replace_end_of_life_banner() -> None:
    if SILENCE_VARIABLE in os.environ:
        return
    try:
        version_text = subprocess.run(
            ["node", "--version"], capture_output=True, text=True, timeout=NODE_VERSION_TIMEOUT_SECONDS, check=False
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return  # no Node.js: the CDK says so itself when it starts
    major = node_major(version_text)
    if major in END_OF_LIFE_MAJORS:
        print(
            f"warning: Node.js {version_text.strip()} is past its end of life; the CDK supports Node.js {SUPPORTED_TEXT}",
            file=sys.stderr,
        )
        os.environ[SILENCE_VARIABLE] = major
