"""One window per catalog: a second launch hands its argument to the running one.

Clicking a ``robotrace://`` link starts ``robotrace-desktop open <link>``; if a window is already
open on the same catalog it should jump there instead of starting a second app (two windows
on one catalog would also fight over layouts). The first instance listens on a QLocalServer
(a Unix socket / Windows named pipe) whose name comes from the user and the catalog path.

Wire format: 4-byte big-endian length, then the UTF-8 message; the server answers one ACK byte
once the message is received, so ``try_forward`` only reports success for a live window.
"""

from __future__ import annotations

import contextlib
import getpass
import hashlib
import logging
import re
import struct
import sys
import time
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket

log = logging.getLogger(__name__)

ACK = b"\x06"
MAX_MESSAGE = 1 << 20  # a deep link or a path; anything bigger is not from us
PROBE_MS = 300  # how long listen() waits for an existing server to answer
SLICE_MS = 20  # longest single blocking wait in try_forward (see there)


def server_key(catalog_path: Path) -> str:
    """Server name for this user and catalog: two catalogs may run two windows."""
    try:
        user = getpass.getuser()
    except Exception:  # no login name in some containers
        user = "user"
    user = re.sub(r"[^A-Za-z0-9_.-]", "_", user)[:32] or "user"
    resolved = str(Path(catalog_path).expanduser().resolve())
    digest = hashlib.sha256(resolved.encode("utf-8", "surrogateescape")).hexdigest()[:16]
    return f"robotrace-desktop-{user}-{digest}"


def _frame(message: str) -> bytes:
    payload = message.encode("utf-8", "surrogateescape")
    if len(payload) > MAX_MESSAGE:
        raise ValueError(f"message of {len(payload)} bytes is too long to forward")
    return struct.pack(">I", len(payload)) + payload


class _Connection:
    """One client socket on the server side and its unparsed bytes."""

    def __init__(self, socket: QLocalSocket) -> None:
        self.socket = socket
        self.buffer = bytearray()
        self.refused = False  # sent garbage: ignored until the socket is closed


