"""Video fixtures written with PyAV's real encoders: every frame paints its own index.

The index is drawn as a row-major grid of big black/white blocks (one bit each) on a moving
gradient, so it survives lossy compression; ``frame_number(rgb)`` reads it back. The moving
background gives encoders a reason to use B-frames / motion compensation. Reusable by other
test modules (bundle and LeRobot readers) — import from tests.video.video_fixtures.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

BLOCK = 16  # pixels per bit block: survives every codec here at default quality
BITS = 16  # frame numbers up to 65535


def _grid(width: int, height: int) -> tuple[int, int]:
    cols = width // BLOCK
    rows = height // BLOCK
    if cols * rows < BITS:
        raise ValueError(f"{width}x{height} too small for {BITS} bits of {BLOCK}px blocks")
    return cols, rows


def paint_index(k: int, width: int = 128, height: int = 96) -> np.ndarray:
    """An (H, W, 3) uint8 RGB image that encodes ``k`` in binary blocks."""
    cols, _ = _grid(width, height)
    y, x = np.mgrid[0:height, 0:width]
    background = ((x * 2 + y + k * 3) % 256).astype(np.uint8)
    image = np.stack([background, np.full_like(background, 90), 255 - background], axis=2)
    for bit in range(BITS):
        row, col = divmod(bit, cols)
        value = 255 if (k >> bit) & 1 else 0
        image[row * BLOCK : (row + 1) * BLOCK, col * BLOCK : (col + 1) * BLOCK] = value
    return image


def frame_number(rgb: np.ndarray) -> int:
    """Read back the index painted by ``paint_index`` (block centres, thresholded)."""
    height, width = rgb.shape[:2]
    cols, _ = _grid(width, height)
    value = 0
    half = BLOCK // 2
    for bit in range(BITS):
        row, col = divmod(bit, cols)
        patch = rgb[
            row * BLOCK + half - 3 : row * BLOCK + half + 3,
            col * BLOCK + half - 3 : col * BLOCK + half + 3,
        ]
        if float(patch.mean()) > 127:
            value |= 1 << bit
    return value


# codec name → (default container suffix, pixel format, encoder options)
CODECS: dict[str, tuple[str, str, dict[str, str]]] = {
    "libx264": (".mp4", "yuv420p", {"x264-params": "bframes=3:keyint=12:min-keyint=12"}),
    "libx264-open-gop": (
        ".mkv",
        "yuv420p",
        {"x264-params": "bframes=3:keyint=10:min-keyint=10:open-gop=1:scenecut=0"},
    ),
    "libx265": (
        ".mp4",
        "yuv420p",
        {"x265-params": "bframes=4:keyint=12:min-keyint=12:log-level=error", "preset": "ultrafast"},
    ),
    "libx265-open-gop": (
        ".mkv",
        "yuv420p",
        {
            "x265-params": "bframes=4:keyint=10:min-keyint=10:open-gop=1:scenecut=0"
            ":log-level=error",
            "preset": "ultrafast",
        },
    ),
    "libvpx-vp9": (
        ".webm",
        "yuv420p",
        {"deadline": "realtime", "cpu-used": "8", "auto-alt-ref": "1", "lag-in-frames": "16"},
    ),
    "libsvtav1": (".mp4", "yuv420p", {"preset": "12", "svtav1-params": "keyint=16"}),
    "mjpeg": (".avi", "yuvj420p", {}),
    "mpeg4": (".avi", "yuv420p", {"bf": "2"}),
}


def write_video(
    path: Path,
    codec: str = "libx264",
    n_frames: int = 60,
    *,
    width: int = 128,
    height: int = 96,
    fps: int = 30,
    pts: Sequence[int] | None = None,
    time_base: Fraction | None = None,
    gop: int | None = 12,
    container_options: dict[str, str] | None = None,
    first_index: int = 0,
) -> Path:
    """Encode ``n_frames`` painted frames (frame k shows ``first_index + k``).

    ``pts`` (in ``time_base`` units) writes explicit, possibly irregular, timestamps — a variable
    frame rate file; otherwise frame k gets pts k at time base 1/fps.
    """
    base = codec.removesuffix("-open-gop")
    _, pix_fmt, options = CODECS[codec]
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), mode="w", options=container_options or {}) as container:
        stream = container.add_stream(base, rate=fps, options=dict(options))
        stream.width, stream.height = width, height
        stream.pix_fmt = pix_fmt
        tb = time_base or Fraction(1, fps)
        stream.codec_context.time_base = tb
        stream.time_base = tb
        if gop is not None and base in ("mpeg4", "libvpx-vp9"):
            stream.codec_context.gop_size = gop
        for k in range(n_frames):
            frame = av.VideoFrame.from_ndarray(paint_index(first_index + k, width, height))
            frame.pts = k if pts is None else int(pts[k])
            frame.time_base = tb
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path


def sequential_decode(path: Path) -> tuple[list[int], list[np.ndarray]]:
    """Reference: a plain forward decode of the whole file — (pts list, RGB frames)."""
    pts: list[int] = []
    frames: list[np.ndarray] = []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        for frame in container.decode(stream):
            pts.append(frame.pts)
            frames.append(frame.to_ndarray(format="rgb24"))
    return pts, frames


def tolerant_decode(path: Path) -> dict[int, np.ndarray]:
    """Reference for damaged files: decode packet by packet like a player, skipping packets the
    decoder rejects; returns {pts: RGB} of every frame that came out."""
    out: dict[int, np.ndarray] = {}
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        packets = container.demux(stream)
        while True:
            try:
                packet = next(packets)
            except (StopIteration, av.FFmpegError):
                break
            if not packet.size:
                continue
            try:
                frames = stream.codec_context.decode(packet)
            except av.FFmpegError:
                continue
            for frame in frames:
                out[frame.pts] = frame.to_ndarray(format="rgb24")
        for frame in stream.codec_context.decode(None):
            out[frame.pts] = frame.to_ndarray(format="rgb24")
    return out


def packet_order(path: Path) -> tuple[list[int | None], list[int | None], list[bool]]:
    """(pts, dts, keyframe) of every non-empty packet in file (decode) order."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        rows = [(p.pts, p.dts, p.is_keyframe) for p in container.demux(stream) if p.size]
    return [r[0] for r in rows], [r[1] for r in rows], [bool(r[2]) for r in rows]


def truncate(path: Path, keep: float, out: Path) -> Path:
    """Copy of ``path`` keeping only the first ``keep`` share of its bytes."""
    data = path.read_bytes()
    out.write_bytes(data[: int(len(data) * keep)])
    return out
