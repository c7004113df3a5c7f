"""The opened episode as plain Python: what the viewer shows and what a person changed.

``EpisodeSession`` holds the state the episode view's panels share — per-stream clock offsets,
bookmarks, the playhead time and the plotted channels — and is the only path from the viewer to
the catalog for what a person authors: every setter writes through a catalog API first and
emits an ``Event`` only once the change is stored, so a widget never shows an offset or a
bookmark the catalog does not hold. An episode opened straight from disk (not scanned) has no
catalog rows: ``in_catalog`` is False and the authored-data setters refuse with a clear error.
"""

from __future__ import annotations

from typing import Any

from robotrace_desktop.catalog import bookmarks as bookmark_store
from robotrace_desktop.catalog.bookmarks import Bookmark
from robotrace_desktop.catalog.findings import findings_for, was_explained
from robotrace_desktop.catalog.guard import storage_errors
from robotrace_desktop.catalog.peers import history_line
from robotrace_desktop.catalog.store import Catalog, layout_key
from robotrace_desktop.core.episode import EpisodeInfo, StreamInfo
from robotrace_desktop.core.finding import Finding
from robotrace_desktop.errors import UsageError
from robotrace_desktop.session.events import Event

ChannelRef = tuple[str, str]  # (stream, channel)


def camera_problem(info: EpisodeInfo, stream: StreamInfo) -> str | None:
    """Why a camera cannot be shown (its video file is missing), else None: the reader's own
    problem line naming the file when there is one."""
    if not stream.details.get("missing"):
        return None
    file = str(stream.details.get("file") or "")
    for problem in info.problems:
        if file and file in problem:
            return problem
    return f"video for {stream.name} is missing" + (f": {file}" if file else "")


