"""Generated baseline and candidate policy sets with KNOWN effects, for the verify tests and
benchmarks.

One LeRobot v2.1 dataset per policy version (written by ``tests.readers.lerobot_fixtures``),
26 joints named like the Unitree G1 dataset, 30 fps. Every set holds episodes with seeds
``seed_offset .. seed_offset + episodes - 1``; ``policy_version`` and ``env_version`` come from
info.json and the seed from each episode's record, so a baseline and a candidate episode with
the same seed match on env_version, task and seed.

Signals are smooth and realistic: the action of each joint is a sum of three low-frequency sines
(0.12–0.4 Hz) whose amplitudes, frequencies and phases depend on the seed (the scenario), plus
the policy's own jitter (white noise, a different realisation per policy version); the measured
``observation.state`` follows the action through a first-order lag (τ = 0.1 s) with tiny sensor
noise. Actions stay within ±1.45 rad; ``SATURATED_JOINT`` never reaches ``LIMIT`` except where
the "saturate" policy is clipped at it.

Effects (``write_policy_set(root, version, effect, episodes=N)``):

- ``baseline``: success unless ``seed % 10 == 3`` — exactly 90 % when N is a multiple of 10;
- ``same``: the same outcomes and scenario, another jitter realisation (no real change);
- ``drop10``: also fails when ``seed % 10 == 7`` — 80 %, a 10-point drop;
- ``saturate``: baseline outcomes, but ``SATURATED_JOINT``'s command is driven past ``LIMIT``
  and clipped flat there for ``SATURATION_S`` seconds in every episode;
- ``better``: fails only when ``seed % 50 == 3`` — 98 % when N is a multiple of 50 — and its
  jitter is a quarter of the baseline's (lower jerk).

Successful episodes end when the goal is reached (``steps`` minus a per-seed 0–49 frames);
failed ones run into the time limit (``steps`` frames). Outcomes are LeRobot's ``next.success``
/ ``next.done`` / ``next.reward`` columns.
"""

from __future__ import annotations

import shutil
import sqlite3
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from tests.readers.lerobot_fixtures import EpisodeSpec, write_v2

JOINTS = tuple(
    f"k{side}{part}"
    for side in ("Left", "Right")
    for part in (
        "ShoulderPitch",
        "ShoulderRoll",
        "ShoulderYaw",
        "Elbow",
        "WristRoll",
        "WristPitch",
        "WristYaw",
        "HandPinky",
        "HandRing",
        "HandMiddle",
        "HandIndex",
        "HandThumbBend",
        "HandThumbRotation",
    )
)
FPS = 30
STEPS = 400
ENV_VERSION = "sim-1"
ROBOT = "unitree_g1"
EFFECTS = ("baseline", "same", "drop10", "saturate", "better")
SATURATED_JOINT = "kLeftElbow"
LIMIT = 1.5  # rad, the clip value of the "saturate" policy (exact in float32)
SATURATION_S = 2.5  # seconds pinned at LIMIT in every "saturate" episode
RAMP_S = 0.2  # the push past the limit rises this fast (a clip is entered at speed)
PEAK = 1.45  # |action| bound of every other trajectory
JITTER = 0.003  # rad, the policy's per-step jitter (std)
BETTER_JITTER = JITTER / 4
SENSOR_NOISE = 0.0005  # rad, observation.state noise (std)
TAU_S = 0.1  # the joint's first-order lag behind its command


def succeeds(effect: str, seed: int) -> bool:
    """The outcome of ``seed`` under ``effect`` (deterministic, so the rates are exact)."""
    _check(effect)
    if effect == "drop10":
        return seed % 10 not in (3, 7)
    if effect == "better":
        return seed % 50 != 3
    return seed % 10 != 3


def success_count(effect: str, episodes: int, seed_offset: int = 0) -> int:
    return sum(succeeds(effect, s) for s in range(seed_offset, seed_offset + episodes))


