"""Exact-seek latency of ContainerVideo against a plain sequential decode, measured in one run.

Usage:
    python benchmarks/bench_video.py [--frames 3000] [--size 640x480] [--keyint 60] [--real PATH]

Figures (medians, milliseconds):
- baseline: a plain PyAV sequential decode per frame (decode only, and decode + RGB conversion);
- random exact seek: frame(i) cold (no cache, random i);
- sequential step: frame(i+1) right after frame(i) (open decoder continues, no cache);
- scrub: frame_at(t) while a simulated playhead jitters back and forth (default 512 MB cache);
- prefetch: decode_range per frame (what the viewer's worker does while playing).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
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


def generate(path: Path, frames: int, width: int, height: int, keyint: int) -> Path:
    """H.264 with B-frames; moving content so the encoder really predicts across frames."""
    y, x = np.mgrid[0:height, 0:width]
    with av.open(str(path), "w") as container:
        stream = container.add_stream(
            "libx264",
            rate=30,
            options={"preset": "veryfast", "x264-params": f"bframes=3:keyint={keyint}"},
        )
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for k in range(frames):
            plane = ((x + 3 * k) ^ (y + k)) & 0xFF
            rgb = np.stack([plane, (plane * 2) & 0xFF, 255 - plane], axis=2).astype(np.uint8)
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts = k
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path


def baseline(path: Path) -> tuple[float, float, int]:
    """Per-frame ms of a sequential decode (decode only; decode + rgb24)."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.codec_context.thread_type = "AUTO"
        start = time.perf_counter()
        n = sum(1 for _ in container.decode(stream))
        decode_only = (time.perf_counter() - start) / n * 1e3
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.codec_context.thread_type = "AUTO"
        start = time.perf_counter()
        for frame in container.decode(stream):
            frame.to_ndarray(format="rgb24")
        with_rgb = (time.perf_counter() - start) / n * 1e3
    return decode_only, with_rgb, n


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1e3


def measure(path: Path, label: str, trials: int) -> None:
    print(f"\n== {label}: {path.name} ({path.stat().st_size / 1e6:.1f} MB)")
    base_decode, base_rgb, n = baseline(path)
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        size = f"{stream.codec_context.width}x{stream.codec_context.height}"
        print(f"   {n} frames {size} {stream.codec_context.codec.canonical_name}")
    print(f"   baseline sequential decode        {base_decode:7.2f} ms/frame")
    print(f"   baseline sequential decode + RGB  {base_rgb:7.2f} ms/frame")

    start = time.perf_counter()
    video = ContainerVideo(path, "cam", cache=FrameCache(0))
    print(f"   open (index built, {n} packets)    {(time.perf_counter() - start) * 1e3:7.1f} ms")
    start = time.perf_counter()
    ContainerVideo(path, "cam", cache=FrameCache(0)).close()
    print(f"   reopen (index from cache)         {(time.perf_counter() - start) * 1e3:7.1f} ms")

    rng = random.Random(0)
    seeks = []
    for i in rng.sample(range(n), min(trials, n)):
        start = time.perf_counter()
        video.frame(i)
        seeks.append(time.perf_counter() - start)
    seek = median_ms(seeks)
    p90 = statistics.quantiles(seeks, n=10)[-1] * 1e3
    print(f"   random exact seek, cold           {seek:7.2f} ms (p90 {p90:.2f})")

    steps = []
    video.frame(n // 3)
    for i in range(n // 3 + 1, min(n, n // 3 + 1 + trials)):
        start = time.perf_counter()
        video.frame(i)
        steps.append(time.perf_counter() - start)
    step = median_ms(steps)
    print(f"   sequential step (i+1), warm       {step:7.2f} ms")
    video.close()

    scrub_video = ContainerVideo(path, "cam", cache=FrameCache(512 << 20))
    times = scrub_video.frame_times_ns()
    position = len(times) // 2
    scrubs = []
    for _ in range(trials * 2):
        position = min(len(times) - 1, max(0, position + rng.randint(-12, 12)))
        t = int(times[position]) + rng.randrange(0, scrub_video.nominal_frame_ns())
        start = time.perf_counter()
        scrub_video.frame_at(t)
        scrubs.append(time.perf_counter() - start)
    print(
        f"   scrub frame_at(t), jittering      {median_ms(scrubs):7.2f} ms (mean "
        f"{statistics.mean(scrubs) * 1e3:.2f})"
    )
    scrub_video.close()

    prefetch_video = ContainerVideo(path, "cam", cache=FrameCache(512 << 20))
    count = min(n, 120)
    start = time.perf_counter()
    prefetch_video.decode_range(0, count)
    per = (time.perf_counter() - start) / count * 1e3
    print(f"   prefetch decode_range (RGB)       {per:7.2f} ms/frame")
    prefetch_video.close()
    print(f"   ratio seek / sequential frame     {seek / base_rgb:7.1f}x")
    print(f"   ratio step / sequential frame     {step / base_rgb:7.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=3000)
    parser.add_argument("--size", default="640x480")
    parser.add_argument("--keyint", type=int, default=60)
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--real", type=Path, default=REAL_AV1)
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.setdefault("ROBOTRACE_HOME", str(Path(tmp) / "home"))
        path = Path(tmp) / "bench_h264.mp4"
        start = time.perf_counter()
        generate(path, args.frames, width, height, args.keyint)
        print(
            f"generated {path.name} in {time.perf_counter() - start:.1f} s "
            f"(keyint {args.keyint}, 3 B-frames)"
        )
        measure(path, "H.264 with B-frames", args.trials)
        if args.real.is_file():
            measure(args.real, "real LeRobot AV1", args.trials)
        else:
            print(f"\n(real AV1 file not found at {args.real})")


if __name__ == "__main__":
    main()
