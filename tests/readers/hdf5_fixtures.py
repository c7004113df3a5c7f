"""HDF5 recordings written with h5py in the layouts real tools produce (ACT/ALOHA's
record_episodes.py and robomimic's dataset writer), with known contents to assert against."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import av
import h5py
import numpy as np


@dataclass
class AlohaData:
    qpos: np.ndarray
    qvel: np.ndarray
    effort: np.ndarray
    action: np.ndarray
    images: dict[str, np.ndarray] = field(default_factory=dict)
    timestamps_s: np.ndarray | None = None


def frame_image(index: int, height: int = 48, width: int = 64, cam: int = 0) -> np.ndarray:
    """A smooth, frame-specific picture (smooth so JPEG keeps it close)."""
    yy, xx = np.mgrid[0:height, 0:width]
    img = np.empty((height, width, 3), dtype=np.uint8)
    img[:, :, 0] = (index * 9 + cam * 40) % 256
    img[:, :, 1] = (xx * 255 // max(1, width - 1)).astype(np.uint8)
    img[:, :, 2] = (yy * 255 // max(1, height - 1)).astype(np.uint8)
    return img


def encode_jpeg(rgb: np.ndarray, quality: int = 2) -> bytes:
    """JPEG bytes via PyAV's mjpeg encoder (what cv2.imencode('.jpg') produces in ACT)."""
    codec = av.CodecContext.create("mjpeg", "w")
    codec.width, codec.height = rgb.shape[1], rgb.shape[0]
    codec.pix_fmt = "yuvj444p"
    codec.options = {"qmin": str(quality), "qmax": str(quality)}
    frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
    frame = frame.reformat(format="yuvj444p")
    packets = [*codec.encode(frame), *codec.encode(None)]
    return b"".join(bytes(p) for p in packets)


def write_aloha(
    path: Path,
    *,
    steps: int = 40,
    cams: tuple[str, ...] = ("top", "left_wrist"),
    compress: bool = False,
    timestamps_s: np.ndarray | None = None,
    sim: bool = True,
    root_attrs: dict[str, object] | None = None,
    height: int = 48,
    width: int = 64,
) -> AlohaData:
    rng = np.random.default_rng(3)
    data = AlohaData(
        qpos=rng.normal(size=(steps, 14)),
        qvel=rng.normal(size=(steps, 14)),
        effort=rng.normal(size=(steps, 14)),
        action=rng.normal(size=(steps, 14)),
        timestamps_s=timestamps_s,
    )
    with h5py.File(path, "w") as root:
        root.attrs["sim"] = sim
        root.attrs["compress"] = compress
        for key, value in (root_attrs or {}).items():
            root.attrs[key] = value
        obs = root.create_group("observations")
        image_group = obs.create_group("images")
        obs.create_dataset("qpos", data=data.qpos)
        obs.create_dataset("qvel", data=data.qvel)
        obs.create_dataset("effort", data=data.effort)
        root.create_dataset("action", data=data.action)
        if timestamps_s is not None:
            obs.create_dataset("timestamps", data=timestamps_s)
        encoded: list[list[bytes]] = []
        for c, cam in enumerate(cams):
            frames = np.stack([frame_image(i, height, width, c) for i in range(steps)])
            data.images[cam] = frames
            if not compress:
                image_group.create_dataset(cam, data=frames, chunks=(1, height, width, 3))
                continue
            encoded.append([encode_jpeg(f) for f in frames])
        if compress:
            padded = max(len(b) for cam_bytes in encoded for b in cam_bytes) + 16
            lengths = np.zeros((len(cams), steps))
            for c, cam in enumerate(cams):
                buf = np.zeros((steps, padded), dtype=np.uint8)
                for i, blob in enumerate(encoded[c]):
                    buf[i, : len(blob)] = np.frombuffer(blob, dtype=np.uint8)
                    lengths[c, i] = len(blob)
                image_group.create_dataset(cam, data=buf, chunks=(1, padded))
            root.create_dataset("compress_len", data=lengths)
    return data


@dataclass
class RobomimicDemo:
    number: int
    actions: np.ndarray
    rewards: np.ndarray
    dones: np.ndarray
    eef_pos: np.ndarray
    images: np.ndarray


def write_robomimic(
    path: Path, *, numbers: tuple[int, ...] = (0, 2, 10), control_freq: float | None = 10
) -> dict[int, RobomimicDemo]:
    """Three demos (note demo_10 sorts after demo_2 numerically); demo_2 succeeds."""
    rng = np.random.default_rng(5)
    demos: dict[int, RobomimicDemo] = {}
    env_kwargs: dict[str, object] = {"robots": ["Panda"], "has_renderer": False}
    if control_freq is not None:
        env_kwargs["control_freq"] = control_freq
    env_args = {"env_name": "Lift", "type": 1, "env_version": "1.4.1", "env_kwargs": env_kwargs}
    with h5py.File(path, "w") as root:
        data = root.create_group("data")
        data.attrs["env_args"] = json.dumps(env_args)
        total = 0
        for k, number in enumerate(numbers):
            n = 12 + 3 * k
            demo = RobomimicDemo(
                number=number,
                actions=rng.uniform(-1, 1, size=(n, 7)),
                rewards=np.zeros(n),
                dones=np.zeros(n),
                eef_pos=rng.normal(size=(n, 3)),
                images=np.stack([frame_image(i + 100 * k, 32, 32) for i in range(n)]),
            )
            if number == 2:
                demo.rewards[-1] = 1.0
                demo.dones[-1] = 1.0
            group = data.create_group(f"demo_{number}")
            group.attrs["num_samples"] = n
            group.attrs["model_file"] = "<mujoco/>"
            group.create_dataset("actions", data=demo.actions)
            group.create_dataset("rewards", data=demo.rewards)
            group.create_dataset("dones", data=demo.dones)
            group.create_dataset("states", data=rng.normal(size=(n, 32)))
            for prefix in ("obs", "next_obs"):
                obs = group.create_group(prefix)
                obs.create_dataset("robot0_eef_pos", data=demo.eef_pos)
                obs.create_dataset("agentview_image", data=demo.images)
            demos[number] = demo
            total += n
        data.attrs["total"] = total
        mask = root.create_group("mask")
        mask.create_dataset("train", data=np.array([f"demo_{n}".encode() for n in numbers]))
    return demos
