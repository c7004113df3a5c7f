"""start_episode: samples logged while a run goes on come back exactly, on the same clock as an
added video; an exception ends the episode as failed and still propagates; memory stays flat."""

from __future__ import annotations

import gc
import logging
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import robotrace_desktop as rt
from robotrace_desktop import paths
from robotrace_desktop.bundle.manifest import read_manifest
from robotrace_desktop.errors import ValidationError
from robotrace_desktop.sdk.store import temp_root
from tests.sdk.sdk_fixtures import READER, S, bundles, joints, leftovers, painted_video, read
from tests.video.video_fixtures import frame_number

REPO = Path(__file__).resolve().parents[2]


class GraspError(RuntimeError):
    pass


def test_logged_values_come_back_exactly_with_their_channels() -> None:
    with rt.start_episode(name="loop", policy_version="v1", seed=4, flush_rows=7) as rec:
        for k in range(25):
            t = k * 10_000_000
            rec.log(t, {"joint_states/position": [k, -k, k / 3], "reward": k * 0.1})
            if k % 5 == 0:
                rec.log(t + 1, {"gripper": bool(k % 10)}, kind="action")
        rec.log(250_000_000, {"joint_states/effort": 9.5})  # a channel first seen late
    episode = rec.episode
    assert episode is not None and episode.status == "ready" and rec.finalized
    joints_ = read(episode, "joint_states")
    assert joints_.channels == ("position[0]", "position[1]", "position[2]", "effort")
    assert joints_.t_ns.tolist() == [k * 10_000_000 for k in range(26)]
    np.testing.assert_array_equal(joints_.values[:25, 1], -np.arange(25.0))
    np.testing.assert_array_equal(joints_.values[:25, 2], np.arange(25) / 3)
    assert np.isnan(joints_.values[:25, 3]).all() and np.isnan(joints_.values[25, :3]).all()
    assert joints_.values[25, 3] == 9.5
    reward = read(episode, "sensors")
    np.testing.assert_array_equal(reward.values[:, 0], np.arange(25) * 0.1)
    actions = read(episode, "actions")
    assert actions.t_ns.tolist() == [1, 50_000_001, 100_000_001, 150_000_001, 200_000_001]
    assert actions.values[:, 0].tolist() == [0.0, 1.0, 0.0, 1.0, 0.0]
    roles = {s.name: s.role for s in read_manifest(episode.path).signals}
    assert roles == {"joint_states": "sensor", "sensors": "sensor", "actions": "action"}
    assert leftovers(paths.library_dir()) == []


def test_a_logged_stream_and_an_added_video_share_one_clock(tmp_path: Path) -> None:
    """Frame k is at k/10 s in the video; the logged 'frame' channel holds k at k/10 s too. At
    any time the video's frame and the signal's sample-and-hold value agree."""
    video = painted_video(tmp_path / "front.mp4", frames=20, fps=10)
    with rt.start_episode(name="sync") as rec:
        rec.add_video(video)
        rec.add_video(video, camera="late", t0_ns=S)
        for k in range(20):
            rec.log(k * 100_000_000, {"cam/frame": k})
    with READER.open(rec.episode.path) as source:  # type: ignore[union-attr]
        chunk = source.read_signal("cam")
        front = source.video("front")
        late = source.video("late")
        for t in (0, 150_000_000, 1_230_000_000, 1_999_999_999):
            row = int(np.searchsorted(chunk.t_ns, t, side="right")) - 1
            frame = front.frame_at(t)
            assert frame is not None and frame_number(frame.rgb) == chunk.values[row, 0]
        shifted = late.frame_at(S + 350_000_000)
        assert shifted is not None and frame_number(shifted.rgb) == 3


def test_an_exception_fails_the_episode_and_propagates() -> None:
    with pytest.raises(GraspError, match="object slipped"), rt.start_episode(name="crash") as rec:
        rec.log(0, {"x": 0.0})
        rec.log(2_500_000_000, {"x": 1.0})
        raise GraspError("object slipped")
    episode = rec.episode
    assert episode is not None and episode.status == "failed"
    meta = episode.info.metadata
    assert meta["failure_reason"] == "GraspError: object slipped"
    assert meta["failure_time_ns"] == 2_500_000_000
    assert "raise GraspError" in meta["traceback"]
    with READER.open(episode.path) as source:
        (event,) = source.read_events("/log")
    assert (event.t_ns, event.level, event.text) == (
        2_500_000_000,
        "ERROR",
        "GraspError: object slipped",
    )
    causes = {f.cause: f for f in episode.findings}
    assert causes["raised_exception"].t_start_ns == 2_500_000_000


