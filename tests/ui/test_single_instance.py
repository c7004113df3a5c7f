"""Single-instance hand-off over QLocalServer: in-process, from a real second process, stale
socket recovery, and never stealing a live server."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QDir

from robotrace_desktop.ui.single_instance import SingleInstance, server_key

REPO = Path(__file__).resolve().parents[2]
WAIT_MS = 30_000
LINK = "robotrace://episode/e298524332b1c0b3?t=12840ms"


@pytest.fixture
def key() -> str:
    return f"rt-test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def instances() -> Iterator[list[SingleInstance]]:
    made: list[SingleInstance] = []
    yield made
    for instance in made:
        instance.close()


def forward_in_thread(client: SingleInstance, message: str) -> tuple[threading.Thread, list[bool]]:
    """try_forward blocks until the server acknowledges, and the server needs this thread's
    event loop: run the client in another thread, as a second process would."""
    result: list[bool] = []
    thread = threading.Thread(target=lambda: result.append(client.try_forward(message, 10_000)))
    thread.start()
    return thread, result


def test_server_key_is_per_user_and_catalog(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = tmp_path / "a.sqlite", tmp_path / "b.sqlite"
    assert server_key(a) == server_key(a)
    assert server_key(a) != server_key(b)
    monkeypatch.chdir(tmp_path)
    assert server_key(Path("a.sqlite")) == server_key(a)  # relative and absolute agree
    assert server_key(a).startswith("robotrace-desktop-")
    assert all(c.isalnum() or c in "-_." for c in server_key(a))
    assert len(server_key(a)) < 80  # Unix socket paths are limited to ~107 bytes
    monkeypatch.setenv("USER", "someone else")
    monkeypatch.setenv("LOGNAME", "someone else")
    assert server_key(a) != server_key(b)
    assert "someone_else" in server_key(a)


def test_two_instances_in_one_process(qtbot: Any, key: str, instances: list) -> None:
    server, client = SingleInstance(key), SingleInstance(key)
    instances += [server, client]
    assert not client.try_forward(LINK, timeout_ms=200)  # nobody listens yet
    assert server.listen()
    assert server.is_listening() and Path(server.server_path()).exists()
    thread, result = forward_in_thread(client, LINK)
    with qtbot.waitSignal(server.messageReceived, timeout=WAIT_MS) as blocker:
        pass
    thread.join(WAIT_MS / 1000)
    assert blocker.args == [LINK]
    assert result == [True]

    unicode_path = "/data/Ünïcödé runs/épisode 7.bag"
    thread, result = forward_in_thread(client, unicode_path)
    with qtbot.waitSignal(server.messageReceived, timeout=WAIT_MS) as blocker:
        pass
    thread.join(WAIT_MS / 1000)
    assert blocker.args == [unicode_path] and result == [True]


def test_a_second_process_hands_its_link_to_the_running_one(
    qtbot: Any, key: str, instances: list
) -> None:
    server = SingleInstance(key)
    instances.append(server)
    assert server.listen()
    code = (
        "import sys\n"
        "from robotrace_desktop.ui.single_instance import SingleInstance\n"
        "sys.exit(0 if SingleInstance(sys.argv[1]).try_forward(sys.argv[2], 20000) else 3)\n"
    )
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
    }
    with qtbot.waitSignal(server.messageReceived, timeout=WAIT_MS) as blocker:
        process = subprocess.Popen([sys.executable, "-c", code, key, LINK], env=env)
    assert process.wait(timeout=WAIT_MS / 1000) == 0  # the client saw the acknowledgement
    assert blocker.args == [LINK]


def test_a_live_server_is_never_displaced(qtbot: Any, key: str, instances: list) -> None:
    first, second = SingleInstance(key), SingleInstance(key)
    instances += [first, second]
    assert first.listen()
    assert not second.listen()
    assert not second.is_listening()
    got: list[str] = []
    first.messageReceived.connect(got.append)
    thread, result = forward_in_thread(SingleInstance(key), "still mine")
    qtbot.waitUntil(lambda: got == ["still mine"], timeout=WAIT_MS)
    thread.join(WAIT_MS / 1000)
    assert result == [True]


def test_forward_or_listen(qtbot: Any, key: str, instances: list) -> None:
    first = SingleInstance(key)
    instances.append(first)
    assert first.forward_or_listen(LINK, timeout_ms=300) is False  # became the server
    assert first.is_listening()
    late = SingleInstance(key)
    result: list[bool] = []
    thread = threading.Thread(target=lambda: result.append(late.forward_or_listen("x", 10_000)))
    with qtbot.waitSignal(first.messageReceived, timeout=WAIT_MS) as blocker:
        thread.start()
    thread.join(WAIT_MS / 1000)
    assert blocker.args == ["x"] and result == [True]


@pytest.mark.skipif(sys.platform == "win32", reason="Unix socket files")
def test_stale_socket_of_a_crashed_instance_is_recovered(
    qtbot: Any, key: str, instances: list
) -> None:
    path = Path(QDir.tempPath()) / key
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    dead.bind(str(path))  # a socket file nobody listens on: what a crash leaves behind
    dead.close()
    try:
        assert path.exists()
        client = SingleInstance(key)
        assert not client.try_forward(LINK, timeout_ms=300)  # refused, not hung
        server = SingleInstance(key)
        instances.append(server)
        assert server.listen()
        thread, result = forward_in_thread(client, LINK)
        with qtbot.waitSignal(server.messageReceived, timeout=WAIT_MS) as blocker:
            pass
        thread.join(WAIT_MS / 1000)
        assert blocker.args == [LINK] and result == [True]
        server.close()
        assert not path.exists()  # a clean exit leaves nothing behind
    finally:
        path.unlink(missing_ok=True)


def test_oversized_message_is_refused(qtbot: Any, key: str, instances: list) -> None:
    server = SingleInstance(key)
    instances.append(server)
    assert server.listen()
    with pytest.raises(ValueError, match="too long"):
        SingleInstance(key).try_forward("x" * (2 << 20))
    # A raw client announcing a huge message is cut off without a signal.
    got: list[str] = []
    server.messageReceived.connect(got.append)
    raw = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    raw.settimeout(10)
    raw.connect(server.server_path())
    raw.sendall((0xFFFFFFFF).to_bytes(4, "big") + b"junk")
    closed: list[bytes] = []
    thread = threading.Thread(target=lambda: closed.append(raw.recv(1)))
    thread.start()
    qtbot.waitUntil(lambda: bool(closed), timeout=WAIT_MS)
    thread.join()
    raw.close()
    assert closed == [b""] and got == []  # connection closed, nothing emitted
