"""Exact-seek latency of ContainerVideo and UI-thread stalls of the VideoPane, against plain PyAV
measured in the same run (issue 3, "Benchmarks").

Usage:
    python benchmarks/bench_seek.py [--frames 1800] [--av1-frames 600] [--trials 120]
                                    [--real PATH] [--skip-ui]

Per file (generated 640×480 H.264 GOP 60 with 3 B-frames; generated 640×480 AV1 GOP 60; the real
LeRobot AV1 file):
- floor: plain PyAV — container.seek(preceding keyframe pts, backward=True), decode forward until
  the target pts, to_ndarray("rgb24") of the target only; container kept open; measured with
  PyAV's default threading (SLICE) and with thread_type AUTO (frame+slice), the faster is the floor;
- naive: open the file and decode from the start until the target (fewer trials: it is slow);
- ContainerVideo.frame(i), cold: FrameCache(0) (nothing cached, every request decodes), the same
  random targets as the floor, run interleaved with the floor (target by target, rotating the
  order) so a noisy shared machine slows all methods alike; and "fresh cache": a new 512 MB
  FrameCache for every set of 30 seeks (frames decoded on the way may serve later seeks, as in
  the viewer);
- sequential: frame(i+1) after frame(i) vs a raw sequential decode, both including RGB conversion.
And the UI thread while scrubbing a VideoPane (offscreen): 200 set_time(scrubbing=True) at 120 Hz
(uniformly random targets, then a random-walk drag), gaps of a 1 ms QTimer heartbeat.

Targets: p95 exact seek ≤ 1.0× floor and ≤ 60 ms on 640×480 H.264; sequential step ≤ 1.2× raw
decode; UI thread never blocked > 50 ms. Nothing here asserts; it prints figures.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from robotrace_desktop.video.cache import FrameCache  # noqa: E402
from robotrace_desktop.video.container import ContainerVideo  # noqa: E402

REAL_AV1 = (
    REPO.parent / "shared/data/lerobot/g1_pick_bottle_v21/videos/chunk-000/"
    "observation.images.cam_high/episode_000001.mp4"
)


# --- inputs ------------------------------------------------------------------------------------


def _frames(n: int, width: int, height: int) -> np.ndarray:
    """Moving, textured content: the encoder has to predict across frames."""
    y, x = np.mgrid[0:height, 0:width]
    for k in range(n):
        plane = ((x + 3 * k) ^ (y + k)) & 0xFF
        yield np.stack([plane, (plane * 2) & 0xFF, 255 - plane], axis=2).astype(np.uint8)


def generate(path: Path, codec: str, n: int, gop: int, width: int = 640, height: int = 480) -> Path:
    if codec == "libx264":
        options = {
            "preset": "veryfast",
            "x264-params": f"bframes=3:keyint={gop}:min-keyint={gop}:scenecut=0",
        }
    else:
        options = {"preset": "12", "svtav1-params": f"keyint={gop}"}
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=30, options=options)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.codec_context.time_base = Fraction(1, 30)
        for k, rgb in enumerate(_frames(n, width, height)):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts = k
            frame.time_base = Fraction(1, 30)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def frame_table(path: Path) -> tuple[list[int], list[int]]:
    """(pts of every frame in presentation order, pts of keyframes) from one demux pass."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        rows = [(p.pts, bool(p.is_keyframe)) for p in container.demux(stream) if p.size]
    pts = sorted(p for p, _ in rows)
    keys = sorted(p for p, k in rows if k)
    return pts, keys


# --- statistics ---------------------------------------------------------------------------------


def ms(samples: list[float]) -> tuple[float, float]:
    """(median, p95) in milliseconds."""
    data = sorted(samples)
    p95 = data[min(len(data) - 1, round(0.95 * (len(data) - 1)))]
    return statistics.median(data) * 1e3, p95 * 1e3


def fmt(label: str, samples: list[float]) -> str:
    median, p95 = ms(samples)
    return f"   {label:<44} p50 {median:7.2f} ms   p95 {p95:7.2f} ms   (n={len(samples)})"


# --- measurements ------------------------------------------------------------------------------


