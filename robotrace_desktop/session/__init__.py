"""Qt-free state of what the viewer has open: an episode (``EpisodeSession``) or two runs
side by side (``ComparisonSession``).

Widgets render a session and subscribe to its plain-Python events; they never write to the
catalog themselves (the napari pattern of ``DESIGN.md``). No Qt here: import-linter forbids it.
"""

from robotrace_desktop.session.comparison import Alignment, ComparedRun, ComparisonSession
from robotrace_desktop.session.episode import EpisodeSession
from robotrace_desktop.session.events import Event

__all__ = ["Alignment", "ComparedRun", "ComparisonSession", "EpisodeSession", "Event"]
