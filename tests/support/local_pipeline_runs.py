"""Driving the local pipeline through the `mlops` CLI as a person does: data files, `mlops init`
and its edited config, `mlops local run`."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from mlops.cli import main


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


def results_folder(config: Path) -> Path:
    """Where `local_run` has `mlops local run` keep its results: beside the config."""
    return config.parent / "results"


def local_run(capsys, config: Path, *files: Path, as_json: bool = True) -> tuple[int, list[dict]]:
    """`mlops local run`; the results as `--json` prints them, or, for the console output, as
    the results folder keeps them (the console text stays in capsys for the caller)."""
    capsys.readouterr()
    keep = results_folder(config)
    exit_code = main(["local", "run", *map(str, files), "--config", str(config), "--keep", str(keep),
                      *(["--json"] if as_json else [])])
    if as_json:
        captured = capsys.readouterr()
        assert "Traceback" not in captured.out + captured.err
        lines = captured.out.splitlines()
    else:
        lines = (keep / "outcomes.jsonl").read_text().splitlines()
    results = [json.loads(line) for line in lines if line.strip()]
    print(json.dumps([{key: r[key] for key in ("file", "outcome", "reason")} for r in results], indent=1))
    return exit_code, results