def episode_length(seed: int, success: bool, steps: int = STEPS) -> int:
    """A success reaches the goal early (0–49 frames before the limit); a failure times out."""
    if not success:
        return steps
    return steps - (seed * 7919) % min(50, max(1, steps // 8))


def base_action(seed: int, length: int, fps: int = FPS) -> np.ndarray:
    """The scenario's smooth command trajectory, (length, 26) float64, |value| < PEAK.

    The task fixes each joint's motion (frequencies, amplitudes); the seed shifts its phases
    and offsets, as a different object pose would."""
    task = np.random.default_rng(0x7A5C)
    joints = len(JOINTS)
    freqs = task.uniform(0.12, 0.4, size=(1, joints, 3))
    weights = task.dirichlet(np.ones(3), size=joints)[None]  # (1, joints, 3), rows sum to 1
    amplitude = task.uniform(0.5, 1.1, size=(1, joints, 1))
    phases = task.uniform(0.0, 2 * np.pi, size=(1, joints, 3))
    rng = np.random.default_rng([seed, 0x5EED])
    phases = phases + rng.normal(0.0, 0.3, size=phases.shape)
    offset = rng.uniform(-0.05, 0.05, size=(joints,))
    t = np.arange(length, dtype=np.float64)[:, None, None] / fps  # (n, 1, 1)
    waves = (amplitude * weights * np.sin(2 * np.pi * freqs * t + phases)).sum(axis=2)
    return np.clip(waves + offset, -PEAK + 0.05, PEAK - 0.05)


def saturation_window(seed: int, length: int, fps: int = FPS) -> tuple[int, int]:
    """[start, stop) frames where the "saturate" policy is pinned at LIMIT."""
    hold = round(SATURATION_S * fps)
    ramp = round(RAMP_S * fps)
    earliest = 2 * fps  # not at the very start: a clip mid-run, after the policy got going
    latest = max(earliest, length - hold - 2 * ramp - fps)
    start = earliest + (seed * 104_729) % max(1, latest - earliest + 1)
    return start, min(length, start + hold)


def policy_action(effect: str, version: str, seed: int, length: int, fps: int = FPS) -> np.ndarray:
    """What the policy of ``effect`` commanded: the scenario plus its jitter (and its clip)."""
    rng = np.random.default_rng([seed, zlib.crc32(version.encode())])
    sigma = BETTER_JITTER if effect == "better" else JITTER
    action = base_action(seed, length, fps) + rng.normal(0.0, sigma, (length, len(JOINTS)))
    if effect == "saturate":
        # the policy asks for far more than the joint allows — a push rising over RAMP_S, held,
        # then released — and the actuator interface clips the command flat at LIMIT
        start, stop = saturation_window(seed, length, fps)
        ramp = round(RAMP_S * fps)
        push = np.interp(
            np.arange(length), [start - ramp, start, stop - 1, stop - 1 + ramp], [0, 4, 4, 0]
        )
        k = JOINTS.index(SATURATED_JOINT)
        action[:, k] = np.minimum(action[:, k] + push, LIMIT)
    return np.clip(action, -LIMIT, LIMIT)


def measured_state(action: np.ndarray, seed: int, version: str, fps: int = FPS) -> np.ndarray:
    """The joints following ``action`` through a first-order lag, plus sensor noise."""
    alpha = 1.0 - np.exp(-1.0 / (fps * TAU_S))
    state = np.empty_like(action)
    state[0] = action[0]
    for i in range(1, len(action)):
        state[i] = state[i - 1] + alpha * (action[i - 1] - state[i - 1])
    rng = np.random.default_rng([seed, zlib.crc32(version.encode()), 1])
    return state + rng.normal(0.0, SENSOR_NOISE, state.shape)


def write_policy_set(
    root: Path,
    version: str,
    effect: str,
    *,
    episodes: int,
    steps: int = STEPS,
    seed_offset: int = 0,
    fps: int = FPS,
) -> Path:
    """Write one policy version's episodes as a LeRobot v2.1 dataset at ``root``; returns it.

    Episode ``i`` has seed ``seed_offset + i``; the outcome is ``succeeds(effect, seed)``."""
    _check(effect)
    seeds = list(range(seed_offset, seed_offset + episodes))
    specs = [
        EpisodeSpec(episode_length(s, succeeds(effect, s), steps), 0, succeeds(effect, s))
        for s in seeds
    ]

    def values(index: int, spec: EpisodeSpec) -> tuple[np.ndarray, np.ndarray]:
        seed = seeds[index]
        action = policy_action(effect, version, seed, spec.length, fps)
        return measured_state(action, seed, version, fps), action

    return write_v2(
        Path(root),
        "v2.1",
        episodes=specs,
        cameras=(),
        state_names=JOINTS,
        action_dim=len(JOINTS),
        fps=fps,
        info_extra={"policy_version": version, "env_version": ENV_VERSION, "robot_type": ROBOT},
        episode_extra={i: {"seed": s} for i, s in enumerate(seeds)},
        values=values,
        action_names=JOINTS,
    )


def scan_sets(catalog_path: Path, roots: Sequence[Path]):  # -> library.scanner.ScanSummary
    """Index ``roots`` into the catalog in ONE scan with Explain (the scanner's explain hook),
    so every episode's history includes the other sets, as in a user's catalog. Episodes of
    ``roots`` that Explain never ran on (a scan interrupted earlier) are explained too."""
    from robotrace_desktop.catalog.findings import explained_ids
    from robotrace_desktop.catalog.store import Catalog
    from robotrace_desktop.library.explain_runner import explain_many
    from robotrace_desktop.library.scanner import scan

    with Catalog(Path(catalog_path)) as catalog:
        summary = scan(catalog, [Path(r) for r in roots], explain=True)
        done = explained_ids(catalog)
        wanted = {str(Path(r).resolve()) for r in roots}
        missing = [e.id for e in catalog.list_episodes() if e.path in wanted and e.id not in done]
    if missing:
        run = explain_many(Path(catalog_path), missing)
        summary.explained += len(run.explained)
        summary.explain_errors.extend(f"{e}: {reason}" for e, reason in run.errors.items())
    return summary


def _check(effect: str) -> None:
    if effect not in EFFECTS:
        raise ValueError(f"unknown effect {effect!r}; one of {', '.join(EFFECTS)}")


# ------------------------------------------------------------------ the shared corpus

#: the five sets the verify tests share (``tests/verify/conftest.py`` builds them once per
#: session): 150 per side is enough for a 10-point drop to be significant beyond the 2-point
#: margin, and a multiple of 50 keeps every stated rate exact; 6.7 s episodes keep it fast
SHARED_EPISODES = 150
SHARED_STEPS = 200
SHARED_VERSIONS = {
    "baseline": "v1",
    "same": "v1-retrain",
    "drop10": "v2-drop",
    "saturate": "v2-sat",
    "better": "v3",
}


def write_shared_sets(root: Path):  # -> (catalog path, library.scanner.ScanSummary)
    """Write every effect's set under ``root`` and scan them, explained, into
    ``root/home/catalog.sqlite``."""
    sets = [
        write_policy_set(
            root / effect, version, effect, episodes=SHARED_EPISODES, steps=SHARED_STEPS
        )
        for effect, version in SHARED_VERSIONS.items()
    ]
    path = root / "home" / "catalog.sqlite"
    path.parent.mkdir(parents=True)
    return path, scan_sets(path, sets)


def copy_catalog(source: Path, dest_dir: Path) -> Path:
    """A consistent copy of a catalog (SQLite's backup, WAL included) and its Explain
    thresholds in ``dest_dir``: a test that writes (replays, selections) writes only its copy."""
    dest_dir.mkdir(parents=True, exist_ok=True)
    dest = dest_dir / source.name
    with sqlite3.connect(source) as src, sqlite3.connect(dest) as dst:
        src.backup(dst)
    src.close()
    dst.close()
    for sidecar in source.parent.glob("*.toml"):
        shutil.copyfile(sidecar, dest_dir / sidecar.name)
    return dest
