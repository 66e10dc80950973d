"""The synthesis cache shared by processes running side by side (CI's two lanes)."""

from __future__ import annotations

import fcntl
import json
import threading
from pathlib import Path

from mlops.local import deployment

STACK = "mlops-pipeline"


def _write_assembly(outdir: Path, marker: str) -> None:
    outdir.mkdir(parents=True, exist_ok=True)
    (outdir / "manifest.json").write_text(json.dumps({
        "artifacts": {STACK: {"type": "aws:cloudformation:stack", "properties": {"templateFile": f"{STACK}.template.json"}}}
    }))
    (outdir / f"{STACK}.template.json").write_text(json.dumps({"Description": marker, "Resources": {}}))


def test_a_synthesis_finished_first_elsewhere_is_kept_and_this_one_discarded(tmp_path, monkeypatch):
    # Given another process that completes the same synthesis while this one runs
    config = tmp_path / "pipeline.json"
    config.write_text("{}")
    cache = tmp_path / "cache"
    monkeypatch.setattr(deployment, "_synthesis_key", lambda _config: "key")

    def synthesize_while_another_finishes(_config: Path, staging: Path) -> None:
        _write_assembly(cache / "key", "theirs")
        (cache / "key" / deployment.SYNTH_COMPLETE_MARKER).write_text("")
        _write_assembly(staging, "ours")

    monkeypatch.setattr(deployment, "_synthesize_into", synthesize_while_another_finishes)

    # When this process finishes its own
    app = deployment.synthesize(config, cache_root=cache)

    # Then the first finished assembly stays in place (the other may be reading it) and no
    # staging folder is left behind
    assert app.template["Description"] == "theirs"
    assert sorted(path.name for path in cache.iterdir() if path.suffix != ".lock") == ["key"]


def test_an_unfinished_assembly_is_replaced(tmp_path, monkeypatch):
    config = tmp_path / "pipeline.json"
    config.write_text("{}")
    cache = tmp_path / "cache"
    _write_assembly(cache / "key", "interrupted")
    monkeypatch.setattr(deployment, "_synthesis_key", lambda _config: "key")
    monkeypatch.setattr(deployment, "_synthesize_into", lambda _config, staging: _write_assembly(staging, "complete"))

    app = deployment.synthesize(config, cache_root=cache)

    assert app.template["Description"] == "complete"
    assert (cache / "key" / deployment.SYNTH_COMPLETE_MARKER).exists()


def test_a_synthesis_under_way_elsewhere_is_waited_for_and_not_repeated(tmp_path, monkeypatch):
    # Given another process synthesizing the same app, holding its lock
    config = tmp_path / "pipeline.json"
    config.write_text("{}")
    cache = tmp_path / "cache"
    cache.mkdir()
    monkeypatch.setattr(deployment, "_synthesis_key", lambda _config: "key")
    synthesized_here = []
    monkeypatch.setattr(deployment, "_synthesize_into", lambda _config, staging: synthesized_here.append(staging))
    apps = []
    with (cache / "key.lock").open("w") as theirs:
        fcntl.flock(theirs, fcntl.LOCK_EX)
        waiting = threading.Thread(target=lambda: apps.append(deployment.synthesize(config, cache_root=cache)))
        waiting.start()
        waiting.join(timeout=0.5)
        assert waiting.is_alive()

        # When it finishes
        _write_assembly(cache / "key", "theirs")
        (cache / "key" / deployment.SYNTH_COMPLETE_MARKER).write_text("")
    waiting.join()

    # Then this process reads that assembly without synthesizing
    assert synthesized_here == []
    assert apps[0].template["Description"] == "theirs"


def test_an_edit_to_the_user_s_training_code_is_a_new_synthesis(tmp_path):
    # Given a config naming a folder of training code beside it
    folder = tmp_path / "code"
    folder.mkdir()
    (folder / "train.py").write_text("print('v1')\n")
    config = tmp_path / "pipeline.json"
    config.write_text(json.dumps({"training": {"source_dir": "code"}}))
    before = deployment._synthesis_key(config)

    # When the script changes, and nothing else does
    (folder / "train.py").write_text("print('v2')\n")

    # Then the cached synthesis, whose bundle holds the old script, is not reused
    assert deployment._synthesis_key(config) != before
