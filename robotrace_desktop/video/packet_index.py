"""Packet/keyframe index of a video stream: built once per file by demuxing (no decoding), then
persisted in RoboTrace's cache folder so the next open of a large file reads a small .npz.

What the index records, per packet of the first video stream, in DECODE (file) order:
pts, dts, keyframe flag, size, byte position and the demuxer's discard flag. Empty/flush packets
are dropped. Frames are the non-discarded packets sorted by pts: that is presentation order,
the order a sequential decode outputs them in.

Timestamp rule (documented because every format is different):

1. A packet with a pts uses it.
2. A packet without pts but with dts uses its dts (right for streams without frame reordering,
   e.g. MJPEG in AVI, which is where this happens in practice).
3. If any packet has neither, the whole stream is timed by frame counting: frame k (in decode
   order) gets ``k / average_rate``, and the index is marked ``synthetic`` — seeking is then
   unreliable, so the decoder always runs forward from the start for such files.

Seek rule: to show frame i one must start decoding at a keyframe whose decode position is ≤ the
decode position of every packet frame i depends on. With B-frames presentation order ≠ decode
order, so the keyframe is chosen in decode order: the latest keyframe at or before frame i's
packet in decode order. Open-GOP streams (HEVC CRA, x264 open-gop, VP9/AV1 hidden frames) can have
"leading" frames that follow a keyframe in decode order but precede it in presentation and
reference the previous GOP; for those (pts < keyframe pts) the previous keyframe is taken.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from robotrace_desktop import paths
from robotrace_desktop.core.timebase import NS_PER_S as _NS
from robotrace_desktop.errors import CorruptRecordingError, RecordingError

INDEX_VERSION = 3


@dataclass(frozen=True)
class PacketIndex:
    """Immutable per-file index. Arrays named ``*_dec`` are in decode order (one per packet);
    the others are in presentation order (one per frame)."""

    time_base: Fraction
    pts_dec: np.ndarray  # int64, effective pts (after the fallback rule) per packet
    dts_dec: np.ndarray  # int64, dts per packet (pts when the file has none)
    key_dec: np.ndarray  # bool
    size_dec: np.ndarray  # int64
    pos_dec: np.ndarray  # int64 byte position, -1 unknown
    discard_dec: np.ndarray  # bool: demuxer says "decode but do not show"
    corrupt_dec: np.ndarray  # bool: damaged/partial packet (a cut file): never shown or seeked to
    synthetic: bool  # timestamps made up by frame counting (rule 3)
    header_frames: int  # frame count the container header claims, 0 if it says nothing
    header_duration_ns: int  # duration the header claims, 0 if unknown
    problems: tuple[str, ...] = ()
    # derived, presentation order
    frame_dec: np.ndarray = field(init=False, repr=False)  # decode position of frame i
    frame_pts: np.ndarray = field(init=False, repr=False)  # pts of frame i (time_base units)
    frame_ns: np.ndarray = field(init=False, repr=False)  # pts of frame i in ns
    seek_dec: np.ndarray = field(
        init=False, repr=False
    )  # keyframe decode pos for frame i, -1: start

    def __post_init__(self) -> None:
        shown = np.flatnonzero(~self.discard_dec & ~self.corrupt_dec)
        order = shown[np.argsort(self.pts_dec[shown], kind="stable")]
        frame_pts = self.pts_dec[order]
        object.__setattr__(self, "frame_dec", order.astype(np.int64))
        object.__setattr__(self, "frame_pts", frame_pts)
        object.__setattr__(self, "frame_ns", ticks_to_ns(frame_pts, self.time_base))
        object.__setattr__(self, "seek_dec", self._seek_positions())

    def _seek_positions(self) -> np.ndarray:
        keys = np.flatnonzero(self.key_dec & ~self.corrupt_dec)
        if len(keys) == 0:
            return np.full(len(self.frame_dec), -1, dtype=np.int64)
        slot = np.searchsorted(keys, self.frame_dec, side="right") - 1
        # Leading (open-GOP) frames: keyframe shown after the frame → go one keyframe back.
        while True:
            valid = slot >= 0
            bad = np.zeros(len(slot), dtype=bool)
            bad[valid] = self.pts_dec[keys[slot[valid]]] > self.frame_pts[valid]
            if not bad.any():
                break
            slot[bad] -= 1
        # -1: no usable keyframe before the frame (a stream not starting on one) → from the start
        return np.where(slot >= 0, keys[np.maximum(slot, 0)], -1).astype(np.int64)

    @property
    def frame_count(self) -> int:
        return len(self.frame_dec)

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {
            "version": np.array(INDEX_VERSION, dtype=np.int64),
            "time_base": np.array(
                [self.time_base.numerator, self.time_base.denominator], dtype=np.int64
            ),
            "pts_dec": self.pts_dec,
            "dts_dec": self.dts_dec,
            "key_dec": self.key_dec,
            "size_dec": self.size_dec,
            "pos_dec": self.pos_dec,
            "discard_dec": self.discard_dec,
            "corrupt_dec": self.corrupt_dec,
            "synthetic": np.array(self.synthetic),
            "header_frames": np.array(self.header_frames, dtype=np.int64),
            "header_duration_ns": np.array(self.header_duration_ns, dtype=np.int64),
            "problems": np.array(self.problems, dtype=np.str_),
        }

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> PacketIndex:
        if int(arrays["version"]) != INDEX_VERSION:
            raise ValueError("index version mismatch")
        num, den = (int(v) for v in arrays["time_base"])
        n = len(arrays["pts_dec"])
        cols = ("dts_dec", "key_dec", "size_dec", "pos_dec", "discard_dec", "corrupt_dec")
        if n == 0 or any(len(arrays[c]) != n for c in cols):
            raise ValueError("inconsistent index arrays")
        return cls(
            time_base=Fraction(num, den),
            pts_dec=arrays["pts_dec"].astype(np.int64),
            dts_dec=arrays["dts_dec"].astype(np.int64),
            key_dec=arrays["key_dec"].astype(bool),
            size_dec=arrays["size_dec"].astype(np.int64),
            pos_dec=arrays["pos_dec"].astype(np.int64),
            discard_dec=arrays["discard_dec"].astype(bool),
            corrupt_dec=arrays["corrupt_dec"].astype(bool),
            synthetic=bool(arrays["synthetic"]),
            header_frames=int(arrays["header_frames"]),
            header_duration_ns=int(arrays["header_duration_ns"]),
            problems=tuple(str(p) for p in arrays["problems"].reshape(-1)),
        )


def ticks_to_ns(ticks: np.ndarray, time_base: Fraction) -> np.ndarray:
    """Exact int64 nanoseconds (rounded half up) of timestamps in ``time_base`` units."""
    ticks = np.asarray(ticks, dtype=np.int64)
    num, den = time_base.numerator, time_base.denominator
    scale = num * _NS
    if den * scale < 2**62 and (len(ticks) == 0 or int(np.abs(ticks).max()) < 2**62 // scale):
        q, r = np.divmod(ticks, den)
        return q * scale + (r * scale + den // 2) // den
    return np.array([(int(t) * scale * 2 + den) // (2 * den) for t in ticks], dtype=np.int64)


def check_video_file(path: Path) -> None:
    """Missing or empty file → RecordingError naming it (before handing it to FFmpeg)."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise RecordingError(path, "video file is missing") from None
    except OSError as exc:
        raise RecordingError(path, f"video file is unreadable: {exc.strerror or exc}") from None
    if not path.is_file():
        raise RecordingError(path, "video path is not a file")
    if size == 0:
        raise CorruptRecordingError(path, "video file is empty (0 bytes)")


