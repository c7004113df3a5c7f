"""Offline re-roll: what the policy sees, how its actions are measured against the recorded ones,
and the replay bundle it is saved as — on generated LeRobot datasets with exact value patterns,
the demo bundle (signals at different rates, two cameras) and the real G1 LeRobot episodes."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest

from robotrace_desktop.analysis.data import EpisodeData
from robotrace_desktop.bundle.manifest import BundleManifest, SignalEntry, write_manifest
from robotrace_desktop.bundle.tables import SignalData, write_parquet
from robotrace_desktop.core.channels import stream_role
from robotrace_desktop.demo import read_frame_number
from robotrace_desktop.episodes import resolve
from robotrace_desktop.errors import ConfigurationError, RecordingError
from robotrace_desktop.readers.bundle.reader import BundleReader
from robotrace_desktop.verify.policy import Policy
from robotrace_desktop.verify.replay_bundle import safe_folder_name, write_replay
from robotrace_desktop.verify.reroll import (
    ABS_FLOOR,
    ActionStats,
    action_moments,
    reroll_episode,
)
from tests.demo_cache import demo_copy
from tests.readers.lerobot_fixtures import action_value, decode_position, state_value, write_v2

G1 = "lerobot/g1_pick_bottle_v21"


# ---------------------------------------------------------------- fixtures and helpers


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Episodes 0 (6 steps), 1 (8), 2 (7), 3 (5) at 10 fps; videos for 0 and 1 only."""
    return write_v2(tmp_path_factory.mktemp("lerobot") / "ds", video_episodes={0, 1})


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """/joint_states at 100 Hz, /action at 30 Hz, cameras front (30 fps) and wrist (15 fps,
    starting 20 ms late)."""
    return demo_copy(tmp_path_factory.mktemp("demo") / "bundle")


@contextmanager
def episode(argument: str) -> Iterator[EpisodeData]:
    resolved = resolve(argument, None)
    source = resolved.open()
    try:
        yield EpisodeData(resolved.info, source)
    finally:
        source.close()


def policy(fn: Any, name: str = "candidate") -> Policy:
    return Policy(f"test:{name}", name, fn)


