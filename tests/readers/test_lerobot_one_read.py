"""A LeRobot episode's signal streams read together (one read of its rows) are exactly what
reading them one by one gives, on the real v2.1 and v3.0 datasets in ../shared/data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from robotrace_desktop.core.episode import StreamKind
from robotrace_desktop.readers.lerobot import data as lerobot_data
from robotrace_desktop.readers.lerobot.reader import LeRobotReader

DATASETS = ["g1_pick_bottle_v21", "so101_v30", "reachy2_v30_trimmed"]


@pytest.mark.parametrize("name", DATASETS)
def test_streams_read_together_equal_one_by_one(
    shared_data: Path, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = shared_data / "lerobot" / name
    reader = LeRobotReader()
    infos = list(reader.index(path))
    assert infos
    reads: list[list[str]] = []
    original = lerobot_data.EpisodeRows.read

    def counting(self, columns, *args):  # type: ignore[no-untyped-def]
        reads.append(list(columns))
        return original(self, columns, *args)

    monkeypatch.setattr(lerobot_data.EpisodeRows, "read", counting)
    for info in (infos[0], infos[-1]):
        signals = [s.name for s in info.streams_of(StreamKind.SIGNAL) if s.count and s.channels]
        assert len(signals) > 1
        with reader.open(path, info.episode_index) as source:
            reads.clear()
            chunks, logs = source.read_streams(signals)
            assert len(reads) == 1 and sorted(reads[0]) == sorted(signals)  # one read of the rows
            assert list(chunks) == signals and logs == {}
            for stream in signals:
                one, both = source.read_signal(stream), chunks[stream]
                assert both.channels == one.channels
                np.testing.assert_array_equal(both.t_ns, one.t_ns)
                assert both.values.tobytes() == one.values.tobytes()
                assert set(both.times) == set(one.times)
                for clock in one.times:
                    np.testing.assert_array_equal(both.times[clock], one.times[clock])