def open_container(path: Path) -> av.container.InputContainer:
    """av.open with failures turned into CorruptRecordingError naming the file."""
    check_video_file(path)
    try:
        try:
            return av.open(str(path), mode="r", metadata_errors="ignore")
        except TypeError:  # PyAV >= 19 dropped metadata_errors (pip picks it on Python 3.13)
            return av.open(str(path), mode="r")
    except (av.FFmpegError, OSError, ValueError, UnicodeDecodeError) as exc:
        raise CorruptRecordingError(path, f"cannot open video ({_reason(exc)})") from exc


def video_stream(container: av.container.InputContainer, path: Path) -> av.video.VideoStream:
    if not container.streams.video:
        kinds = ", ".join(s.type for s in container.streams) or "none"
        raise RecordingError(path, f"no video stream in file (streams: {kinds})")
    return container.streams.video[0]


def _reason(exc: BaseException) -> str:
    if isinstance(exc, av.FFmpegError) and exc.strerror:
        return str(exc.strerror).rstrip(".")
    return str(exc) or type(exc).__name__


def effective_timestamps(
    pts: list[int | None], dts: list[int | None], ticks_per_frame: Fraction
) -> tuple[list[int], list[int], bool]:
    """The timestamp rule of the module docstring: (pts, dts, synthetic) with no gaps left."""
    if any(p is None and d is None for p, d in zip(pts, dts, strict=True)):
        # Rule 3: no timestamps at all for some packet — count frames at the average rate.
        counted = [int(k * ticks_per_frame + Fraction(1, 2)) for k in range(len(pts))]
        return counted, list(counted), True
    eff_pts = [p if p is not None else d for p, d in zip(pts, dts, strict=True)]
    eff_dts = [d if d is not None else p for p, d in zip(pts, dts, strict=True)]
    return eff_pts, eff_dts, False  # type: ignore[return-value]


