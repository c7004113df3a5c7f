"""No silent failures: a JointState without joint names (the dVRK MTM bag's empty ``name[]``,
or fewer names than values) is read as channels by index, and a recording is never ``failed``
without a problem that says why."""

from __future__ import annotations

from pathlib import Path

import pytest

from robotrace_desktop.core.episode import EpisodeInfo, Status
from robotrace_desktop.episodes import resolve
from robotrace_desktop.library.explain_runner import explain_resolved
from robotrace_desktop.readers.rosbag.reader import Rosbag1Reader, Rosbag2Reader
from robotrace_desktop.readers.sanity import check_episode
from tests.readers import ros_fixtures as fx

MTM = "/MTML/state_joint_current"


@pytest.fixture(scope="module", params=["ros1", "ros2"])
def unnamed_bag(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    root = tmp_path_factory.mktemp("unnamed")
    if request.param == "ros1":
        return Rosbag1Reader(), fx.write_unnamed_joint_states(root / "mtm.bag", True)
    return Rosbag2Reader(), fx.write_unnamed_joint_states(root / "mtm", False, partial=True)


def test_unnamed_joint_state_becomes_indexed_channels_with_values(unnamed_bag) -> None:  # type: ignore[no-untyped-def]
    reader, path = unnamed_bag
    (info,) = list(reader.index(path))
    assert info.status == Status.READY, info.problems
    width = range(fx.UNNAMED_JOINTS)
    assert info.stream(MTM).channels == tuple(
        f"{field}[{i}]" for field in ("position", "velocity", "effort") for i in width
    )
    with reader.open(path) as source:
        chunk = source.read_signal(MTM)
        assert len(chunk) == fx.N
        for k in range(fx.N):
            for field, values in fx.unnamed_joint_values(k).items():
                for i, value in enumerate(values):
                    assert chunk.channel(f"{field}[{i}]")[k] == value


def test_fewer_names_than_values_names_the_first_and_indexes_the_rest(tmp_path: Path) -> None:
    path = fx.write_unnamed_joint_states(tmp_path / "wrist", False, partial=True)
    reader = Rosbag2Reader()
    (info,) = list(reader.index(path))
    assert info.stream("/wrist/joint_states").channels[:4] == (
        "position/yaw",
        "position/pitch",
        "position[2]",
        "position[3]",
    )
    with reader.open(path) as source:
        chunk = source.read_signal("/wrist/joint_states")
        assert chunk.channel("position/pitch")[2] == fx.unnamed_joint_values(2, 4)["position"][1]
        assert chunk.channel("effort[3]")[4] == fx.unnamed_joint_values(4, 4)["effort"][3]


def test_explain_does_not_claim_the_unnamed_bag_says_the_run_failed(unnamed_bag) -> None:  # type: ignore[no-untyped-def]
    _, path = unnamed_bag
    findings = explain_resolved(resolve(str(path), None), None)
    assert not any("says the run failed" in f.explanation.lower() for f in findings)


def test_a_failed_status_always_carries_a_reason() -> None:
    """Whatever a reader decides, the one check every reader's output passes adds the why."""
    silent = EpisodeInfo(
        id="x",
        kind="rosbag1",
        path="/data/x.bag",
        episode_index=None,
        name="x",
        status=Status.FAILED,
    )
    checked = check_episode(silent)
    assert checked.status == Status.FAILED
    assert checked.problems and checked.problems[0].startswith("/data/x.bag: ")
    explained = EpisodeInfo(
        id="y",
        kind="bundle",
        path="/data/y",
        episode_index=None,
        name="y",
        status=Status.FAILED,
        metadata={"failure_reason": "GraspError: slipped"},
    )
    assert check_episode(explained).problems == []  # the run's own reason says why


def test_a_bag_with_no_readable_topic_says_which_topics_and_why(tmp_path: Path) -> None:
    """A JointState publisher with no joints at all (empty arrays): nothing to plot, and the
    problem says so instead of a silent ``failed``."""
    from rosbags.rosbag1 import Writer

    ts = fx.ros1_store()
    path = tmp_path / "no_joints.bag"
    jtype = "sensor_msgs/msg/JointState"
    with Writer(path) as writer:
        conn = writer.add_connection("/joint_states", jtype, typestore=ts)
        for k in range(3):
            msg = fx.unnamed_joint_state(ts, k, fx.record_time(k), (), 0, True)
            writer.write(conn, fx.record_time(k), ts.serialize_ros1(msg, jtype))
    (info,) = list(Rosbag1Reader().index(path))
    assert info.status == Status.FAILED
    assert info.problems == [
        f"{path.resolve()}: none of its 1 topic(s) with messages could be read: "
        f"/joint_states ({jtype}: no numeric or text fields)"
    ]
