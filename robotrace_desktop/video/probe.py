"""Header facts about a video file (codec, size, rate, duration, frame count) for indexing:
only the container header is read — no demuxing, no decoding."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from robotrace_desktop.video.packet_index import open_container, ticks_to_ns, video_stream


@dataclass(frozen=True, slots=True)
class VideoProbe:
    """What the container header says about its first video stream (no decoding, no demux)."""

    path: Path
    codec: str  # canonical codec name: "h264", "hevc", "av1", "vp9", "mjpeg"...
    width: int
    height: int
    fps: float  # average frame rate; 0.0 when the header does not say
    duration_ns: int  # 0 when unknown
    frame_count: int | None  # None when the container does not store it (mkv, webm)
    pix_fmt: str | None


def probe_video(path: Path) -> VideoProbe:
    """Header facts for indexing. Raises RecordingError naming the file on a bad file."""
    path = Path(path)
    container = open_container(path)
    try:
        stream = video_stream(container, path)
        cc = stream.codec_context
        rate = stream.average_rate or stream.guessed_rate
        duration_ns = 0
        if stream.duration and stream.time_base:
            duration_ns = int(ticks_to_ns(np.array([stream.duration]), stream.time_base)[0])
        elif container.duration:
            duration_ns = int(container.duration) * 1000
        return VideoProbe(
            path=path,
            codec=cc.codec.canonical_name,
            width=int(cc.width or 0),
            height=int(cc.height or 0),
            fps=float(rate) if rate else 0.0,
            duration_ns=duration_ns,
            frame_count=int(stream.frames) if stream.frames else None,
            pix_fmt=cc.pix_fmt,
        )
    finally:
        container.close()