def test_nothing_logged_fails_at_now(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(KeyboardInterrupt), rt.start_episode() as rec:
        monkeypatch.setattr(rec, "now_ns", lambda: 777)
        raise KeyboardInterrupt
    assert rec.episode is not None
    assert rec.episode.info.metadata["failure_reason"] == "KeyboardInterrupt"
    assert rec.episode.info.metadata["failure_time_ns"] == 777


def test_explicit_finalize_once(tmp_path: Path) -> None:
    sensors, _ = joints(tmp_path / "joints.parquet")
    rec = rt.start_episode(name="explicit", seed=1)
    rec.add_sensors(sensors)
    rec.add_actions({"cmd": {"t_ns": [0, 5], "u": [1.0, 2.0]}})
    with pytest.raises(ValidationError, match="failure_time_s=1 needs"):
        rec.finalize(failure_time_s=1.0)  # a bad argument: still open
    episode = rec.finalize(status="failed", failure_time_s=0.25, metadata={"why": "test"})
    assert episode.status == "failed" and episode.info.metadata["failure_time_ns"] == 250_000_000
    assert {s.name for s in episode.info.streams} == {"joints", "cmd"}
    with pytest.raises(ValidationError, match="already finalized"):
        rec.finalize()
    with pytest.raises(ValidationError, match="already finalized"):
        rec.log(0, {"x": 1.0})
    with rec:  # leaving a finalized recorder's block does nothing more
        pass
    assert len(bundles(paths.library_dir())) == 1


@pytest.mark.parametrize(
    ("call", "needle"),
    [
        (lambda r: r.log(10, {"x": 1.0}) or r.log(5, {"x": 2.0}), "is before its previous sample"),
        (lambda r: r.log(0, {"x": "high"}), "sensors/x must be a number"),
        (lambda r: r.log(0, {"x": [1, 2]}) or r.log(1, {"x": [1, 2, 3]}), "now a vector of 3"),
        (lambda r: r.log(0, {"x": [[1, 2]]}), "must be 1-D"),
        (lambda r: r.log(0.5, {"x": 1.0}), "t_ns must be an integer"),
        (lambda r: r.log(0, {"s/_x": 1.0}), "does not start with '_'"),
        (lambda r: r.log(0, {"x": 1.0}, kind="reward"), "kind must be one of"),
        (lambda r: r.log(0, {"a/x": 1.0}) or r.log(1, {"a/y": 1.0}, kind="action"), "holds sensor"),
    ],
)
def test_log_rejects_bad_samples(call, needle: str) -> None:  # type: ignore[no-untyped-def]
    rec = rt.start_episode()
    with pytest.raises(ValidationError, match=needle):
        call(rec)
    rec.finalize()


def test_names_must_stay_unique(tmp_path: Path) -> None:
    video = painted_video(tmp_path / "cam.mp4", frames=3)
    rec = rt.start_episode()
    rec.add_video(video)
    with pytest.raises(ValidationError, match="'cam' is already used"):
        rec.log(0, {"cam/x": 1.0})
    with pytest.raises(ValidationError, match="'cam' is already used"):
        rec.add_video(video)
    rec.finalize()


MEMORY_SCRIPT = """
import gc, resource, sys
import robotrace_desktop as rt


def peak_rss():
    # VmHWM: this process's own peak (ru_maxrss can carry the parent's peak over fork/exec)
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


rows, flush = int(sys.argv[1]), int(sys.argv[2])
rec = rt.start_episode(name="long run", flush_rows=flush)
log = rec.log
for k in range(20_000):  # warm up: pyarrow loaded, first parts written
    log(k, {"q": 0.5, "dq": -1.0})
gc.collect()
before = peak_rss()
for k in range(20_000, rows):
    log(k * 1_000, {"q": k * 0.5, "dq": -1.0})
after = peak_rss()
episode = rec.finalize()
print((after - before) * 1024, episode.info.stream("sensors").count, episode.path)
"""


def _peak_growth(tmp_path: Path, flush_rows: int) -> tuple[int, int, Path]:
    env = dict(os.environ, ROBOTRACE_HOME=str(tmp_path / f"home-{flush_rows}"))
    done = subprocess.run(
        [sys.executable, "-c", MEMORY_SCRIPT, "1000000", str(flush_rows)],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    growth, count, path = done.stdout.split(maxsplit=2)
    return int(growth), int(count), Path(path.strip())


def test_memory_stays_flat_for_a_million_samples(tmp_path: Path) -> None:
    """1,000,000 rows of two channels in a fresh process: the peak RSS (VmHWM) grows by a
    few MB at most with 10,000-row parts, but by far more when nothing is flushed (the control
    run, so the measurement can tell the two apart)."""
    growth, count, path = _peak_growth(tmp_path, 10_000)
    assert count == 1_000_000
    assert growth < 16_000_000, f"peak RSS grew by {growth / 1e6:.1f} MB"
    chunk = read(path, "sensors")
    assert chunk.values[-1, 0] == 999_999 * 0.5 and chunk.t_ns[-1] == 999_999_000
    unbuffered, _, _ = _peak_growth(tmp_path, 2_000_000)
    assert unbuffered > 4 * max(growth, 16_000_000), (growth, unbuffered)


def test_an_abandoned_recorder_warns_and_leaves_its_folder(
    caplog: pytest.LogCaptureFixture,
) -> None:
    rec = rt.start_episode()
    rec.log(0, {"x": 1.0})
    folder = temp_root(paths.library_dir()) / f"rec-{rec.id}-"
    del rec
    with caplog.at_level(logging.WARNING, logger="robotrace_desktop.sdk"):
        gc.collect()
    assert any("never finalized" in r.getMessage() for r in caplog.records)
    (left,) = leftovers(paths.library_dir())
    assert str(left).startswith(str(folder))
    assert bundles(paths.library_dir()) == []