class Floor:
    """Plain PyAV exact seek: seek to the preceding keyframe (backward=True), decode forward
    until the target pts, convert only the target to RGB. The container stays open."""

    def __init__(self, path: Path, thread_type: str | None) -> None:
        self.pts, self.keys = frame_table(path)
        self.container = av.open(str(path))
        self.stream = self.container.streams.video[0]
        if thread_type:
            self.stream.codec_context.thread_type = thread_type

    def frame(self, i: int) -> np.ndarray:
        target = self.pts[i]
        key = self.keys[int(np.searchsorted(self.keys, target, side="right")) - 1]
        self.container.seek(key, stream=self.stream, backward=True)
        for frame in self.container.decode(self.stream):
            if frame.pts == target:
                return frame.to_ndarray(format="rgb24")
        raise RuntimeError(f"frame {i} not found")

    def close(self) -> None:
        self.container.close()


def interleaved_seeks(
    path: Path, targets: list[int]
) -> tuple[list[float], list[float], list[float]]:
    """(floor SLICE, floor AUTO, ContainerVideo no cache) per target, the three methods run in
    turn on every target (rotating who goes first) so that load changes on a shared machine
    hit all of them alike."""
    slice_floor, auto_floor = Floor(path, None), Floor(path, "AUTO")
    video = ContainerVideo(path, "cam", cache=FrameCache(0))
    video.frame(len(video) // 2)  # open the decoder: the viewer's is open already
    methods = [slice_floor.frame, auto_floor.frame, video.frame]
    out: list[list[float]] = [[], [], []]
    for k, i in enumerate(targets):
        for m in range(3):
            which = (m + k) % 3
            start = time.perf_counter()
            methods[which](i)
            out[which].append(time.perf_counter() - start)
    slice_floor.close()
    auto_floor.close()
    video.close()
    return out[0], out[1], out[2]


def naive_seeks(path: Path, targets: list[int]) -> list[float]:
    pts, _ = frame_table(path)
    out = []
    for i in targets:
        start = time.perf_counter()
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            stream.codec_context.thread_type = "AUTO"
            for frame in container.decode(stream):
                if frame.pts == pts[i]:
                    frame.to_ndarray(format="rgb24")
                    break
        out.append(time.perf_counter() - start)
    return out


def cached_seeks(path: Path, targets: list[int]) -> list[float]:
    """frame(i) with a fresh 512 MB cache (and source) for every set of 30 random seeks."""
    out = []
    video = None
    for k, i in enumerate(targets):
        if k % 30 == 0:
            if video is not None:
                video.close()
            video = ContainerVideo(path, "cam", cache=FrameCache(512 << 20))
            video.frame(len(video) // 2)
        assert video is not None
        start = time.perf_counter()
        video.frame(i)
        out.append(time.perf_counter() - start)
    if video is not None:
        video.close()
    return out


def raw_sequential(path: Path, count: int) -> list[float]:
    out = []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.codec_context.thread_type = "AUTO"
        frames = container.decode(stream)
        for _ in range(10):  # fill the frame-thread pipeline, like a player in steady state
            next(frames).to_ndarray(format="rgb24")
        for _ in range(count):
            start = time.perf_counter()
            try:
                frame = next(frames)
            except StopIteration:
                break
            frame.to_ndarray(format="rgb24")
            out.append(time.perf_counter() - start)
    return out


def container_sequential(path: Path, count: int) -> list[float]:
    out = []
    with ContainerVideo(path, "cam", cache=FrameCache(0)) as video:
        first = 0
        for i in range(first, first + 10):
            video.frame(i)
        for i in range(first + 10, min(len(video), first + 10 + count)):
            start = time.perf_counter()
            video.frame(i)
            out.append(time.perf_counter() - start)
    return out


def check_equal(path: Path, targets: list[int]) -> None:
    """Sanity: ContainerVideo's frame equals the floor's decode for a few targets."""
    pts, keys = frame_table(path)
    with av.open(str(path)) as container, ContainerVideo(path, "c", cache=FrameCache(0)) as video:
        stream = container.streams.video[0]
        for i in targets:
            key = keys[int(np.searchsorted(keys, pts[i], side="right")) - 1]
            container.seek(key, stream=stream, backward=True)
            rgb = next(f for f in container.decode(stream) if f.pts == pts[i]).to_ndarray(
                format="rgb24"
            )
            if not np.array_equal(rgb, video.frame(i).rgb):
                print(f"   !! frame {i}: ContainerVideo differs from the floor's decode")


def measure(path: Path, label: str, trials: int, naive_trials: int) -> dict[str, float]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        n = stream.frames or sum(1 for _ in container.demux(stream)) - 1
        size = f"{stream.codec_context.width}x{stream.codec_context.height}"
        codec = stream.codec_context.codec.name
    pts, keys = frame_table(path)
    n = len(pts)
    gop = n / max(1, len(keys))
    print(f"\n== {label}: {path.name} — {n} frames {size} {codec}, mean GOP {gop:.0f}")
    ContainerVideo(path, "cam", cache=FrameCache(0)).close()  # build the packet index once
    rng = random.Random(0)
    targets = [rng.randrange(n) for _ in range(trials)]
    check_equal(path, targets[:5])

    floor_slice, floor_auto, cold = interleaved_seeks(path, targets)
    floor = min(floor_slice, floor_auto, key=lambda s: ms(s)[1])
    warm = cached_seeks(path, targets)
    naive = naive_seeks(path, targets[:naive_trials])
    print(fmt("floor: PyAV seek+decode, SLICE threads", floor_slice))
    print(fmt("floor: PyAV seek+decode, AUTO threads", floor_auto))
    print(fmt("naive: decode from the start", naive))
    print(fmt("ContainerVideo.frame(i), no cache", cold))
    print(fmt("ContainerVideo.frame(i), fresh 512 MB cache", warm))
    seq_raw = raw_sequential(path, min(300, n - 20))
    seq_cv = container_sequential(path, min(300, n - 20))
    print(fmt("raw sequential decode + RGB, per frame", seq_raw))
    print(fmt("ContainerVideo step frame(i+1), per frame", seq_cv))
    result = {
        "seek_p95_ms": ms(cold)[1],
        "seek_vs_floor_p95": ms(cold)[1] / ms(floor)[1],
        "seek_vs_floor_p50": ms(cold)[0] / ms(floor)[0],
        "cached_vs_floor_p95": ms(warm)[1] / ms(floor)[1],
        "naive_vs_floor_p50": ms(naive)[0] / ms(floor)[0],
        "step_vs_raw": statistics.mean(seq_cv) / statistics.mean(seq_raw),
    }
    print(
        f"   ratios: seek p95 / floor p95 {result['seek_vs_floor_p95']:.2f}x "
        f"(p50 {result['seek_vs_floor_p50']:.2f}x; fresh-cache p95 "
        f"{result['cached_vs_floor_p95']:.2f}x); naive p50 / floor p50 "
        f"{result['naive_vs_floor_p50']:.1f}x; step / raw (mean) {result['step_vs_raw']:.2f}x"
    )
    return result


# --- the UI thread while scrubbing ----------------------------------------------------------------


def ui_scrub(path: Path, moves: int = 200, rate_hz: float = 120.0) -> None:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    print(f"\n== UI thread while scrubbing a VideoPane: {path.name}, {moves} moves at {rate_hz} Hz")
    for kind in ("uniform random", "random-walk drag"):
        scrub_once(app, path, kind, moves, rate_hz)


def scrub_once(app: object, path: Path, kind: str, moves: int, rate_hz: float) -> None:
    """One scrub burst on a fresh pane (fresh 512 MB cache): set_time(scrubbing=True) from a
    QTimer at ``rate_hz``, a 1 ms heartbeat QTimer measuring the UI thread's gaps."""
    from PySide6.QtCore import QCoreApplication, QTimer

    from robotrace_desktop.ui.video_pane import VideoPane

    assert isinstance(app, QCoreApplication)

    def wait(condition: Callable[[], bool], timeout: float = 60.0) -> None:
        end = time.perf_counter() + timeout
        while not condition():
            app.processEvents()
            if time.perf_counter() > end:
                raise TimeoutError("pane did not get there")
            time.sleep(0.0005)

    pane = VideoPane("cam", lambda: ContainerVideo(path, "cam", cache=FrameCache(512 << 20)))
    pane.resize(640, 480 + 22)
    pane.show()
    wait(pane.is_ready)
    times = pane.frame_times_ns()
    assert times is not None
    rng = np.random.default_rng(1)
    if kind == "uniform random":
        targets = rng.integers(0, int(times[-1]), moves).tolist()
    else:
        walk = np.cumsum(rng.normal(0, 0.2e9, moves)) + times[-1] / 2
        targets = np.clip(walk, 0, times[-1]).astype(np.int64).tolist()
    gaps: list[float] = []
    last = [time.perf_counter()]
    sent: list[int] = []
    shown = [0]

    def tick() -> None:
        now = time.perf_counter()
        gaps.append(now - last[0])
        last[0] = now

    def move() -> None:
        if len(sent) < len(targets):
            sent.append(targets[len(sent)])
            pane.set_time(sent[-1], scrubbing=True)

    def count(*_: object) -> None:
        shown[0] += 1

    heartbeat = QTimer()
    heartbeat.setInterval(1)
    heartbeat.timeout.connect(tick)
    driver = QTimer()
    driver.setInterval(round(1000 / rate_hz))
    driver.timeout.connect(move)
    pane.frameShown.connect(count)
    worker = pane._worker
    heartbeat.start()
    last[0] = time.perf_counter()
    driver.start()
    start = time.perf_counter()
    wait(lambda: len(sent) == len(targets))
    driver.stop()
    burst = time.perf_counter() - start
    end_burst = time.perf_counter()
    wait(pane.is_settled)
    settle = time.perf_counter() - end_burst
    # the drag stops on a frame nobody decoded yet: time until the exact frame is on screen
    info = pane._info
    assert info is not None and info.peek is not None
    peek = info.peek

    def cached(i: int) -> bool:
        near = peek(i)
        return near is not None and near.index == i

    uncached = next((i for i in rng.permutation(len(times)).tolist() if not cached(i)), None)
    cold_ms = float("nan")
    if uncached is not None:
        start = time.perf_counter()
        pane.set_time(int(times[uncached]), scrubbing=True)
        wait(pane.is_settled)
        cold_ms = (time.perf_counter() - start) * 1e3
    heartbeat.stop()
    served = worker.served if worker is not None else 0
    print(
        f"   {kind:<17} UI max gap {max(gaps) * 1e3:6.1f} ms, p99 "
        f"{np.percentile(gaps, 99) * 1e3:5.1f} ms; burst {burst:.2f} s; frames shown "
        f"{shown[0]}, worker decodes {served}; exact frame {settle * 1e3:.0f} ms after the "
        f"last move; a stop on an uncached frame settles in {cold_ms:.0f} ms"
    )
    pane.shutdown()
    pane.deleteLater()
    app.processEvents()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=1800)
    parser.add_argument("--av1-frames", type=int, default=600)
    parser.add_argument("--trials", type=int, default=120)
    parser.add_argument("--naive-trials", type=int, default=15)
    parser.add_argument("--real", type=Path, default=REAL_AV1)
    parser.add_argument("--skip-ui", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.setdefault("ROBOTRACE_HOME", str(Path(tmp) / "home"))
        work = Path(tmp)
        start = time.perf_counter()
        h264 = generate(work / "h264_gop60.mp4", "libx264", args.frames, 60)
        av1 = generate(work / "av1_gop60.mp4", "libsvtav1", args.av1_frames, 60)
        print(f"generated inputs in {time.perf_counter() - start:.1f} s")
        summary = {"H.264 640x480 GOP 60": measure(h264, "H.264", args.trials, args.naive_trials)}
        summary["AV1 640x480 GOP 60"] = measure(av1, "AV1", args.trials, args.naive_trials)
        if args.real.is_file():
            summary["real LeRobot AV1"] = measure(
                args.real, "real LeRobot AV1", args.trials, args.naive_trials
            )
        else:
            print(f"\n(real AV1 file not found at {args.real})")
        if not args.skip_ui:
            ui_scrub(h264)
        print("\n== summary (targets: seek p95 ≤ 1.0x floor and ≤ 60 ms on H.264; step ≤ 1.2x)")
        for name, r in summary.items():
            print(
                f"   {name:<22} seek p95 {r['seek_p95_ms']:6.1f} ms = "
                f"{r['seek_vs_floor_p95']:.2f}x floor; step {r['step_vs_raw']:.2f}x raw"
            )


if __name__ == "__main__":
    main()
