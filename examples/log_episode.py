"""Log a finished episode — a camera video, joint states and policy actions — into RoboTrace.

Run it as-is: it writes its own tiny data (2 s of a 7-DOF arm) into a temporary folder, logs
it, and prints the deep link that opens the episode in the app (`robotrace-desktop open LINK`).

    python examples/log_episode.py
"""

from __future__ import annotations

import tempfile
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

import robotrace_desktop as rt

FPS, SECONDS, HZ = 30, 2.0, 100


def write_video(path: Path) -> Path:
    """A moving square, H.264 in MP4: frame i is shown at i / FPS seconds."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = 160, 120, "yuv420p"
        for i in range(int(SECONDS * FPS)):
            image = np.full((120, 160, 3), 40, dtype=np.uint8)
            image[50:70, 10 + 4 * i : 30 + 4 * i] = (220, 60, 60)
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, FPS)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        t_ns = np.arange(int(SECONDS * HZ), dtype=np.int64) * (1_000_000_000 // HZ)
        q = np.sin(np.outer(t_ns / 1e9, np.arange(1, 8)))  # 7 joints
        # Sensors: a parquet table with an int64 nanosecond time column.
        sensors = folder / "joint_states.parquet"
        columns = {"t_ns": t_ns} | {f"joint_{j + 1}": q[:, j] for j in range(7)}
        pq.write_table(pa.table(columns), sensors)
        # Actions: an npz in the "<stream>/_t_ns" + "<stream>/<field>" layout, at 30 Hz.
        actions = folder / "policy.npz"
        np.savez(actions, **{"action/_t_ns": t_ns[::3], "action/q": q[::3] + 0.01})

        episode = rt.log_episode(
            name="pick-and-place, seed 7",
            source="sim",
            robot="demo-arm-7dof",
            policy_version="pick-v0.3.1",
            env_version="tabletop-v2",
            seed=7,
            video={"front": write_video(folder / "front.mp4")},
            sensors=sensors,
            actions=actions,
            metadata={"operator": "example"},
        )
    print(f"logged {episode.name!r}: {len(episode.info.streams)} streams, status {episode.status}")
    for warning in episode.warnings:
        print(f"  warning: {warning}")
    print(episode.url)


if __name__ == "__main__":
    main()