class SingleInstance(QObject):
    """Client (``try_forward``) and server (``listen``) ends of the single-instance hand-off."""

    messageReceived = Signal(str)

    def __init__(self, key: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.key = key
        self._server: QLocalServer | None = None
        self._connections: list[_Connection] = []

    # --- client --------------------------------------------------------------------------

    def try_forward(self, message: str, timeout_ms: int = 1000) -> bool:
        """Send ``message`` to a running instance; True once it acknowledged receipt.

        Blocking (no event loop needed): the second launch calls this before it builds a UI.
        Waits in short slices because PySide keeps the GIL inside ``waitFor*``: a server in
        the same process (tests, or a window calling this from a helper thread) must be able
        to run its Python slots meanwhile.
        """
        frame = _frame(message)
        deadline = time.monotonic() + timeout_ms / 1000

        def wait(step: Callable[[int], bool], done: Callable[[], bool]) -> bool:
            while not done():
                if time.monotonic() >= deadline:
                    return False
                step(SLICE_MS)
            return True

        socket = QLocalSocket()
        socket.connectToServer(self.key)
        try:
            connected = wait(
                socket.waitForConnected,
                lambda: socket.state() == QLocalSocket.LocalSocketState.ConnectedState,
            )
            if not connected:
                return False
            socket.write(frame)
            socket.flush()
            if not wait(socket.waitForBytesWritten, lambda: socket.bytesToWrite() == 0):
                return False
            if not wait(socket.waitForReadyRead, lambda: socket.bytesAvailable() >= 1):
                return False
            return bytes(socket.read(1).data()) == ACK
        finally:
            socket.abort()

    def forward_or_listen(self, message: str, timeout_ms: int = 1000) -> bool:
        """True: a running window took ``message`` (exit). False: this process is the server
        now (or serving failed and it simply runs alone) — open the window."""
        if self.try_forward(message, timeout_ms):
            return True
        if self.listen():
            return False
        # Another instance started between our forward and listen: hand it the message.
        return self.try_forward(message, timeout_ms)

    # --- server --------------------------------------------------------------------------

    def is_listening(self) -> bool:
        return self._server is not None and self._server.isListening()

    def server_path(self) -> str:
        """The socket file / pipe name while listening (for diagnostics)."""
        return self._server.fullServerName() if self._server is not None else ""

    def listen(self) -> bool:
        """Become the running instance. False if a live one already serves this key.

        A socket file left by a crashed instance is removed first; a live server (one that
        accepts a connection) is never displaced.
        """
        if self.is_listening():
            return True
        if self._alive():
            log.info("another RoboTrace window serves %s", self.key)
            return False
        server = QLocalServer(self)
        if sys.platform == "win32":
            # On Unix a socket option makes Qt bind in a temp dir and rename() over the name,
            # which would silently replace a live server's socket; plain bind() fails instead
            # (and the file is only writable by us under the usual umask).
            server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        if not server.listen(self.key):
            if self._alive():  # another instance won the race since our probe
                server.deleteLater()
                return False
            log.info("removing stale single-instance socket %s", self.key)
            QLocalServer.removeServer(self.key)
            if not server.listen(self.key):
                log.warning("cannot listen on %s: %s", self.key, server.errorString())
                server.deleteLater()
                return False
        server.newConnection.connect(self._accept)
        self._server = server
        return True

    def _alive(self) -> bool:
        probe = QLocalSocket()
        probe.connectToServer(self.key)
        alive = bool(probe.waitForConnected(PROBE_MS))
        probe.abort()
        return alive

    def _accept(self) -> None:
        server = self._server
        while server is not None and server.hasPendingConnections():
            socket = server.nextPendingConnection()
            if socket is None:
                break
            connection = _Connection(socket)
            self._connections.append(connection)
            # Bound methods + sender(), not lambdas: PySide 6.12 mishandles the references of
            # lambda slots on objects Qt deletes (crash in ~QObject of the socket).
            socket.readyRead.connect(self._on_ready_read)
            socket.disconnected.connect(self._on_disconnected)
            if socket.bytesAvailable():
                self._read(connection)

    def _connection_of(self, socket: QObject | None) -> _Connection | None:
        for connection in self._connections:
            if connection.socket is socket:
                return connection
        return None

    def _on_ready_read(self) -> None:
        connection = self._connection_of(self.sender())
        if connection is not None:
            self._read(connection)

    def _on_disconnected(self) -> None:
        connection = self._connection_of(self.sender())
        if connection is not None:
            self._drop(connection)

    def _read(self, connection: _Connection) -> None:
        socket = connection.socket
        data = bytes(socket.readAll().data())
        if connection.refused:
            return
        connection.buffer += data
        buffer = connection.buffer
        while len(buffer) >= 4:
            (size,) = struct.unpack(">I", buffer[:4])
            if size > MAX_MESSAGE:
                log.warning("single-instance: refusing a %d-byte message", size)
                connection.refused = True
                buffer.clear()
                # Not abort() here: tearing a socket down inside its own readyRead crashes.
                QTimer.singleShot(0, socket.abort)
                return
            if len(buffer) < 4 + size:
                return
            message = bytes(buffer[4 : 4 + size]).decode("utf-8", "replace")
            del buffer[: 4 + size]
            socket.write(ACK)
            socket.flush()
            self.messageReceived.emit(message)

    def _drop(self, connection: _Connection) -> None:
        if connection in self._connections:
            self._connections.remove(connection)
            with contextlib.suppress(RuntimeError):  # already gone with its server
                connection.socket.deleteLater()

    def close(self) -> None:
        """Stop serving (the socket file is removed) and drop open connections."""
        for connection in list(self._connections):
            connection.socket.abort()
            self._drop(connection)
        if self._server is not None:
            self._server.close()
            self._server.deleteLater()
            self._server = None