def build_index(path: Path) -> PacketIndex:
    """Demux the first video stream once (no decoding) and build its index."""
    container = open_container(path)
    try:
        stream = video_stream(container, path)
        return _demux_index(path, container, stream)
    finally:
        container.close()


def _demux_index(
    path: Path, container: av.container.InputContainer, stream: av.video.VideoStream
) -> PacketIndex:
    pts: list[int | None] = []
    dts: list[int | None] = []
    key: list[bool] = []
    size: list[int] = []
    pos: list[int] = []
    discard: list[bool] = []
    corrupt: list[bool] = []
    problems: list[str] = []
    try:
        for packet in container.demux(stream):
            if packet.size == 0:
                continue  # flush packet at the end of demux, or an empty placeholder
            pts.append(packet.pts)
            dts.append(packet.dts)
            key.append(bool(packet.is_keyframe))
            size.append(packet.size)
            pos.append(-1 if packet.pos is None else packet.pos)
            discard.append(bool(packet.is_discard))
            corrupt.append(bool(packet.is_corrupt))
    except (av.FFmpegError, OSError) as exc:
        if not pts:
            raise CorruptRecordingError(
                path, f"cannot read video packets ({_reason(exc)})"
            ) from exc
        problems.append(
            f"{path}: video data unreadable after {len(pts)} packets ({_reason(exc)}); "
            "the frames before it are shown"
        )
    if not pts:
        raise CorruptRecordingError(path, "video stream has no frames")

    time_base = stream.time_base or Fraction(1, 90_000)
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate or Fraction(30)
    eff_pts, eff_dts, synthetic = effective_timestamps(
        pts, dts, Fraction(1) / (Fraction(rate) * Fraction(time_base))
    )

    header_frames = int(stream.frames or 0)
    header_duration_ns = 0
    if stream.duration:
        header_duration_ns = int(ticks_to_ns(np.array([stream.duration]), time_base)[0])
    elif container.duration and len(container.streams) == 1:
        # only the container's total is known; with audio too it may outlast the video
        header_duration_ns = int(container.duration) * 1000  # AV_TIME_BASE is µs

    index = PacketIndex(
        time_base=Fraction(time_base),
        pts_dec=np.array(eff_pts, dtype=np.int64),
        dts_dec=np.array(eff_dts, dtype=np.int64),
        key_dec=np.array(key, dtype=bool),
        size_dec=np.array(size, dtype=np.int64),
        pos_dec=np.array(pos, dtype=np.int64),
        discard_dec=np.array(discard, dtype=bool),
        corrupt_dec=np.array(corrupt, dtype=bool),
        synthetic=synthetic,
        header_frames=header_frames,
        header_duration_ns=header_duration_ns,
        problems=tuple(problems),
    )
    truncation = _truncation_problem(path, index)
    if truncation and not problems:
        index = _with_problems(index, (truncation,))
    damaged = int(index.corrupt_dec.sum())
    if damaged and not truncation:
        index = _with_problems(
            index,
            (f"{path}: {damaged} damaged video packet(s) skipped; those frames are not shown",),
        )
    if index.frame_count == 0:
        raise CorruptRecordingError(path, "video stream has no displayable frames")
    return index


