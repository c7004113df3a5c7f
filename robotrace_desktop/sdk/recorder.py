"""``start_episode``'s handle: record an episode while it runs, then finalize it.

    with rt.start_episode(policy_version="v3", seed=7) as rec:
        rec.add_video("front.mp4")
        for step in loop:
            rec.log(t_ns, {"joint_states/position": q, "reward": r})
    print(rec.episode.url)

Channels. ``"stream/field"`` logs ``field`` into ``stream`` (the last '/' splits, so
``"/arm/joint_states/position"`` is field ``position`` of stream ``/arm/joint_states``); a
bare name goes to the default stream of its kind: ``sensors`` for ``log(..., kind="sensor")``
(the default), ``actions`` for ``kind="action"``. A value is a number (bools become 0/1) or a
1-D array whose length stays the same for that channel. A channel missing from a call is NaN in
that row. Times are int64 ns on the episode clock (t = 0 at ``start_episode``; ``now_ns()``
gives that clock, and ``log(None, ...)`` uses it); each stream's times must not go backwards.

Memory stays flat: samples are buffered per stream and written to a parquet part file every
``flush_rows`` rows (default 10,000) under ``<library>/.robotrace/tmp/rec-<id>-<pid>/``; at
``finalize`` the parts of a stream are joined into one parquet file (one part in memory at a
time) that is moved into the bundle.

Endings. Leaving the ``with`` block normally finalizes the episode as ready; an exception
finalizes it as failed — ``metadata["failure_reason"] = "Type: message"``, the traceback,
failure time = the last logged time (or ``now_ns()`` when nothing was logged), an ERROR event
at that time — and the exception propagates unchanged. ``finalize()`` may be called once,
explicitly; a second call raises ValidationError. A recorder that is garbage-collected (or
still open at interpreter exit) without being finalized logs a warning and leaves its
temporary folder, which the next client writing to that library removes once it is a day old.
"""

from __future__ import annotations

import logging
import numbers
import os
import shutil
import time
import traceback
import weakref
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal

from robotrace_desktop.bundle.writer import storage_error
from robotrace_desktop.errors import ValidationError
from robotrace_desktop.sdk.fields import (
    EpisodeFields,
    Outcome,
    check_outcome,
    check_success,
    metadata_dict,
)
from robotrace_desktop.sdk.ids import new_episode_id
from robotrace_desktop.sdk.inputs import (
    EPOCH_THRESHOLD_NS,
    ROLES,
    Inputs,
    apply_epoch_shift,
    check_unique_names,
    signal_inputs,
)
from robotrace_desktop.sdk.signal_input import SignalInput
from robotrace_desktop.sdk.store import temp_root
from robotrace_desktop.sdk.stream_buffer import StreamBuffer

if TYPE_CHECKING:
    from robotrace_desktop.core.episode import LogEvent
    from robotrace_desktop.sdk.client import Client
    from robotrace_desktop.sdk.episode import Episode
    from robotrace_desktop.sdk.video_input import VideoInput

log = logging.getLogger("robotrace_desktop.sdk")

DEFAULT_STREAMS = {"sensor": "sensors", "action": "actions"}
EVENTS_STREAM = "/log"
_TRACEBACK_CHARS = 8000


def _abandoned(folder: str) -> None:
    log.warning(
        "an episode recorder was never finalized; its data stays in %s and is removed after "
        "a day (call finalize() or use `with rt.start_episode(...)`)",
        folder,
    )


