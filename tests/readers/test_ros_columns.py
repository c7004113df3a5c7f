"""ROS 2 signal topics decoded as columns (readers.ros_columns) give the rows and stamps that
decoding message by message gives, and step aside when a message would not decode alike."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from robotrace_desktop.core.episode import StreamKind
from robotrace_desktop.readers.rosbag import source as rosbag
from robotrace_desktop.readers.rosbag.columns import decode_rows
from robotrace_desktop.readers.rosbag.flatten import stamp_ns

BAG = "rosbag2/cougars_auv/SO_lastbag_mcap"


def _topic(source: rosbag.RosEpisodeSource, topic: str):  # type: ignore[no-untyped-def]
    plan = source._opened.plan.topics[topic]
    decoder = source._opened.decoders.by_id[plan.connections[0].id]
    raws = [bytes(raw) for _, _, raw in source._opened.bag.messages(plan.connections)]
    return plan, decoder, raws


def _one_by_one(plan, decoder, raws):  # type: ignore[no-untyped-def]
    msgs = [decoder(r) for r in raws]
    return np.vstack([plan.flattener.values(m) for m in msgs]), [stamp_ns(m) for m in msgs]


def test_most_topics_of_the_underwater_bag_are_read_as_columns(
    shared_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    used: list[bool] = []

    def counting(*args):  # type: ignore[no-untyped-def]
        got = decode_rows(*args)
        used.append(got is not None)
        return got

    monkeypatch.setattr(rosbag, "decode_rows", counting)
    with rosbag.open_bag_episode(shared_data / BAG) as source:
        signals = [s.name for s in source.info.streams_of(StreamKind.SIGNAL) if s.count]
        chunks, _ = source.read_streams(signals)
    assert len(used) == 24 and sum(used) == 24  # every signal topic with messages
    battery = chunks["/coug2/battery/data"]
    assert battery.values.shape == (2628, 11) and np.isfinite(battery.values[:, 0]).all()


@pytest.mark.parametrize(
    "topic", ["/coug2/dvl/data", "/coug2/fix", "/coug2/extended_fix", "/tf", "/coug2/modem_rec"]
)
def test_columns_equal_message_by_message(shared_data: Path, topic: str) -> None:
    with rosbag.open_bag_episode(shared_data / BAG) as source:
        plan, decoder, raws = _topic(source, topic)
        got = decode_rows(decoder, plan.flattener, raws)
        assert got is not None
        rows, stamps = got
        want_rows, want_stamps = _one_by_one(plan, decoder, raws)
        np.testing.assert_array_equal(rows.view(np.uint64), want_rows.view(np.uint64))
        # a TFMessage has no header: no stamps, the record time is the clock
        assert (stamps.tolist() if stamps is not None else [None] * len(raws)) == want_stamps
        assert (stamps is None) == (topic == "/tf")


def test_a_message_rosbags_would_reject_sends_the_topic_message_by_message(
    shared_data: Path,
) -> None:
    with rosbag.open_bag_episode(shared_data / BAG) as source:
        plan, decoder, raws = _topic(source, "/coug2/dvl/dead_reckoning")  # frame_id "odom"
        assert decode_rows(decoder, plan.flattener, raws) is not None
        # the frame_id's terminator of one message overwritten: rosbags refuses that message
        length = int.from_bytes(raws[0][4 + 8 : 4 + 12], "little")
        end = 4 + 12 + length - 1
        broken = list(raws)
        broken[5] = raws[5][:end] + b"x" + raws[5][end + 1 :]
        with pytest.raises(Exception):  # noqa: B017 - rosbags' own error type
            decoder(broken[5])
        assert decode_rows(decoder, plan.flattener, broken) is None
        # invalid UTF-8 in the frame_id: rosbags cannot decode it either
        assert length > 2
        broken[5] = raws[5][: 4 + 12] + b"\xff" + raws[5][4 + 13 :]
        with pytest.raises(Exception):  # noqa: B017
            decoder(broken[5])
        assert decode_rows(decoder, plan.flattener, broken) is None
