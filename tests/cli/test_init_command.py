"""`mlops init` writes a config that accepts its own sample, and warns about what would not."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from functions.common.config import load_config
from functions.validate_data.validation import validate_file
from mlops.cli import main

LOAN_ROWS = 800
EMPTY_TARGET_ROWS = [3, 50, 70, 90, 120, 140, 160, 400, 500, 600, 700]


@pytest.fixture
def loans(tmp_path):
    """A loans table: an id, an opening date, a heavy-tailed amount, a count, a grade, and a
    target empty in 11 of 800 rows."""
    rng = np.random.default_rng(7)
    frame = pd.DataFrame(
        {
            "loan_id": np.arange(10_000, 10_000 + LOAN_ROWS),
            "opened": pd.date_range("2022-01-01", periods=LOAN_ROWS).strftime("%Y-%m-%d"),
            "amount": rng.lognormal(8, 1, LOAN_ROWS).round(2),
            "collections": rng.poisson(0.1, LOAN_ROWS),
            "grade": rng.choice(list("ABCD"), LOAN_ROWS),
            "defaulted": rng.choice(["yes", "no"], LOAN_ROWS),
        }
    )
    frame.loc[EMPTY_TARGET_ROWS, "defaulted"] = None
    path = tmp_path / "loans.csv"
    frame.to_csv(path, index=False)
    return path


def _init(capsys, *arguments: str):
    exit_code = main(["init", *arguments])
    captured = capsys.readouterr()
    return exit_code, captured.err


def test_init_warns_about_empty_targets_dates_and_identifiers_and_accepts_its_sample(loans, tmp_path, capsys):
    config_path = tmp_path / "pipeline.json"

    exit_code, warnings = _init(capsys, "--data", str(loans), "--target", "defaulted", "--config", str(config_path))

    assert exit_code == 0
    assert "11 of 800 rows have an empty target 'defaulted'" in warnings
    assert "column 'opened' holds dates" in warnings
    assert "column 'loan_id' has a different value in every row" in warnings
    assert "rejects" not in warnings
    config = load_config(config_path)
    assert config.dataset.column("opened").type == "date"
    outcome = validate_file(loans, config, work_dir=tmp_path / "splits")
    assert outcome.accepted, outcome.errors
    assert outcome.quarantined_rows == len(EMPTY_TARGET_ROWS)


def test_a_column_marked_ignore_is_kept_but_not_a_feature(loans, tmp_path, capsys):
    config_path = tmp_path / "pipeline.json"

    exit_code, warnings = _init(
        capsys, "--data", str(loans), "--target", "defaulted", "--config", str(config_path), "--ignore", "loan_id"
    )

    assert exit_code == 0
    assert "loan_id" not in warnings
    config = load_config(config_path)
    assert config.dataset.column("loan_id").type == "ignore"
    outcome = validate_file(loans, config, work_dir=tmp_path / "splits")
    assert outcome.accepted, outcome.errors
    assert pd.read_csv(outcome.split_files["train"]).columns.tolist()[0] == "loan_id"


def test_a_three_row_sample_is_accepted_by_its_config_with_a_warning(loans, tmp_path, capsys):
    tiny = tmp_path / "tiny.csv"
    pd.read_csv(loans).iloc[[0, 1, 2]].to_csv(tiny, index=False)
    config_path = tmp_path / "pipeline.json"

    exit_code, warnings = _init(capsys, "--data", str(tiny), "--target", "defaulted", "--config", str(config_path))

    assert exit_code == 0
    assert "the sample has 3 rows" in warnings
    assert validate_file(tiny, load_config(config_path), work_dir=tmp_path / "splits").accepted


def test_a_column_marked_date_must_hold_dates_and_is_not_a_feature(loans, tmp_path, capsys):
    # Given loans with a closing date written out in words, which init does not take for a date by itself
    frame = pd.read_csv(loans)
    frame["closed"] = pd.date_range("2023-01-01", periods=LOAN_ROWS).strftime("%d %B %Y")
    frame.to_csv(loans, index=False)
    _init(capsys, "--data", str(loans), "--target", "defaulted", "--config", str(tmp_path / "inferred.json"))
    assert load_config(tmp_path / "inferred.json").dataset.column("closed").type != "date"
    config_path = tmp_path / "pipeline.json"

    # When it is marked --date
    exit_code = main(["init", "--data", str(loans), "--target", "defaulted", "--config", str(config_path), "--date", "closed"])
    summary = capsys.readouterr().out

    # Then it is a date column: its sample is accepted and kept, it is no feature, and text that is
    # no date in more rows than its tolerance rejects an upload
    assert exit_code == 0
    assert re.search(r"closed\s+date\s+kept in the data, not a feature; values must be dates", summary)
    config = load_config(config_path)
    assert config.dataset.column("closed").type == "date"
    outcome = validate_file(loans, config, work_dir=tmp_path / "splits")
    assert outcome.accepted, outcome.errors
    assert "closed" in pd.read_csv(outcome.split_files["train"]).columns
    frame["closed"] = "soon"
    not_dates = tmp_path / "not_dates.csv"
    frame.to_csv(not_dates, index=False)
    rejected = validate_file(not_dates, config, work_dir=tmp_path / "rejected")
    assert not rejected.accepted
    assert "closed" in {finding.column for finding in rejected.errors}
