"""Frame-exact access to one camera stored in a video container (mp4/mkv/avi/webm), via PyAV.

``frame(i)`` returns exactly the pixels a sequential decode of the file produces for frame i
(presentation order): decode starts at the keyframe chosen by the packet index (see
packet_index.py for the rule — decode order, open-GOP aware), frames are recognised by their pts
as they come out of the decoder, and a landing the container seeks imprecisely to is detected
(the first packet after the seek must be that keyframe or an earlier one) and repaired by seeking
further back or decoding from the start. Stepping forward (i+1 after i) continues the open
decoder instead of seeking.

Thread safety: one lock per open container serialises decoding; the frame cache has its own lock,
so ``nearest_cached`` and cache hits in ``frame`` never wait for a decode in progress.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable, Iterator
from itertools import chain
from pathlib import Path

import av
import numpy as np

from robotrace_desktop.errors import (
    CorruptRecordingError,
    FrameIndexError,
    RecordingError,
    source_guard,
)
from robotrace_desktop.video.cache import FrameCache, default_cache
from robotrace_desktop.video.frames import FrameSource, VideoFrame
from robotrace_desktop.video.packet_index import (
    PacketIndex,
    file_key,
    load_index,
    open_container,
    video_stream,
)
from robotrace_desktop.video.probe import VideoProbe, probe_video

# Clip bounds often come from float seconds (LeRobot v3 from/to_timestamp); a frame within this
# much of a bound is treated as lying on it, so float rounding never drops or adds a frame.
CLIP_TOLERANCE_NS = 100_000
# Frames decoded on the way to a target (keyframe → target) are cached up to this share of the
# budget, the ones nearest the target first: they are what a scrub back will ask for.
_ON_THE_WAY_SHARE = 4
# Decoders that honour skip_frame=NONREF packet by packet (also with frame threads, which copy
# it from the user context at every packet). On the way to a target, non-reference frames shown
# before it are never needed for it: skipping them makes a cold seek ~25% cheaper than plain
# PyAV's seek-and-decode, with identical pixels (tests/video compare every frame). Reference
# frames on the way are still cached; decode_range (prefetch) skips nothing.
_SKIP_NONREF_CODECS = frozenset({"h264", "hevc"})


class _Pending:
    """A decoded frame still in its native pixel format (YUV): converting to RGB costs about
    as much as decoding, so frames decoded on the way are converted only if someone asks."""

    __slots__ = ("_frame", "_lock", "_rgb", "nbytes")

    def __init__(self, frame: av.VideoFrame) -> None:
        self._frame: av.VideoFrame | None = frame
        self._rgb: np.ndarray | None = None
        self._lock = threading.Lock()
        self.nbytes = sum(plane.buffer_size for plane in frame.planes)

    def rgb(self) -> np.ndarray:
        with self._lock:  # a frame's reformatter must not be used by two threads at once
            if self._rgb is None:
                assert self._frame is not None
                self._rgb = _to_rgb(self._frame)
                self._frame = None
            return self._rgb


def _to_rgb(frame: av.VideoFrame) -> np.ndarray:
    rgb = frame.to_ndarray(format="rgb24")
    rgb.flags.writeable = False  # shared through the cache: nobody may paint on it
    return rgb


class ContainerVideo(FrameSource):
    """One camera: the frames of ``path`` whose pts lies in [clip_start_ns, clip_end_ns).

    Episode time of a frame = pts_ns − clip_start_ns + offset_ns, or ``override_times_ns[i]``
    when given (one int64 per frame of the clip, presentation order).
    """

    def __init__(
        self,
        path: Path,
        name: str,
        *,
        clip_start_ns: int = 0,
        clip_end_ns: int | None = None,
        offset_ns: int = 0,
        override_times_ns: np.ndarray | None = None,
        cache: FrameCache | None = None,
    ) -> None:
        self.path = Path(path)
        self.name = name
        self._index: PacketIndex = load_index(self.path)
        self._source_key = file_key(self.path)
        self._cache = cache if cache is not None else default_cache()
        problems = list(self._index.problems)

        all_ns = self._index.frame_ns
        lo = int(np.searchsorted(all_ns, clip_start_ns - CLIP_TOLERANCE_NS, side="left"))
        hi = len(all_ns)
        if clip_end_ns is not None:
            hi = int(np.searchsorted(all_ns, clip_end_ns - CLIP_TOLERANCE_NS, side="left"))
        if hi <= lo:
            end = "the end" if clip_end_ns is None else f"{clip_end_ns / 1e9:.6f} s"
            raise CorruptRecordingError(
                self.path,
                f"no video frames between {clip_start_ns / 1e9:.6f} s and {end} "
                f"(the file has {len(all_ns)} frames, "
                f"{all_ns[0] / 1e9:.3f}–{all_ns[-1] / 1e9:.3f} s)",
            )
        origin = min(int(clip_start_ns), int(all_ns[lo]))
        times = all_ns[lo:hi] - origin + int(offset_ns)
        if override_times_ns is not None:
            override = np.asarray(override_times_ns, dtype=np.int64).reshape(-1)
            if len(override) != len(times):
                problems.append(
                    f"{self.path}: {len(override)} logged frame timestamps for {len(times)} "
                    f"video frames; only the first {min(len(override), len(times))} are shown"
                )
            n = min(len(override), len(times))
            if n == 0:
                raise CorruptRecordingError(self.path, "no logged frame timestamps")
            times = override[:n].copy()
            hi = lo + n
        if len(times) > 1 and bool(np.any(np.diff(times) < 0)):
            raise CorruptRecordingError(self.path, "frame timestamps are not in increasing order")
        times.flags.writeable = False
        self._times = times
        self._lo, self._hi = lo, hi
        self._nominal_ns: int | None = None
        self.problems: tuple[str, ...] = tuple(problems)

        self._lock = threading.RLock()
        self._container: av.container.InputContainer | None = None
        self._stream: av.video.VideoStream | None = None
        self._frames_iter: Iterator[tuple[int, av.VideoFrame]] | None = None
        self._run_start = -1  # decode position the current decoder run started at (-1: file start)
        self._fed_dec = -1  # decode position of the last packet given to the decoder
        self._last_out = -1  # file frame index of the last frame the decoder produced
        self._count_next = 0  # frame counting for files without timestamps
        self._decode_error: str | None = None
        self._safe_decoding = False
        self._converted = 0  # frames of [first, last] the last _decode_run turned into RGB
        self._undecodable: dict[int, str] = {}  # file frame → reason, so a retry fails fast
        self._dec_of_pts: dict[int, int] | None = None
        self._skip_below: int | None = None  # skip non-reference packets with pts below this
        self._skip_active = False
        self._frame_of_pts: dict[int, int] | None = None
        # How requests were served; tests check that stepping forward never seeks.
        self.stats = {"seeks": 0, "restarts": 0, "continued": 0, "decoded": 0}

    # --- FrameSource ---------------------------------------------------------------------------

    def frame_times_ns(self) -> np.ndarray:
        return self._times

    def __len__(self) -> int:
        return len(self._times)

    def nominal_frame_ns(self) -> int:
        if self._nominal_ns is None:
            self._nominal_ns = super().nominal_frame_ns()
        return self._nominal_ns

    @property
    def index(self) -> PacketIndex:
        """The file's packet index (all frames of the file, not only this clip)."""
        return self._index

    @property
    def file_frames(self) -> range:
        """File frame indices (presentation order) of this clip's frames 0..len-1."""
        return range(self._lo, self._hi)

    @source_guard("cannot decode frame")
    def frame(self, index: int) -> VideoFrame:
        fi = self._file_index(index)
        rgb = self._cached_rgb(fi)
        if rgb is None:
            with self._lock:
                rgb = self._cached_rgb(fi)
                if rgb is None:
                    rgb = self._decode(fi, fi)
        return VideoFrame(int(index), int(self._times[index]), rgb)

    def close(self) -> None:
        with self._lock:
            self._frames_iter = None
            if self._container is not None:
                self._container.close()
            self._container = None
            self._stream = None

    # --- viewer helpers ------------------------------------------------------------------------

    def decode_range(self, start: int, stop: int) -> int:
        """Decode frames [start, stop) forward into the cache as RGB (a prefetch while playing).

        Stops early when the run alone would fill half the cache budget. Returns the number of
        frames decoded (0 when all were cached already)."""
        start, stop = max(0, int(start)), min(len(self._times), int(stop))
        if start >= stop:
            return 0
        with self._lock:
            first = start
            # already cached: RGB, or YUV from an earlier run (converted here, not re-decoded)
            while first < stop and self._cached_rgb(self._lo + first) is not None:
                first += 1
            if first >= stop:
                return 0
            frame_bytes = max(1, self._frame_nbytes_estimate())
            limit = max(1, self._cache.budget_bytes // 2 // frame_bytes)
            last = min(stop - 1, first + limit - 1)
            self._decode(self._lo + first, self._lo + last, skip=False)
            return self._converted

    def prefetch(self, indices: Iterable[int]) -> int:
        """Decode the given frames into the cache, in runs of consecutive indices."""
        wanted = sorted({int(i) for i in indices if 0 <= int(i) < len(self._times)})
        decoded = 0
        run_start = None
        prev = None
        for i in [*wanted, None]:
            if i is not None and prev is not None and i == prev + 1:
                prev = i
                continue
            if run_start is not None and prev is not None:
                decoded += self.decode_range(run_start, prev + 1)
            run_start = prev = i
        return decoded

    def frame_size(self) -> tuple[int, int]:
        """(width, height) of the frames, from the stream parameters (no decoding) — a viewer
        sizes its pane before the first frame arrives."""
        with self._lock:
            context = self._ensure_open().codec_context
            return int(context.width or 0), int(context.height or 0)

    def is_cached(self, index: int) -> bool:
        return self._is_cached_file(self._file_index(index))

    def nearest_cached(self, index: int) -> VideoFrame | None:
        """The cached frame nearest to ``index`` (the earlier one on a tie), without decoding —
        for showing something at once while the exact frame is being decoded."""
        target = self._file_index(index)
        best: int | None = None
        for fi in self._cache.indices(self._source_key):
            if not self._lo <= fi < self._hi:
                continue
            if best is None or (abs(fi - target), fi > target) < (
                abs(best - target),
                best > target,
            ):
                best = fi
        if best is None:
            return None
        rgb = self._cached_rgb(best)
        if rgb is None:  # evicted meanwhile
            return None
        clip_index = best - self._lo
        return VideoFrame(clip_index, int(self._times[clip_index]), rgb)

    # --- internals -----------------------------------------------------------------------------

    def _file_index(self, index: int) -> int:
        if not 0 <= index < len(self._times):
            raise FrameIndexError(
                f"{self.path}: frame {index} out of range (video {self.name!r} has "
                f"{len(self._times)} frames)"
            )
        return self._lo + int(index)

    def _is_cached_file(self, fi: int) -> bool:
        return self._cache.peek((self._source_key, fi)) is not None

    def _cached_rgb(self, fi: int) -> np.ndarray | None:
        key = (self._source_key, fi)
        value = self._cache.get(key)
        if value is None:
            return None
        if isinstance(value, _Pending):
            rgb = value.rgb()
            self._cache.put(key, rgb, rgb.nbytes)
            return rgb
        assert isinstance(value, np.ndarray)
        return value

    def _frame_nbytes_estimate(self) -> int:
        stream = self._ensure_open()
        return int(stream.codec_context.width or 1) * int(stream.codec_context.height or 1) * 3

    def _decode(self, first: int, last: int, *, skip: bool = True) -> np.ndarray:
        """Run the decoder until file frames first..last have come out (RGB into the cache);
        returns frame ``first``. ``skip``: non-reference frames shown before ``first`` may be
        skipped (a seek for display); decode_range passes False so that everything on the way
        lands in the cache.

        When the frame does not come out (damaged data), switch this container to decoding
        without frame threads (they can silently drop good frames around a bad packet) and seek
        again; then try once from the start of the file; then raise a CorruptRecordingError
        naming the frame (remembered, so asking again fails fast)."""
        if first in self._undecodable:
            raise CorruptRecordingError(self.path, self._undecodable[first])
        for attempt in range(3):
            if attempt == 0 and self._can_continue(first):
                self.stats["continued"] += 1
            else:
                if attempt > 0 and not self._safe_decoding:
                    self._safe_decoding = True
                    self.close()
                self._start_for(first, from_start=attempt == 2)
            self._skip_below = self._skip_threshold(first) if skip else None
            result = self._decode_run(first, last)
            if result is not None:
                return result
        detail = f" ({self._decode_error})" if self._decode_error else ""
        clip_index = first - self._lo
        reason = (
            f"frame {clip_index} of video {self.name!r} "
            f"(t={int(self._times[clip_index]) / 1e9:.6f} s) could not be decoded: "
            f"the video data is truncated or corrupt{detail}"
        )
        self._undecodable[first] = reason
        raise CorruptRecordingError(self.path, reason)

    def _decode_run(self, first: int, last: int) -> np.ndarray | None:
        frames = self._frames_iter
        if frames is None:
            return None
        budget = self._cache.budget_bytes // _ON_THE_WAY_SHARE
        self._converted = 0
        behind: deque[tuple[int, _Pending]] = deque()
        behind_bytes = 0
        result: np.ndarray | None = None
        seek_dec = self._index.seek_dec
        for fi, av_frame in frames:
            if seek_dec[fi] < self._run_start:
                continue  # a leading frame of the keyframe we started at: not exact, never kept
            if fi < first:
                if not self._is_cached_file(fi):
                    pending = _Pending(av_frame)
                    behind.append((fi, pending))
                    behind_bytes += pending.nbytes
                    while behind and behind_bytes > budget:
                        behind_bytes -= behind.popleft()[1].nbytes
                continue
            if result is None and fi > first:
                break  # the decoder skipped the frame we want
            for bfi, pending in behind:
                self._cache.put((self._source_key, bfi), pending, pending.nbytes)
            behind.clear()
            key = (self._source_key, fi)
            rgb = self._cache.peek(key)
            if not isinstance(rgb, np.ndarray):  # not cached yet, or cached as YUV
                rgb = _to_rgb(av_frame)
                self._cache.put(key, rgb, rgb.nbytes)
                self._converted += 1
            if fi == first:
                result = rgb
            if fi >= last:
                return result
        else:
            self._frames_iter = None  # decoder drained: the next request starts a new run
        return result

    def _skip_threshold(self, first: int) -> int | None:
        """pts below which non-reference frames may be skipped (they are shown before ``first``
        and nothing at or after ``first`` refers to them); None: decode everything."""
        stream = self._stream
        if (
            stream is None
            or self._safe_decoding  # damaged data: decode plainly, like a player
            or self._index.synthetic
            or stream.codec_context.name not in _SKIP_NONREF_CODECS
        ):
            return None
        return int(self._index.frame_pts[first])

    def _can_continue(self, target: int) -> bool:
        if self._frames_iter is None or target <= self._last_out:
            return False
        if self._index.synthetic:
            return True
        seek = int(self._index.seek_dec[target])
        return seek >= self._run_start and seek <= self._fed_dec + 1

    def _ensure_open(self) -> av.video.VideoStream:
        if self._container is None or self._stream is None:
            self._container = open_container(self.path)
            self._stream = video_stream(self._container, self.path)
            # frame+slice threads: bit-exact and much faster for H.264/HEVC; dropped after a
            # decode error because frame threads can lose good frames around a damaged packet
            self._stream.codec_context.thread_type = "SLICE" if self._safe_decoding else "AUTO"
            self._skip_active = False
        return self._stream

    def _start_for(self, target: int, *, from_start: bool = False) -> None:
        """Position the demuxer so the decoder can produce ``target`` exactly."""
        index = self._index
        keyframe = int(index.seek_dec[target])
        self._decode_error = None
        if from_start or index.synthetic or keyframe < 0:
            self._restart()
            return
        stream = self._ensure_open()
        assert self._container is not None
        usable = index.key_dec & ~index.corrupt_dec
        keys = np.flatnonzero(usable[: keyframe + 1])[::-1][:3]  # this one, two earlier
        for candidate in keys:
            for ts in dict.fromkeys((int(index.pts_dec[candidate]), int(index.dts_dec[candidate]))):
                try:
                    self._container.seek(ts, stream=stream, backward=True, any_frame=False)
                    packets = self._container.demux(stream)
                    first = next(p for p in packets if p.size > 0)
                except (av.FFmpegError, StopIteration, OSError):
                    continue
                landed = self._dec_pos(first)
                if landed is not None and landed <= keyframe and bool(usable[landed]):
                    self.stats["seeks"] += 1
                    self._begin(chain([first], packets), landed)
                    return
        self._restart()  # the container seeks imprecisely here: decode from the start

    def _restart(self) -> None:
        """Reopen the file and decode from its first packet (always exact, possibly slow)."""
        if self._container is not None:
            self._container.close()
        self._container = None
        self.stats["restarts"] += 1
        stream = self._ensure_open()
        assert self._container is not None
        self._begin(self._container.demux(stream), -1)

    def _begin(self, packets: Iterator[av.Packet], start_dec: int) -> None:
        self._run_start = start_dec
        self._fed_dec = start_dec - 1 if start_dec >= 0 else -1
        self._last_out = -1
        self._count_next = 0
        self._frames_iter = self._run(packets)

    def _run(self, packets: Iterator[av.Packet]) -> Iterator[tuple[int, av.VideoFrame]]:
        """Feed packets to the decoder; yield (file frame index, frame) in output order."""
        assert self._stream is not None
        codec = self._stream.codec_context
        while True:
            try:
                packet = next(packets)
            except StopIteration:
                break
            except (av.FFmpegError, OSError) as exc:
                self._decode_error = f"read error: {exc}"
                break
            if packet.size == 0:
                continue
            dec = self._dec_pos(packet)
            if dec is not None:
                self._fed_dec = dec
            skip = self._skip_below is not None and (
                packet.pts is not None and packet.pts < self._skip_below
            )
            if skip != self._skip_active:
                codec.skip_frame = "NONREF" if skip else "DEFAULT"
                self._skip_active = skip
            try:
                decoded = codec.decode(packet)
            except av.FFmpegError as exc:
                self._decode_error = f"decode error: {exc}"
                continue
            yield from self._identified(decoded)
        try:
            decoded = codec.decode(None)
        except av.FFmpegError as exc:
            self._decode_error = f"decode error: {exc}"
            decoded = []
        yield from self._identified(decoded)

    def _identified(self, decoded: list[av.VideoFrame]) -> Iterator[tuple[int, av.VideoFrame]]:
        for av_frame in decoded:
            fi = self._identify(av_frame)
            if fi is None:
                continue
            self._last_out = fi
            self.stats["decoded"] += 1
            yield fi, av_frame

    def _identify(self, av_frame: av.VideoFrame) -> int | None:
        index = self._index
        if index.synthetic:
            fi = self._count_next
            self._count_next += 1
            return fi if fi < index.frame_count else None
        if self._frame_of_pts is None:
            self._frame_of_pts = {}
            for i, p in enumerate(index.frame_pts.tolist()):
                self._frame_of_pts.setdefault(p, i)
        pts = av_frame.pts if av_frame.pts is not None else av_frame.dts
        if pts is None:
            return None
        found = self._frame_of_pts.get(int(pts))
        if found is None:
            return None
        following = self._last_out + 1
        # duplicate pts in the file: the next frame in presentation order carries it too
        if (
            found <= self._last_out
            and following < index.frame_count
            and int(index.frame_pts[following]) == int(pts)
        ):
            return following
        return found

    def _dec_pos(self, packet: av.Packet) -> int | None:
        if self._dec_of_pts is None:
            pts = self._index.pts_dec.tolist()
            self._dec_of_pts = {p: d for d, p in reversed(list(enumerate(pts)))}
        ts = packet.pts if packet.pts is not None else packet.dts
        return None if ts is None else self._dec_of_pts.get(int(ts))


__all__ = ["CLIP_TOLERANCE_NS", "ContainerVideo", "RecordingError", "VideoProbe", "probe_video"]
