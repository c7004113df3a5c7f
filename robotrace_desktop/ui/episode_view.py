"""One opened episode: reproducibility header, camera grid, plots, one timeline, bookmarks.

Layout: the side panel (Explain, Streams, Bookmarks…) takes the right edge at full height; the
left column holds the cameras above the plots — or only the plots when the episode has no
camera, so a bag of joint states gets the whole window for its signals.

The view owns the TimelineController; every pane only listens to it. Decoding and stream
loading happen in the panes' workers, each with its own EpisodeSource (``ResolvedEpisode.open``).
What a person authors (clock offsets, bookmarks) and the plotted channels live in a Qt-free
``EpisodeSession``; the panels write through it and the view follows its events.

Opening fills in progressively (issue 16): the cameras are asked for the frame at the start
time as they are created; the plots are held (nothing built, nothing read, pyqtgraph not even
imported) until every camera shows its frame or ``PLOTS_AFTER_MS`` passes, then load the span
on screen first; Explain, which reads the recording once more, starts when the plots are in.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QLabel,
    QPlainTextEdit,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from robotrace_desktop.catalog.store import Catalog
from robotrace_desktop.core import colors
from robotrace_desktop.core.channels import default_selection
from robotrace_desktop.core.episode import StreamInfo, StreamKind
from robotrace_desktop.core.finding import Finding
from robotrace_desktop.core.markers import Marker
from robotrace_desktop.core.signal_store import SignalStore
from robotrace_desktop.episodes import ResolvedEpisode
from robotrace_desktop.errors import RobotraceError
from robotrace_desktop.session.episode import EpisodeSession, camera_problem
from robotrace_desktop.ui.bookmarks_panel import BookmarksPanel
from robotrace_desktop.ui.explain_panel import ExplainPanel, finding_refs
from robotrace_desktop.ui.offsets_editor import OffsetsEditor
from robotrace_desktop.ui.plots import PlotPanel
from robotrace_desktop.ui.repro_header import ReproHeader
from robotrace_desktop.ui.stream_tree import StreamTree
from robotrace_desktop.ui.timeline import (
    TimelineController,
    TransportBar,
    install_transport_keys,
)
from robotrace_desktop.ui.tracing_card import TracingCard
from robotrace_desktop.ui.video_grid import VideoGrid
from robotrace_desktop.ui.video_pane import VideoPane
from robotrace_desktop.video.owned import camera_opener

log = logging.getLogger(__name__)
PLOTS_AFTER_MS = 1500  # the plots wait at most this long for the cameras' first frames
BOOKMARK_COLOR = colors.BOOKMARK
SIDE_SHARE = 0.27  # of the window width, at least what the side tabs need to show whole
# (key, EpisodeView method, what it does): the view's keys besides the transport's
VIEW_KEYS: tuple[tuple[str, str, str], ...] = (
    ("B", "add_bookmark_prompt", "bookmark the playhead (with a note and an optional range)"),
)


class EpisodeView(QWidget):
    statusMessage = Signal(str)

    def __init__(
        self,
        resolved: ResolvedEpisode,
        catalog: Catalog,
        parent: QWidget | None = None,
        *,
        start_ns: int | None = None,
    ) -> None:
        super().__init__(parent)
        self.resolved = resolved
        self.info = info = resolved.info
        self.catalog = catalog
        self.session = EpisodeSession(catalog, info, in_catalog=resolved.in_catalog)
        try:
            self.session.load()
        except RobotraceError as exc:  # the panels say so where the user looks; the view opens
            log.warning("could not read the catalog's offsets/bookmarks: %s", exc)
        self.offsets = self.session.offsets()
        self.timeline = TimelineController(info.duration_ns, self)

        self.header = ReproHeader(info, self)
        self.grid = VideoGrid(self)
        self.panes: dict[str, VideoPane] = {}
        for stream in info.streams_of(StreamKind.VIDEO):
            self._add_camera(stream)
        self.store = SignalStore(resolved.open, info)
        self.store.set_offsets(self.offsets)
        self.plots = PlotPanel(self.store, self)
        self.plots.set_offsets(self.offsets)
        self.plots.hold()  # released by _release_plots: frames first
        self.tree = StreamTree(info, self)
        self.transport = TransportBar(self.timeline, self)
        self.transport.set_cameras(list(self.panes))

        self.side = QTabWidget(self)
        # Explain first: "why did it fail" is the question the view is opened for
        self.explain = ExplainPanel(self.session, self, resolved=resolved, defer_run=True)
        self.side.addTab(self.explain, "Explain")
        self.side.addTab(self.tree, "Streams")
        self.bookmarks: BookmarksPanel | None = None
        self.offsets_editor: OffsetsEditor | None = None
        if resolved.in_catalog:
            self.bookmarks = BookmarksPanel(self.session, self)
            self.side.addTab(self.bookmarks, "Bookmarks")
            self.offsets_editor = OffsetsEditor(self.session, self)
            index = self.side.addTab(self.offsets_editor, "Offsets")
            self.side.setTabToolTip(index, "Clock offsets per stream")
        else:
            note = QLabel(
                "Opened directly from disk.\nScan it (robotrace-desktop scan PATH) to keep\n"
                "bookmarks and clock offsets in the catalog.",
                self,
            )
            note.setAlignment(Qt.AlignmentFlag.AlignCenter)
            self.side.addTab(note, "Bookmarks")
        self.problems = QPlainTextEdit(self)
        self.problems.setReadOnly(True)
        self.problems.setPlainText("\n".join(info.problems) or "No problems found.")
        self.side.addTab(self.problems, f"Problems ({len(info.problems)})")
        # tabs show whole: never elided to "Probler", never behind scroll arrows
        self.side.tabBar().setElideMode(Qt.TextElideMode.ElideNone)
        self.side.setMinimumWidth(self.side.tabBar().sizeHint().width() + 4)

        # left column: cameras above plots (plots alone without a camera); side panel right
        self.left = QSplitter(Qt.Orientation.Vertical, self)
        self.left.setChildrenCollapsible(False)
        if self.panes:
            self.left.addWidget(self.grid)
        else:
            self.grid.hide()
        self.left.addWidget(self.plots)
        self.main = QSplitter(Qt.Orientation.Horizontal, self)
        self.main.setChildrenCollapsible(False)
        self.main.addWidget(self.left)
        self.main.addWidget(self.side)
        self.main.setStretchFactor(0, 1)
        self.main.setStretchFactor(1, 0)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.header)
        self.tracing = TracingCard.for_info(info, self)  # None without metadata["otel"]
        if self.tracing is not None:
            layout.addWidget(self.tracing)
        layout.addWidget(self.main, 1)
        layout.addWidget(self.transport)

        self._wire()
        self._shortcuts()
        self._restore_layout()
        self._refresh_markers()
        self.timeline.set_time(start_ns if start_ns is not None else 0)
        # a screenshot renders and closes: it turns this off so no Explain run starts that
        # closing the view would then have to wait for
        self.explain_when_loaded = True
        self._plots_timer = QTimer(self)
        self._plots_timer.setSingleShot(True)
        self._plots_timer.timeout.connect(self._release_plots)
        waiting = any(p.problem() is None for p in self.panes.values())  # a camera to wait for
        self._plots_timer.start(PLOTS_AFTER_MS if waiting else 0)

    # --- filling in progressively -------------------------------------------------------

    def _frames_in(self, *_: object) -> None:
        panes = self.panes.values()
        if self.plots.is_held() and all(p.problem() is not None or p.is_settled() for p in panes):
            self._plots_timer.stop()
            QTimer.singleShot(0, self, self._release_plots)  # after this frame is painted

    def _release_plots(self) -> None:
        # Builds the plots, importing pyqtgraph on first use (0.3 s quiet): on this thread, as
        # its import walks PySide6's enums, which crashed when done on another thread while
        # the UI thread painted (measured: 1 run in 10, SIGSEGV).
        if self.plots.is_held():
            self.plots.release()

    def _plots_loaded(self) -> None:
        if not self.plots.is_held() and self.explain_when_loaded:
            self.explain.start_pending()

    # --- construction helpers -----------------------------------------------------------

    def _add_camera(self, stream: StreamInfo) -> None:
        problem = camera_problem(self.info, stream)
        opener = None if problem else camera_opener(self.resolved.open, stream.name)
        pane = VideoPane(
            stream.name, opener, offset_ns=self.offsets.get(stream.name, 0), problem=problem
        )
        pane.ready.connect(self._camera_ready)
        pane.frameShown.connect(self._frames_in)
        pane.noFrame.connect(self._frames_in)
        pane.failed.connect(self._frames_in)
        self.panes[stream.name] = pane
        self.grid.add_pane(pane)

    def _wire(self) -> None:
        self.timeline.timeChanged.connect(self._on_time)
        self.timeline.playingChanged.connect(self._on_playing)
        self.timeline.speedChanged.connect(self._on_playing)
        self.plots.timeClicked.connect(self._jump)
        self.plots.loaded.connect(self._plots_loaded)
        self.transport.set_range_provider(self.loop_span)
        self.tree.selectionChanged.connect(self._on_selection)
        self.transport.stepCameraChanged.connect(self._on_step_camera)
        if self.bookmarks is not None:
            self.bookmarks.jumpRequested.connect(self._jump)
            self.bookmarks.set_frame_png_provider(self._frame_png_for_report)
            self.bookmarks.set_time_provider(self.timeline.time_ns)
        self.session.offsets_changed.connect(self._on_offsets)
        self.session.bookmarks_changed.connect(self._refresh_markers)
        self.explain.findingActivated.connect(self.show_finding)
        self.explain.findingsChanged.connect(self._refresh_markers)

    def _shortcuts(self) -> None:
        extra = [(key, getattr(self, method), does) for key, method, does in VIEW_KEYS]
        self._shortcut_objects = install_transport_keys(self, self.timeline, extra)

    def shortcuts(self) -> list[tuple[str, str]]:
        """(key, what it does) of every key this view answers to — what Help lists."""
        return [(s.key().toString(), s.whatsThis()) for s in self._shortcut_objects]

    # --- reactions ----------------------------------------------------------------------

    def _jump(self, t_ns: int) -> None:
        self.timeline.set_time(t_ns)

    def loop_span(self) -> tuple[int, int] | None:
        """The selected bookmark's range when it has one, else the plots' visible span."""
        if self.bookmarks is not None:
            for mark in self.bookmarks.selected_bookmarks():
                if mark.t_end_ns is not None:
                    return mark.t_ns, mark.t_end_ns
        return self.plots.visible_range_ns()

    def _on_time(self, t_ns: int, scrubbing: bool) -> None:
        self.session.set_time(t_ns)
        for pane in self.panes.values():
            pane.set_time(t_ns, scrubbing=scrubbing)
        self.plots.set_time(t_ns)

    def _on_playing(self, *_: object) -> None:
        playing = self.timeline.is_playing()
        speed = self.timeline.playback.speed
        for pane in self.panes.values():
            pane.set_playing(playing, speed)

    def _on_selection(self, selection: list[tuple[str, str]]) -> None:
        self.plots.show_channels(selection)
        self.session.set_selection(self.plots.selection())
        self.save_layout()

    def _camera_ready(self) -> None:
        current = self.transport.camera.currentText()
        if current:
            self._on_step_camera(current)

    def _on_step_camera(self, name: str) -> None:
        pane = self.panes.get(name)
        self.timeline.set_step_times(None if pane is None else pane.frame_times_ns())

    def _on_offsets(self, offsets: dict[str, int]) -> None:
        self.offsets = dict(offsets)
        for name, pane in self.panes.items():
            pane.set_offset(self.offsets.get(name, 0))
        self.store.set_offsets(self.offsets)
        self.plots.set_offsets(self.offsets)
        self._on_step_camera(self.transport.camera.currentText())
        self.timeline.set_time(self.timeline.time_ns())

    def show_finding(self, finding: Finding) -> None:
        """Move the playhead to a finding's evidence, plot its channels (ticked in the stream
        tree), highlight them and fit their plots' y axes to the finding's span — so a small
        move (the demo gripper's 0.08 m close) is as visible as it is telling."""
        if finding.t_start_ns is not None:
            self.timeline.set_time(int(finding.t_start_ns))
        refs = finding_refs(self.info, finding.channels)
        if refs:
            shown = self.plots.selection()
            missing = [r for r in refs if r not in shown]
            if missing:
                selection = shown + missing
                self.tree.blockSignals(True)
                self.tree.set_selection(selection)
                self.tree.blockSignals(False)
                self.plots.show_channels(selection)
                self.session.set_selection(self.plots.selection())
        self.plots.highlight(refs)
        if refs and finding.t_start_ns is not None:
            end = finding.t_end_ns if finding.t_end_ns is not None else finding.t_start_ns
            self.plots.focus(refs, int(finding.t_start_ns), int(end))
        self.statusMessage.emit(f"{finding.title}: {finding.explanation}")

    def _refresh_markers(self, *_: object) -> None:
        markers: list[Marker] = list(self.explain.markers())
        for b in self.session.bookmarks():
            markers.append(Marker(b.t_ns, b.note or "bookmark", BOOKMARK_COLOR, b.t_end_ns))
        self.plots.set_markers(markers)
        self.transport.strip.set_markers(markers)
        if self.bookmarks is not None:
            self.bookmarks.set_frame_times(self.frame_times())

    # --- public API ---------------------------------------------------------------------

    def frame_times(self) -> dict[str, object]:
        return {
            name: times
            for name, pane in self.panes.items()
            if (times := pane.frame_times_ns()) is not None
        }

    def settled(self) -> bool:
        """Every pane shows the exact frame for the playhead and every plot is drawn from data
        in memory over its visible span (zoomed in, the rest may still be loading)."""
        return all(p.is_settled() for p in self.panes.values()) and self.plots.visible_loaded()

    def add_bookmark_prompt(self) -> None:
        if self.bookmarks is None:
            self.statusMessage.emit("Scan this recording to keep bookmarks in the catalog")
            return
        self.bookmarks.prompt_and_add(self.timeline.time_ns())

    def export_frame_png(self, path: Path, camera: str | None = None) -> Path:
        name = camera or self.transport.camera.currentText() or next(iter(self.panes), "")
        pane = self.panes.get(name)
        image = None if pane is None else pane.current_image()
        if image is None or image.isNull():
            raise RobotraceError(f"no frame is shown for camera {name!r} at this time")
        path.parent.mkdir(parents=True, exist_ok=True)
        # PySide6 6.11 takes the format as str and rejects bytes, which its stub asks for
        if not image.save(str(path), "PNG"):  # type: ignore[call-overload]
            raise RobotraceError(f"{path}: could not write the PNG")
        return path

    def export_slice(self, path: Path, start_ns: int, end_ns: int, fmt: str | None = None) -> Path:
        from robotrace_desktop.slices import format_for, slice_table, write_table

        streams = sorted({stream for stream, _ in self.plots.selection()}) or None
        with self.resolved.open() as source:
            table = slice_table(
                source,
                self.info,
                streams,
                start_ns=start_ns,
                stop_ns=end_ns,
                offsets=self.offsets,
            )
        return write_table(table, path, format_for(path, fmt))

    def _frame_png_for_report(self, t_ns: int) -> Path | None:
        from robotrace_desktop import paths

        if not self.panes:
            return None
        target = paths.cache_dir() / "bug_reports" / f"{self.info.id}_{t_ns}.png"
        try:
            return self.export_frame_png(target)
        except RobotraceError:
            return None

    # --- layouts ------------------------------------------------------------------------

    def save_layout(self) -> None:
        layout = {
            "channels": [list(ref) for ref in self.plots.selection()],
            "columns": self.main.sizes(),
            "rows": self.left.sizes(),
            "step_camera": self.transport.camera.currentText(),
        }
        try:
            self.session.save_layout(layout)
        except RobotraceError as exc:  # a locked catalog must not break the view
            log.warning("could not save the layout: %s", exc)

    def _restore_layout(self) -> None:
        saved = self.session.saved_layout()
        known = {(s.name, c) for s in self.info.streams_of(StreamKind.SIGNAL) for c in s.channels}
        channels = [tuple(ref) for ref in saved.get("channels", []) if tuple(ref) in known]
        selection = channels or default_selection(self.info)
        self.tree.blockSignals(True)  # restoring is not a user change: no save, no double load
        self.tree.set_selection(selection)
        self.tree.blockSignals(False)
        self.plots.show_channels(selection)
        self.session.set_selection(self.plots.selection())
        # plots get a little more height than the (letterboxed) cameras; the side panel about
        # a quarter of the width
        rows = saved.get("rows")
        if self.panes:
            self.left.setSizes(rows if isinstance(rows, list) and len(rows) == 2 else [450, 550])
        columns = saved.get("columns")
        if isinstance(columns, list) and len(columns) == 2 and min(columns) > 0:
            self.main.setSizes(columns)
        else:
            self._default_columns()
        camera = saved.get("step_camera")
        if camera in self.panes:
            self.transport.camera.setCurrentText(camera)

    def _default_columns(self) -> None:
        total = max(self.width(), 1000)
        side = max(round(SIDE_SHARE * total), self.side.minimumWidth())
        self.main.setSizes([max(total - side, 1), side])

    def shutdown(self) -> None:
        self._plots_timer.stop()
        self.timeline.pause()
        self.explain.shutdown()
        self.save_layout()
        for pane in self.panes.values():
            pane.shutdown()
        self.plots.shutdown()
        self.store.close()
