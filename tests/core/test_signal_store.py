"""SignalStore against the demo bundle: same values as read_signal, offsets, sample-and-hold,
one lazily opened source shared safely by threads."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from robotrace_desktop.core.episode import EpisodeInfo, EpisodeSource
from robotrace_desktop.core.signal_store import SignalStore
from robotrace_desktop.errors import StreamNotFoundError
from robotrace_desktop.readers.base import Reader
from robotrace_desktop.readers.registry import reader_for
from tests.demo_cache import demo_copy


class CountingOpener:
    """Opens the demo and counts opens/closes (and which threads opened)."""

    def __init__(self, reader: Reader, path: Path) -> None:
        self.reader, self.path = reader, path
        self.opened = 0
        self.closed = 0
        self.lock = threading.Lock()

    def __call__(self) -> EpisodeSource:
        with self.lock:
            self.opened += 1
        source = self.reader.open(self.path, None)
        original = source.close

        def close() -> None:
            self.closed += 1
            original()

        source.close = close  # type: ignore[method-assign]
        return source


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Reader, Path, EpisodeInfo]:
    path = demo_copy(tmp_path_factory.mktemp("demo") / "demo")
    reader = reader_for(path)
    (info,) = list(reader.index(path))
    return reader, path, info


@pytest.fixture
def store(demo: tuple[Reader, Path, EpisodeInfo]) -> tuple[SignalStore, CountingOpener]:
    reader, path, info = demo
    opener = CountingOpener(reader, path)
    store = SignalStore(opener, info)
    yield store, opener
    store.close()


def test_values_equal_read_signal(
    demo: tuple[Reader, Path, EpisodeInfo], store: tuple[SignalStore, CountingOpener]
) -> None:
    reader, path, _ = demo
    signals, opener = store
    assert opener.opened == 0  # lazy: nothing read at construction
    with reader.open(path, None) as source:
        for stream in ("/joint_states", "/action"):
            chunk = source.read_signal(stream)
            for i, channel in enumerate(chunk.channels):
                t, values = signals.channel(stream, channel)
                np.testing.assert_array_equal(t, chunk.t_ns)
                np.testing.assert_array_equal(values, chunk.values[:, i])
    assert opener.opened == 1
    assert signals.channels_of("/action")[-1] == "gripper"
    assert len(signals.channel("/joint_states", "effort/gripper")[0]) == 1200


def test_view_of_a_small_signal_is_the_raw_data(store: tuple[SignalStore, CountingOpener]) -> None:
    signals, _ = store
    t, y = signals.channel("/joint_states", "position/joint_3")
    tv, yv = signals.view("/joint_states", "position/joint_3", 2_000_000_000, 3_000_000_000, 800)
    # 100 samples in [2 s, 3 s) plus one neighbour each side
    np.testing.assert_array_equal(tv, t[199:301])
    np.testing.assert_array_equal(yv, y[199:301])
    assert signals.is_prepared([("/joint_states", "position/joint_3")])
    assert not signals.is_prepared([("/joint_states", "position/joint_4")])


def test_value_at_is_sample_and_hold(store: tuple[SignalStore, CountingOpener]) -> None:
    signals, _ = store
    t, y = signals.channel("/action", "gripper")  # 30 Hz: 0, 33333333, 66666667, ...
    assert signals.value_at("/action", "gripper", -1) is None
    assert signals.value_at("/action", "gripper", 0) == y[0]
    assert signals.value_at("/action", "gripper", int(t[117])) == y[117]
    assert signals.value_at("/action", "gripper", int(t[117]) + 1) == y[117]
    assert signals.value_at("/action", "gripper", int(t[118]) - 1) == y[117]
    assert signals.value_at("/action", "gripper", 10**12) == y[-1]
    # the demo's early close command: 0 before 3.9 s, 1 from 3.9 s
    assert signals.value_at("/action", "gripper", 3_899_000_000) == 0.0
    assert signals.value_at("/action", "gripper", 3_900_000_000) == 1.0


def test_offsets_shift_times(store: tuple[SignalStore, CountingOpener]) -> None:
    signals, _ = store
    t, y = signals.channel("/joint_states", "effort/joint_2")
    offset = 250_000_000
    signals.set_offsets({"/joint_states": offset, "/action": 0})
    assert signals.offset("/joint_states") == offset and signals.offset("/action") == 0
    t2, y2 = signals.channel("/joint_states", "effort/joint_2")
    np.testing.assert_array_equal(t2, t + offset)
    np.testing.assert_array_equal(y2, y)
    assert signals.value_at("/joint_states", "effort/joint_2", offset - 1) is None
    assert signals.value_at("/joint_states", "effort/joint_2", offset) == y[0]
    assert signals.value_at("/joint_states", "effort/joint_2", offset + 10_000_000) == y[1]
    tv, yv = signals.view("/joint_states", "effort/joint_2", offset, offset + 100_000_000, 500)
    np.testing.assert_array_equal(tv, t[:11] + offset)
    np.testing.assert_array_equal(yv, y[:11])
    chunk = signals.chunk("/joint_states", ["effort/joint_2"], offset, offset + 50_000_000)
    np.testing.assert_array_equal(chunk.t_ns, t[:5] + offset)
    np.testing.assert_array_equal(chunk.values[:, 0], y[:5])
    # the cached arrays are untouched: back to no offset gives the original times
    signals.set_offsets({})
    np.testing.assert_array_equal(signals.channel("/joint_states", "effort/joint_2")[0], t)


def test_threads_share_one_source(store: tuple[SignalStore, CountingOpener]) -> None:
    signals, opener = store
    refs = [("/joint_states", f"position/joint_{i}") for i in range(1, 8)] + [
        ("/action", "gripper")
    ] * 4
    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(lambda ref: signals.channel(*ref)[1].sum(), refs))
        list(pool.map(lambda ref: signals.prepare([ref]), refs))
    assert opener.opened == 1
    assert results[-1] == results[-2]
    assert signals.is_prepared(refs)
    signals.close()
    assert opener.closed == 1
    with pytest.raises(RuntimeError, match="closed"):
        signals.channel("/action", "gripper")


def test_unknown_streams_and_channels(store: tuple[SignalStore, CountingOpener]) -> None:
    signals, _ = store
    with pytest.raises(StreamNotFoundError, match="nope"):
        signals.channel("/nope", "x")
    with pytest.raises(StreamNotFoundError, match="not a signal"):
        signals.channel("front", "x")
    with pytest.raises(StreamNotFoundError, match=r"/joint_states.*position/joint_99"):
        signals.channel("/joint_states", "position/joint_99")
