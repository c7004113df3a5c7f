"""Generate rosbag2 inputs for benchmarks/bench_rosbag.py.

python benchmarks/gen_rosbag.py many --n 100 OUT
    100 small rosbag2 folders (alternating sqlite3 / mcap), each /joint_states,
    /cmd_vel, /action and /rosout over 3 s (tests/readers/ros_fixtures.py layouts).
python benchmarks/gen_rosbag.py big --size-gb 1 --storage mcap|sqlite3 OUT
    one rosbag2 folder: two 640x480 rgb8 cameras at 15 Hz and /joint_states (7 joints)
    at 500 Hz, written message by message (memory stays flat) until the size is reached.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from rosbags.rosbag2 import StoragePlugin, Writer  # noqa: E402

from tests.readers import ros_fixtures as fx  # noqa: E402

SMALL_TOPICS = ("/joint_states", "/cmd_vel", "/action", "/rosout")
CAMERA_HZ = 15
JOINT_HZ = 500
WIDTH, HEIGHT = 640, 480
JOINTS = [f"joint_{i}" for i in range(1, 8)]


def generate_many(out: Path, n: int) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    bags = []
    for i in range(n):
        storage = "mcap" if i % 2 else "sqlite3"
        folder = out / f"run_{i:04d}_{storage}"
        if not folder.exists():
            fx.write_rosbag2(
                folder,
                storage,
                ks=range(30),
                only=SMALL_TOPICS,
                custom_data={"policy_version": f"p{i % 3}", "seed": str(i), "success": "true"},
            )
        bags.append(folder)
    return bags


def generate_big(out: Path, size_gb: float, storage: str, late_topic: bool = False) -> Path:
    """Streams messages in time order; returns the bag folder. ``late_topic`` adds /late
    (std_msgs/Float64), one message after everything else: a topic whose first message is at
    the end of the file (issue 16: planning must find it through the index, not a pass)."""
    ts = fx.ros2_store()
    t = ts.types
    target = int(size_gb * (1 << 30))
    plugin = StoragePlugin.MCAP if storage == "mcap" else StoragePlugin.SQLITE3
    base = np.random.default_rng(0).integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8)
    frame_bytes = HEIGHT * WIDTH * 3
    written = 0
    cam_period = 1_000_000_000 // CAMERA_HZ
    js_period = 1_000_000_000 // JOINT_HZ
    with Writer(out, version=9, storage_plugin=plugin) as writer:
        cams = [
            writer.add_connection(
                f"/camera/{name}/image_raw", "sensor_msgs/msg/Image", typestore=ts
            )
            for name in ("front", "wrist")
        ]
        js = writer.add_connection("/joint_states", "sensor_msgs/msg/JointState", typestore=ts)
        writer.set_custom_data("policy_version", "bench")
        k_cam = 0
        k_js = 0
        while written < target:
            t_cam = fx.T0 + k_cam * cam_period
            while fx.T0 + k_js * js_period < t_cam:
                now = fx.T0 + k_js * js_period
                phase = k_js / JOINT_HZ
                msg = t["sensor_msgs/msg/JointState"](
                    header=fx._header(ts, now),
                    name=JOINTS,
                    position=np.sin(phase + np.arange(7)),
                    velocity=np.cos(phase + np.arange(7)),
                    effort=np.full(7, 0.5),
                )
                data = ts.serialize_cdr(msg, "sensor_msgs/msg/JointState")
                writer.write(js, now, data)
                written += len(data)
                k_js += 1
            for i, conn in enumerate(cams):
                pixels = np.roll(base, k_cam * 4 + i * 100, axis=1)
                img = t["sensor_msgs/msg/Image"](
                    header=fx._header(ts, t_cam),
                    height=HEIGHT,
                    width=WIDTH,
                    encoding="rgb8",
                    is_bigendian=0,
                    step=WIDTH * 3,
                    data=pixels.reshape(-1),
                )
                writer.write(conn, t_cam + i, ts.serialize_cdr(img, "sensor_msgs/msg/Image"))
                written += frame_bytes
            k_cam += 1
        if late_topic:
            late = writer.add_connection("/late", "std_msgs/msg/Float64", typestore=ts)
            value = t["std_msgs/msg/Float64"](data=1.0)
            writer.write(
                late, fx.T0 + k_cam * cam_period, ts.serialize_cdr(value, "std_msgs/msg/Float64")
            )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    many = sub.add_parser("many")
    many.add_argument("--n", type=int, default=100)
    many.add_argument("out", type=Path)
    big = sub.add_parser("big")
    big.add_argument("--size-gb", type=float, default=1.0)
    big.add_argument("--storage", choices=("mcap", "sqlite3"), default="mcap")
    big.add_argument("out", type=Path)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    if args.command == "many":
        bags = generate_many(args.out, args.n)
        print(f"{len(bags)} bags in {args.out} ({time.perf_counter() - started:.1f} s)")
    else:
        if args.out.exists():
            parser.error(f"{args.out} exists")
        folder = generate_big(args.out, args.size_gb, args.storage)
        size = sum(p.stat().st_size for p in folder.iterdir())
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            f"{folder}: {size / (1 << 30):.2f} GiB {args.storage} in "
            f"{time.perf_counter() - started:.1f} s, generator peak RSS {rss:.0f} MB"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
