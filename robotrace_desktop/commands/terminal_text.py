"""User text (notes, names) printed to a terminal literally, never as terminal commands.

A note can hold anything a person pasted, and a topic, log line or file name anything a
recording holds: an ESC sequence would recolour, move the cursor or retitle the terminal, a
carriage return would overwrite the line before it, and bidi overrides reorder what is shown
("Trojan source"). Those characters are printed as visible escapes (``\\x1b``, ``\\n``,
``\\u202e``); everything else, including non-ASCII text, is printed as is.

The CLI writes everything through ``SafeStream`` (installed by ``cli.main`` around stdout and
stderr), so no command — today's or a future one — can forget: only line ends pass. JSON output
stays exact JSON (``json_terminal_safe`` escapes the same characters as ``\\uXXXX``), and
exports written for a file or pipe bypass the wrapper byte-exact (``write_literal``).
"""

from __future__ import annotations

import io
import re
import sys
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any, TextIO

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
# Controls (C0, DEL, C1), lone surrogates, line/paragraph separators.
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cs", "Zl", "Zp"})
# Format characters that change the visual order of the text around them.
_BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)
#: The same set as one character class (Cc = C0, DEL and C1; Zl, Zp; Cs = surrogates), so
#: all output can go through it: every CLI line is written through ``SafeStream``.
_UNSAFE_RE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff" + "".join(sorted(_BIDI_CONTROLS)) + "]"
)


def terminal_safe(text: str) -> str:
    """``text`` with every control, separator and bidi override shown as a visible escape."""
    if text.isascii() and text.isprintable():  # nearly every cell: two C-speed checks
        return text
    return _UNSAFE_RE.sub(lambda match: _escape(match.group()), text)


def write_literal(text: str, stream: TextIO | None = None) -> None:
    """Write an export (CSV, Markdown, JSON) to a stream: byte-exact when redirected to a file or
    a pipe; on a terminal each line goes through ``terminal_safe`` (CSV's CRLF ends shown as
    plain line ends)."""
    out = raw_stream(stream or sys.stdout)
    if out.isatty():
        lines = text.replace("\r\n", "\n").split("\n")
        text = "\n".join(terminal_safe(line) for line in lines)
    out.write(text)
    out.flush()


def _unsafe(char: str) -> bool:
    return char in _BIDI_CONTROLS or unicodedata.category(char) in _UNSAFE_CATEGORIES


def _escape(char: str) -> str:
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def terminal_safe_lines(text: str) -> str:
    """Like ``terminal_safe`` but keeps line ends: for whole blocks of output."""
    if _UNSAFE_RE.search(text.replace("\n", " ")) is None:  # one scan for the usual case
        return text
    return "\n".join(terminal_safe(line) for line in text.split("\n"))


def json_terminal_safe(json_text: str) -> str:
    """JSON text with every character ``terminal_safe`` would escape written as ``\\uXXXX``:
    the same JSON value, safe on a terminal (json.dumps leaves DEL, C1 controls and bidi
    overrides raw). Such characters only occur inside strings, where the escape is valid."""
    return _UNSAFE_RE.sub(
        lambda match: match.group() if match.group() == "\n" else f"\\u{ord(match.group()):04x}",
        json_text,
    )


class SafeStream(io.TextIOBase):
    """A text stream that writes ``terminal_safe_lines`` of everything to ``raw``."""

    def __init__(self, raw: TextIO) -> None:
        super().__init__()
        self.raw = raw

    def write(self, text: str) -> int:
        self.raw.write(terminal_safe_lines(text))
        return len(text)

    def flush(self) -> None:
        self.raw.flush()

    def isatty(self) -> bool:
        return self.raw.isatty()

    def fileno(self) -> int:
        return self.raw.fileno()

    def writable(self) -> bool:
        return True

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self.raw, "encoding", "utf-8")

    @property
    def errors(self) -> str | None:  # type: ignore[override]
        return getattr(self.raw, "errors", None)

    def __getattr__(self, name: str) -> Any:  # buffer, reconfigure, ...
        return getattr(self.raw, name)


def raw_stream(stream: TextIO) -> TextIO:
    """The stream under a ``SafeStream`` (for byte-exact exports), else the stream itself."""
    return stream.raw if isinstance(stream, SafeStream) else stream


@contextmanager
def safe_terminal() -> Iterator[None]:
    """stdout and stderr wrapped in ``SafeStream`` while a command runs."""
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = SafeStream(saved[0]), SafeStream(saved[1])
    try:
        yield
    finally:
        for wrapped in (sys.stdout, sys.stderr):
            with suppress(OSError, ValueError):
                wrapped.flush()
        sys.stdout, sys.stderr = saved
