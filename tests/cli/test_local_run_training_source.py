"""`mlops local run` with a config naming training code it cannot run says so in one line,
before anything is synthesized or deployed."""

from __future__ import annotations

import json
import shutil

from mlops.cli import main
from tests.support.training_source import REPOSITORY_ROOT

USAGE_ERROR = 2


def test_a_source_dir_without_train_py_is_a_one_line_usage_error(tmp_path, capsys):
    # Given a config naming a folder that holds code but no train.py
    (tmp_path / "my_training").mkdir()
    (tmp_path / "my_training" / "inference.py").write_text("def model_fn(model_dir): ...\n")
    document = json.loads((REPOSITORY_ROOT / "pipeline.json").read_text())
    document["training"]["source_dir"] = "my_training"
    config = tmp_path / "pipeline.json"
    config.write_text(json.dumps(document))
    data = tmp_path / "data.csv"
    shutil.copyfile(REPOSITORY_ROOT / "pipeline.json", data)

    exit_code = main(["local", "run", str(data), "--config", str(config)])

    shown = capsys.readouterr()
    assert exit_code == USAGE_ERROR
    assert "Traceback" not in shown.err
    assert "training.source_dir 'my_training'" in shown.err and "holds no train.py" in shown.err
    assert str((tmp_path / "my_training").resolve()) in shown.err
