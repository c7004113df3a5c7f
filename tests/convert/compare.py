"""Helpers for the import tests: the source episode and its bundle, side by side."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from robotrace_desktop.convert.to_bundle import ImportResult, import_episode
from robotrace_desktop.core.episode import EpisodeSource, StreamKind
from robotrace_desktop.episodes import ResolvedEpisode, resolve
from robotrace_desktop.readers.bundle.source import open_bundle


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """(size, mtime_ns) of every file and folder under ``root`` (the folder itself included):
    any file written, changed or added next to the recording shows up."""
    found: dict[str, tuple[int, int]] = {}
    for dirpath, dirs, files in os.walk(root):
        for name in [".", *dirs, *files]:
            path = Path(dirpath, name)
            st = path.stat()
            found[str(path.relative_to(root))] = (st.st_size, st.st_mtime_ns)
    return found


def do_import(argument: str, dest: Path, **options: bool) -> tuple[ResolvedEpisode, ImportResult]:
    resolved = resolve(argument, None)
    return resolved, import_episode(resolved.info, resolved.open, dest, **options)


def assert_signals_equal(src: EpisodeSource, dst: EpisodeSource, names: Iterable[str]) -> None:
    """read_signal on the bundle gives exactly what the source gives: names, times, values."""
    for name in names:
        a, b = src.read_signal(name), dst.read_signal(name)
        assert b.channels == a.channels, name
        assert b.t_ns.dtype == np.int64
        np.testing.assert_array_equal(b.t_ns, a.t_ns, err_msg=name)
        assert b.values.dtype == np.float64
        np.testing.assert_array_equal(b.values, a.values, err_msg=name)


def signal_names(source: EpisodeSource) -> list[str]:
    return [s.name for s in source.info.streams_of(StreamKind.SIGNAL)]


def assert_frames_equal(
    src: EpisodeSource, dst: EpisodeSource, camera: str, times: Iterable[int]
) -> int:
    """At each time the bundle shows the same frame index with the same pixels; returns how
    many times showed a frame."""
    a, b = src.video(camera), dst.video(camera)
    np.testing.assert_array_equal(b.frame_times_ns(), a.frame_times_ns())
    shown = 0
    for t in times:
        index = a.frame_index_at(t)
        assert b.frame_index_at(t) == index, (camera, t)
        if index is not None:
            np.testing.assert_array_equal(b.frame(index).rgb, a.frame(index).rgb)
            shown += 1
    return shown


def open_pair(
    resolved: ResolvedEpisode, result: ImportResult
) -> tuple[EpisodeSource, EpisodeSource]:
    return resolved.open(), open_bundle(result.folder)