def _truncation_problem(path: Path, index: PacketIndex) -> str | None:
    """A header that promises more than the file holds means the file was cut short."""
    n = index.frame_count
    if index.header_frames and n < index.header_frames:
        return f"{path}: video file is truncated: {n} of {index.header_frames} frames readable"
    if index.header_duration_ns and n >= 2:
        step = int(np.median(np.diff(index.frame_ns))) or 1
        end = int(index.frame_ns[-1] - index.frame_ns[0]) + step
        if end + 3 * step < index.header_duration_ns:
            return (
                f"{path}: video file is truncated: frames cover {end / _NS:.3f} s "
                f"of the {index.header_duration_ns / _NS:.3f} s the header states"
            )
    return None


def _with_problems(index: PacketIndex, problems: tuple[str, ...]) -> PacketIndex:
    return PacketIndex(
        time_base=index.time_base,
        pts_dec=index.pts_dec,
        dts_dec=index.dts_dec,
        key_dec=index.key_dec,
        size_dec=index.size_dec,
        pos_dec=index.pos_dec,
        discard_dec=index.discard_dec,
        corrupt_dec=index.corrupt_dec,
        synthetic=index.synthetic,
        header_frames=index.header_frames,
        header_duration_ns=index.header_duration_ns,
        problems=index.problems + problems,
    )


# --- persistence ------------------------------------------------------------------------------


def file_key(path: Path) -> str:
    """sha256 of resolved path + size + mtime_ns: changes whenever the file does."""
    resolved = path.resolve()
    st = resolved.stat()
    text = f"{resolved}\0{st.st_size}\0{st.st_mtime_ns}\0v{INDEX_VERSION}"
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()


def index_cache_path(path: Path) -> Path:
    return paths.cache_dir() / "video_index" / f"{file_key(path)}.npz"


_MEMO_SIZE = 64
_memo: OrderedDict[str, PacketIndex] = OrderedDict()
_memo_lock = threading.Lock()


def load_index(path: Path) -> PacketIndex:
    """The index of ``path``: from memory (LeRobot v3 opens many episodes of one file), else from
    the cache folder when a valid file exists there, else built by demuxing and saved there.
    A corrupt or stale cache file is ignored and rebuilt."""
    check_video_file(path)
    key = file_key(path)
    with _memo_lock:
        if key in _memo:
            _memo.move_to_end(key)
            return _memo[key]
    cache_file = paths.cache_dir() / "video_index" / f"{key}.npz"
    index: PacketIndex | None = None
    if cache_file.is_file():
        try:
            with np.load(cache_file, allow_pickle=False) as data:
                index = PacketIndex.from_arrays({k: data[k] for k in data.files})
        except Exception:  # any damage to our own cache file means "rebuild"
            index = None
    if index is None:
        index = build_index(path)
        _save(cache_file, index)
    with _memo_lock:
        _memo[key] = index
        while len(_memo) > _MEMO_SIZE:
            _memo.popitem(last=False)
    return index


def forget_memo() -> None:
    """Drop the in-process index memo (tests; the on-disk cache stays)."""
    with _memo_lock:
        _memo.clear()


def _save(cache_file: Path, index: PacketIndex) -> None:
    """Atomic write; a cache that cannot be written is not an error (the index still works)."""
    try:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache_file.with_name(f"{cache_file.stem}.{os.getpid()}.tmp.npz")
        # numeric arrays only: an object array must fail here, never be pickled into the cache
        np.savez(tmp, allow_pickle=False, **index.to_arrays())
        os.replace(tmp, cache_file)
    except OSError:
        pass
