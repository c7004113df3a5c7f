"""PyAV 19 (what pip installs on Python 3.13) dropped ``av.open(metadata_errors=...)``: videos
must still open there (a fresh 3.13 install showed "no camera streams" for the demo)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import av
import pytest

from robotrace_desktop.errors import CorruptRecordingError
from robotrace_desktop.readers.bundle.reader import BundleReader
from robotrace_desktop.video import packet_index
from tests.demo_cache import demo_copy


def test_videos_open_without_metadata_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_open = av.open
    calls: list[dict[str, Any]] = []

    def av19_open(*args: Any, **kwargs: Any) -> Any:
        calls.append(kwargs)
        if "metadata_errors" in kwargs:
            raise TypeError("open() got an unexpected keyword argument 'metadata_errors'")
        return real_open(*args, **kwargs)

    monkeypatch.setattr(packet_index.av, "open", av19_open)
    bundle = demo_copy(tmp_path / "demo")
    with BundleReader().open(bundle) as episode:
        video = episode.video("front")
        frame = video.frame_at(3_900_000_000)
        assert frame is not None and frame.index == 117
        assert frame.rgb.shape == (240, 320, 3)
    assert any("metadata_errors" not in c for c in calls)
    damaged = tmp_path / "bad.mp4"
    damaged.write_bytes(b"\x00" * 4096)
    with pytest.raises(CorruptRecordingError, match=r"bad\.mp4"):
        packet_index.open_container(damaged)
