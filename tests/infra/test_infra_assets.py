"""Synth-time staging: the Lambda code folder and the deterministic training bundle."""

from __future__ import annotations

import tarfile
from pathlib import Path

import pytest

from functions.common.config import CONFIG_FILE_NAME
from infra import runtime_manifest
from infra.assets import build_training_bundle, stage_lambda_code


@pytest.fixture
def repository(tmp_path: Path) -> Path:
    root = tmp_path / "repository"
    for relative, content in {
        "functions/__init__.py": "",
        "functions/common/__init__.py": "",
        "functions/common/config.py": "CONFIG = 1\n",
        "functions/common/__pycache__/config.cpython-312.pyc": "compiled",
        "functions/validate_data/handler.py": "def lambda_handler(event, context): ...\n",
        "functions/training/train.py": "print('train')\n",
        "functions/training/inference.py": "print('serve')\n",
        "functions/training/notes.txt": "not code\n",
    }.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    return root


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "pipeline.json"
    path.write_text('{"project": "demo"}\n')
    return path


def test_lambda_code_holds_functions_without_training_or_caches_plus_the_config(repository, config_file, tmp_path):
    staged = stage_lambda_code(config_file, tmp_path / "staged", repository)

    sdk = runtime_manifest.lambda_sdk()["packages"]
    bundled_sdk = {*sdk, *(f"{name}-{version}.dist-info" for name, version in sdk.items())}
    assert {path.name for path in staged.iterdir() if path.is_dir()} == {"functions", *bundled_sdk}
    files = sorted(
        str(path.relative_to(staged))
        for path in staged.rglob("*")
        if path.is_file() and path.relative_to(staged).parts[0] not in bundled_sdk
    )
    assert files == sorted(
        [
            CONFIG_FILE_NAME,
            "functions/__init__.py",
            "functions/common/__init__.py",
            "functions/common/config.py",
            "functions/validate_data/handler.py",
        ]
    )
    assert (staged / CONFIG_FILE_NAME).read_text() == config_file.read_text()


def test_training_bundle_holds_the_training_scripts_and_config_at_its_root(repository, config_file, tmp_path):
    bundle = build_training_bundle(config_file, tmp_path / "bundle.tar.gz", repository)

    with tarfile.open(bundle, "r:gz") as archive:
        members = archive.getmembers()
        assert [member.name for member in members] == sorted([CONFIG_FILE_NAME, "inference.py", "train.py"])
        assert all((m.mtime, m.uid, m.gid, m.uname, m.gname) == (0, 0, 0, "", "") for m in members)
        assert archive.extractfile(CONFIG_FILE_NAME).read() == config_file.read_bytes()


def test_training_bundle_bytes_depend_only_on_content(repository, config_file, tmp_path):
    first = build_training_bundle(config_file, tmp_path / "a" / "bundle.tar.gz", repository).read_bytes()
    (repository / "functions/training/train.py").touch()
    second = build_training_bundle(config_file, tmp_path / "b" / "bundle.tar.gz", repository).read_bytes()
    (repository / "functions/training/train.py").write_text("print('changed')\n")
    third = build_training_bundle(config_file, tmp_path / "c" / "bundle.tar.gz", repository).read_bytes()

    assert first == second
    assert first != third