def recorded_actions(episode_index: int, length: int) -> np.ndarray:
    return np.array([[action_value(episode_index, f, c) for c in range(2)] for f in range(length)])


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file and folder under ``folder``: (size, mtime_ns)."""
    out: dict[str, tuple[int, int]] = {}
    for root, dirs, files in os.walk(folder):
        for name in dirs + files:
            path = Path(root) / name
            stat = path.stat()
            out[str(path.relative_to(folder))] = (stat.st_size, stat.st_mtime_ns)
    return out


# ---------------------------------------------------------------- what the policy sees


def test_obs_are_the_recorded_rows(dataset: Path) -> None:
    seen: list[dict[str, Any]] = []

    def spy(obs: dict[str, Any]) -> np.ndarray:
        seen.append({k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in obs.items()})
        return np.zeros(2)

    with episode(f"{dataset}#1") as data:
        reroll = reroll_episode(data, policy(spy), None)
    assert reroll.result.steps == 8 and reroll.result.error is None
    assert reroll.result.action_stream == "action"
    assert [sorted(o) for o in seen] == [["observation.state", "step", "t_ns"]] * 8
    for f, obs in enumerate(seen):
        state = obs["observation.state"]
        assert state.dtype == np.float64 and state.shape == (3,)
        assert state.tolist() == [state_value(1, f, c) for c in range(3)]
        assert obs["t_ns"] == f * 100_000_000 and type(obs["t_ns"]) is int
        assert obs["step"] == f
    assert reroll.t_ns.tolist() == [f * 100_000_000 for f in range(8)]
    saved = reroll.observations["observation.state"]
    assert saved.channels == ("shoulder", "elbow", "wrist")
    assert saved.values.tolist() == [[state_value(1, f, c) for c in range(3)] for f in range(8)]


def test_a_policy_writing_into_obs_changes_nothing_recorded(dataset: Path) -> None:
    def vandal(obs: dict[str, Any]) -> list[float]:
        obs["observation.state"][:] = -1.0
        return [0.0, 0.0]

    with episode(f"{dataset}#0") as data:
        reroll = reroll_episode(data, policy(vandal), None)
        assert data.signal("observation.state").values[0].tolist() == [0.0, 0.25, 0.5]
    assert reroll.observations["observation.state"].values[1].tolist() == [1.0, 1.25, 1.5]


def test_obs_at_other_rates_take_the_latest_sample(demo: Path) -> None:
    """Actions at 30 Hz, joint states at 100 Hz: each step sees the newest joint state at or
    before it (searchsorted, never one from the future)."""
    seen: list[np.ndarray] = []

    def spy(obs: dict[str, Any]) -> np.ndarray:
        seen.append(obs["/joint_states"].copy())
        return np.zeros(8)

    with episode(str(demo)) as data:
        reroll = reroll_episode(data, policy(spy), None)
        joints = data.signal("/joint_states")
        action = data.signal("/action")
    assert reroll.result.action_stream == "/action" and reroll.result.steps == 360
    index = np.searchsorted(joints.t_ns, action.t_ns, side="right") - 1
    assert np.all(joints.t_ns[index] <= action.t_ns)
    np.testing.assert_array_equal(np.array(seen), joints.values[index])
    assert len(seen[0]) == 24  # position, velocity and effort of 7 joints + gripper


# ---------------------------------------------------------------- measuring the actions


def test_the_recorded_action_scores_zero(dataset: Path) -> None:
    expected = recorded_actions(1, 8)
    with episode(f"{dataset}#1") as data:
        reroll = reroll_episode(data, policy(lambda obs: expected[obs["step"]]), None)
    result = reroll.result
    assert result.error is None and result.steps == 8
    assert result.mean_l2 == 0.0 and result.mean_error_z == 0.0 and result.max_error_z == 0.0
    assert result.ood_share == 0.0 and result.recorded_ood_share == 0.0
    assert result.first_divergence_ns is None
    assert result.per_joint_error == {"action[0]": 0.0, "action[1]": 0.0}
    assert result.jerk == result.recorded_jerk
    assert reroll.actions["action"].values.tolist() == expected.tolist()


def test_a_constant_offset_is_the_per_joint_error(dataset: Path) -> None:
    offset = np.array([0.5, -0.25])
    expected = recorded_actions(1, 8)
    with episode(f"{dataset}#1") as data:
        reroll = reroll_episode(data, policy(lambda obs: expected[obs["step"]] + offset), None)
    result = reroll.result
    assert result.per_joint_error == {"action[0]": 0.5, "action[1]": 0.25}
    assert result.mean_l2 == pytest.approx(math.hypot(0.5, 0.25), rel=1e-15)
    # scaled by the episode's own action std (no baseline stats given): both channels step by
    # 1 per frame over 8 frames
    std = np.std(np.arange(8.0))
    assert result.mean_error_z == pytest.approx(math.sqrt((0.25 + 0.0625) / 2) / std)
    assert reroll.l2.tolist() == pytest.approx([math.hypot(0.5, 0.25)] * 8)
    assert reroll.recorded["action"].values.tolist() == expected.tolist()


def test_dict_returns_are_compared_stream_by_stream(dataset: Path) -> None:
    expected = recorded_actions(0, 6)
    with episode(f"{dataset}#0") as data:
        good = reroll_episode(data, policy(lambda obs: {"action": expected[obs["step"]]}), None)
        bad = reroll_episode(data, policy(lambda obs: {"gripper": [0.0]}), None)
    assert good.result.error is None and good.result.mean_l2 == 0.0
    assert bad.result.error == (
        "ValueError: policy returned a dict with keys ['gripper'] at step 0; the recorded "
        "action streams are 'action'"
    )


def test_a_policy_that_raises_is_reported_with_its_step(dataset: Path) -> None:
    expected = recorded_actions(1, 8)

    def flaky(obs: dict[str, Any]) -> np.ndarray:
        if obs["step"] == 5:
            raise RuntimeError("arm out of reach")
        return expected[obs["step"]]

    with episode(f"{dataset}#1") as data:
        reroll = reroll_episode(data, policy(flaky), None)
    result = reroll.result
    assert result.error == "RuntimeError: arm out of reach (step 5, t=0.500 s)"
    assert result.steps == 5 and len(reroll.t_ns) == 5
    assert result.mean_l2 == 0.0  # the steps before the failure are still measured


def test_sys_exit_and_a_failing_reset_are_reported(dataset: Path) -> None:
    def quits(obs: dict[str, Any]) -> None:
        raise SystemExit(3)

    def bad_reset() -> None:
        raise OSError("camera driver gone")

    with episode(f"{dataset}#1") as data:
        quit_result = reroll_episode(data, policy(quits), None).result
        reset = Policy("test:r", "r", lambda obs: [0.0, 0.0], bad_reset)
        reset_result = reroll_episode(data, reset, None).result
    assert quit_result.error == "SystemExit: 3 (step 0, t=0.000 s)"
    assert reset_result.error == "OSError: camera driver gone (reset before step 0)"
    assert reset_result.steps == 0


def test_wrong_shapes_are_a_clear_error(dataset: Path) -> None:
    with episode(f"{dataset}#1") as data:
        short = reroll_episode(data, policy(lambda obs: np.zeros(3)), None)
        word = reroll_episode(data, policy(lambda obs: "left"), None)
        nothing = reroll_episode(data, policy(lambda obs: None), None)
    assert short.result.error == (
        "ValueError: policy returned shape (3,) at step 0; the recorded action 'action' has "
        "2 channels"
    )
    assert short.result.steps == 0 and short.result.mean_l2 is None
    assert word.result.error.startswith("ValueError: policy returned a str at step 0")
    assert nothing.result.error == (
        "ValueError: policy returned None at step 0; the recorded action 'action' has 2 channels"
    )


def test_non_finite_actions_are_kept_and_out_of_distribution(dataset: Path) -> None:
    with episode(f"{dataset}#1") as data:
        reroll = reroll_episode(data, policy(lambda obs: [float("nan"), 1.0]), None)
    result = reroll.result
    assert result.error is None and result.ood_share == 1.0
    assert result.mean_l2 == math.inf and result.per_joint_error["action[0]"] == math.inf
    assert np.isnan(reroll.actions["action"].values[:, 0]).all()


@pytest.mark.parametrize(
    ("off_steps", "divergence"),
    [({4, 5, 6, 7}, 400_000_000), ({2, 3}, None), ({2, 3, 4}, 200_000_000)],
)
def test_first_divergence_needs_three_steps_in_a_row(
    dataset: Path, off_steps: set[int], divergence: int | None
) -> None:
    expected = recorded_actions(1, 8)

    def drifting(obs: dict[str, Any]) -> np.ndarray:
        return expected[obs["step"]] + (100.0 if obs["step"] in off_steps else 0.0)

    with episode(f"{dataset}#1") as data:
        result = reroll_episode(data, policy(drifting), None, divergence_z=1.0).result
    assert result.first_divergence_ns == divergence


def test_reset_runs_before_every_episode(dataset: Path) -> None:
    class Counter:
        def __init__(self) -> None:
            self.step = 0

        def reset(self) -> None:
            self.step = 0

        def __call__(self, obs: dict[str, Any]) -> list[float]:
            if obs["step"] != self.step:  # would fail on the 2nd episode without reset()
                raise AssertionError(f"expected step {self.step}")
            self.step += 1
            return [0.0, 0.0]

    counter = Counter()
    candidate = Policy("test:Counter", "Counter", counter, counter.reset, counter)
    for index in (0, 1):
        with episode(f"{dataset}#{index}") as data:
            assert reroll_episode(data, candidate, None).result.error is None
    assert counter.step == 8


# ---------------------------------------------------------------- baseline statistics


def test_action_stats_combine_episodes(dataset: Path) -> None:
    parts = []
    for index in (0, 2):
        with episode(f"{dataset}#{index}") as data:
            parts.append(action_moments(data)["action"])
    json.dumps(parts)  # workers return them as JSON-able dicts
    stats = ActionStats.combine(parts)
    both = np.concatenate([recorded_actions(0, 6), recorded_actions(2, 7)])
    assert stats.channels == ("action[0]", "action[1]") and stats.count == 13
    np.testing.assert_allclose(stats.mean, both.mean(axis=0), rtol=1e-14)
    np.testing.assert_allclose(stats.std, both.std(axis=0), rtol=1e-12)
    again = ActionStats.from_dict(json.loads(json.dumps(stats.to_dict())))
    assert again.channels == stats.channels and again.std.tolist() == stats.std.tolist()


def test_a_constant_channel_gets_a_floored_std() -> None:
    moments = {
        "stream": "action",
        "channels": ["gripper"],
        "count": [10],
        "sum": [50.0],
        "m2": [0.0],
        "min": [5.0],
        "max": [5.0],
    }
    stats = ActionStats.combine([moments])
    assert stats.std.tolist() == [ABS_FLOOR * 5.0]


def test_baseline_stats_scale_the_errors(dataset: Path) -> None:
    with episode(f"{dataset}#3") as data:
        stats = {"action": ActionStats.combine([action_moments(data)["action"]])}
    expected = recorded_actions(1, 8)
    with episode(f"{dataset}#1") as data:
        reroll = reroll_episode(data, policy(lambda obs: expected[obs["step"]]), stats)
    # episode 1's actions (about -100) are far outside episode 3's (about -300): recorded and
    # candidate alike are out of the baseline's distribution
    assert reroll.result.ood_share == 1.0 and reroll.result.recorded_ood_share == 1.0
    assert reroll.result.mean_error_z == 0.0


# ---------------------------------------------------------------- images


def test_with_images_gives_the_exact_frame(dataset: Path) -> None:
    positions: list[tuple[int, int, tuple[int, ...]]] = []

    def look(obs: dict[str, Any]) -> list[float]:
        top, wrist = obs["observation.images.top"], obs["observation.images.wrist"]
        assert top.dtype == np.uint8
        positions.append((decode_position(top, 0), decode_position(wrist, 1), top.shape))
        return [0.0, 0.0]

    with episode(f"{dataset}#0") as data:
        reroll = reroll_episode(data, policy(look), None, with_images=True)
    assert reroll.result.error is None and reroll.problems == []
    assert positions == [(k, k, (48, 64, 3)) for k in range(6)]


def test_missing_videos_are_left_out_and_named(dataset: Path) -> None:
    keys: list[set[str]] = []
    with episode(f"{dataset}#2") as data:
        reroll = reroll_episode(
            data, policy(lambda obs: keys.append(set(obs)) or [0.0, 0.0]), None, with_images=True
        )
    assert reroll.result.error is None
    assert keys[0] == {"observation.state", "t_ns", "step"}
    assert len(reroll.problems) == 2
    assert "observation.images.top" in reroll.problems[0]
    assert "episode_000002.mp4 is missing" in reroll.problems[0]


def test_with_images_on_cameras_at_other_rates(demo: Path) -> None:
    """front: frame i at i/30 s; wrist: 15 fps from 20 ms on — step 0 (t=0) gets its first frame."""
    numbers: list[tuple[int | None, int | None]] = []

    def look(obs: dict[str, Any]) -> np.ndarray:
        numbers.append((read_frame_number(obs["front"]), read_frame_number(obs["wrist"])))
        return np.zeros(8)

    with episode(str(demo)) as data:
        reroll_episode(data, policy(look), None, with_images=True)
        t = data.signal("/action").t_ns
    wrist_times = 20_000_000 + np.arange(180) * 1_000_000_000 // 15
    wrist = np.clip(np.searchsorted(wrist_times, t, side="right") - 1, 0, 179)
    front = np.searchsorted(np.arange(360) * 1_000_000_000 // 30, t, side="right") - 1
    assert numbers == list(zip(front.tolist(), wrist.tolist(), strict=True))


# ---------------------------------------------------------------- unreadable episodes


def test_an_episode_without_actions_raises(tmp_path: Path) -> None:
    folder = tmp_path / "sensors_only"
    t = np.arange(5, dtype=np.int64) * 10_000_000
    write_parquet(folder / "s.parquet", SignalData(t, {"q": np.zeros((5, 2))}))
    write_manifest(
        folder,
        BundleManifest(
            name="sensors only",
            signals=[SignalEntry("/joint_states", "s.parquet", "parquet", role="sensor")],
        ),
    )
    with episode(str(folder)) as data, pytest.raises(RecordingError, match="no action stream"):
        reroll_episode(data, policy(lambda obs: [0.0]), None)


def test_an_unreadable_action_file_raises_naming_it(tmp_path: Path) -> None:
    folder = tmp_path / "broken"
    t = np.arange(5, dtype=np.int64) * 10_000_000
    write_parquet(folder / "a.parquet", SignalData(t, {"u": np.zeros((5, 2))}))
    write_manifest(
        folder,
        BundleManifest(
            name="broken", signals=[SignalEntry("/cmd", "a.parquet", "parquet", role="action")]
        ),
    )
    with episode(str(folder)) as data:
        (folder / "a.parquet").write_bytes(b"PAR1 truncated")  # damaged after indexing
        with pytest.raises(RecordingError, match=r"a\.parquet"):
            reroll_episode(data, policy(lambda obs: [0.0, 0.0]), None)


# ---------------------------------------------------------------- the real G1 episodes


def _g1_rows(shared_data: Path, index: int) -> tuple[np.ndarray, np.ndarray]:
    table = pq.read_table(
        shared_data / G1 / "data" / "chunk-000" / f"episode_{index:06d}.parquet",
        columns=["observation.state", "action"],
    )
    state = np.stack(table.column("observation.state").to_numpy(zero_copy_only=False))
    action = np.stack(table.column("action").to_numpy(zero_copy_only=False))
    return state.astype(np.float64), action.astype(np.float64)


def test_reroll_a_state_tracking_policy_on_real_g1_episodes(shared_data: Path) -> None:
    """The policy "command what you measure": its error is exactly |state - action| from the
    parquet, against a baseline distribution made of both episodes' recorded actions."""
    root = shared_data / G1
    parts, rows = [], {}
    for index in (1, 2):
        with episode(f"{root}#{index}") as data:
            parts.append(action_moments(data)["action"])
        rows[index] = _g1_rows(shared_data, index)
    stats = ActionStats.combine(parts)
    actions = np.concatenate([rows[1][1], rows[2][1]])
    np.testing.assert_allclose(stats.mean, actions.mean(axis=0), rtol=1e-10)
    assert np.all(stats.std >= actions.std(axis=0) * (1 - 1e-10))

    for index in (1, 2):
        state, action = rows[index]
        seen: list[np.ndarray] = []

        def track(obs: dict[str, Any], seen: list[np.ndarray] = seen) -> np.ndarray:
            seen.append(obs["observation.state"].copy())
            return obs["observation.state"]

        with episode(f"{root}#{index}") as data:
            reroll = reroll_episode(data, policy(track), {"action": stats})
            channels = data.info.stream("action").channels
        result = reroll.result
        assert result.error is None and result.steps == len(action)
        if index == 1:
            assert result.steps == 393
        np.testing.assert_array_equal(np.array(seen), state)
        assert result.mean_l2 == pytest.approx(
            np.linalg.norm(state - action, axis=1).mean(), rel=1e-12
        )
        per_joint = np.abs(state - action).mean(axis=0)
        assert list(result.per_joint_error) == list(channels)
        assert result.per_joint_error["kLeftShoulderPitch"] == pytest.approx(per_joint[0])
        z = np.abs(state - stats.mean) / stats.std
        assert result.ood_share == pytest.approx((z > 3).any(axis=1).mean())
        z_recorded = np.abs(action - stats.mean) / stats.std
        assert result.recorded_ood_share == pytest.approx((z_recorded > 3).any(axis=1).mean())


