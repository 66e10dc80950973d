"""`mlops local up` fails at once on a port that is taken and leaves nothing running; `up`,
`down` and the `--local` commands find the server's state from any directory."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mlops.cli import main
from mlops.cli_support import EXIT_USAGE, local_server_pid_file, local_server_state_folder
from mlops.local.server import PORT_UNAVAILABLE_EXIT, STOPPED_WHILE_STARTING

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]
# A hang guard only: the server must give up long before this.
SERVER_EXIT_GUARD_SECONDS = 120


@pytest.fixture
def taken_port():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield listener.getsockname()[1]


def test_local_up_on_a_taken_port_fails_at_once_and_starts_nothing(taken_port, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pipeline.json").write_text("{}")
    started = []
    monkeypatch.setattr(subprocess, "Popen", lambda *args, **kwargs: started.append(args))

    status = main(["local", "up", "--port", str(taken_port)])

    assert status == EXIT_USAGE
    err = capsys.readouterr().err
    assert f"cannot listen on 127.0.0.1:{taken_port}" in err and "--port" in err
    assert started == []
    assert not local_server_pid_file().exists()


def test_the_server_process_exits_when_its_port_is_taken_before_deploying_anything(taken_port, tmp_path):
    # The port can be taken between `local up`'s check and the server's bind: the server binds first.
    state_file = tmp_path / "state.json"
    completed = subprocess.run(
        [sys.executable, "-m", "mlops.local.server", "--config", str(tmp_path / "no-such-config.json"),
         "--port", str(taken_port), "--state-file", str(state_file), "--results", str(tmp_path / "results")],
        capture_output=True, text=True, timeout=SERVER_EXIT_GUARD_SECONDS,
    )

    assert completed.returncode == PORT_UNAVAILABLE_EXIT
    assert f"cannot listen on 127.0.0.1:{taken_port}" in completed.stderr
    assert "Traceback" not in completed.stderr
    assert not state_file.exists()


def test_local_down_stops_the_server_from_another_directory(tmp_path, monkeypatch, capsys):
    server = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"], start_new_session=True)
    try:
        local_server_state_folder().mkdir(parents=True, exist_ok=True)
        local_server_pid_file().write_text(str(server.pid))
        elsewhere = tmp_path / "somewhere" / "else"
        elsewhere.mkdir(parents=True)
        monkeypatch.chdir(elsewhere)

        assert main(["local", "down"]) == 0

        assert server.wait(timeout=SERVER_EXIT_GUARD_SECONDS) is not None
        assert f"Stopped the local server (pid {server.pid})" in capsys.readouterr().out
        assert not local_server_pid_file().exists()
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()


def test_the_state_folder_is_the_users_not_the_working_directorys(tmp_path, monkeypatch):
    monkeypatch.delenv("MLOPS_STATE_DIR")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    first = local_server_state_folder()
    monkeypatch.chdir(tmp_path / "..")

    assert local_server_state_folder() == first == (tmp_path / "home" / ".mlops").resolve()


def test_a_stop_during_the_start_ends_the_server(tmp_path):
    """SIGTERM while the local cloud is still starting (synthesis, deployment) ends the process."""
    config = tmp_path / "pipeline.json"
    config.write_text((REPOSITORY_ROOT / "pipeline.json").read_text())
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "mlops.local.server", "--config", str(config), "--port", str(port),
         "--state-file", str(tmp_path / "state.json"), "--results", str(tmp_path / "results")],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        deadline = time.monotonic() + SERVER_EXIT_GUARD_SECONDS
        while not _listening(port) and time.monotonic() < deadline and server.poll() is None:
            time.sleep(0.1)
        assert _listening(port), server.stdout.read() if server.poll() is not None else "never listened"
        server.terminate()
        assert server.wait(timeout=SERVER_EXIT_GUARD_SECONDS) == 0
        assert STOPPED_WHILE_STARTING in server.stdout.read()
        assert not _listening(port)
        assert not (tmp_path / "state.json").exists()
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0
