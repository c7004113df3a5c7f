"""Notes and names reach a terminal as text: control characters and bidi overrides are shown as
escapes on a terminal, and an export redirected to a file or a pipe stays byte-exact."""

from __future__ import annotations

import io

from robotrace_desktop.commands.terminal_text import terminal_safe, write_literal


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_controls_and_bidi_overrides_become_visible_escapes() -> None:
    assert terminal_safe("a\x1b[2Jb\x07\r\n\t\x7f\x9b") == r"a\x1b[2Jb\x07\r\n\t\x7f\x9b"
    assert terminal_safe("x\u202ey\u2066z\u2028") == r"x\u202ey\u2066z\u2028"
    assert (
        terminal_safe("Greifer schließt zu früh — 夹爪 👍") == "Greifer schließt zu früh — 夹爪 👍"
    )


def test_exports_are_exact_when_redirected_and_escaped_on_a_terminal() -> None:
    text = 'id,note\r\n1,"red \x1b[31mALERT"\r\n'
    piped = io.StringIO()
    write_literal(text, piped)
    assert piped.getvalue() == text
    terminal = Terminal()
    write_literal(text, terminal)
    assert terminal.getvalue() == 'id,note\n1,"red \\x1b[31mALERT"\n'
