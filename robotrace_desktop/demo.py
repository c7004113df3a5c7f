"""The built-in demo episode: a failed pick-and-place run, generated (nothing is downloaded).

A 7-DOF arm with a parallel gripper tries to put a red cube into a bin. The fault to find: the
policy commands the gripper closed at 3.9 s, 1.7 s before the arm reaches the cube (5.6 s); the
gripper closes on air (its effort stays ~0), the arm lifts without the cube and the task
monitor raises ``GraspError`` at 7.5 s. Ground-truth times are stored in
``metadata["demo_truth"]`` so tests and the explain analyzers can check themselves.

The bundle is written with the same code the logging SDK uses (``bundle.BundleWriter`` and the
``bundle.tables`` / ``bundle.events`` writers) plus a numpy renderer and PyAV's H.264 encoder.
Output is deterministic for a seed and takes well under a second or two.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from fractions import Fraction
from itertools import chain
from pathlib import Path

import av
import numpy as np

from robotrace_desktop import paths
from robotrace_desktop.bundle.events import write_events_jsonl
from robotrace_desktop.bundle.manifest import (
    MANIFEST_NAME,
    BundleManifest,
    EventEntry,
    SignalEntry,
    VideoEntry,
)
from robotrace_desktop.bundle.tables import SignalData, write_npz, write_parquet
from robotrace_desktop.bundle.writer import BundleWriter
from robotrace_desktop.core.episode import LogEvent
from robotrace_desktop.core.timebase import NS_PER_S as NS

DURATION_S = 12.0
SENSOR_HZ = 100
ACTION_HZ = 30
VIDEO_FPS = 30
WIDTH, HEIGHT = 320, 240
# The wrist camera runs at another rate and starts 20 ms late, so per-camera frame stepping and
# "frame index per camera" in exports are exercised by the demo itself.
WRIST_FPS = 15
WRIST_T0_NS = 20_000_000
WRIST_WIDTH, WRIST_HEIGHT = 240, 180
JOINTS = tuple(f"joint_{i}" for i in range(1, 8))
GRIPPER_OPEN_M = 0.08
START_TIME_NS = 1_715_679_000 * NS  # 2024-05-14 09:30:00 UTC, fixed for determinism
CAMERA = "front"
WRIST_CAMERA = "wrist"
FAILURE_REASON = "GraspError: object slipped — gripper closed before reaching the cube"

# Ground truth of the fault (seconds).
T_APPROACH = 0.5
T_GRIPPER_CLOSE_CMD = 3.9
T_CUBE_REACHED = 5.6
T_FAILURE = 7.5
T_GRIPPER_OPEN_CMD = 8.0

_HOME = np.array([0.0, -0.40, 0.0, -2.00, 0.0, 1.60, 0.80])
_ABOVE = np.array([0.45, 0.05, 0.10, -1.95, 0.05, 2.00, 1.20])
_GRASP = np.array([0.45, 0.35, 0.10, -1.75, 0.05, 2.05, 1.20])
_LIFT = np.array([0.45, 0.00, 0.10, -1.95, 0.05, 2.00, 1.20])
# Gripper centre in the camera image at the same waypoints (the cube sits at x=140, y=160..180).
_PX = {
    "home": (70.0, 60.0),
    "above": (140.0, 105.0),
    "grasp": (140.0, 152.0),
    "lift": (140.0, 95.0),
}
# (t0, t1, from, to): min-jerk segments shared by the joint plan and the image marker.
_SEGMENTS = (
    (0.0, T_APPROACH, "home", "home"),
    (T_APPROACH, 3.5, "home", "above"),
    (3.5, T_CUBE_REACHED, "above", "grasp"),
    (T_CUBE_REACHED, 5.9, "grasp", "grasp"),
    (5.9, 7.2, "grasp", "lift"),
    (7.2, T_GRIPPER_OPEN_CMD, "lift", "lift"),
    (T_GRIPPER_OPEN_CMD, 11.5, "lift", "home"),
    (11.5, DURATION_S + 1.0, "home", "home"),
)
_JOINT_WAYPOINTS = {"home": _HOME, "above": _ABOVE, "grasp": _GRASP, "lift": _LIFT}


def demo_bundle_name(seed: int = 7) -> str:
    return f"pick-and-place-seed{seed}"


def demo_episode_dir(seed: int = 7) -> Path:
    """Where the demo bundle lives: ``<library>/demo/pick-and-place-seed<seed>``."""
    return paths.library_dir() / "demo" / demo_bundle_name(seed)


def ensure_demo_bundle(seed: int = 7) -> Path:
    """The demo bundle folder, written first if it is not there yet."""
    dest = demo_episode_dir(seed)
    if not (dest / MANIFEST_NAME).is_file():
        write_demo_bundle(dest, seed=seed)
    return dest


# ---------------------------------------------------------------- motion


def _min_jerk(s: np.ndarray) -> np.ndarray:
    s = np.clip(s, 0.0, 1.0)
    return s**3 * (10 - 15 * s + 6 * s**2)


def _plan(t: np.ndarray, waypoints: dict[str, np.ndarray]) -> np.ndarray:
    """Position along the segments at times ``t`` (seconds) → (len(t), dim). Times before 0
    hold the first waypoint (the lagged sensor reads t < 0 in its first samples)."""
    t = np.maximum(t, 0.0)
    dim = len(next(iter(waypoints.values())))
    out = np.zeros((len(t), dim))
    for t0, t1, a, b in _SEGMENTS:
        sel = (t >= t0) & (t < t1)
        s = _min_jerk((t[sel] - t0) / (t1 - t0))[:, None]
        out[sel] = waypoints[a] + (waypoints[b] - waypoints[a]) * s
    return out


def joint_plan(t: np.ndarray) -> np.ndarray:
    return _plan(t, _JOINT_WAYPOINTS)


def marker_plan(t: np.ndarray) -> np.ndarray:
    return _plan(t, {k: np.array(v) for k, v in _PX.items()})


def gripper_command(t: np.ndarray) -> np.ndarray:
    """0 = open, 1 = closed: closed from 3.9 s (too early) until the abort at 8.0 s."""
    return ((t >= T_GRIPPER_CLOSE_CMD - 1e-9) & (t < T_GRIPPER_OPEN_CMD - 1e-9)).astype(float)


def gripper_width(t: np.ndarray) -> np.ndarray:
    """Measured finger opening (m): first-order response, 20 ms latency, tau 120 ms."""
    width = np.full(len(t), GRIPPER_OPEN_M)
    for t_switch, target, start in (
        (T_GRIPPER_CLOSE_CMD, 0.0, GRIPPER_OPEN_M),
        (T_GRIPPER_OPEN_CMD, GRIPPER_OPEN_M, 0.0),
    ):
        sel = t >= t_switch + 0.02
        dt = t[sel] - (t_switch + 0.02)
        width[sel] = target + (start - target) * np.exp(-dt / 0.12)
    return width


def _sensor_stream(rng: np.random.Generator) -> SignalData:
    t_ns = np.arange(round(DURATION_S * SENSOR_HZ), dtype=np.int64) * (NS // SENSOR_HZ)
    t = t_ns / NS
    lag = 0.04
    q = joint_plan(t - lag) + rng.normal(0, 2e-4, (len(t), 7))
    dq = (joint_plan(t - lag + 1e-3) - joint_plan(t - lag - 1e-3)) / 2e-3
    ddq = (joint_plan(t - lag + 1e-2) - 2 * joint_plan(t - lag) + joint_plan(t - lag - 1e-2)) / 1e-4
    dq += rng.normal(0, 2e-3, dq.shape)
    gravity = np.array([0.0, 18.0, 1.5, 9.0, 0.6, 2.2, 0.1]) * np.cos(
        q + np.array([0, 0.3, 0, 1.2, 0, 0.4, 0])
    )
    inertia = np.array([2.5, 3.0, 1.2, 1.5, 0.4, 0.3, 0.1])
    tau = gravity + inertia * ddq + rng.normal(0, 0.05, q.shape)
    width = gripper_width(t)
    dwidth = np.gradient(width, t)
    grip_effort = rng.normal(0, 0.04, len(t))  # closes on air: no grasp force at all
    names = [*JOINTS, "gripper"]
    return SignalData(
        t_ns=t_ns,
        fields={
            "position": np.column_stack([q, width + rng.normal(0, 5e-5, len(t))]),
            "velocity": np.column_stack([dq, dwidth]),
            "effort": np.column_stack([tau, grip_effort]),
        },
        names={"position": names, "velocity": names, "effort": names},
    )


def _action_stream() -> SignalData:
    steps = np.arange(round(DURATION_S * ACTION_HZ), dtype=np.int64)
    t_ns = (steps * NS + ACTION_HZ // 2) // ACTION_HZ  # rounded like the video's frame times
    t = t_ns / NS
    return SignalData(
        t_ns=t_ns,
        fields={"joint_position": joint_plan(t + 0.05), "gripper": gripper_command(t)},
        names={"joint_position": list(JOINTS)},
    )


def _events() -> list[LogEvent]:
    def at(s: float) -> int:
        return round(s * NS)

    return [
        LogEvent(
            at(0.0), "INFO", "episode start: pick the red cube and place it in the bin", "runner"
        ),
        LogEvent(at(0.02), "DEBUG", "policy pick-v0.3.1 loaded, control at 30 Hz", "policy"),
        LogEvent(at(T_APPROACH), "INFO", "approach: moving above the cube", "planner"),
        LogEvent(at(T_GRIPPER_CLOSE_CMD), "INFO", "gripper: close command", "policy"),
        LogEvent(at(4.3), "WARN", "gripper closed early: fully closed with no contact", "gripper"),
        LogEvent(at(T_CUBE_REACHED), "INFO", "grasp pose reached", "planner"),
        LogEvent(at(5.9), "INFO", "lift", "planner"),
        LogEvent(
            at(T_FAILURE), "ERROR", "GraspError: object slipped — cube not in gripper", "task"
        ),
        LogEvent(at(7.6), "WARN", "aborting task, returning home", "runner"),
        LogEvent(at(11.9), "INFO", "episode end: failed", "runner"),
    ]


# ---------------------------------------------------------------- rendering

_SEGS = {  # 7-segment patterns a b c d e f g
    "0": "1111110",
    "1": "0110000",
    "2": "1101101",
    "3": "1111001",
    "4": "0110011",
    "5": "1011011",
    "6": "1011111",
    "7": "1110000",
    "8": "1111111",
    "9": "1111011",
}
_DIGIT_OF = {v: int(k) for k, v in _SEGS.items()}
# Frame-number overlay geometry (top-left), shared by the renderer and the reader below.
FRAME_DIGITS, DIGIT_W, DIGIT_H, DIGIT_T, DIGIT_GAP, DIGIT_X, DIGIT_Y = 4, 14, 26, 4, 5, 8, 8


def _segment_boxes(x: int, y: int, w: int, h: int, t: int) -> list[tuple[int, int, int, int]]:
    """(y0, y1, x0, x1) of segments a..g."""
    m = y + h // 2
    return [
        (y, y + t, x, x + w),
        (y, m, x + w - t, x + w),
        (m, y + h, x + w - t, x + w),
        (y + h - t, y + h, x, x + w),
        (m, y + h, x, x + t),
        (y, m, x, x + t),
        (m - t // 2, m + t - t // 2, x, x + w),
    ]


def draw_text(
    img: np.ndarray,
    text: str,
    x: int,
    y: int,
    w: int,
    h: int,
    t: int,
    color: tuple[int, int, int] = (255, 255, 255),
) -> None:
    """Seven-segment digits (and '.') drawn into ``img`` in place."""
    for ch in text:
        if ch == ".":
            img[y + h - t : y + h, x : x + t] = color
            x += t + t
            continue
        for on, (y0, y1, x0, x1) in zip(_SEGS[ch], _segment_boxes(x, y, w, h, t), strict=True):
            if on == "1":
                img[y0:y1, x0:x1] = color
        x += w + t + 1


def read_frame_number(rgb: np.ndarray) -> int | None:
    """The frame number drawn by the demo renderer, read back from (decoded) pixels."""
    luma = rgb.astype(np.float32).mean(axis=2)
    value = 0
    for k in range(FRAME_DIGITS):
        x = DIGIT_X + k * (DIGIT_W + DIGIT_GAP)
        bits = ""
        for y0, y1, x0, x1 in _segment_boxes(x, DIGIT_Y, DIGIT_W, DIGIT_H, DIGIT_T):
            cy, cx = (y0 + y1) // 2, (x0 + x1) // 2
            bits += "1" if luma[cy - 1 : cy + 1, cx - 1 : cx + 1].mean() > 128 else "0"
        if bits not in _DIGIT_OF:
            return None
        value = value * 10 + _DIGIT_OF[bits]
    return value


def _background() -> np.ndarray:
    img = np.zeros((HEIGHT, WIDTH, 3), dtype=np.uint8)
    wall = np.linspace(200, 170, 150)[:, None]
    img[:150] = np.stack([wall * 0.85, wall * 0.9, wall], axis=-1).astype(np.uint8)
    img[150:] = (150, 118, 84)  # table
    img[150:153] = (110, 85, 60)  # table edge
    img[140:186, 232:292] = (70, 70, 78)  # bin
    img[140:146, 228:296] = (45, 45, 50)  # bin rim
    img[180:186, 134:160] = (120, 94, 66)  # cube shadow
    img[0:44, 0 : DIGIT_X * 2 + FRAME_DIGITS * (DIGIT_W + DIGIT_GAP)] = (0, 0, 0)
    img[0:22, 236:320] = (0, 0, 0)
    return img


def render_frames(count: int = round(DURATION_S * VIDEO_FPS)) -> Iterable[np.ndarray]:
    """The camera: table, red cube, bin, the gripper following the arm, frame number, time."""
    base = _background()
    t = np.arange(count) / VIDEO_FPS
    marker = marker_plan(t)
    width = gripper_width(t)
    for i in range(count):
        img = base.copy()
        img[160:180, 130:150] = (205, 30, 30)  # the cube never moves: it is never grasped
        img[160:163, 130:150] = (235, 70, 70)
        cx, cy = round(float(marker[i, 0])), round(float(marker[i, 1]))
        img[max(0, cy - 90) : cy - 6, cx - 3 : cx + 3] = (90, 90, 100)  # forearm
        img[cy - 8 : cy - 2, cx - 16 : cx + 16] = (40, 40, 48)  # wrist / palm
        half = 4 + round(float(width[i]) / GRIPPER_OPEN_M * 10)
        for side in (-1, 1):
            fx = cx + side * half
            img[cy - 2 : cy + 12, min(fx, fx - side * 3) : max(fx, fx - side * 3) + 1] = (
                30,
                30,
                36,
            )
        if t[i] >= T_FAILURE:
            img[:3], img[-3:], img[:, :3], img[:, -3:] = (
                (220, 0, 0),
                (220, 0, 0),
                (220, 0, 0),
                (220, 0, 0),
            )
        draw_text(img, f"{i:0{FRAME_DIGITS}d}", DIGIT_X, DIGIT_Y, DIGIT_W, DIGIT_H, DIGIT_T)
        draw_text(img, f"{t[i]:06.3f}", 242, 5, 8, 12, 2, (255, 220, 0))
        yield img


def render_wrist_frames(count: int = round(DURATION_S * WRIST_FPS)) -> Iterable[np.ndarray]:
    """The wrist camera looks down between the fingers: the table grid and the cube grow as the
    hand descends, and the jaws (bottom corners) swing shut at 3.9 s, long before the cube is
    between them. Frame ``i`` is at ``WRIST_T0_NS + i / WRIST_FPS``; the frame number is drawn
    where :func:`read_frame_number` reads it."""
    h, w = WRIST_HEIGHT, WRIST_WIDTH
    t = WRIST_T0_NS / NS + np.arange(count) / WRIST_FPS
    marker = marker_plan(t)
    width = gripper_width(t)
    rows, cols = np.mgrid[0:h, 0:w]
    for i in range(count):
        dx = 140.0 - float(marker[i, 0])  # cube offset from the hand, front-camera pixels
        height = 170.0 - float(marker[i, 1]) + 10.0  # how far above the cube the camera is
        scale = 160.0 / height  # image pixels per front-camera pixel at the table
        img = np.empty((h, w, 3), dtype=np.uint8)
        img[:] = (150, 118, 84)  # the table fills the view
        period = max(4.0, 20.0 * scale)
        grid = (np.abs((cols - w / 2 - dx * scale) % period) < 1.5) | (
            np.abs((rows - h / 2) % period) < 1.5
        )
        img[grid] = (128, 98, 68)
        half = max(2, round(10 * scale))  # the 20-px cube seen from above
        u, v = round(w / 2 + dx * scale), round(h / 2)
        img[max(0, v - half) : max(0, v + half), max(0, u - half) : max(0, u + half)] = (
            205,
            30,
            30,
        )
        gap = round(12 + float(width[i]) / GRIPPER_OPEN_M * 78)  # jaw tips, from the centre
        for side in (-1, 1):
            tip = w // 2 + side * gap
            outer = 0 if side < 0 else w
            x0, x1 = min(tip, outer), max(tip, outer)
            img[h - 46 : h, x0:x1] = (40, 40, 48)  # finger (fills toward the image edge)
            img[h - 46 : h - 40, x0:x1] = (70, 70, 80)
        if t[i] >= T_FAILURE:
            img[:3], img[-3:], img[:, :3], img[:, -3:] = ((220, 0, 0),) * 4
        img[0:44, 0 : DIGIT_X * 2 + FRAME_DIGITS * (DIGIT_W + DIGIT_GAP)] = (0, 0, 0)
        img[0:22, w - 66 : w] = (0, 0, 0)
        draw_text(img, f"{i:0{FRAME_DIGITS}d}", DIGIT_X, DIGIT_Y, DIGIT_W, DIGIT_H, DIGIT_T)
        draw_text(img, f"{t[i]:06.3f}", w - 62, 5, 8, 12, 2, (255, 220, 0))
        yield img


#: zero bytes after each frame's last plane: x264's SIMD copies read past a plane's end
_SLACK_BYTES = 4096


def yuv420p_frame(rgb: np.ndarray) -> av.VideoFrame:
    """RGB → BT.601 limited-range yuv420p in numpy, as FFmpeg's default conversion does.

    Not left to swscale, nor to a frame PyAV allocates: x264 reads bytes it does not use —
    the row padding of a plane (the wrist camera's 120-px chroma rows sit in 128-byte lines)
    and past the last plane's end — and an allocated frame leaves those uninitialised, so the
    same pixels encoded to different bytes depending on what the process had freed before.
    The frame wraps one packed I420 buffer of ours, with zeroed slack after it.
    Odd sizes (which yuv420p cannot hold exactly) fall back to swscale."""
    height, width = rgb.shape[:2]
    if height % 2 or width % 2:
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
        return frame.reformat(format="yuv420p", threads=1)
    r, g, b = (rgb[..., i].astype(np.float32) for i in range(3))
    y = 16.0 + (65.481 * r + 128.553 * g + 24.966 * b) / 255.0
    u = 128.0 + (-37.797 * r - 74.203 * g + 112.0 * b) / 255.0
    v = 128.0 + (112.0 * r - 93.786 * g - 18.214 * b) / 255.0

    def half(plane: np.ndarray) -> np.ndarray:  # 2×2 mean; slices, 20× faster than .mean
        return (plane[0::2, 0::2] + plane[0::2, 1::2] + plane[1::2, 0::2] + plane[1::2, 1::2]) / 4

    size = height * width * 3 // 2
    packed = np.zeros(size + _SLACK_BYTES, dtype=np.uint8)
    packed[:size] = np.concatenate(
        [np.clip(np.rint(p), 0, 255).astype(np.uint8).ravel() for p in (y, half(u), half(v))]
    )
    frame = av.VideoFrame.from_numpy_buffer(
        packed[:size].reshape(height * 3 // 2, width), format="yuv420p"
    )
    return frame


def encode_video(path: Path, frames: Iterable[np.ndarray], fps: int = VIDEO_FPS) -> Path:
    """H.264 (yuv420p) in mp4, frame i at i/fps; MPEG-4 Part 2 if FFmpeg lacks libx264.
    Single-threaded x264 without macroblock-tree rate control, every input byte ours: the same
    frames give the same bytes, whatever the process did before."""
    path.parent.mkdir(parents=True, exist_ok=True)
    stream_of = iter(frames)
    first = next(stream_of)
    with av.open(str(path), "w", format="mp4") as container:
        try:
            stream = container.add_stream("libx264", rate=fps)
            # mbtree off: with it, x264 encoded the same frames to different bytes in a process
            # whose heap had held other frames (its rate control reads memory it never set)
            options = {"crf": "18", "preset": "veryfast", "g": str(fps), "threads": "1"}
            stream.options = {**options, "x264-params": "mbtree=0"}
        except (av.FFmpegError, ValueError):
            stream = container.add_stream("mpeg4", rate=fps)
            stream.options = {"qscale": "2", "g": str(fps)}
        stream.width, stream.height, stream.pix_fmt = first.shape[1], first.shape[0], "yuv420p"
        stream.time_base = Fraction(1, fps)
        for i, rgb in enumerate(chain([first], stream_of)):
            frame = yuv420p_frame(rgb)
            frame.pts = i
            frame.time_base = Fraction(1, fps)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


# ---------------------------------------------------------------- the bundle


def demo_manifest(seed: int) -> BundleManifest:
    digest = hashlib.sha256(f"robotrace-demo-{seed}".encode()).hexdigest()
    truth = {
        "gripper_close_command_ns": round(T_GRIPPER_CLOSE_CMD * NS),
        "cube_reached_ns": round(T_CUBE_REACHED * NS),
        "failure_ns": round(T_FAILURE * NS),
        "gripper_open_command_ns": round(T_GRIPPER_OPEN_CMD * NS),
        "camera": CAMERA,
        "cameras": [CAMERA, WRIST_CAMERA],
        "action_stream": "/action",
        "gripper_action_channel": "gripper",
        "sensor_stream": "/joint_states",
        "gripper_effort_channel": "effort/gripper",
        "events_stream": "/log",
    }
    return BundleManifest(
        name=f"Demo: pick-and-place, gripper closes early (seed {seed})",
        id=digest[:16],
        source="sim",
        robot="demo-arm-7dof",
        policy_version="pick-v0.3.1",
        env_version="tabletop-v2",
        git_sha=hashlib.sha1(f"robotrace-demo-commit-{seed}".encode()).hexdigest(),
        seed=seed,
        task="pick the red cube and place it in the bin",
        success=False,
        status="failed",
        start_time_ns=START_TIME_NS,
        duration_ns=round(DURATION_S * NS),
        metadata={
            "failure_reason": FAILURE_REASON,
            "generator": "robotrace_desktop.demo",
            "demo_truth": truth,
            # what the axes say (core.units): the gripper is a prismatic joint, in m
            "units": {
                "/joint_states": {
                    "position": "rad",
                    "velocity": "rad/s",
                    "effort": "N·m",
                    "position/gripper": "m",
                    "velocity/gripper": "m/s",
                    "effort/gripper": "N",
                },
                "/action": {"joint_position": "rad", "gripper": ""},
            },
        },
        videos=[
            VideoEntry(CAMERA, "video/front.mp4", t0_ns=0),
            VideoEntry(WRIST_CAMERA, "video/wrist.mp4", t0_ns=WRIST_T0_NS),
        ],
        signals=[
            SignalEntry("/joint_states", "signals/joint_states.parquet", "parquet", role="sensor"),
            SignalEntry("/action", "signals/actions.npz", "npz", role="action"),
        ],
        events=[EventEntry("/log", "events/log.jsonl")],
    )


def write_demo_bundle(dest: Path, *, seed: int = 7) -> Path:
    """Write the demo bundle into the folder ``dest`` (replacing an earlier demo there) and
    return it. Refuses (ConfigurationError) to replace a non-empty folder that is not a
    bundle; StorageError when the disk refuses."""
    dest = Path(dest)
    rng = np.random.default_rng(seed)
    with BundleWriter(dest, what="demo episode", replace=True) as bundle:
        write_parquet(bundle.path("signals/joint_states.parquet"), _sensor_stream(rng))
        write_npz(bundle.path("signals/actions.npz"), {"/action": _action_stream()})
        write_events_jsonl(bundle.path("events/log.jsonl"), _events())
        encode_video(bundle.path("video/front.mp4"), render_frames())
        encode_video(bundle.path("video/wrist.mp4"), render_wrist_frames(), fps=WRIST_FPS)
        bundle.write_manifest(demo_manifest(seed))
    return dest
