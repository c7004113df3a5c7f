"""Reading every topic of a bag in ONE pass gives exactly what reading them one by one gives,
on every real bag in ../shared/data (ROS 1, ROS 2 sqlite3 and MCAP, split and lone files)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from robotrace_desktop.analysis.data import EpisodeData
from robotrace_desktop.core.episode import EpisodeSource, StreamKind
from robotrace_desktop.errors import RobotraceError
from robotrace_desktop.readers.registry import sniff
from tests.readers.bag_topics import topics_with_messages

BAGS = [
    "rosbag2/talker_mcap",
    "rosbag2/talker_sqlite3",
    "rosbag2/cdr_test_mcap",
    "rosbag2/cdr_test_sqlite3",
    "rosbag2/split_wbag_mcap",
    "rosbag2/split_wbag_sqlite3",
    "rosbag2/service_events_mcap",
    "rosbag2/service_events_sqlite3",
    "rosbag2/empty_bag_sqlite3",
    "rosbag2/iiwa7_gazebo_joint_torque_sqlite3",
    "rosbag2/cougars_auv/SO_lastbag_mcap",
    "rosbag2/cougars_auv/cleaned_up_bag",
    "ros1/example.bag",
    "ros1/example-lz4.bag",
    "ros1/example-unsorted-chunks.bag",
    "ros1/husky_localization/test1.bag",
    "ros1/baxter_endpoint/data.bag",
]


def _open(path: Path) -> EpisodeSource:
    reader = sniff(path)
    assert reader is not None, path
    (info,) = list(reader.index(path))
    source = reader.open(path, info.episode_index)
    source.info = info
    return source


@pytest.mark.parametrize("name", BAGS)
def test_one_pass_equals_stream_by_stream(shared_data: Path, name: str) -> None:
    path = shared_data / name
    with _open(path) as source:
        info = source.info
        signals = [s.name for s in info.streams_of(StreamKind.SIGNAL)]
        events = [s.name for s in info.streams_of(StreamKind.EVENT)]
        assert signals or events, name
        chunks, logs = source.read_streams(signals, events)
        assert list(chunks) == signals and list(logs) == events
        for stream in signals:
            one = source.read_signal(stream)
            both = chunks[stream]
            assert both.channels == one.channels
            assert both.t_ns.dtype == one.t_ns.dtype == np.int64
            np.testing.assert_array_equal(both.t_ns, one.t_ns)
            np.testing.assert_array_equal(both.values, one.values)  # NaN == NaN here
            assert both.values.dtype == one.values.dtype
            assert set(both.times) == set(one.times)
            for clock in one.times:
                np.testing.assert_array_equal(both.times[clock], one.times[clock])
        for stream in events:
            assert logs[stream] == source.read_events(stream)


class _Counting(EpisodeSource):
    """Wraps a source; counts reads and can make the batch read fail."""

    def __init__(self, inner: EpisodeSource, *, batch_fails: bool = False) -> None:
        self.inner = inner
        self.info = inner.info
        self.batch_fails = batch_fails
        self.batches = 0
        self.singles: list[str] = []

    def read_signal(self, stream, start_ns=None, stop_ns=None):  # type: ignore[no-untyped-def]
        self.singles.append(stream)
        return self.inner.read_signal(stream, start_ns, stop_ns)

    def read_events(self, stream, start_ns=None, stop_ns=None):  # type: ignore[no-untyped-def]
        self.singles.append(stream)
        return self.inner.read_events(stream, start_ns, stop_ns)

    def read_streams(self, signals, events=()):  # type: ignore[no-untyped-def]
        self.batches += 1
        if self.batch_fails:
            raise RobotraceError("batch refused")
        return self.inner.read_streams(signals, events)


def _same(a: EpisodeData, b: EpisodeData) -> None:
    sa, sb = a.signals(), b.signals()
    assert [s.stream for s in sa] == [s.stream for s in sb]
    for x, y in zip(sa, sb, strict=True):
        assert (x.channels, x.role) == (y.channels, y.role)
        np.testing.assert_array_equal(x.t_ns, y.t_ns)
        np.testing.assert_array_equal(x.values, y.values)
    assert a.events() == b.events()


@pytest.mark.parametrize(
    "name", ["rosbag2/cougars_auv/SO_lastbag_mcap", "ros1/example.bag", "rosbag2/talker_sqlite3"]
)
def test_episode_data_reads_once_and_equals_the_fallback(shared_data: Path, name: str) -> None:
    path = shared_data / name
    with _open(path) as a, _open(path) as b:
        offsets = {s.name: 1000 for s in a.info.streams[:2]}
        batched = _Counting(a)
        fallback = _Counting(b, batch_fails=True)
        data_a = EpisodeData(a.info, batched, offsets)
        data_b = EpisodeData(b.info, fallback, offsets)
        _same(data_a, data_b)
        assert batched.batches == 1 and batched.singles == []
        assert fallback.batches == 1 and fallback.singles  # read one by one after the failure


@pytest.mark.parametrize("name", BAGS)
def test_first_messages_in_one_pass_equal_one_lookup_per_topic(
    shared_data: Path, name: str
) -> None:
    """What plans each topic (its first message) comes from one pass over the bag now."""
    from robotrace_desktop.readers.rosbag.bagfile import open_bag

    with open_bag(shared_data / name) as bag:
        wanted = topics_with_messages(bag.connections)
        together = bag.first_messages(wanted)
        for group, got in zip(wanted, together, strict=True):
            try:
                alone = bag.first_message(group)
            except StopIteration:
                alone = None
            assert got == alone


def _reference_values(flattener: object, msg: object) -> np.ndarray:
    """Flattener.values as it was written first (numpy element by element), to compare with."""
    from robotrace_desktop.readers.rosbag.flatten import _scalar

    out = np.full(len(flattener.channels), np.nan)  # type: ignore[attr-defined]
    pos = 0
    for block in flattener._blocks:  # type: ignore[attr-defined]
        value = block.get(msg)
        if block.width == 0:
            if value is not None:
                out[pos] = _scalar(value)
            pos += 1
            continue
        if value is not None and len(value):
            arr = np.asarray(value[: block.width], dtype=np.float64)
            out[pos : pos + len(arr)] = arr
        pos += block.width
    return out


@pytest.mark.parametrize("name", BAGS)
def test_flattened_rows_equal_the_first_implementation(shared_data: Path, name: str) -> None:
    """Every message of every signal topic: the same row, bit for bit (NaN where missing)."""
    with _open(shared_data / name) as source:
        opened = source._opened  # type: ignore[attr-defined]
        from robotrace_desktop.readers.rosbag.flatten import Flattener

        # JointState / JointTrajectory flatteners have their own values(), unchanged
        plans = [p for p in opened.plan.topics.values() if type(p.flattener) is Flattener]
        for plan in plans:
            for conn, _record, raw in opened.bag.messages(plan.connections):
                msg = opened.decode(conn, raw)
                got, want = plan.flattener.values(msg), _reference_values(plan.flattener, msg)
                assert got.dtype == want.dtype and got.shape == want.shape
                np.testing.assert_array_equal(got, want)
