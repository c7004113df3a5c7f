"""Big bags load their plotted topics in pieces, the span on screen first (issue 16): the first
piece can be drawn before the rest is read, and the pieces together are exactly the whole read
— same samples, same order, same clocks — on MCAP and sqlite3 bags and on a real recording."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from robotrace_desktop.core.signal_store import SignalStore, pieces_around
from robotrace_desktop.episodes import resolve
from tests.readers import ros_fixtures as fx

S = 1_000_000_000


@pytest.fixture(scope="module", params=["mcap", "sqlite3"])
def bag(request, tmp_path_factory) -> Path:  # type: ignore[no-untyped-def]
    folder = tmp_path_factory.mktemp(request.param) / "bag"
    topics = ("/joint_states", "/camera/rgb")
    return fx.write_rosbag2(folder, request.param, ks=range(120), only=topics)  # 12 s


def _whole(resolved, stream: str):  # type: ignore[no-untyped-def]
    with resolved.open() as source:
        return source.read_signal(stream)


def test_the_first_span_is_drawable_before_the_rest_is_read(bag: Path) -> None:
    resolved = resolve(str(bag), None)
    channels = resolved.info.stream("/joint_states").channels
    refs = [("/joint_states", c) for c in channels]
    store = SignalStore(resolved.open, resolved.info)
    seen: list[tuple[bool, bool, bool, int]] = []

    def progress() -> None:
        ref = refs[0]
        t, _y = store.view(*ref, 0, 12 * S, 400)
        seen.append(
            (store.has_view(ref), store.covers(refs, 5 * S, 7 * S), store.is_prepared(refs), len(t))
        )

    store.prepare(refs, first=(5 * S, 7 * S), progress=progress)
    try:
        # after the first piece: drawable, covering the span asked for, not yet whole
        assert seen[0][:3] == (True, True, False) and seen[0][3] > 0
        # then more arrives before the stream is complete
        assert len(seen) == 2 and seen[1][3] >= seen[0][3]
        assert store.is_prepared(refs) and store.covers(refs, 0, 12 * S)
    finally:
        store.close()


def test_pieces_together_are_exactly_the_whole_read(bag: Path) -> None:
    resolved = resolve(str(bag), None)
    whole = _whole(resolved, "/joint_states")
    channels = resolved.info.stream("/joint_states").channels
    store = SignalStore(resolved.open, resolved.info)
    try:
        store.prepare([("/joint_states", c) for c in channels], first=(3 * S + 1, 4 * S))
        got = store.chunk("/joint_states")
        np.testing.assert_array_equal(got.t_ns, whole.t_ns)
        np.testing.assert_array_equal(got.values, whole.values)
        for channel in channels:
            _t, y = store.channel("/joint_states", channel)
            np.testing.assert_array_equal(y, whole.channel(channel))
    finally:
        store.close()


def test_a_real_bag_in_pieces_equals_the_whole_read(shared_data: Path) -> None:
    """The iiwa bag (sqlite3, header clocks): pieces around 9 s give the same arrays."""
    resolved = resolve(str(shared_data / "rosbag2/iiwa7_gazebo_joint_torque_sqlite3"), None)
    whole = _whole(resolved, "/joint_states")
    channels = resolved.info.stream("/joint_states").channels
    store = SignalStore(resolved.open, resolved.info)
    try:
        store.prepare([("/joint_states", c) for c in channels], first=(8 * S, 10 * S))
        got = store.chunk("/joint_states")
        np.testing.assert_array_equal(got.t_ns, whole.t_ns)
        np.testing.assert_array_equal(got.values, whole.values)
    finally:
        store.close()


def test_pieces_cover_every_time_once() -> None:
    assert pieces_around(5, 9) == [(5, 9), (9, None), (None, 5)]
