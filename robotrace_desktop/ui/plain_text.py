"""Showing recorded and user text literally.

Qt renders a tooltip (and an AutoText label) as rich text as soon as it *looks* like HTML. Names,
notes, topics and channel names come from recordings and teammates, so ``<u>x`` in a joint name
would be underlined and ``<img src=…>`` would load a local file. Every tooltip built from such
text goes through :func:`literal_tip`.
"""

from __future__ import annotations

from PySide6.QtGui import Qt


def literal_tip(text: str) -> str:
    """``text`` as a tooltip that shows it character for character (line breaks kept)."""
    if not text or not Qt.mightBeRichText(text):
        return text
    return Qt.convertFromPlainText(text, Qt.WhiteSpaceMode.WhiteSpaceNormal)


def literal_mnemonic(text: str) -> str:
    """``text`` for a tab, menu item or button: a single ``&`` there marks a keyboard shortcut
    and is hidden ("pick & place" would show as "pick _place")."""
    return text.replace("&", "&&")


def literal_format(text: str) -> str:
    """``text`` for pyqtgraph's InfLineLabel, which runs ``str.format`` on its text: a note
    holding ``{joint}`` would raise inside a paint."""
    return text.replace("{", "{{").replace("}", "}}")
