"""Without the image's interpreter the local cloud says which one is missing and how to get it."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops.cli import main
from mlops.local import runtime_env

MISSING = "no python3.10 is on this machine"
HOW_TO_GET_IT = "pyenv install 3.10"
REPOSITORY_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def machine_without_the_images_python(tmp_path, monkeypatch):
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("PYENV_ROOT", str(empty))
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.setenv("MLOPS_RUNTIME_CACHE_DIR", str(tmp_path / "runtimes"))
    monkeypatch.setenv("MLOPS_CACHE_DIR", str(tmp_path / "synthesis"))


@pytest.mark.usefixtures("machine_without_the_images_python")
def test_the_image_environment_names_the_missing_interpreter():
    with pytest.raises(runtime_env.RuntimeUnavailableError) as missing:
        runtime_env.image_python()
    assert MISSING in str(missing.value) and HOW_TO_GET_IT in str(missing.value)


@pytest.mark.usefixtures("machine_without_the_images_python")
def test_local_run_says_so_in_one_line_before_any_synthesis(tmp_path, capsys):
    data = tmp_path / "data.csv"
    data.write_text("a,b\n1,2\n")
    config = tmp_path / "pipeline.json"
    config.write_text((REPOSITORY_ROOT / "pipeline.json").read_text())

    assert main(["local", "run", str(data), "--config", str(config)]) == 1

    errors = capsys.readouterr().err.strip().splitlines()
    assert errors[-1].startswith("mlops: the SageMaker scikit-learn 1.4-2 image runs Python 3.10")
    assert HOW_TO_GET_IT in errors[-1]
    assert "Traceback" not in "\n".join(errors)
    assert not (tmp_path / "synthesis").exists()
