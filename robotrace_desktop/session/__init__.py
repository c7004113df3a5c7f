"""Qt-free state of what the viewer has open: an episode (``EpisodeSession``).

Widgets render a session and subscribe to its plain-Python events; they never write to the
catalog themselves (the napari pattern of ``DESIGN.md``). No Qt here: import-linter forbids it.
"""

from robotrace_desktop.session.episode import EpisodeSession
from robotrace_desktop.session.events import Event

__all__ = ["EpisodeSession", "Event"]