class EpisodeSession:
    """One open episode. Construct it, then ``load()`` to read what the catalog holds."""

    def __init__(self, catalog: Catalog, info: EpisodeInfo, *, in_catalog: bool = True) -> None:
        self.catalog = catalog
        self.info = info
        self.in_catalog = in_catalog
        self._offsets: dict[str, int] = {}
        self._bookmarks: list[Bookmark] = []
        self._time_ns = 0
        self._selection: list[ChannelRef] = []
        self._findings: list[Finding] = []
        self._explained = False
        # every stream with a stored offset, after a change
        self.offsets_changed: Event[dict[str, int]] = Event("offsets_changed")
        # the episode's bookmarks in time order, after an add, delete or note edit
        self.bookmarks_changed: Event[list[Bookmark]] = Event("bookmarks_changed")
        self.time_changed: Event[int] = Event("time_changed")  # the playhead, ns
        self.selection_changed: Event[list[ChannelRef]] = Event("selection_changed")
        # Explain's ranked findings, after a run stored them (or explained an unscanned file)
        self.findings_changed: Event[list[Finding]] = Event("findings_changed")
        # someone asked for Explain to run again; whoever runs it (the Explain panel's worker)
        # listens and reports back with ``set_findings``
        self.explain_requested: Event[None] = Event("explain_requested")

    @property
    def id(self) -> str:
        return self.info.id

    # --- reading ------------------------------------------------------------------------

    def load(self) -> EpisodeSession:
        """Read offsets and bookmarks (nothing for an episode not in the catalog); no events:
        a view built afterwards renders the state, it was not changed. Raises StorageError."""
        self.reload_offsets()
        self.reload_bookmarks()
        return self

    def reload_offsets(self) -> dict[str, int]:
        """What the catalog holds now (another process, the CLI, may have changed it).
        On error the offsets are empty and the StorageError is raised for the view to show."""
        self._offsets = {}
        if self.in_catalog:
            with storage_errors():
                self._offsets = self.catalog.stream_offsets(self.id)
        return self.offsets()

    def reload_bookmarks(self) -> list[Bookmark]:
        """Like ``reload_offsets``, for bookmarks."""
        self._bookmarks = []
        if self.in_catalog:
            with storage_errors():
                self._bookmarks = bookmark_store.list_bookmarks(self.catalog, self.id)
        return self.bookmarks()

    def offsets(self) -> dict[str, int]:
        """{stream: offset_ns} for every stream with a stored offset (a copy)."""
        return dict(self._offsets)

    def offset(self, stream: str) -> int:
        return self._offsets.get(stream, 0)

    def bookmarks(self) -> list[Bookmark]:
        return list(self._bookmarks)

    def time_ns(self) -> int:
        return self._time_ns

    def selection(self) -> list[ChannelRef]:
        return list(self._selection)

    # --- clock offsets ------------------------------------------------------------------

    def set_offset(self, stream: str, offset_ns: int) -> bool:
        """Store one stream's offset and emit ``offsets_changed``; False (no write, no event)
        when it is unchanged. Raises StorageError/UsageError with nothing changed."""
        offset_ns = int(offset_ns)
        if self._offsets.get(stream, 0) == offset_ns:
            return False
        self._require_catalog("clock offsets")
        with storage_errors():
            self.catalog.set_stream_offset(self.id, stream, offset_ns)
        self._offsets[stream] = offset_ns
        self.offsets_changed.emit(self.offsets())
        return True

    def reset_offsets(self) -> int:
        """Every stored offset back to 0; returns how many were shifted (0: no write, no
        event)."""
        changed = sum(1 for v in self._offsets.values() if v != 0)
        if not changed:
            return 0
        self._require_catalog("clock offsets")
        with storage_errors():
            self.catalog.reset_stream_offsets(self.id)  # journaled with the user's data
        self._offsets = dict.fromkeys(self._offsets, 0)
        self.offsets_changed.emit(self.offsets())
        return changed

    # --- bookmarks ----------------------------------------------------------------------

    def add_bookmark(self, t_ns: int, note: str = "", t_end_ns: int | None = None) -> Bookmark:
        """Store a bookmark (ValidationError names a bad field) and emit the new list."""
        self._require_catalog("bookmarks")
        with storage_errors():
            mark = bookmark_store.add_bookmark(self.catalog, self.id, int(t_ns), note, t_end_ns)
        self._bookmarks = sorted([*self._bookmarks, mark], key=lambda b: (b.t_ns, b.id))
        self.bookmarks_changed.emit(self.bookmarks())
        return mark

    def delete_bookmarks(self, bookmark_ids: list[int]) -> int:
        """Delete bookmarks; returns how many were still there. Emits once, even when a later
        delete fails after earlier ones were stored (then the error is raised afterwards)."""
        self._require_catalog("bookmarks")
        deleted = 0
        gone: set[int] = set()
        try:
            for bookmark_id in bookmark_ids:
                with storage_errors():
                    deleted += int(bookmark_store.delete_bookmark(self.catalog, bookmark_id))
                gone.add(bookmark_id)
        finally:
            if gone:
                self._bookmarks = [b for b in self._bookmarks if b.id not in gone]
                self.bookmarks_changed.emit(self.bookmarks())
        return deleted

    def update_bookmark_note(self, bookmark_id: int, note: str) -> Bookmark:
        """Replace a bookmark's note and emit the new list."""
        self._require_catalog("bookmarks")
        with storage_errors():
            updated = bookmark_store.update_note(self.catalog, bookmark_id, note)
        self._bookmarks = [updated if b.id == bookmark_id else b for b in self._bookmarks]
        self.bookmarks_changed.emit(self.bookmarks())
        return updated

    # --- what is on screen --------------------------------------------------------------

    def set_time(self, t_ns: int) -> None:
        """Move the playhead (clamped to the episode); emits when it moved."""
        t_ns = min(max(int(t_ns), 0), max(int(self.info.duration_ns), 0))
        if t_ns != self._time_ns:
            self._time_ns = t_ns
            self.time_changed.emit(t_ns)

    def set_selection(self, channels: list[ChannelRef]) -> None:
        """The plotted channels, in order; emits when they changed."""
        selection = [(str(s), str(c)) for s, c in channels]
        if selection != self._selection:
            self._selection = selection
            self.selection_changed.emit(self.selection())

    # --- Explain -------------------------------------------------------------------------

    def load_findings(self) -> list[Finding]:
        """The stored findings, best first, and whether Explain ever ran on this episode (an
        empty list then means "nothing unusual", not "not explained yet"). No event."""
        self._findings, self._explained = [], False
        if self.in_catalog:
            with storage_errors():
                self._findings = findings_for(self.catalog, self.id)
                self._explained = bool(self._findings) or was_explained(self.catalog, self.id)
        return self.findings()

    def findings(self) -> list[Finding]:
        return list(self._findings)

    def history(self) -> tuple[int, str]:
        """How many other episodes Explain compares this one with, and the sentence saying so
        (``catalog.peers.history_line``); (0, "") for an episode opened from disk."""
        if not self.in_catalog:
            return 0, ""
        with storage_errors():
            return history_line(self.catalog, self.info)

    def explained(self) -> bool:
        return self._explained

    def request_explain(self) -> None:
        """Ask for a fresh Explain run (the Re-run button, a menu, a script)."""
        self.explain_requested.emit(None)

    def set_findings(self, findings: list[Finding]) -> None:
        """A finished run's findings — already stored by the run, which writes from its own
        thread and catalog connection (an Explain run reads the whole recording: never on
        the UI thread). Emits ``findings_changed``."""
        self._findings, self._explained = list(findings), True
        self.findings_changed.emit(self.findings())

    # --- the view's layout --------------------------------------------------------------

    def saved_layout(self) -> dict[str, Any]:
        """What the view saved for this recording last time ({} if nothing). Kept for episodes
        opened from disk too: the key is the recording, not a catalog row."""
        with storage_errors():
            return self.catalog.layout(layout_key(self.info)) or {}

    def save_layout(self, layout: dict[str, Any]) -> None:
        """Remember the view's layout (channels, splitter sizes…); raises StorageError."""
        with storage_errors():
            self.catalog.save_layout(layout_key(self.info), layout)

    def _require_catalog(self, what: str) -> None:
        if not self.in_catalog:
            raise UsageError(
                f"{self.info.name or self.id} was opened from disk: scan it "
                f"(robotrace-desktop scan PATH) to keep {what} in the catalog"
            )
