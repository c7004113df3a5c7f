"""User text (notes, names) printed to a terminal literally, never as terminal commands.

A note can hold anything a person pasted: an ESC sequence would recolour, move the cursor or
retitle the terminal, a carriage return would overwrite the line before it, and bidi overrides
reorder what is shown ("Trojan source"). Those characters are printed as visible escapes
(``\\x1b``, ``\\n``, ``\\u202e``); everything else, including non-ASCII text, is printed as is.
"""

from __future__ import annotations

import sys
import unicodedata
from typing import TextIO

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
# Controls (C0, DEL, C1), lone surrogates, line/paragraph separators.
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cs", "Zl", "Zp"})
# Format characters that change the visual order of the text around them.
_BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)


def terminal_safe(text: str) -> str:
    """``text`` with every control, separator and bidi override shown as a visible escape."""
    return "".join(_escape(c) if _unsafe(c) else c for c in text)


def write_literal(text: str, stream: TextIO | None = None) -> None:
    """Write an export (CSV, Markdown, JSON) to a stream: byte-exact when redirected to a file or
    a pipe; on a terminal each line goes through ``terminal_safe`` (CSV's CRLF ends shown as
    plain line ends)."""
    out = stream or sys.stdout
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