def test_real_g1_with_images(shared_data: Path) -> None:
    shapes: set[tuple[tuple[int, ...], str]] = set()
    means: list[float] = []

    def look(obs: dict[str, Any]) -> np.ndarray:
        image = obs["observation.images.cam_high"]
        shapes.add((image.shape, str(image.dtype)))
        means.append(float(image.mean()))
        return obs["observation.state"]

    with episode(f"{shared_data / G1}#1") as data:
        reroll = reroll_episode(data, policy(look), None, with_images=True)
    assert reroll.result.error is None and reroll.result.steps == 393
    assert shapes == {((480, 640, 3), "uint8")}
    assert len(set(means)) > 100  # a new frame at (almost) every step, not one stuck frame


def test_write_replay_round_trip_on_real_g1(shared_data: Path, tmp_path: Path) -> None:
    root = shared_data / G1
    before = snapshot(root)
    with episode(f"{root}#1") as data:
        info = data.info
        reroll = reroll_episode(data, policy(lambda obs: obs["observation.state"] * 0.5), None)
        recorded_action = data.signal("action")
    folder = tmp_path / "library" / "replays" / safe_folder_name("track/half v2") / info.id
    replay = write_replay(
        reroll, info, folder, candidate_name="track/half v2", policy_spec="p.py:track"
    )
    assert snapshot(root) == before  # nothing written next to the recording

    assert replay.path == str(folder.resolve()) and replay.kind == "bundle"
    assert replay.source == "replay" and replay.policy_version == "track/half v2"
    assert replay.name == f"{info.name} ↺ track/half v2" and not replay.problems
    assert replay.metadata["replay_of"] == info.id
    assert replay.metadata["policy"] == "p.py:track"
    assert replay.metadata["reroll"]["mean_l2"] == reroll.result.mean_l2
    assert replay.metadata["reroll"]["policy"] == "track/half v2"
    assert replay.duration_ns == info.duration_ns
    manifest = json.loads((folder / "robotrace_episode.json").read_text())  # strict JSON
    assert manifest["metadata"]["replay_of"] == info.id

    reader = BundleReader()
    assert [i.id for i in reader.index(folder)] == [replay.id]
    with reader.open(folder) as source:
        action = source.read_signal("action")
        assert action.channels == info.stream("action").channels  # overlays channel by channel
        np.testing.assert_array_equal(action.t_ns, recorded_action.t_ns)
        np.testing.assert_array_equal(action.values, reroll.actions["action"].values)
        state = source.read_signal("observation.state")
        np.testing.assert_array_equal(state.values * 0.5, action.values)
        error = source.read_signal("reroll/error")
        assert error.channels == ("l2", "error_z")
        np.testing.assert_array_equal(error.values[:, 0], reroll.l2)
    roles = {s.name: stream_role(s) for s in replay.streams}
    assert roles == {"action": "command", "observation.state": "state", "reroll/error": "other"}


