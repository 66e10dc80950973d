"""End-to-end runs of the local pipeline on real public datasets shipped by PyPI packages."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from mlops.cli import main
from tests.support import datasets

E2E_SEED = 11


@pytest.fixture(scope="session", autouse=True)
def isolated_synth_cache(tmp_path_factory):
    """Each test session synthesizes afresh, so the tests see the app as it is now."""
    patcher = pytest.MonkeyPatch()
    patcher.setenv("MLOPS_CACHE_DIR", str(tmp_path_factory.mktemp("mlops-cache")))
    patcher.setenv("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    yield
    patcher.undo()


@pytest.fixture(scope="session")
def breast_cancer_frame() -> pd.DataFrame:
    return datasets.breast_cancer().sample(frac=1.0, random_state=E2E_SEED).reset_index(drop=True)


@pytest.fixture(scope="session")
def penguins_frame() -> pd.DataFrame:
    from palmerpenguins import load_penguins

    return load_penguins().sample(frac=1.0, random_state=E2E_SEED).reset_index(drop=True)


def write_csv(frame: pd.DataFrame, path: Path) -> Path:
    frame.to_csv(path, index=False)
    return path


def init_config(data: Path, target: str, config: Path, **overrides) -> Path:
    """`mlops init`, then the edits a person would make to the written config."""
    assert main(["init", "--data", str(data), "--target", target, "--config", str(config)]) == 0
    if overrides:
        document = json.loads(config.read_text())
        for dotted, value in overrides.items():
            node = document
            *parents, leaf = dotted.split("__")
            for parent in parents:
                node = node[parent]
            node[leaf] = value
        config.write_text(json.dumps(document, indent=2))
    return config


def local_run(capsys, config: Path, *files: Path) -> tuple[int, list[dict]]:
    capsys.readouterr()
    exit_code = main(["local", "run", *map(str, files), "--config", str(config), "--json"])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.out + captured.err
    results = [json.loads(line) for line in captured.out.splitlines() if line.strip()]
    print(json.dumps([{key: r[key] for key in ("file", "outcome", "reason")} for r in results], indent=1))
    return exit_code, results
