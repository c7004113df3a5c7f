"""What an analyzer reports, as the analyzers name it: ``Finding`` and how a finding names a
channel (``channel_ref``).

``Finding`` itself is defined in ``core.finding`` — the catalog stores findings and may not
import Explain — and re-exported here because it is the analyzers' vocabulary: a cause module
imports everything it reports from this one module.
"""

from __future__ import annotations

from robotrace_desktop.core.finding import SEVERITIES, Finding

__all__ = ["SEVERITIES", "Finding", "channel_ref"]


def channel_ref(stream: str, channel: str | None = None) -> str:
    """How findings name channels: ``/joint_states/effort/joint_3`` or just the stream."""
    return stream if channel is None else f"{stream}/{channel}"