def test_write_replay_replaces_the_earlier_one(dataset: Path, tmp_path: Path) -> None:
    expected = recorded_actions(1, 8)
    with episode(f"{dataset}#1") as data:
        info = data.info
        first = reroll_episode(data, policy(lambda obs: expected[obs["step"]]), None)
        second = reroll_episode(data, policy(lambda obs: expected[obs["step"]] + 1.0), None)
    folder = tmp_path / "replays" / "cand" / info.id
    one = write_replay(first, info, folder, candidate_name="cand", policy_spec="m:a")
    two = write_replay(second, info, folder, candidate_name="cand", policy_spec="m:a")
    assert one.id == two.id  # the same catalog episode, updated
    assert sorted(p.name for p in folder.parent.iterdir()) == [info.id]  # no temp leftovers
    assert two.metadata["reroll"]["per_joint_error"] == {"action[0]": 1.0, "action[1]": 1.0}
    with BundleReader().open(folder) as source:
        values = source.read_signal("action").values
    np.testing.assert_array_equal(values, expected + 1.0)
    other = write_replay(first, info, tmp_path / "other", candidate_name="v9", policy_spec="m:a")
    assert other.id != one.id


def test_write_replay_keeps_ros_style_stream_names(demo: Path, tmp_path: Path) -> None:
    with episode(str(demo)) as data:
        info = data.info
        reroll = reroll_episode(data, policy(lambda obs: np.ones(8)), None)
        channels = data.info.stream("/action").channels
    replay = write_replay(reroll, info, tmp_path / "r", candidate_name="c", policy_spec="m:a")
    assert replay.stream("/action").channels == channels
    assert replay.stream("/joint_states").count == 360
    with BundleReader().open(tmp_path / "r") as source:
        assert source.read_signal("/action").values.tolist() == [[1.0] * 8] * 360
    assert replay.robot == info.robot and replay.task == info.task and replay.seed == info.seed


def test_write_replay_refuses_a_foreign_folder(dataset: Path, tmp_path: Path) -> None:
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "notes.txt").write_text("mine")
    with episode(f"{dataset}#0") as data:
        reroll = reroll_episode(data, policy(lambda obs: [0.0, 0.0]), None)
        with pytest.raises(ConfigurationError, match="not an episode bundle"):
            write_replay(
                reroll, data.info, tmp_path / "taken", candidate_name="c", policy_spec="m:a"
            )
    assert (tmp_path / "taken" / "notes.txt").read_text() == "mine"


def test_safe_folder_name() -> None:
    assert safe_folder_name("pick-v2.1") == "pick-v2.1"
    for text in ("team/pick v2", "..", "../../etc", "", ".hidden", "a\\b"):
        name = safe_folder_name(text)
        assert "/" not in name and "\\" not in name and not name.startswith(".") and name
        assert name not in (".", "..")
    assert safe_folder_name("a/b") != safe_folder_name("a_b")