class Recorder:
    """An episode being recorded. Made by ``Client.start_episode`` / ``rt.start_episode``."""

    def __init__(
        self,
        client: Client,
        fields: EpisodeFields,
        *,
        fps: float | None = None,
        copy: bool = True,
        flush_rows: int = 10_000,
    ) -> None:
        if isinstance(flush_rows, bool) or not isinstance(flush_rows, int) or flush_rows < 1:
            raise ValidationError(f"flush_rows must be a positive integer, got {flush_rows!r}")
        self.id = new_episode_id()
        self._client = client
        self._fields = fields
        self._fps = fps
        self._copy = copy
        self._flush_rows = flush_rows
        self._start_mono = time.monotonic_ns()
        self._folder = temp_root(client.library) / f"rec-{self.id}-{os.getpid()}"
        try:
            self._folder.mkdir(parents=True)
        except OSError as exc:
            raise storage_error(exc, self._folder, "cannot start recording") from exc
        self._videos: list[VideoInput] = []
        self._signals: list[SignalInput] = []
        self._warnings: list[str] = []
        self._streams: dict[str, StreamBuffer] = {}
        self._routes: dict[tuple[str, str], tuple[StreamBuffer, str]] = {}
        self._last_t: int | None = None
        self._episode: Episode | None = None
        self._done = False
        self._finalizer = weakref.finalize(self, _abandoned, str(self._folder))

    # ------------------------------------------------------------------ state

    @property
    def url(self) -> str:
        """The episode's deep link (valid once it is finalized)."""
        from robotrace_desktop.core.links import EpisodeLink

        return EpisodeLink(self.id).url()

    @property
    def episode(self) -> Episode | None:
        """The logged Episode after finalize, else None."""
        return self._episode

    @property
    def finalized(self) -> bool:
        return self._done

    def now_ns(self) -> int:
        """Nanoseconds since ``start_episode`` (monotonic): the episode clock."""
        return time.monotonic_ns() - self._start_mono

    def _check_open(self) -> None:
        if self._done:
            raise ValidationError(f"episode {self.id} is already finalized")

    def _names(self) -> set[str]:
        names = {v.camera for v in self._videos} | {s.name for s in self._signals}
        return names | set(self._streams)

    # ------------------------------------------------------------------ files

    def add_video(
        self, path: str | os.PathLike[str], camera: str | None = None, *, t0_ns: int = 0
    ) -> None:
        """A camera's video; ``camera`` defaults to the file stem. ``t0_ns``: episode time of
        its first frame (0: the video starts with the episode)."""
        from robotrace_desktop.sdk.fields import integer
        from robotrace_desktop.sdk.video_input import check_video

        self._check_open()
        path = Path(path)
        name = path.stem if camera is None else camera
        if not isinstance(name, str) or not name.strip():
            raise ValidationError("add_video: camera must be a non-empty string")
        if name in self._names():
            raise ValidationError(f"add_video: stream name {name!r} is already used")
        start = integer(t0_ns, "t0_ns") or 0
        video, warnings = check_video(name, path, self._fps, t0_ns=start)
        self._videos.append(video)
        self._warnings += warnings

    def add_sensors(self, source: Any) -> None:
        """Sensor streams from files (npz / parquet / feather / HDF5) or an in-memory dict,
        as ``log_episode(sensors=...)`` takes them."""
        self._add(source, "sensor", "add_sensors")

    def add_actions(self, source: Any) -> None:
        """Action streams, as ``add_sensors``."""
        self._add(source, "action", "add_actions")

    def _add(self, source: Any, role: str, argument: str) -> None:
        self._check_open()
        streams = signal_inputs(source, role, argument)
        used = self._names()
        for stream in streams:
            if stream.name in used:
                raise ValidationError(f"{argument}: stream name {stream.name!r} is already used")
            used.add(stream.name)
        self._signals += streams

    # ------------------------------------------------------------------ samples

    def log(self, t_ns: int | None, values: Mapping[str, Any], *, kind: str = "sensor") -> None:
        """One sample per stream touched: ``values`` maps channels to numbers or 1-D arrays."""
        if self._done:
            self._check_open()
        if t_ns is None:
            t = self.now_ns()
        elif type(t_ns) is int:
            t = t_ns
        elif isinstance(t_ns, numbers.Integral) and not isinstance(t_ns, bool):
            t = int(t_ns)
        else:
            raise ValidationError(f"log: t_ns must be an integer of nanoseconds, got {t_ns!r}")
        if not isinstance(values, Mapping):
            raise ValidationError(f"log: values must be a dict, got {type(values).__name__}")
        routes = self._routes
        touched: dict[StreamBuffer, dict[str, Any]] = {}
        for channel, value in values.items():
            route = routes.get((channel, kind))
            if route is None:
                route = self._route(channel, kind)
            buffer, name = route
            row = touched.get(buffer)
            if row is None:
                row = touched[buffer] = {}
            row[name] = value
        for buffer, row in touched.items():
            buffer.append(t, row)
            if buffer.rows >= self._flush_rows:
                self._flush(buffer)
        if self._last_t is None or t > self._last_t:
            self._last_t = t

    def _route(self, channel: object, kind: str) -> tuple[StreamBuffer, str]:
        if kind not in ROLES:
            raise ValidationError(f"log: kind must be one of {', '.join(ROLES)}; got {kind!r}")
        if not isinstance(channel, str) or not channel.strip("/"):
            raise ValidationError(f"log: channel names must be non-empty strings, got {channel!r}")
        stream, _, name = channel.rpartition("/")
        stream = stream or DEFAULT_STREAMS[kind]
        if not name or name.startswith("_"):
            raise ValidationError(
                f"log: channel {channel!r} needs a field name after the last '/' that does "
                "not start with '_'"
            )
        buffer = self._streams.get(stream)
        if buffer is None:
            if stream in self._names():
                raise ValidationError(f"log: stream name {stream!r} is already used by a file")
            folder = self._folder / f"stream-{len(self._streams):03d}"
            buffer = self._streams[stream] = StreamBuffer(stream, kind, folder)
        elif buffer.role != kind:
            raise ValidationError(
                f"log: stream {stream!r} holds {buffer.role} values; log {kind} values into "
                "another stream"
            )
        self._routes[(channel, kind)] = (buffer, name)
        return buffer, name

    def _flush(self, buffer: StreamBuffer) -> None:
        try:
            buffer.flush()
            os.utime(self._folder)  # keeps a long recording from looking stale
        except OSError as exc:
            raise storage_error(exc, self._folder, "cannot buffer logged samples") from exc

    # ------------------------------------------------------------------ endings

    def finalize(
        self,
        *,
        status: str = "ready",
        failure_time_s: float | None = None,
        metadata: Mapping[str, Any] | None = None,
        duration_s: float | None = None,
        success: bool | None = None,
    ) -> Episode:
        """Write the episode into the library and return it (once). The arguments are checked
        first — a bad one raises and the recorder stays open; after that, any failure ends the
        recorder and removes its buffered data."""
        self._check_open()
        outcome = check_outcome(status, failure_time_s, duration_s)
        extra = metadata_dict(metadata)
        return self._finalize(outcome, extra, success=check_success(success))

    def _finalize(
        self,
        outcome: Outcome,
        extra: dict[str, Any],
        *,
        success: bool | None = None,
        events: list[LogEvent] | None = None,
    ) -> Episode:
        self._done = True
        self._finalizer.detach()
        try:
            logged = [s for s in (b.finish() for b in self._streams.values()) if s is not None]
            inputs = Inputs(
                videos=list(self._videos),
                signals=[*logged, *self._signals],
                warnings=list(self._warnings),
            )
            check_unique_names(inputs)
            apply_epoch_shift(inputs)
            shift = inputs.start_time_ns
            if shift is not None and outcome.failure_time_ns is not None:
                if outcome.failure_time_ns >= EPOCH_THRESHOLD_NS:
                    outcome = replace(outcome, failure_time_ns=outcome.failure_time_ns - shift)
                if events:
                    events = [replace(e, t_ns=e.t_ns - shift) for e in events]
            fields = replace(self._fields, metadata={**self._fields.metadata, **extra})
            if success is not None:
                fields = replace(fields, success=success)
            if shift is not None:
                fields = replace(fields, start_time_ns=shift)
            names = {s.name for s in inputs.signals} | {v.camera for v in inputs.videos}
            if events and EVENTS_STREAM in names:
                events = None
            self._episode = self._client.commit(
                fields, outcome, inputs, copy=self._copy, events=events or (), episode_id=self.id
            )
            return self._episode
        finally:
            shutil.rmtree(self._folder, ignore_errors=True)

    def __enter__(self) -> Recorder:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> Literal[False]:
        if self._done:
            return False
        if exc is None:
            self.finalize()
            return False
        self._finalize_failed(exc)
        return False  # the exception propagates

    def _finalize_failed(self, exc: BaseException) -> None:
        from robotrace_desktop.core.episode import LogEvent

        text = str(exc)
        reason = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
        at = self._last_t if self._last_t is not None else self.now_ns()
        at = max(0, at)
        trace = "".join(traceback.format_exception(exc))[-_TRACEBACK_CHARS:]
        extra = {"failure_reason": reason, "traceback": trace}
        try:
            self._finalize(
                Outcome("failed", at, None),
                extra,
                events=[LogEvent(at, "ERROR", reason, "robotrace.start_episode")],
            )
        except Exception as err:  # the user's exception matters more; never mask it
            log.error("could not save the failed episode %s: %s", self.id, err)
            exc.add_note(f"RoboTrace could not save this failed episode: {err}")

    def __repr__(self) -> str:
        state = "finalized" if self._done else "recording"
        return f"<Recorder {self.id} {state}, streams: {', '.join(self._names()) or 'none'}>"
